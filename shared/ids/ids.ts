import { randomBytes } from 'node:crypto';

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

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}
