import { randomFillSync } from 'node:crypto';

/** Opaque, type-prefixed ids (`job_…`, `usr_…`), as Stripe does: readable in logs, unguessable. */
export type IdPrefix =
  | 'ten'
  | 'usr'
  | 'ses'
  | 'rt'
  | 'key'
  | 'job'
  | 'evt'
  | 'inv'
  | 'mlt'
  | 'dlv'
  | 'del'
  | 'ntf'
  | 'tkt';

// Ids are made on every request (a submit makes several): drawing 12 bytes from a 4 KiB pool
// refilled by the CSPRNG costs one system call per 341 ids instead of one per id, as Node's own
// randomUUID pools its entropy. The bytes are as random either way.
const ID_BYTES = 12;
const pool = Buffer.alloc(ID_BYTES * 341);
let offset = pool.length;

export function newId(prefix: IdPrefix): string {
  if (offset + ID_BYTES > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return `${prefix}_${id}`;
}
