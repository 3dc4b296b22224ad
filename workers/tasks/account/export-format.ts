/** Shapes and encodings of the account export ZIP. */
import { createReadStream } from 'node:fs';
import type { Storage } from '../../../shared/storage/storage.ts';

export interface ManifestFile {
  path: string;
  description: string;
  /** Records in a JSON/CSV file (absent for single objects and output files) */
  records?: number;
}

export interface OutputEntry {
  job_id: string;
  kind: string;
  content_type: string | null;
  bytes: number | null;
  /** `included`: under `file` in this ZIP; `linked`: over the size cap, download from `download_url`; `missing`: gone from storage */
  status: 'included' | 'linked' | 'missing';
  file?: string;
  download_url?: string;
  link_expires_at?: string;
}

export interface ExportManifest {
  format: 'rendermill-account-export';
  version: 1;
  tenant_id: string;
  export_job_id: string;
  generated_at: string;
  files: ManifestFile[];
  counts: Record<string, number>;
  outputs: { inline_cap_bytes: number; included_bytes: number };
  not_included: string;
}

export const NOT_INCLUDED =
  'Secrets are never exported: sign-in, invite and refresh tokens, API keys (only their prefix and last ' +
  '4 characters, as the API shows them), the webhook signing secret, and the hashes of any of them.';

export async function* fileChunks(file: string): AsyncGenerator<Buffer> {
  for await (const c of createReadStream(file)) yield c as Buffer;
}

/** Opens the object only when the archiver is ready for it: one open file at a time. */
export async function* storageChunks(storage: Storage, key: string): AsyncGenerator<Buffer> {
  for await (const c of await storage.read(key)) yield c as Buffer;
}
