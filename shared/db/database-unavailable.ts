import knex from 'knex';
import pg from 'pg';

/**
 * SQLSTATEs of a server that is going away or not taking connections yet: `57P01`
 * admin_shutdown (a fast/immediate stop, `pg_terminate_backend`), `57P02` crash_shutdown (another
 * backend crashed, the server resets), `57P03` cannot_connect_now (starting up or in recovery).
 * Class `08` (connection exception) is matched as a class.
 */
const SERVER_GOING_AWAY = new Set(['57P01', '57P02', '57P03']);

/** Socket errors the driver passes on as they come from `net`: the server or the path to it is down. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * pg's own errors for a lost connection are plain `Error`s with no code, so their message is all
 * there is to go by (pg/lib/client.js). Knex prefixes a failed query's message with its SQL and
 * ` - `, so a message matches when it is one of these or ends with ` - ` and one of these.
 */
const PG_CONNECTION_LOST = [
  'Connection terminated unexpectedly',
  'Client has encountered a connection error and is not queryable',
];
/** pg's `connectionTimeoutMillis` ran out while connecting (never prefixed: no query ran yet). */
const PG_CONNECT_TIMEOUT = 'timeout expired';

/** Causes followed before giving up: wrapped errors are never deep. */
const MAX_DEPTH = 4;

/**
 * Why `err` says Postgres is unreachable or dropping connections — a restart, a failover, a
 * network cut — or `null` when it is any other error (a constraint, bad SQL, a bug). The reason
 * is short and bounded, for logs and a metric label: the SQLSTATE (`57P01`, `08006`), the socket
 * error code (`ECONNREFUSED`), `knex_timeout` (no pooled connection within
 * `acquireConnectionTimeout`), `connection_lost` or `connect_timeout` (pg's messages above). An
 * error's `cause` and an `AggregateError`'s errors (Node's happy-eyeballs connect) are looked at
 * too.
 *
 * Socket codes are not tied to Postgres by anything in the error; in the API they mean it
 * because every other dependency's failures are mapped where the call is made (Redis in
 * rate-limit.ts, Stripe in billing-service.ts, Google in youtube-service.ts).
 */
export function databaseUnavailableReason(err: unknown, depth = 0): string | null {
  if (!(err instanceof Error) || depth > MAX_DEPTH) return null;
  if (err instanceof knex.KnexTimeoutError) return 'knex_timeout';
  if (err instanceof pg.DatabaseError) {
    const code = err.code ?? '';
    return SERVER_GOING_AWAY.has(code) || code.startsWith('08') ? code : null;
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && SOCKET_CODES.has(code)) return code;
  if (PG_CONNECTION_LOST.some((m) => err.message === m || err.message.endsWith(` - ${m}`)))
    return 'connection_lost';
  if (err.message === PG_CONNECT_TIMEOUT) return 'connect_timeout';
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const reason = databaseUnavailableReason(inner, depth + 1);
      if (reason) return reason;
    }
  }
  return databaseUnavailableReason(err.cause, depth + 1);
}
