import { readFileSync } from 'node:fs';

/**
 * Where a V8 CPU profile's time went, by what the code is rather than by function: the samples'
 * self time grouped by the package or Node subsystem of the frame that was running. Used by
 * `npm run bench:submit` with BENCH_PROFILE=1 to report where a request's time goes.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

const STARTUP = 'startup (loading and compiling modules)';
const GROUPS: Array<[string, RegExp]> = [
  [
    STARTUP,
    /^node:internal\/(modules|main|process\/pre_execution)|node_modules\/(tsx|esbuild|get-tsconfig|@esbuild)\//,
  ],
  ['Postgres client (knex, pg)', /node_modules\/(knex|pg|pg-protocol|pg-pool|tarn)\//],
  [
    'Redis client (ioredis, bullmq, rate limiter)',
    /node_modules\/(ioredis|bullmq|rate-limiter-flexible|msgpackr|@ioredis|cluster-key-slot)\//,
  ],
  [
    'HTTP framework (express, router, body parser, helmet)',
    /node_modules\/(express|router|body-parser|helmet|raw-body|type-is|content-type|finalhandler|send|qs|on-finished|iconv-lite|media-typer|mime-types|accepts|negotiator|statuses|http-errors|depd|cookie|vary|etag|fresh|parseurl|proxy-addr|forwarded|encodeurl|escape-html|range-parser)\//,
  ],
  ['validation (zod)', /node_modules\/zod\//],
  [
    'logging (pino)',
    /node_modules\/(pino|pino-std-serializers|sonic-boom|fast-redact|quick-format-unescaped|atomic-sleep|on-exit-leak-free|thread-stream)\//,
  ],
  ['metrics (prom-client)', /node_modules\/(prom-client|tdigest|bintrees)\//],
  [
    'Node HTTP and sockets',
    /^node:(_http|http|net|stream|internal\/streams|internal\/stream_base|internal\/http|internal\/deps\/undici|internal\/webstreams)/,
  ],
  ['other dependencies', /node_modules\//],
  ['Rendermill code', /\/(api|shared|workers)\//],
];

/** Shares of the profile's busy samples (neither idle nor starting up), largest first, groups under 1 % lumped together. */
export function profileBreakdown(file: string): Array<{ group: string; share: number }> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map<string, number>();
  for (const id of profile.samples) {
    const frame = byId.get(id)?.callFrame;
    const url = frame?.url ?? '';
    const name = frame?.functionName ?? '';
    let group: string;
    if (name === '(idle)') group = 'idle';
    else if (name === '(garbage collector)') group = 'garbage collection';
    else if (!url)
      group = name === '(program)' ? 'V8 and native (program)' : `native: ${name || 'anonymous'}`;
    else group = GROUPS.find(([, re]) => re.test(url))?.[0] ?? 'Node runtime (other)';
    // Native socket writes show up as bare functions: they are the sockets' cost.
    if (/^native: (writev|writeBuffer|writeUtf8String|writeLatin1String|writeAsciiString)$/.test(group))
      group = 'Node HTTP and sockets';
    if (/^native: (readFileUtf8|compileSourceTextModule|compileFunction|internalModuleStat)/.test(group))
      group = STARTUP;
    counts.set(group, (counts.get(group) ?? 0) + 1);
  }
  // Shares of the busy time: the API idles while the raw queue.add rounds run, and starts once.
  counts.delete('idle');
  counts.delete(STARTUP);
  const total = [...counts.values()].reduce((s, n) => s + n, 0) || 1;
  const rows = [...counts].map(([group, n]) => ({ group, share: n / total }));
  const small = rows.filter((r) => r.share < 0.01);
  const big = rows.filter((r) => r.share >= 0.01).sort((a, b) => b.share - a.share);
  const rest = small.reduce((s, r) => s + r.share, 0);
  return rest > 0 ? [...big, { group: 'the rest (each < 1 %)', share: rest }] : big;
}

/** The functions with the most self time (busy samples only), for a closer look than the groups. */
export function topFunctions(file: string, n: number): Array<{ where: string; share: number }> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const counts = new Map<string, number>();
  let busy = 0;
  for (const id of profile.samples) {
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') continue;
    if (GROUPS[0]![1].test(frame.url)) continue;
    busy++;
    const file = frame.url
      .replace(/^file:\/\/.*?\/node_modules\//, '')
      .replace(/^file:\/\/.*?\/(api|shared|workers)\//, '$1/');
    const where = `${frame.functionName || '(anonymous)'} ${file}`.trim();
    counts.set(where, (counts.get(where) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([where, c]) => ({ where, share: c / Math.max(1, busy) }));
}
