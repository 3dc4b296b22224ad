import type { Knex } from 'knex';
import { z } from 'zod/v4';
import { ownerEmails } from '../../../shared/account/owner-emails.ts';
import { withTimeout } from '../../../shared/async/with-timeout.ts';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import { NotFoundError, ValidationError } from '../../../shared/errors/http-errors.ts';
import { newId } from '../../../shared/ids/ids.ts';
import { createJobRepository } from '../../../shared/jobs/job-repository.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import type { Producer } from '../../../shared/queue/producer.ts';
import { idParam, isoTime, listOf, nullableTime, pageQuery } from '../../http/contract-schemas.ts';
import { decodeTimeCursor, encodeCursor } from '../../http/keyset-cursor.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { createSupportStore, type TicketRow } from './support-store.ts';

const ticketSchema = z.object({
  id: z.string(),
  subject: z.string(),
  message: z.string(),
  job_id: z.string().nullable(),
  status: z.enum(['pending', 'delivered', 'failed']),
  channel: z.enum(['freshdesk', 'email', 'outbox']).nullable().describe('Where it went, once delivered'),
  helpdesk_ticket_id: z.string().nullable().describe("The helpdesk's own ticket number (Freshdesk)"),
  requester_email: z.string(),
  created_at: isoTime,
  delivered_at: nullableTime,
});

// Characters, not bytes: a ticket is prose. Control characters other than newlines and tabs are refused.
const prose = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `at most ${max} characters`)
    .refine((v) => ![...v].some(isControl), 'contains control characters');

/** C0 controls and DEL, except tab, newline and carriage return. */
function isControl(ch: string): boolean {
  const c = ch.codePointAt(0) ?? 0;
  return (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f;
}

const ticketRequest = z.strictObject({
  subject: prose(200),
  message: prose(10_000),
  job_id: z.string().min(1).max(64).optional().describe('The job the problem is about (this workspace’s)'),
});

function view(t: TicketRow) {
  return {
    id: t.id,
    subject: t.subject,
    message: t.message,
    job_id: t.job_id,
    status: t.status,
    channel: t.channel,
    helpdesk_ticket_id: t.helpdesk_ticket_id,
    requester_email: t.requester_email,
    created_at: t.created_at.toISOString(),
    delivered_at: t.delivered_at?.toISOString() ?? null,
  };
}

/**
 * Support tickets: any member of a workspace (or its API key) files one; the row commits with
 * its audit entry, then `support.deliver` takes it to Freshdesk or the support mailbox. A lost
 * enqueue is picked up by the reconciler, so a 201 never loses a ticket.
 */
export function supportRoutes(deps: { db: Knex; producer: Producer; logger: Logger }): Operation[] {
  const { db, producer, logger } = deps;
  const store = createSupportStore();
  const jobs = createJobRepository();
  return [
    defineOperation({
      operationId: 'createSupportTicket',
      method: 'post',
      path: '/v1/support/tickets',
      tag: 'support',
      summary: 'Report a problem to Rendermill support',
      auth: 'bearer',
      body: ticketRequest,
      bodyExample: { subject: 'Render stuck at 40 %', message: 'It has not moved for ten minutes.' },
      responses: {
        201: {
          description: 'Recorded; delivery to the helpdesk follows',
          body: ticketSchema,
          headers: { Location: 'The ticket' },
        },
      },
      handler: async ({ body }, req, res) => {
        const p = principalOf(req);
        const ticket = await db.transaction(async (trx) => {
          if (body.job_id && !(await jobs.find(trx, p.tenantId, body.job_id))) {
            throw new ValidationError([
              { path: '/job_id', message: 'no job with this id in this workspace' },
            ]);
          }
          const email = p.userId
            ? await store.userEmail(trx, p.userId)
            : ((await ownerEmails(trx, p.tenantId))[0] ?? null);
          if (!email) throw new Error(`tenant ${p.tenantId} has no address to answer a ticket to`);
          const row = await store.insert(trx, {
            id: newId('tkt'),
            tenant_id: p.tenantId,
            user_id: p.userId,
            api_key_id: p.apiKeyId,
            requester_email: email,
            subject: body.subject,
            message: body.message,
            job_id: body.job_id ?? null,
          });
          await appendAudit(trx, {
            ...auditActor(req),
            action: 'support.ticket_created',
            targetType: 'support_ticket',
            targetId: row.id,
            metadata: { job_id: row.job_id },
          });
          return row;
        });
        await withTimeout(
          producer.enqueueSupport({ ticketId: ticket.id, tenantId: ticket.tenant_id }),
          3000,
          'enqueue support.deliver',
        ).catch((err: unknown) =>
          logger.warn({ err, ticket_id: ticket.id }, 'support enqueue failed; reconciler will retry'),
        );
        res.status(201).location(`/v1/support/tickets/${ticket.id}`).json(view(ticket));
      },
    }),
    defineOperation({
      operationId: 'listSupportTickets',
      method: 'get',
      path: '/v1/support/tickets',
      tag: 'support',
      summary: "This workspace's support tickets, newest first",
      auth: 'bearer',
      query: pageQuery,
      queryExample: { limit: '20' },
      responses: { 200: { description: 'One page of tickets', body: listOf(ticketSchema) } },
      handler: async ({ query: q }, req, res) => {
        const p = principalOf(req);
        const before = q.cursor === undefined ? undefined : decodeTimeCursor(q.cursor);
        const rows = await store.list(db, p.tenantId, q.limit, before);
        const data = rows.slice(0, q.limit);
        const last = data.at(-1);
        res.json({
          data: data.map(view),
          next_cursor: rows.length > q.limit && last ? encodeCursor([last.position, last.id]) : null,
        });
      },
    }),
    defineOperation({
      operationId: 'getSupportTicket',
      method: 'get',
      path: '/v1/support/tickets/:id',
      tag: 'support',
      summary: 'One support ticket and where it was delivered',
      auth: 'bearer',
      params: z.object({ id: idParam }),
      responses: { 200: { description: 'The ticket', body: ticketSchema } },
      handler: async ({ params }, req, res) => {
        const row = await store.get(db, principalOf(req).tenantId, params.id);
        if (!row) throw new NotFoundError('Ticket not found');
        res.json(view(row));
      },
    }),
  ];
}
