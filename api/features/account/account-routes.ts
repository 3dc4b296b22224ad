import type { Request } from 'express';
import { z } from 'zod/v4';
import { isoTime, nullableTime } from '../../http/contract-schemas.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { jobViewSchema } from '../jobs/job-schemas.ts';
import type { AccountActor, AccountService } from './account-service.ts';

const accountSchema = z.object({
  id: z.string(),
  name: z.string(),
  deletion_scheduled_for: nullableTime.describe('When a scheduled deletion runs; null when none is pending'),
  last_backup_at: nullableTime.describe(
    "When the platform's last verified backup was taken (GET /v1/ops/backups has the details); null before the first",
  ),
});

const renameBody = z.object({ name: z.string().trim().min(1).max(100).describe('The workspace name') });

function actorOf(req: Request): AccountActor {
  const p = principalOf(req);
  return {
    tenantId: p.tenantId,
    actorId: p.userId ?? p.apiKeyId,
    sessionId: p.sessionId,
    audit: auditActor(req),
  };
}

/**
 * Account (README: GDPR export, account deletion): the workspace (read by anyone, renamed by
 * admin+), export (admin+), deletion and its cancel (owner).
 */
export function accountRoutes(deps: { account: AccountService }): Operation[] {
  const { account } = deps;
  return [
    defineOperation({
      operationId: 'getAccount',
      method: 'get',
      path: '/v1/account',
      tag: 'account',
      summary: 'The workspace: its name, a pending deletion and the last verified backup',
      auth: 'bearer',
      responses: {
        200: {
          description: 'The workspace',
          body: accountSchema,
          example: {
            id: 'ten_qABX',
            name: 'My workspace',
            deletion_scheduled_for: null,
            last_backup_at: '2026-12-02T03:00:00.000Z',
          },
        },
      },
      handler: async (_input, req, res) => {
        res.json(await account.get(principalOf(req).tenantId));
      },
    }),
    defineOperation({
      operationId: 'renameAccount',
      method: 'patch',
      path: '/v1/account',
      tag: 'account',
      summary: 'Rename the workspace (audited as account.renamed)',
      auth: 'bearer',
      role: 'admin',
      body: renameBody,
      bodyExample: { name: 'Acme video' },
      responses: { 200: { description: 'The renamed workspace', body: accountSchema } },
      handler: async ({ body }, req, res) => {
        res.json(await account.rename(actorOf(req), body.name));
      },
    }),
    defineOperation({
      operationId: 'requestAccountExport',
      method: 'post',
      path: '/v1/account/export',
      tag: 'account',
      summary: "Export the tenant's data as a ZIP (a job)",
      description: 'One export at a time: asking again while one is open answers that job.',
      auth: 'bearer',
      role: 'admin',
      responses: {
        202: { description: 'The export job', body: jobViewSchema, headers: { Location: '/v1/jobs/<id>' } },
      },
      handler: async (_input, req, res) => {
        const job = await account.requestExport(actorOf(req));
        res.status(202).location(`/v1/jobs/${job.id}`).json(job);
      },
    }),
    defineOperation({
      operationId: 'scheduleAccountDeletion',
      method: 'post',
      path: '/v1/account/delete',
      tag: 'account',
      summary: 'Schedule the deletion of the tenant and its data',
      description:
        'Needs an owner signed in with a magic link in the last 15 minutes; runs after ACCOUNT_DELETION_GRACE_SECONDS.',
      // Owner and a person: API keys are never owners, and the recent sign-in is a session's.
      auth: 'user',
      role: 'owner',
      responses: {
        202: {
          description: 'Scheduled (asking twice answers the same date)',
          body: z.object({ scheduled_for: isoTime, job_id: z.string() }),
        },
      },
      handler: async (_input, req, res) => {
        res.status(202).json(await account.scheduleDeletion(actorOf(req)));
      },
    }),
    defineOperation({
      operationId: 'cancelAccountDeletion',
      method: 'post',
      path: '/v1/account/delete/cancel',
      tag: 'account',
      summary: 'Cancel a scheduled deletion (409 once it has started)',
      auth: 'bearer',
      role: 'owner',
      errors: [409],
      responses: {
        200: { description: 'Canceled', body: z.object({ canceled: z.literal(true), job_id: z.string() }) },
      },
      handler: async (_input, req, res) => {
        res.status(200).json(await account.cancelDeletion(actorOf(req)));
      },
    }),
  ];
}
