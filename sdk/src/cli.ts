#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Rendermill } from './client.ts';
import {
  ConnectionError,
  JobCanceledError,
  JobFailedError,
  QuotaExceededError,
  RendermillError,
  ValidationError,
} from './errors.ts';

/** Exit codes: distinct per outcome, so scripts can branch on them. */
export const EXIT = { ok: 0, error: 1, validation: 2, quota: 3, failed: 4, canceled: 5, usage: 64 } as const;

const HELP: Record<string, string> = {
  main: `rendermill — the Rendermill API from a terminal

Usage: rendermill <command> [options]

Commands:
  render <scenes.json> [--wait] [--output video.mp4] [--idempotency-key K]
  estimate <scenes.json>
  jobs list [--status S] [--kind K] [--limit N] | jobs get <id> | jobs cancel <id> | jobs download <id> [--output F]
  usage

Options (every command):
  --api-key KEY      or RENDERMILL_API_KEY
  --base-url URL     or RENDERMILL_BASE_URL (default http://localhost:3000)
  --json             machine output (NDJSON events for render --wait)
  --help

Exit codes: 0 ok, 1 error, 2 validation (400), 3 quota (402), 4 job failed, 5 job canceled.`,
};

function out(json: boolean, value: unknown, table?: () => string): void {
  process.stdout.write(json || !table ? `${JSON.stringify(value)}\n` : `${table()}\n`);
}

function bar(p: number, step: string | undefined): string {
  const width = 30;
  const n = Math.round(p * width);
  return `\r[${'#'.repeat(n)}${' '.repeat(width - n)}] ${String(Math.round(p * 100)).padStart(3)}% ${step ?? ''}   `;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'api-key': { type: 'string' },
      'base-url': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
      output: { type: 'string', short: 'o' },
      'idempotency-key': { type: 'string' },
      status: { type: 'string' },
      kind: { type: 'string' },
      limit: { type: 'string' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${HELP.main}\n`);
    return command || values.help ? EXIT.ok : EXIT.usage;
  }
  const apiKey = values['api-key'] ?? process.env.RENDERMILL_API_KEY;
  if (!apiKey) {
    process.stderr.write('No credentials: pass --api-key or set RENDERMILL_API_KEY\n');
    return EXIT.usage;
  }
  const rm = new Rendermill({
    apiKey,
    baseUrl: values['base-url'] ?? process.env.RENDERMILL_BASE_URL ?? 'http://localhost:3000',
  });
  const json = values.json ?? false;
  const readBody = async (file: string | undefined) => {
    if (!file) throw new Error('a scenes.json file is required');
    return JSON.parse(await readFile(file, 'utf8'));
  };

  switch (command) {
    case 'render': {
      const handle = await rm.renders.create(await readBody(rest[0]), {
        idempotencyKey: values['idempotency-key'],
      });
      if (!values.wait) {
        out(json, handle.job, () => `${handle.id} ${handle.job.status}`);
        return EXIT.ok;
      }
      const tty = !json && process.stderr.isTTY;
      const job = await handle.wait({
        onProgress: (p, info) => {
          if (json)
            out(true, {
              type: info.event?.type ?? 'job.progress',
              job_id: handle.id,
              progress: p,
              step: info.step ?? null,
            });
          else if (tty) process.stderr.write(bar(p, info.step));
          else process.stderr.write(`${Math.round(p * 100)}% ${info.step ?? ''}\n`);
        },
      });
      if (tty) process.stderr.write('\n');
      if (values.output) await rm.jobs.download(job.id, { to: values.output });
      out(
        json,
        { type: 'job.succeeded', job, output: values.output ?? null },
        () => `${job.id} succeeded${values.output ? ` → ${values.output}` : ''}`,
      );
      return EXIT.ok;
    }
    case 'estimate': {
      const e = (await rm.renders.estimate(await readBody(rest[0]))) as {
        quantities: Record<string, number>;
        price: { total_usd: number | null };
        submit: { status: number };
      };
      out(json, e, () =>
        [
          ...Object.entries(e.quantities).map(([m, q]) => `${m.padEnd(16)} ${q}`),
          `${'price (usd)'.padEnd(16)} ${e.price.total_usd ?? 'contract'}`,
          `${'submit'.padEnd(16)} ${e.submit.status}`,
        ].join('\n'),
      );
      return e.submit.status === 402 ? EXIT.quota : EXIT.ok;
    }
    case 'jobs': {
      const [sub, id] = rest;
      if (sub === 'list') {
        const page = await rm.jobs
          .list({
            status: values.status as never,
            kind: values.kind as never,
            limit: values.limit ? Number(values.limit) : undefined,
          })
          .page();
        out(json, page, () =>
          page.data
            .map((j) => `${j.id}  ${j.kind.padEnd(8)} ${j.status.padEnd(9)} ${j.created_at}`)
            .join('\n'),
        );
        return EXIT.ok;
      }
      if (!id) throw new Error('a job id is required');
      if (sub === 'get') {
        const j = await rm.jobs.get(id);
        out(json, j, () => `${j.id}  ${j.kind} ${j.status} ${Math.round(j.progress * 100)}%`);
        return EXIT.ok;
      }
      if (sub === 'cancel') {
        const j = await rm.jobs.cancel(id);
        out(json, j, () => `${j.id} ${j.status}`);
        return EXIT.ok;
      }
      if (sub === 'download') {
        const to = values.output ?? `${id}.bin`;
        const f = await rm.jobs.download(id, { to });
        out(json, f, () => `${to} (${f.bytes} bytes)`);
        return EXIT.ok;
      }
      throw new Error(`unknown jobs command: ${sub ?? ''}`);
    }
    case 'usage': {
      const u = await rm.usage.get();
      out(json, u, () =>
        Object.entries(u.metrics)
          .map(([m, c]) => `${m.padEnd(16)} used ${c.used}  reserved ${c.reserved}  limit ${c.limit ?? '∞'}`)
          .join('\n'),
      );
      return EXIT.ok;
    }
    default:
      process.stderr.write(`unknown command: ${command}\n${HELP.main}\n`);
      return EXIT.usage;
  }
}

/** Maps an error onto its exit code, and says what happened on stderr. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof ValidationError) return EXIT.validation;
  if (err instanceof QuotaExceededError) return EXIT.quota;
  if (err instanceof JobFailedError) return EXIT.failed;
  if (err instanceof JobCanceledError) return EXIT.canceled;
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
