import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startTestApi, type TestApi } from '../../api/testing/api-harness.ts';
import { freePort } from '../../chaos/spawn-api.ts';
import { fixturePath } from '../../shared/testing/fixtures.ts';
import {
  type ReceivedRequest,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../../shared/testing/webhook-receiver.ts';
import { start as startWorker, type WorkerProcess } from '../../workers/main.ts';
import { Rendermill, verifyWebhook } from '../src/index.ts';

/** The `rendermill` CLI as a child process against the running platform (API + worker). */
const ROOT = path.resolve(import.meta.dirname, '../..');
let t: TestApi;
let worker: WorkerProcess;
let apiKey: string;
let adminKey: string;
let owner: Rendermill;

type Received = ReceivedRequest;
/** A local receiver: the tenant's default endpoint (/hooks) and `listen`'s target (/fwd). */
let receiver: WebhookReceiver;
let receiverUrl: string;
let received: Received[] = [];

async function nextReceived(predicate: (r: Received) => boolean): Promise<Received> {
  await expect.poll(() => received.some(predicate), { timeout: 30_000 }).toBe(true);
  return received.find(predicate)!;
}

let plansFile = '';
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  received = receiver.received;
  receiverUrl = receiver.url;
  plansFile = path.join(os.tmpdir(), `plans-cli-${process.pid}.json`);
  await writeFile(
    plansFile,
    JSON.stringify({
      free: {
        limits: { render_seconds: 300, tts_seconds: 600, images: 100, storage_bytes: null },
        max_resolution: '1080p',
        overage: false,
      },
    }),
  );
  const port = await freePort();
  t = await startTestApi({
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    PLANS_FILE: plansFile,
    RATE_LIMIT_BURST_PER_SECOND: '1000',
    RATE_LIMIT_PER_MINUTE: '100000',
    EVENTS_PROGRESS_INTERVAL_MS: '0',
    FETCH_ALLOW_PRIVATE: '127.0.0.1',
  });
  worker = await startWorker(t.env.config);
  const s = await t.signIn('cli@example.com');
  const rm = new Rendermill({ accessToken: s.access_token, baseUrl: t.api.url });
  apiKey = (await rm.apiKeys.create({ name: 'cli', role: 'member' })).key;
  adminKey = (await rm.apiKeys.create({ name: 'cli admin', role: 'admin' })).key;
  owner = rm;
});
afterAll(async () => {
  await rm(plansFile, { force: true });
  await worker?.stop();
  await t?.close();
  await receiver?.close();
});

interface CliRun {
  /** Extra environment (an empty RENDERMILL_API_KEY means none). */
  env?: Record<string, string>;
  /** Talks to the child's stdin while it runs. */
  interact?: (child: ChildProcessWithoutNullStreams) => Promise<void>;
}

function spawnCli(args: string[], opts: CliRun = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', 'sdk/src/cli.ts', ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      RENDERMILL_API_KEY: apiKey,
      RENDERMILL_BASE_URL: t.api.url,
      ...opts.env,
    },
  });
}

/** A running CLI: what it printed so far, and its exit code once it ends. */
function follow(child: ChildProcessWithoutNullStreams) {
  const seen = { stdout: '', stderr: '' };
  child.stdout.on('data', (c) => {
    seen.stdout += c;
  });
  child.stderr.on('data', (c) => {
    seen.stderr += c;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { seen, exited };
}

async function cli(
  args: string[],
  opts: CliRun = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(args, opts);
  const { seen, exited } = follow(child);
  const talking = opts.interact?.(child).catch((err: unknown) => {
    child.kill();
    throw err;
  });
  const code = await exited;
  await talking;
  return { code, ...seen };
}

describe('rendermill CLI', () => {
  it('when render --wait --output --json runs the sample, then it streams NDJSON progress and leaves a playable MP4', async () => {
    const out = path.join(t.env.dir, 'v.mp4');
    const r = await cli(['render', fixturePath('render-short'), '--wait', '--output', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const progress = lines.filter((l) => l.type !== 'job.succeeded').map((l) => l.progress as number);
    expect(progress.length).toBeGreaterThan(1);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(lines.at(-1)).toMatchObject({ type: 'job.succeeded', output: out });
    const bytes = await readFile(out);
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
  });

  it('when render --wait --output runs on a terminal, then it draws a progress bar per step and leaves a playable MP4', async () => {
    const out = path.join(t.env.dir, 'tty.mp4');
    const command = [
      'node',
      '--import',
      'tsx',
      'sdk/src/cli.ts',
      'render',
      fixturePath('render-short'),
      '--wait',
      '--output',
      out,
    ]
      .map((a) => `'${a}'`)
      .join(' ');
    // script(1) gives the CLI a pseudo-terminal, as a person's shell would.
    const r = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          RENDERMILL_API_KEY: apiKey,
          RENDERMILL_BASE_URL: t.api.url,
          TERM: 'dumb',
        },
      });
      let text = '';
      child.stdout.on('data', (c) => {
        text += c;
      });
      child.on('exit', (code) => resolve({ code, text }));
    });
    expect(r.code, r.text.slice(-500)).toBe(0);
    const bars = r.text.split('\r').filter((x) => /^\[[# ]{30}\]\s+\d+%/.test(x));
    expect(bars.length).toBeGreaterThan(2);
    expect(bars.at(-1)).toMatch(/^\[#{30}\]\s+100%/);
    const steps = new Set(bars.map((b) => b.replace(/^\[[# ]{30}\]\s+\d+%\s*/, '').trim()).filter(Boolean));
    expect(steps.size).toBeGreaterThan(1); // one bar per step
    expect(r.text).toContain(`succeeded → ${out}`);
    const probe = await new Promise<string>((resolve) => {
      const p = spawn('ffprobe', [
        '-v',
        'error',
        '-show_entries',
        'stream=codec_type',
        '-of',
        'csv=p=0',
        out,
      ]);
      let o = '';
      p.stdout.on('data', (c) => {
        o += c;
      });
      p.on('exit', () => resolve(o));
    });
    expect(probe.split('\n').filter(Boolean).sort()).toEqual(['audio', 'video']);
  });

  it('when the body is invalid or past the quota, then distinct exit codes say so', async () => {
    const bad = path.join(t.env.dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ scenes: [], resolution: '999p' }));
    const v = await cli(['render', bad]);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain('/resolution');
    const big = path.join(t.env.dir, 'big.json');
    await writeFile(
      big,
      JSON.stringify({ scenes: Array.from({ length: 10 }, () => ({ title: 'long', duration: 40 })) }),
    );
    expect((await cli(['render', big])).code).toBe(3);
    expect((await cli(['estimate', big])).code).toBe(3);
  });

  it('when the job is canceled while render --wait follows it, then the exit code is 5', async () => {
    const long = path.join(t.env.dir, 'long.json');
    await writeFile(long, JSON.stringify({ scenes: [{ title: 'long', duration: 90 }], resolution: '720p' }));
    const { seen, exited } = follow(spawnCli(['render', long, '--wait', '--json']));
    const jobIdOf = () => /"job_id":"([^"]+)"/.exec(seen.stdout)?.[1];
    await expect.poll(jobIdOf, { timeout: 30_000 }).toBeTruthy();
    const jobId = jobIdOf()!;
    await owner.jobs.cancel(jobId);
    expect(await exited).toBe(5);
  });

  it('when jobs, usage and help are asked for, then tables by default and JSON with --json', async () => {
    const list = await cli(['jobs', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const page = JSON.parse(list.stdout) as { data: Array<{ id: string }> };
    expect(page.data.length).toBeGreaterThan(0);
    const get = await cli(['jobs', 'get', page.data[0]!.id]);
    expect(get.stdout).toContain(page.data[0]!.id);
    const usage = await cli(['usage']);
    expect(usage.stdout).toMatch(/^METRIC\s+USED\s+RESERVED\s+LIMIT/m);
    expect(usage.stdout).toMatch(/^render_seconds\s+[\d.]+\s+[\d.]+\s+300\s/m);
    const listTable = await cli(['jobs', 'list']);
    expect(listTable.stdout).toMatch(/^ID\s+KIND\s+STATUS/);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes');
    for (const command of [
      'login',
      'logout',
      'render',
      'estimate',
      'jobs',
      'usage',
      'keys',
      'deliveries',
      'listen',
    ]) {
      const h = await cli([command, '--help']);
      expect(h.code, command).toBe(0);
      expect(h.stdout, command).toContain(`rendermill ${command}`);
    }
    expect((await cli(['nope'])).code).toBe(64);
  });

  it('when tts and image bodies are estimated, then the kind comes from the body and nothing is created', async () => {
    const before = (await cli(['jobs', 'list', '--json', '--limit', '100'])).stdout;
    const tts = path.join(t.env.dir, 'tts.json');
    await writeFile(tts, JSON.stringify({ text: 'How much would this cost?' }));
    const e = await cli(['estimate', tts, '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ kind: 'tts', submit: { status: 202 } });
    expect(JSON.parse(e.stdout).quantities.tts_seconds).toBeGreaterThan(0);
    const card = path.join(t.env.dir, 'card.json');
    await writeFile(card, JSON.stringify({ title: 'Price me' }));
    const img = await cli(['estimate', card]);
    expect(img.code, img.stderr).toBe(0);
    expect(img.stdout).toMatch(/^images\s+1\s/m);
    expect(img.stdout).toContain('submit would answer 202');
    expect((await cli(['estimate', card, '--kind', 'tts'])).code).toBe(2); // a card is not a tts body
    expect((await cli(['jobs', 'list', '--json', '--limit', '100'])).stdout).toBe(before);
  });
});

describe('rendermill login / logout', () => {
  it('when the mailed link is pasted, then the session is stored 0600 and later commands refresh from it; logout removes it', async () => {
    const config = await mkdtemp(path.join(os.tmpdir(), 'rendermill-cli-'));
    onTestFinished(() => rm(config, { recursive: true, force: true }));
    const env = { XDG_CONFIG_HOME: config, RENDERMILL_API_KEY: '' };
    const email = 'login-cli@example.com';
    const before = t.smtp.mails.length;
    const r = await cli(['login'], {
      env,
      interact: async (child) => {
        child.stdin.write(`${email}\n`);
        const mail = await t.smtp.waitFor(
          (m, i = t.smtp.mails.indexOf(m)) => i >= before && m.to.includes(email),
        );
        const link = /https?:\/\/\S+token=[A-Za-z0-9_-]+/.exec(mail.text)?.[0];
        expect(link).toBeDefined();
        child.stdin.write(`${link}\n`);
      },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Signed in as ${email}`);
    const file = path.join(config, 'rendermill', 'session.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const first = JSON.parse(await readFile(file, 'utf8')) as { refresh_token: string; email: string };
    expect(first.email).toBe(email);

    // No key anywhere: the stored session is the credential (an owner may list keys).
    const keys = await cli(['keys', 'list', '--json'], { env });
    expect(keys.code, keys.stderr).toBe(0);
    expect(JSON.parse(keys.stdout)).toMatchObject({ data: [] });
    const second = JSON.parse(await readFile(file, 'utf8')) as { refresh_token: string };
    expect(second.refresh_token).not.toBe(first.refresh_token); // refresh tokens work once

    const out = await cli(['logout'], { env });
    expect(out.code, out.stderr).toBe(0);
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
    const refused = await t.call('POST', '/v1/auth/refresh', {
      body: { refresh_token: second.refresh_token },
    });
    expect(refused.status).toBe(401);
    const after = await cli(['usage'], { env });
    expect(after.code).toBe(64);
    expect(after.stderr).toContain('rendermill login');
  });
});

describe('rendermill keys and deliveries', () => {
  const admin = { env: { RENDERMILL_API_KEY: '' } } as const;
  const asAdmin = (args: string[]) => cli([...args, '--api-key', adminKey], admin);

  it('when keys are created, listed, rotated and deleted, then each answers and the rotated key stops', async () => {
    const created = await asAdmin(['keys', 'create', '--name', 'from-cli', '--role', 'viewer', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const k = JSON.parse(created.stdout) as { id: string; key: string; role: string };
    expect(k.role).toBe('viewer');
    const table = await asAdmin(['keys', 'list']);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+ROLE/);
    expect(table.stdout).toContain(k.id);
    const rotated = await asAdmin(['keys', 'rotate', k.id, '--json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const k2 = JSON.parse(rotated.stdout) as { id: string; key: string };
    expect((await cli(['usage', '--api-key', k.key], admin)).code).toBe(6); // 401: revoked
    expect((await cli(['usage', '--api-key', k2.key], admin)).code).toBe(0);
    expect((await asAdmin(['keys', 'delete', k2.id])).code).toBe(0);
    const list = JSON.parse((await asAdmin(['keys', 'list', '--json'])).stdout) as {
      data: Array<{ id: string }>;
    };
    expect(list.data.map((x) => x.id)).not.toContain(k2.id);
    expect((await cli(['keys', 'list'])).code).toBe(6); // a member key: 403
  });

  it('when a delivery is replayed from the CLI, then the endpoint gets it again with the same webhook-id', async () => {
    await owner.http.json('PUT', '/v1/webhook-endpoint', { body: { url: `${receiverUrl}/hooks` } });
    const sent = await owner.http.json<{ id: string; event_id: string }>('POST', '/v1/webhooks/test');
    const isTest = (r: Received) => r.path === '/hooks' && r.headers['webhook-id'] === sent.event_id;
    await nextReceived(isTest);
    await expect
      .poll(
        async () =>
          (await owner.http.json<{ status: string }>('GET', `/v1/webhook-deliveries/${sent.id}`)).status,
      )
      .toBe('delivered');
    const list = await asAdmin(['deliveries', 'list', '--event', 'webhook.test', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { data: Array<{ id: string }> }).data.map((d) => d.id)).toContain(
      sent.id,
    );
    expect((await asAdmin(['deliveries', 'list'])).stdout).toMatch(/^ID\s+EVENT\s+STATUS/);
    const replay = await asAdmin(['deliveries', 'replay', sent.id]);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain(`webhook-id ${sent.event_id}`);
    await expect.poll(() => received.filter(isTest).length, { timeout: 30_000 }).toBe(2);
  });
});

describe('rendermill listen', () => {
  it('when events happen, then each is POSTed to --forward-to signed so standardwebhooks and the SDK verify it', async () => {
    const child = spawnCli(
      ['listen', '--forward-to', `${receiverUrl}/fwd`, '--types', 'job.queued,job.succeeded', '--json'],
      { env: { RENDERMILL_API_KEY: adminKey } },
    );
    const { seen, exited } = follow(child);
    try {
      await expect.poll(() => seen.stdout.includes('"listen.ready"'), { timeout: 30_000 }).toBe(true);
      const member = new Rendermill({ apiKey, baseUrl: t.api.url });
      const job = await (await member.images.create({ title: 'listen' })).wait();
      const isDone = (r: Received) =>
        r.path === '/fwd' &&
        JSON.parse(r.body).type === 'job.succeeded' &&
        JSON.parse(r.body).data.job.id === job.id;
      const got = await nextReceived(isDone);
      expect(received.some((r) => r.path === '/fwd' && JSON.parse(r.body).type === 'job.queued')).toBe(true);
      expect(received.some((r) => r.path === '/fwd' && JSON.parse(r.body).type === 'job.started')).toBe(
        false,
      );
      const { secret } = await owner.http.json<{ secret: string }>('GET', '/v1/webhook-secret');
      const headers = {
        'webhook-id': String(got.headers['webhook-id']),
        'webhook-timestamp': String(got.headers['webhook-timestamp']),
        'webhook-signature': String(got.headers['webhook-signature']),
      };
      const verified = new Webhook(secret).verify(got.body, headers) as { id: string; type: string };
      expect(verified).toMatchObject({ type: 'job.succeeded', id: headers['webhook-id'] });
      expect((await verifyWebhook(got.body, headers, secret)).type).toBe('job.succeeded');
      expect(() => new Webhook(secret).verify(`${got.body} `, headers)).toThrow();
      await expect
        .poll(() =>
          seen.stdout.split('\n').some((l) => l.includes('"listen.forwarded"') && l.includes('"status":200')),
        )
        .toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, seen.stderr).toBe(0);
  });
});
