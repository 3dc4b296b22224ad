import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ZipArchive } from 'archiver';
import { csvRow } from '../../../shared/csv/csv.ts';
import type { Storage } from '../../../shared/storage/storage.ts';
import type { ExportReader } from './export-data.ts';
import {
  type ExportManifest,
  fileChunks,
  type ManifestFile,
  NOT_INCLUDED,
  type OutputEntry,
  storageChunks,
} from './export-format.ts';

type Row = Record<string, unknown>;

export interface ExportZipOptions {
  reader: ExportReader;
  storage: Storage;
  tenantId: string;
  jobId: string;
  zipPath: string;
  /** Scratch directory for the CSV written alongside the JSON ledger. */
  workDir: string;
  /** Outputs go into the ZIP while their running total stays within this; the rest are linked. */
  inlineCapBytes: number;
  signLink(jobId: string): { url: string; expiresAt: Date };
  signal: AbortSignal;
  progress(fraction: number): Promise<void>;
  now?: Date;
}

/**
 * Streams the tenant's data into a ZIP at `zipPath`: memory stays flat however large the tenant.
 * Entries are added one after the other (each waits for the archiver to take the previous),
 * so the manifest, written last, counts exactly what the files hold.
 */
export async function writeExportZip(
  o: ExportZipOptions,
): Promise<{ bytes: number; manifest: ExportManifest }> {
  const generatedAt = o.now ?? new Date();
  const zip = new ZipArchive({ zlib: { level: 6 } });
  const zipFile = createWriteStream(o.zipPath);
  const written = pipeline(zip, zipFile);
  // Observed below; this keeps an early failure from surfacing as an unhandled rejection.
  written.catch(() => undefined);
  const files: ManifestFile[] = [];
  const counts: Record<string, number> = {};

  const entryDone = (name: string) =>
    new Promise<void>((resolve, reject) => {
      const onEntry = (e: { name: string }) => {
        if (e.name !== name) return;
        zip.off('entry', onEntry);
        zip.off('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        zip.off('entry', onEntry);
        reject(err);
      };
      zip.on('entry', onEntry);
      zip.once('error', onError);
    });

  async function add(name: string, chunks: AsyncIterable<string | Buffer>): Promise<void> {
    const body = new PassThrough();
    const done = entryDone(name);
    // Awaited below; when the loop bails out first, its later rejection must not go unhandled.
    done.catch(() => undefined);
    zip.append(body, { name, date: generatedAt });
    try {
      for await (const c of chunks) {
        o.signal.throwIfAborted();
        if (!body.write(c)) await once(body, 'drain');
      }
      body.end();
    } catch (err) {
      // No error argument: the archiver pipes this stream without an error listener.
      body.destroy();
      throw err;
    }
    await done;
  }

  async function* one<T>(rows: T[]): AsyncGenerator<T[]> {
    yield rows;
  }

  async function* jsonArray(
    pages: AsyncIterable<Row[]>,
    key: string,
    onPage?: (page: Row[]) => Promise<void>,
  ) {
    counts[key] = 0;
    yield '[';
    for await (const page of pages) {
      if (page.length === 0) continue;
      await onPage?.(page);
      yield `${counts[key] === 0 ? '\n' : ',\n'}${page.map((r) => JSON.stringify(r)).join(',\n')}`;
      counts[key] += page.length;
    }
    yield counts[key] === 0 ? ']\n' : '\n]\n';
  }

  async function addArray(name: string, key: string, description: string, pages: AsyncIterable<Row[]>) {
    await add(name, jsonArray(pages, key));
    files.push({ path: name, description, records: counts[key] ?? 0 });
  }

  async function* text(s: string) {
    yield s;
  }

  try {
    const tenant = await o.reader.tenant();
    await add('tenant.json', text(`${JSON.stringify(tenant, null, 2)}\n`));
    files.push({ path: 'tenant.json', description: 'Workspace profile: id, name, plan, creation date' });
    await addArray(
      'members.json',
      'members',
      'Members: user id, email, role, joined_at',
      one(await o.reader.members()),
    );
    await addArray(
      'invites.json',
      'invites',
      'Invitations sent, pending or used',
      one(await o.reader.invites()),
    );
    await addArray(
      'api-keys.json',
      'api_keys',
      'API keys: name, role, prefix and last 4 characters only',
      one(await o.reader.apiKeys()),
    );
    await addArray(
      'sessions.json',
      'sessions',
      'Sign-in sessions: device, IP, times',
      one(await o.reader.sessions()),
    );
    await o.progress(0.1);

    let steps = 0;
    const countSteps = async (page: Row[]) => {
      for (const j of page) steps += (j.steps as unknown[]).length;
    };
    await add('jobs.json', jsonArray(o.reader.jobs(), 'jobs', countSteps));
    counts.job_steps = steps;
    files.push({
      path: 'jobs.json',
      description: 'Jobs with their steps, requests, usage estimates and outputs',
      records: counts.jobs ?? 0,
    });
    await o.progress(0.3);

    // One pass over the ledger writes both forms, so the JSON and the CSV always agree.
    const csvPath = path.join(o.workDir, 'usage.csv');
    const csv = createWriteStream(csvPath);
    const columns = ['id', 'job_id', 'step', 'metric', 'quantity', 'occurred_at', 'reported_at'];
    csv.write(csvRow(columns));
    const toCsv = async (page: Row[]) => {
      const lines = page.map((r) => csvRow(columns.map((c) => r[c]))).join('');
      if (!csv.write(lines)) await once(csv, 'drain');
    };
    await add('usage.json', jsonArray(o.reader.usage(), 'usage_events', toCsv));
    files.push({
      path: 'usage.json',
      description: 'Usage ledger: one row per job, step and metric',
      records: counts.usage_events ?? 0,
    });
    await new Promise<void>((resolve, reject) =>
      csv.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
    await add('usage.csv', fileChunks(csvPath));
    files.push({
      path: 'usage.csv',
      description: 'The usage ledger as CSV',
      records: counts.usage_events ?? 0,
    });
    await o.progress(0.45);

    await addArray(
      'audit-log.json',
      'audit_log',
      'Audit log: who changed what, when, from where',
      o.reader.auditLog(),
    );
    await addArray(
      'webhook-deliveries.json',
      'webhook_deliveries',
      'Job event callbacks sent to your endpoints',
      o.reader.webhookDeliveries(),
    );
    await o.progress(0.55);

    const outputs: OutputEntry[] = [];
    let includedBytes = 0;
    const held = await o.reader.outputs();
    for (const [i, out] of held.entries()) {
      const stat = await o.storage.stat(out.key);
      const base = {
        job_id: out.job_id,
        kind: out.kind,
        content_type: out.content_type,
        bytes: stat?.bytes ?? null,
      };
      if (!stat) {
        outputs.push({ ...base, status: 'missing' });
      } else if (includedBytes + stat.bytes <= o.inlineCapBytes) {
        const file = `outputs/${path.posix.basename(out.key)}`;
        await add(file, storageChunks(o.storage, out.key));
        files.push({ path: file, description: `Output of job ${out.job_id}` });
        includedBytes += stat.bytes;
        outputs.push({ ...base, status: 'included', file });
      } else {
        const link = o.signLink(out.job_id);
        outputs.push({
          ...base,
          status: 'linked',
          download_url: link.url,
          link_expires_at: link.expiresAt.toISOString(),
        });
      }
      await o.progress(0.55 + (0.4 * (i + 1)) / held.length);
    }
    await addArray(
      'outputs.json',
      'outputs',
      'Every output still held: in outputs/, or as a download link',
      one(outputs as unknown as Row[]),
    );
    for (const s of ['included', 'linked', 'missing'] as const) {
      counts[`outputs_${s}`] = outputs.filter((x) => x.status === s).length;
    }

    const manifest: ExportManifest = {
      format: 'rendermill-account-export',
      version: 1,
      tenant_id: o.tenantId,
      export_job_id: o.jobId,
      generated_at: generatedAt.toISOString(),
      files: [{ path: 'manifest.json', description: 'This file' }, ...files],
      counts,
      outputs: { inline_cap_bytes: o.inlineCapBytes, included_bytes: includedBytes },
      not_included: NOT_INCLUDED,
    };
    await add('manifest.json', text(`${JSON.stringify(manifest, null, 2)}\n`));
    await zip.finalize();
    await written;
    return { bytes: zip.pointer(), manifest };
  } catch (err) {
    zip.abort();
    zipFile.destroy();
    await written.catch(() => undefined);
    await rm(o.zipPath, { force: true });
    throw err;
  }
}
