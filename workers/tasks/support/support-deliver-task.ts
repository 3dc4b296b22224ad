import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { createMailer, type Mail } from '../../../shared/mail/mailer.ts';
import { JOBS, type SupportPayload } from '../../../shared/queue/queues.ts';
import type { WorkerServices } from '../../jobs/services.ts';
import { createFreshdeskClient, type FreshdeskClient, HelpdeskError } from './freshdesk-client.ts';

interface Ticket {
  id: string;
  tenant_id: string;
  requester_email: string;
  subject: string;
  message: string;
  job_id: string | null;
  status: string;
  attempts: number;
  delivery_started_at: Date | null;
  created_at: Date;
  tenant_name: string;
  plan: string;
}

/** The tag that finds our ticket again in Freshdesk: one per Rendermill ticket. */
export const helpdeskTag = (ticketId: string) => `rendermill-${ticketId}`;

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * support.deliver: takes a ticket to Freshdesk (FRESHDESK_DOMAIN + FRESHDESK_API_KEY) or, without
 * it, mails it to SUPPORT_EMAIL (the dev outbox when that is unset too).
 *
 * Never two helpdesk tickets for one of ours: the ticket carries a tag with our id, the time of
 * each create call is written before the call, and a try that follows a call with no answer (a
 * timeout, a dropped connection, a 5xx) first lists the requester's recent tickets for that tag.
 * 429 and 5xx are retried; a Retry-After longer than our backoff is honoured by delaying the
 * BullMQ job to that moment (our own `attempts` column bounds the tries either way). Other 4xx
 * fail the ticket at once: sending the same request again cannot help.
 */
export async function deliverSupportTicket(
  services: WorkerServices,
  job: Job,
  data: SupportPayload,
  token?: string,
): Promise<void> {
  const { db, config } = services;
  const ticket = (await db('support_tickets as s')
    .join('tenants as t', 't.id', 's.tenant_id')
    .select('s.*', 't.name as tenant_name', 't.plan')
    .where({ 's.id': data.ticketId, 's.tenant_id': data.tenantId })
    .first()) as Ticket | undefined;
  if (ticket?.status !== 'pending') return;
  const maxTries = JOBS['support.deliver'].policy.attempts;

  if (!config.FRESHDESK_DOMAIN || !config.FRESHDESK_API_KEY) {
    await mailTicket(services, ticket);
    return;
  }
  const freshdesk = createFreshdeskClient({
    domain: config.FRESHDESK_DOMAIN,
    apiKey: config.FRESHDESK_API_KEY,
    timeoutMs: config.FRESHDESK_TIMEOUT_SECONDS * 1000,
  });
  try {
    const existing = ticket.delivery_started_at ? await landedEarlier(freshdesk, ticket) : null;
    if (existing) {
      await delivered(services, ticket.id, 'freshdesk', existing);
      return;
    }
    if (ticket.attempts >= maxTries) {
      await failed(services, ticket.id, 'gave up: no answer from Freshdesk after every try');
      throw new UnrecoverableError('support ticket not delivered');
    }
    await db('support_tickets')
      .update({ attempts: ticket.attempts + 1, delivery_started_at: db.fn.now(), channel: 'freshdesk' })
      .where({ id: ticket.id });
    const created = await freshdesk.createTicket({
      email: ticket.requester_email,
      subject: ticket.subject,
      description: describe(ticket, config.PUBLIC_URL),
      tags: ['rendermill', helpdeskTag(ticket.id)],
    });
    await delivered(services, ticket.id, 'freshdesk', created.id);
  } catch (err) {
    if (!(err instanceof HelpdeskError)) throw err;
    const lastTry = ticket.attempts + 1 >= maxTries;
    if (!err.retryable || (lastTry && !err.outcomeUnknown)) {
      await failed(services, ticket.id, err.message);
      throw new UnrecoverableError(err.message);
    }
    await db('support_tickets')
      .update({ last_error: err.message.slice(0, 500) })
      .where({ id: ticket.id });
    services.logger.warn(
      { ticket_id: ticket.id, status: err.status, retry_after_ms: err.retryAfterMs },
      'freshdesk delivery failed; will retry',
    );
    if (err.retryAfterMs !== null && token) {
      await job.moveToDelayed(Date.now() + err.retryAfterMs, token);
      throw new DelayedError();
    }
    throw err;
  }
}

/** After a create with no answer: did it land? Looks back from a minute before our ticket was filed. */
async function landedEarlier(freshdesk: FreshdeskClient, t: Ticket): Promise<string | null> {
  return freshdesk.findByTag(t.requester_email, helpdeskTag(t.id), new Date(t.created_at.getTime() - 60_000));
}

function describe(t: Ticket, publicUrl: string): string {
  const rows: Array<[string, string]> = [
    ['Workspace', `${t.tenant_name} (${t.tenant_id})`],
    ['Plan', t.plan],
    ['Rendermill ticket', t.id],
  ];
  if (t.job_id)
    rows.push(['Job', `<a href="${escapeHtml(`${publicUrl}/jobs/${t.job_id}`)}">${t.job_id}</a>`]);
  const facts = rows.map(([k, v]) => `<li><b>${k}:</b> ${k === 'Job' ? v : escapeHtml(v)}</li>`).join('');
  return `<p>${escapeHtml(t.message).replaceAll('\n', '<br>')}</p><ul>${facts}</ul>`;
}

async function mailTicket(services: WorkerServices, t: Ticket): Promise<void> {
  const { config } = services;
  const lines = [
    `From: ${t.requester_email}`,
    `Workspace: ${t.tenant_name} (${t.tenant_id}), plan ${t.plan}`,
    `Ticket: ${t.id}`,
    ...(t.job_id ? [`Job: ${config.PUBLIC_URL}/jobs/${t.job_id}`] : []),
    '',
    t.message,
  ];
  const mail: Mail = {
    to: config.SUPPORT_EMAIL ?? 'support@dev-outbox',
    subject: `[Support] ${t.subject}`,
    text: lines.join('\n'),
  };
  await services
    .db('support_tickets')
    .update({ attempts: t.attempts + 1 })
    .where({ id: t.id });
  if (config.SUPPORT_EMAIL) {
    await services.mailer.send(mail);
    await delivered(services, t.id, 'email', null);
    return;
  }
  // No mailbox configured: the dev outbox, whatever SMTP_URL says, so nothing reaches a stranger.
  const outbox = createMailer({
    from: config.MAIL_FROM,
    outboxDir: config.DEV_OUTBOX_DIR,
    logger: services.logger,
  });
  await outbox.send(mail);
  await delivered(services, t.id, 'outbox', null);
}

async function delivered(
  services: WorkerServices,
  id: string,
  channel: 'freshdesk' | 'email' | 'outbox',
  helpdeskId: string | null,
): Promise<void> {
  await services
    .db('support_tickets')
    .update({
      status: 'delivered',
      channel,
      helpdesk_ticket_id: helpdeskId,
      delivered_at: services.db.fn.now(),
      last_error: null,
    })
    .where({ id, status: 'pending' });
  services.logger.info({ ticket_id: id, channel }, 'support ticket delivered');
}

async function failed(services: WorkerServices, id: string, error: string): Promise<void> {
  await services
    .db('support_tickets')
    .update({ status: 'failed', last_error: error.slice(0, 500) })
    .where({ id, status: 'pending' });
  services.logger.error({ ticket_id: id }, 'support ticket could not be delivered');
}
