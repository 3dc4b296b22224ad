import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../../shared/ids/ids.ts';
import { createLogger } from '../../../shared/logging/logger.ts';
import { createMailer, type Mailer } from '../../../shared/mail/mailer.ts';
import { createLocalStorage } from '../../../shared/storage/local-storage.ts';
import { verifyDownload } from '../../../shared/storage/signed-url.ts';
import { present } from '../../../shared/testing/present.ts';
import { startSmtpSink } from '../../../shared/testing/smtp-sink.ts';
import { createTestEnv, type TestEnv } from '../../../shared/testing/test-env.ts';
import type { StepServices } from '../../jobs/step.ts';
import { type SeededTenant, seedTenant } from '../../testing/account-fixture.ts';
import { readZip } from '../../testing/read-zip.ts';
import { loadJob, runSteps } from '../../testing/run-steps.ts';
import { exportSteps } from './export-task.ts';

let env: TestEnv;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
let mailer: Mailer;
let services: StepServices;
let team: SeededTenant;
let other: SeededTenant;

beforeAll(async () => {
  smtp = await startSmtpSink();
  env = await createTestEnv({ SMTP_URL: smtp.url });
  const logger = createLogger('silent', 'test');
  mailer = createMailer({ smtpUrl: smtp.url, from: 'test@rendermill.test', outboxDir: env.dir, logger });
  services = {
    config: env.config,
    db: env.db,
    logger,
    mailer,
    storage: createLocalStorage(env.config.STORAGE_DIR),
    // An export revokes nothing: a bump would fail the test loudly.
    generations: { bump: () => Promise.reject(new Error('an export must not bump the tenant generation')) },
  };
  other = await seedTenant(env.db, services.storage, { label: 'other' });
  team = await seedTenant(env.db, services.storage, { label: 'team', sharedUser: other.owner });
});
afterAll(async () => {
  mailer.close();
  await smtp.close();
  await env.cleanup();
});

async function exportJob(tenantId: string, requestedBy: string) {
  const id = newId('job');
  await env
    .db('jobs')
    .insert({ id, tenant_id: tenantId, kind: 'export', payload: { requested_by: requestedBy } });
  return loadJob(env.db, id);
}

async function runExport(svc: StepServices = services) {
  const job = await exportJob(team.tenantId, team.owner.id);
  const run = await runSteps(exportSteps, { services: svc, job, payload: { requested_by: team.owner.id } });
  const output = run.outcomes.archive?.output;
  if (!output) throw new Error('the archive step produced no output');
  const local = path.join(env.dir, `${job.id}.zip`);
  await svc.storage.download(output.key, local);
  return { job, output, files: await readZip(local) };
}

const json = (files: Map<string, Buffer>, name: string) => JSON.parse(files.get(name)?.toString() ?? 'null');
const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : d);

describe('account export steps', () => {
  it('when an export runs, then its ZIP holds every part of the tenant, each matching the database', async () => {
    const { job, output, files } = await runExport();
    const db = env.db;
    expect(output.key).toBe(`tenants/${team.tenantId}/exports/${job.id}.zip`);
    expect(output.contentType).toBe('application/zip');
    expect(output.expiresAt!.getTime() - Date.now()).toBeGreaterThan(23.9 * 3600_000);

    const manifest = json(files, 'manifest.json');
    expect(manifest).toMatchObject({ tenant_id: team.tenantId, export_job_id: job.id, version: 1 });
    expect(new Set(manifest.files.map((f: { path: string }) => f.path))).toEqual(new Set(files.keys()));

    const tenant = present(await db('tenants').where({ id: team.tenantId }).first());
    expect(json(files, 'tenant.json')).toMatchObject({ id: tenant.id, name: tenant.name, plan: tenant.plan });

    const members = await db('memberships as m')
      .join('users as u', 'u.id', 'm.user_id')
      .select('m.user_id', 'u.email', 'm.role')
      .where('m.tenant_id', team.tenantId);
    const exportedMembers = json(files, 'members.json');
    expect(
      exportedMembers.map((m: Record<string, unknown>) => ({
        user_id: m.user_id,
        email: m.email,
        role: m.role,
      })),
    ).toEqual(expect.arrayContaining(members));
    expect(exportedMembers).toHaveLength(4);
    expect(manifest.counts.members).toBe(4);

    const jobs = await db('jobs').where({ tenant_id: team.tenantId }).orderBy('id');
    const exportedJobs = json(files, 'jobs.json') as Array<Record<string, unknown>>;
    expect(exportedJobs.map((j) => j.id).sort()).toEqual(jobs.map((j) => j.id));
    for (const j of exportedJobs) {
      const steps = await db('job_steps')
        .where({ job_id: j.id as string })
        .orderBy('position');
      expect((j.steps as Array<{ name: string }>).map((s) => s.name)).toEqual(steps.map((s) => s.name));
    }
    expect(manifest.counts.job_steps).toBe(3);

    const usage = await db('usage_events').where({ tenant_id: team.tenantId }).orderBy('id');
    const usageJson = json(files, 'usage.json') as Array<Record<string, unknown>>;
    expect(usageJson.map((u) => [u.id, u.metric, u.quantity]).sort()).toEqual(
      usage.map((u) => [u.id, u.metric, u.quantity]).sort(),
    );
    const csv = files.get('usage.csv')!.toString().trim().split('\r\n');
    expect(csv[0]).toBe('id,job_id,step,metric,quantity,occurred_at,reported_at');
    const csvRows = csv.slice(1).map((l) => l.split(','));
    expect(csvRows.map((r) => [r[0], r[3], Number(r[4])]).sort()).toEqual(
      usage.map((u) => [u.id, u.metric, u.quantity]).sort(),
    );
    expect(csvRows.map((r) => r[5])).toEqual(usageJson.map((u) => u.occurred_at));

    const audit = await db('audit_log').where({ tenant_id: team.tenantId }).orderBy('id');
    expect((json(files, 'audit-log.json') as Array<{ id: number }>).map((a) => a.id)).toEqual(
      audit.map((a) => a.id),
    );
    const deliveries = await db('webhook_deliveries').where({ tenant_id: team.tenantId });
    expect((json(files, 'webhook-deliveries.json') as Array<{ id: string }>).map((d) => d.id)).toEqual(
      deliveries.map((d) => d.id),
    );
    const sessions = await db('sessions').where({ tenant_id: team.tenantId });
    expect(json(files, 'sessions.json')).toHaveLength(sessions.length);
    expect(json(files, 'api-keys.json')[0]).toMatchObject({ name: 'ci', last4: expect.any(String) });
    expect(json(files, 'invites.json')[0]).toMatchObject({
      email: 'invitee.team@example.com',
      role: 'member',
    });

    // The output still held is inside, byte for byte; the earlier export and the cache are not.
    const outputs = json(files, 'outputs.json') as Array<Record<string, unknown>>;
    expect(outputs).toEqual([expect.objectContaining({ job_id: team.jobs.done, status: 'included' })]);
    const held = await services.storage.read(team.keys.output);
    const chunks: Buffer[] = [];
    for await (const c of held) chunks.push(c as Buffer);
    expect(files.get(outputs[0]!.file as string)).toEqual(Buffer.concat(chunks));
    expect([...files.keys()].filter((f) => f.startsWith('outputs/'))).toEqual([
      `outputs/${team.jobs.done}.mp4`,
    ]);
    expect(iso(jobs.find((j) => j.id === team.jobs.done)?.output_expires_at)).toBeTruthy();
  });

  it('when an export runs, then no file in it holds a token, a hash, a secret or another tenant', async () => {
    const { files } = await runExport();
    const hashes = [
      ...(await env.db('magic_link_tokens').pluck('token_hash')),
      ...(await env.db('refresh_tokens').pluck('token_hash')),
      ...(await env.db('api_keys').pluck('key_hash')),
      ...(await env.db('tenants').pluck('webhook_secret')).map((s) => present(s, 'a webhook secret')),
    ];
    const forbidden = [
      ...team.secrets,
      ...other.secrets,
      ...hashes,
      'token_hash',
      'key_hash',
      'webhook_secret',
      'whsec_',
    ];
    for (const [name, body] of files) {
      const text = body.toString('utf8');
      for (const s of forbidden) expect(text.includes(s), `${name} holds ${s.slice(0, 12)}…`).toBe(false);
      expect(text.includes(other.tenantId), `${name} names the other tenant`).toBe(false);
      expect(text.includes(other.admin.email), `${name} names another tenant's member`).toBe(false);
    }
  });

  it('when the outputs exceed the inline cap, then they are listed with signed links instead', async () => {
    const capped = { ...services, config: env.configWith({ EXPORT_INLINE_OUTPUTS_MAX_BYTES: '10' }) };
    const { files } = await runExport(capped);
    expect([...files.keys()].some((f) => f.startsWith('outputs/'))).toBe(false);
    const [linked] = json(files, 'outputs.json') as Array<Record<string, string>>;
    expect(linked).toMatchObject({ job_id: team.jobs.done, status: 'linked' });
    const url = new URL(linked!.download_url!);
    expect(url.pathname).toBe(`/v1/files/${team.jobs.done}`);
    const check = verifyDownload({
      secret: env.config.JWT_SECRET,
      jobId: team.jobs.done,
      expires: url.searchParams.get('expires'),
      sig: url.searchParams.get('sig'),
    });
    expect(check).toEqual({ ok: true });
    expect(Date.parse(linked!.link_expires_at!) - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    expect(json(files, 'manifest.json').counts).toMatchObject({ outputs_linked: 1, outputs_included: 0 });
  });

  it('when an export finishes, then owners and admins are mailed the download link, and nobody else', async () => {
    const before = smtp.mails.length;
    const { job } = await runExport();
    const link = `http://rendermill.test/v1/jobs/${job.id}/output`;
    const mails = () => smtp.mails.slice(before).filter((m) => m.text.includes(link));
    await smtp.waitFor((m) => m.text.includes(link) && m.to.includes(team.admin.email));
    expect(
      mails()
        .flatMap((m) => m.to)
        .sort(),
    ).toEqual([team.admin.email, team.owner.email].sort());
    expect(mails()[0]?.subject).toBe('Your Rendermill data export is ready');
  });

  it('when the export is aborted midway, then no ZIP is uploaded', async () => {
    const job = await exportJob(team.tenantId, team.owner.id);
    const abort = new AbortController();
    abort.abort(new Error('deadline'));
    await expect(
      runSteps(exportSteps, { services, job, payload: { requested_by: null }, signal: abort.signal }),
    ).rejects.toThrow('deadline');
    expect(await services.storage.stat(`tenants/${team.tenantId}/exports/${job.id}.zip`)).toBeNull();
  });

  it('when a ledger cell looks like a spreadsheet formula, then usage.csv guards it with a quote mark and keeps negative numbers numeric', async () => {
    const formula = '=HYPERLINK("http://evil.example/","open")';
    const id = newId('evt');
    await env.db('usage_events').insert({
      id,
      tenant_id: team.tenantId,
      job_id: team.jobs.done,
      step: formula,
      metric: 'images',
      quantity: -1,
      occurred_at: new Date('2026-12-01T10:00:00.000Z'),
    });
    const { files } = await runExport();
    const line = files
      .get('usage.csv')!
      .toString()
      .split('\r\n')
      .find((l) => l.startsWith(`${id},`));
    expect(line).toBe(
      `${id},${team.jobs.done},"'=HYPERLINK(""http://evil.example/"",""open"")",images,-1,2026-12-01T10:00:00.000Z,`,
    );
    // The JSON form is data, not a spreadsheet: it keeps the value as it is.
    const usageJson = json(files, 'usage.json') as Array<Record<string, unknown>>;
    expect(usageJson.find((u) => u.id === id)).toMatchObject({ step: formula, quantity: -1 });
  });
});
