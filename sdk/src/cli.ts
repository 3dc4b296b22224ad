#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { deliveries, estimate, type Flags, jobs, keys, render, UsageError, usage } from './cli/commands.ts';
import { HELP } from './cli/help.ts';
import { listen } from './cli/listen.ts';
import { createOutput } from './cli/output.ts';
import { accessTokenFromSession, login, logout, sessionPath } from './cli/session.ts';
import { Rendermill } from './client.ts';
import {
  AuthenticationError,
  ConnectionError,
  JobCanceledError,
  JobFailedError,
  PermissionError,
  QuotaExceededError,
  RendermillError,
  UpgradeRequiredError,
  ValidationError,
} from './errors.ts';
import type { EventType } from './types.ts';

/** Exit codes: distinct per outcome, so scripts can branch on them (listed in `--help`). */
export const EXIT = {
  ok: 0,
  error: 1,
  validation: 2,
  quota: 3,
  failed: 4,
  canceled: 5,
  forbidden: 6,
  usage: 64,
} as const;

const OPTIONS = {
  'api-key': { type: 'string' },
  'base-url': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  wait: { type: 'boolean', default: false },
  output: { type: 'string', short: 'o' },
  'idempotency-key': { type: 'string' },
  status: { type: 'string' },
  kind: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  name: { type: 'string' },
  role: { type: 'string' },
  event: { type: 'string' },
  'job-id': { type: 'string' },
  email: { type: 'string' },
  'forward-to': { type: 'string' },
  types: { type: 'string' },
} as const;

/** The credential, in this order: --api-key, RENDERMILL_API_KEY, the session `login` stored. */
async function client(apiKey: string | undefined, baseUrl: string): Promise<Rendermill> {
  if (apiKey) return new Rendermill({ apiKey, baseUrl });
  const fromSession = await accessTokenFromSession(baseUrl);
  if (!fromSession) {
    throw new UsageError(
      `Not signed in: run \`rendermill login\`, pass --api-key or set RENDERMILL_API_KEY (no session at ${sessionPath()})`,
    );
  }
  return new Rendermill({ accessToken: fromSession.token, baseUrl: fromSession.session.base_url || baseUrl });
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const [command, ...rest] = positionals;
  if (!command || (values.help && !HELP[command])) {
    process.stdout.write(`${HELP.main}\n`);
    return command || values.help ? EXIT.ok : EXIT.usage;
  }
  if (values.help) {
    process.stdout.write(`${HELP[command]}\n`);
    return EXIT.ok;
  }
  const out = createOutput(values.json);
  const baseUrl = values['base-url'] ?? process.env.RENDERMILL_BASE_URL ?? 'http://localhost:3000';
  const apiKey = values['api-key'] ?? process.env.RENDERMILL_API_KEY;
  const flags = values as Flags;

  switch (command) {
    case 'login': {
      const pair = await login(baseUrl, values.email);
      out.print(
        { email: pair.user.email, tenant: pair.tenant, role: pair.role, session_file: sessionPath() },
        () =>
          `Signed in as ${pair.user.email} (${pair.role} of ${pair.tenant.name}); session in ${sessionPath()}`,
      );
      return EXIT.ok;
    }
    case 'logout': {
      const had = await logout();
      out.print({ signed_out: had }, () => (had ? 'Signed out' : 'No session to end'));
      return EXIT.ok;
    }
    case 'listen': {
      const forwardTo = values['forward-to'];
      if (!forwardTo) throw new UsageError('listen needs --forward-to http://localhost:PORT/path');
      const stop = new AbortController();
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop.abort());
      await listen(await client(apiKey, baseUrl), out, {
        forwardTo,
        types: values.types ? (values.types.split(',') as EventType[]) : undefined,
        signal: stop.signal,
      });
      return EXIT.ok;
    }
    case 'render':
      await render(await client(apiKey, baseUrl), out, rest, flags);
      return EXIT.ok;
    case 'estimate': {
      const status = await estimate(await client(apiKey, baseUrl), out, rest, flags);
      return status === 402 ? EXIT.quota : status === 403 ? EXIT.forbidden : EXIT.ok;
    }
    case 'jobs':
      await jobs(await client(apiKey, baseUrl), out, rest, flags);
      return EXIT.ok;
    case 'usage':
      await usage(await client(apiKey, baseUrl), out);
      return EXIT.ok;
    case 'keys':
      await keys(await client(apiKey, baseUrl), out, rest, flags);
      return EXIT.ok;
    case 'deliveries':
      await deliveries(await client(apiKey, baseUrl), out, rest, flags);
      return EXIT.ok;
    default:
      process.stderr.write(`unknown command: ${command}\n\n${HELP.main}\n`);
      return EXIT.usage;
  }
}

/** Maps an error onto its exit code. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof ValidationError) return EXIT.validation;
  if (err instanceof QuotaExceededError) return EXIT.quota;
  if (err instanceof JobFailedError) return EXIT.failed;
  if (err instanceof JobCanceledError) return EXIT.canceled;
  if (
    err instanceof AuthenticationError ||
    err instanceof PermissionError ||
    err instanceof UpgradeRequiredError
  )
    return EXIT.forbidden;
  if (err instanceof UsageError || (err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS'))
    return EXIT.usage;
  return EXIT.error;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as Error;
    const extra = err instanceof RendermillError ? ` (${err.code}, request ${err.requestId ?? '-'})` : '';
    const paths =
      err instanceof ValidationError
        ? `\n${err.errors.map((x) => `  ${x.path}: ${x.message}`).join('\n')}`
        : '';
    process.stderr.write(
      `rendermill: ${err instanceof ConnectionError ? 'cannot reach the API: ' : ''}${e?.message ?? String(err)}${extra}${paths}\n`,
    );
    process.exitCode = exitCodeOf(err);
  },
);
