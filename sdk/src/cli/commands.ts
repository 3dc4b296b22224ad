import { readFile } from 'node:fs/promises';
import type { Rendermill } from '../client.ts';
import type { ApiKey, Estimate, JobKind, JobStatus, WebhookDelivery } from '../types.ts';
import { type Output, progressBar, table } from './output.ts';

/** The options the commands read (parsed once in cli.ts). */
export interface Flags {
  wait: boolean;
  output?: string;
  'idempotency-key'?: string;
  status?: string;
  kind?: string;
  limit?: string;
  cursor?: string;
  name?: string;
  role?: string;
  event?: string;
  'job-id'?: string;
}

/** A usage mistake (exit 64), as opposed to a failed call. */
export class UsageError extends Error {}

const limitOf = (f: Flags) => (f.limit ? Number(f.limit) : undefined);

async function readJson(file: string | undefined, what: string): Promise<Record<string, unknown>> {
  if (!file) throw new UsageError(`${what} is required`);
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
}

export async function render(rm: Rendermill, out: Output, args: string[], f: Flags): Promise<void> {
  const handle = await rm.renders.create((await readJson(args[0], 'a scenes.json file')) as never, {
    idempotencyKey: f['idempotency-key'],
  });
  if (!f.wait) {
    out.print(handle.job, () => `${handle.id} ${handle.job.status}`);
    return;
  }
  const tty = !out.json && process.stderr.isTTY;
  let lastLine = '';
  let barStep: string | undefined;
  const job = await handle.wait({
    onProgress: (p, info) => {
      const step = info.step ?? undefined;
      if (out.json) {
        out.note(
          { type: info.event?.type ?? 'job.progress', job_id: handle.id, progress: p, step: step ?? null },
          '',
        );
      } else if (tty) {
        // One bar per step: a new step leaves the previous bar on its own line.
        if (barStep !== undefined && step !== barStep) process.stderr.write('\n');
        barStep = step;
        process.stderr.write(progressBar(p, step));
      } else {
        const line = `${Math.round(p * 100)}% ${step ?? ''}`;
        if (line !== lastLine) process.stderr.write(`${line}\n`);
        lastLine = line;
      }
    },
  });
  if (tty) process.stderr.write('\n');
  if (f.output) await rm.jobs.download(job.id, { to: f.output });
  out.print(
    { type: 'job.succeeded', job, output: f.output ?? null },
    () => `${job.id} succeeded${f.output ? ` → ${f.output}` : ''}`,
  );
}

function kindOf(body: Record<string, unknown>, flag: string | undefined): 'render' | 'tts' | 'image' {
  if (flag === 'render' || flag === 'tts' || flag === 'image') return flag;
  if (flag) throw new UsageError(`--kind must be render, tts or image, not ${flag}`);
  if ('scenes' in body) return 'render';
  if ('title' in body || 'width' in body || 'height' in body) return 'image';
  return 'tts';
}

/** Returns the status the real submit would get (the caller turns a 402 into its exit code). */
export async function estimate(rm: Rendermill, out: Output, args: string[], f: Flags): Promise<number> {
  const body = await readJson(args[0], 'a body file');
  const kind = kindOf(body, f.kind);
  const api = kind === 'render' ? rm.renders : kind === 'tts' ? rm.tts : rm.images;
  const e: Estimate = await api.estimate(body as never);
  out.print(e, () =>
    [
      table(
        ['metric', 'quantity', 'included', 'overage', 'amount usd', 'left after'],
        e.price.lines.map((l) => [
          l.metric,
          l.quantity,
          l.included,
          l.overage,
          l.amount_usd ?? 'contract',
          e.quota_after[l.metric]?.remaining ?? '∞',
        ]),
      ),
      `total (${e.price.plan}): ${e.price.total_usd === null ? 'by contract' : `$${e.price.total_usd}`}`,
      `submit would answer ${e.submit.status}${e.submit.error ? `: ${e.submit.error.detail ?? e.submit.error.title}` : ''}`,
    ].join('\n'),
  );
  return e.submit.status;
}

export async function jobs(rm: Rendermill, out: Output, args: string[], f: Flags): Promise<void> {
  const [sub, id] = args;
  if (sub === 'list') {
    const page = await rm.jobs
      .list({
        status: f.status as JobStatus | undefined,
        kind: f.kind as JobKind | undefined,
        limit: limitOf(f),
        cursor: f.cursor,
      })
      .page();
    out.print(page, () =>
      [
        table(
          ['id', 'kind', 'status', 'progress', 'created'],
          page.data.map((j) => [j.id, j.kind, j.status, `${Math.round(j.progress * 100)}%`, j.created_at]),
        ),
        ...(page.next_cursor ? [`more: --cursor ${page.next_cursor}`] : []),
      ].join('\n'),
    );
    return;
  }
  if (!['get', 'cancel', 'download'].includes(sub ?? ''))
    throw new UsageError('jobs list|get|cancel|download');
  if (!id) throw new UsageError(`jobs ${sub} needs a job id`);
  if (sub === 'get') {
    const j = await rm.jobs.get(id);
    out.print(j, () =>
      [
        `${j.id}  ${j.kind} ${j.status} ${Math.round(j.progress * 100)}%`,
        table(
          ['step', 'status', 'started', 'finished'],
          j.steps.map((s) => [s.name, s.status, s.started_at, s.finished_at]),
        ),
      ].join('\n'),
    );
  } else if (sub === 'cancel') {
    const j = await rm.jobs.cancel(id);
    out.print(j, () => `${j.id} ${j.status}`);
  } else {
    const to = f.output ?? `${id}.bin`;
    const file = await rm.jobs.download(id, { to });
    out.print(
      { path: file.path, bytes: file.bytes, content_type: file.contentType },
      () => `${to} (${file.bytes} bytes)`,
    );
  }
}

export async function usage(rm: Rendermill, out: Output): Promise<void> {
  const u = await rm.usage.get();
  out.print(u, () =>
    [
      `plan ${u.plan}, ${u.period.start} – ${u.period.end}`,
      table(
        ['metric', 'used', 'reserved', 'limit', 'remaining'],
        Object.entries(u.metrics).map(([m, c]) => [
          m,
          c?.used,
          c?.reserved,
          c?.limit ?? '∞',
          c?.remaining ?? '∞',
        ]),
      ),
    ].join('\n'),
  );
}

const keyRow = (k: ApiKey) => [k.id, k.name, k.role, `${k.prefix}…${k.last4}`, k.created_at, k.last_used_at];
const KEY_HEADERS = ['id', 'name', 'role', 'key', 'created', 'last used'];

export async function keys(rm: Rendermill, out: Output, args: string[], f: Flags): Promise<void> {
  const [sub, id] = args;
  if (sub === 'list') {
    const page = await rm.apiKeys.list();
    out.print(page, () => table(KEY_HEADERS, page.data.map(keyRow)));
    return;
  }
  if (sub === 'create') {
    if (!f.name) throw new UsageError('keys create needs --name');
    const role = (f.role ?? 'member') as ApiKey['role'];
    const k = await rm.apiKeys.create({ name: f.name, role });
    out.print(k, () => `${table(KEY_HEADERS, [keyRow(k)])}\n\nkey (shown once): ${k.key}`);
    return;
  }
  if (sub !== 'rotate' && sub !== 'delete') throw new UsageError('keys create|list|rotate|delete');
  if (!id) throw new UsageError(`keys ${sub} needs a key id`);
  if (sub === 'rotate') {
    const k = await rm.apiKeys.rotate(id);
    out.print(k, () => `${id} revoked; new key ${k.id} (shown once): ${k.key}`);
    return;
  }
  await rm.apiKeys.delete(id);
  out.print({ id, deleted: true }, () => `${id} deleted`);
}

const deliveryRow = (d: WebhookDelivery) => [
  d.id,
  d.event,
  d.status,
  d.attempt_count,
  d.last_status_code,
  d.created_at,
  d.next_retry_at,
];
const DELIVERY_HEADERS = ['id', 'event', 'status', 'attempts', 'last http', 'created', 'next retry'];

export async function deliveries(rm: Rendermill, out: Output, args: string[], f: Flags): Promise<void> {
  const [sub, id] = args;
  if (sub === 'list') {
    const page = await rm.webhookDeliveries
      .list({
        status: f.status as WebhookDelivery['status'] | undefined,
        event: f.event as never,
        job_id: f['job-id'],
        limit: limitOf(f),
        cursor: f.cursor,
      })
      .page();
    out.print(page, () =>
      [
        table(DELIVERY_HEADERS, page.data.map(deliveryRow)),
        ...(page.next_cursor ? [`more: --cursor ${page.next_cursor}`] : []),
      ].join('\n'),
    );
    return;
  }
  if (sub !== 'replay') throw new UsageError('deliveries list|replay');
  if (!id) throw new UsageError('deliveries replay needs a delivery id');
  const d = await rm.webhookDeliveries.replay(id);
  out.print(d, () => `${d.id} queued again (${d.event}, webhook-id ${d.event_id})`);
}
