import type { Request } from 'express';
import { z } from 'zod/v4';
import { isoTime, nullableTime } from '../../http/contract-schemas.ts';
import { defineOperation, type Operation } from '../../http/operation.ts';
import { auditActor, principalOf } from '../../http/request-context.ts';
import { CALLBACK_PATH, type IntegrationActor, type YoutubeService } from './youtube-service.ts';

function actorOf(req: Request): IntegrationActor {
  const p = principalOf(req);
  // auth: 'user' below: only a person connects or disconnects (the consent screen is theirs).
  return { tenantId: p.tenantId, userId: p.userId ?? '', audit: auditActor(req) };
}

const statusSchema = z.object({
  connected: z.boolean(),
  channel_id: z.string().nullable(),
  channel_title: z.string().nullable(),
  connected_at: nullableTime,
  connected_by: z.string().nullable(),
});

/** `/v1/integrations/youtube*` (README: Publishing to YouTube): connect (admin+), callback (Google's redirect), status, disconnect. */
export function youtubeRoutes(deps: { youtube: YoutubeService }): Operation[] {
  const { youtube } = deps;
  return [
    defineOperation({
      operationId: 'connectYoutube',
      method: 'get',
      path: '/v1/integrations/youtube/connect',
      tag: 'integrations',
      summary: "Start connecting the tenant's YouTube channel (Google OAuth, authorization code + PKCE)",
      description:
        'Answers the Google consent URL to open in the browser; Google sends the person back to the callback. ' +
        'Free plan: 403 upgrade_required (feature youtube_publish). 503 when the server has no OAuth client or INTEGRATIONS_ENCRYPTION_KEY.',
      auth: 'user',
      role: 'admin',
      errors: [403, 503],
      responses: {
        200: {
          description: 'Open authorize_url; its state expires at expires_at',
          body: z.object({ authorize_url: z.string(), expires_at: isoTime }),
        },
      },
      handler: async (_input, req, res) => {
        res.setHeader('Cache-Control', 'no-store');
        res.json(await youtube.connect(actorOf(req)));
      },
    }),
    defineOperation({
      operationId: 'youtubeOAuthCallback',
      method: 'get',
      path: CALLBACK_PATH,
      tag: 'integrations',
      summary:
        "Google's redirect after consent: stores the channel's token, then redirects to the Account page",
      description:
        'The state (single use, 10 minutes) names the tenant and person who started; the code is exchanged with the PKCE verifier kept on the server. ' +
        'Redirects to /account?youtube=connected or /account?youtube=error&reason=invalid_state|access_denied|no_code|exchange_failed|no_refresh_token|scope_not_granted.',
      // The browser arrives from Google without our bearer token: the state is the credential.
      auth: 'public',
      query: z.object({
        code: z.string().max(2048).optional(),
        state: z.string().max(256).optional(),
        error: z.string().max(256).optional(),
        scope: z.string().max(2048).optional(),
      }),
      queryExample: { code: '4/0Ab…', state: 'yst_…' },
      errors: [503],
      responses: {
        302: {
          description: 'To the dashboard Account page with the outcome',
          headers: { Location: '/account?youtube=…' },
        },
      },
      handler: async ({ query }, req, res) => {
        const location = await youtube.callback(query, req.id, req.ip ?? null);
        res.setHeader('Cache-Control', 'no-store');
        res.redirect(302, location);
      },
    }),
    defineOperation({
      operationId: 'getYoutubeConnection',
      method: 'get',
      path: '/v1/integrations/youtube',
      tag: 'integrations',
      summary: 'Whether a YouTube channel is connected, and since when',
      auth: 'bearer',
      responses: { 200: { description: 'The connection', body: statusSchema } },
      handler: async (_input, req, res) => {
        res.json(await youtube.status(principalOf(req).tenantId));
      },
    }),
    defineOperation({
      operationId: 'disconnectYoutube',
      method: 'delete',
      path: '/v1/integrations/youtube',
      tag: 'integrations',
      summary: 'Disconnect the channel: revoke the token at Google, then delete it',
      description: '503 when Google does not confirm the revocation (the connection is kept; retry).',
      auth: 'user',
      role: 'admin',
      errors: [503],
      responses: { 204: { description: 'Disconnected (or was not connected)' } },
      handler: async (_input, req, res) => {
        await youtube.disconnect(actorOf(req));
        res.status(204).end();
      },
    }),
  ];
}
