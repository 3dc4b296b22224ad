import type { Knex } from 'knex';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import type { Role } from '../../../shared/auth/roles.ts';
import type { TenantGenerations } from '../../../shared/auth/tenant-generation.ts';
import { hashSecret, newSecret } from '../../../shared/crypto/tokens.ts';
import { UnauthenticatedError } from '../../../shared/errors/http-errors.ts';
import type { EventWriter } from '../../../shared/events/event-stream.ts';
import { newId } from '../../../shared/ids/ids.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import { maskEmail } from '../../../shared/logging/logger.ts';
import type { Mailer } from '../../../shared/mail/mailer.ts';
import { announceNotifications, notify } from '../../../shared/notifications/notify.ts';
import { newWebhookSecret } from '../../../shared/webhooks/signing.ts';
import type { AuthStore } from './auth-store.ts';
import type { JwtCodec } from './jwt.ts';

export const MAGIC_LINK_TTL_MS = 15 * 60 * 1000;
export const INVITE_TTL_MS = 7 * 24 * 3600 * 1000;

export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

export interface SignInResult extends TokenPair {
  user: { id: string; email: string };
  tenant: { id: string; name: string; plan: string };
  role: Role;
}

interface Deps {
  db: Knex;
  store: AuthStore;
  jwt: JwtCodec;
  mailer: Mailer;
  logger: Logger;
  publicUrl: string;
  refreshTtlSeconds: number;
  /** Tells open dashboards that notification feeds changed (a member joined). */
  events?: EventWriter;
  /** Bumped after a session ends, so every replica's auth cache drops it (auth-cache.ts). */
  generations: TenantGenerations;
}

export function createAuthService(deps: Deps) {
  const { db, store, jwt, logger } = deps;
  // Sends run after the 202 so known and unknown addresses answer alike; stop() awaits them.
  const pending = new Set<Promise<void>>();

  function background(work: () => Promise<void>): void {
    const p = new Promise<void>((resolve) => setImmediate(resolve))
      .then(work)
      .catch((err: unknown) => logger.error({ err }, 'background mail failed'))
      .finally(() => pending.delete(p));
    pending.add(p);
  }

  async function issueTokens(
    trx: Knex.Transaction,
    sessionId: string,
    userId: string,
    tenantId: string,
  ): Promise<TokenPair> {
    const refresh = newSecret('rt_');
    await store.insertRefreshToken(trx, {
      id: newId('rt'),
      session_id: sessionId,
      token_hash: hashSecret(refresh),
      expires_at: new Date(Date.now() + deps.refreshTtlSeconds * 1000),
    });
    return {
      access_token: await jwt.sign({ sub: userId, sid: sessionId, tid: tenantId }),
      refresh_token: refresh,
      token_type: 'Bearer',
      expires_in: jwt.ttlSeconds,
    };
  }

  function linkMail(email: string, token: string, purpose: 'login' | 'invite', tenantName?: string) {
    // The dashboard's page for the link only shows a Sign in button: a GET (mail scanners, link
    // previews) never spends the token. Without a dashboard build, that path redirects to the
    // API's own no-script page (GET /v1/auth/verify).
    const link = `${deps.publicUrl}/sign-in/verify?token=${encodeURIComponent(token)}`;
    const text =
      purpose === 'invite'
        ? `You have been invited to join ${tenantName ?? 'a team'} on Rendermill.\n\nAccept the invitation (valid for 7 days, single use):\n${link}\n`
        : `Sign in to Rendermill with this link (valid for 15 minutes, single use):\n${link}\n\nIf you did not ask for it, ignore this email.`;
    return {
      to: email,
      subject: purpose === 'invite' ? 'You are invited to Rendermill' : 'Your Rendermill sign-in link',
      text,
      link,
    };
  }

  return {
    /** Creates a sign-in token and mails its link. Returns at once; the send is async (flat timing). */
    sendLink(email: string): void {
      background(async () => {
        const token = newSecret('', 32);
        await store.insertToken(db, {
          id: newId('mlt'),
          token_hash: hashSecret(token),
          email,
          purpose: 'login',
          expires_at: new Date(Date.now() + MAGIC_LINK_TTL_MS),
        });
        await deps.mailer.send(linkMail(email, token, 'login'));
        logger.info({ to: maskEmail(email), purpose: 'login' }, 'sign-in link sent');
      });
    },

    /**
     * The invite counterpart of `sendLink`, for the members feature: the token row is written in the
     * caller's transaction (so it lands with its audit entry, and its id can be answered), and
     * `send()` — to call after commit — mails the link in the background.
     */
    async createInvite(
      trx: Knex.Transaction,
      opts: { email: string; tenantId: string; role: Role; invitedBy: string | null; tenantName: string },
    ): Promise<{ id: string; expiresAt: Date; send(): void }> {
      const token = newSecret('', 32);
      const id = newId('mlt');
      const expiresAt = new Date(Date.now() + INVITE_TTL_MS);
      await store.insertToken(trx, {
        id,
        token_hash: hashSecret(token),
        email: opts.email,
        purpose: 'invite',
        tenant_id: opts.tenantId,
        role: opts.role,
        invited_by: opts.invitedBy,
        expires_at: expiresAt,
      });
      return {
        id,
        expiresAt,
        send: () =>
          background(async () => {
            await deps.mailer.send(linkMail(opts.email, token, 'invite', opts.tenantName));
            logger.info({ to: maskEmail(opts.email), purpose: 'invite' }, 'sign-in link sent');
          }),
      };
    },

    /** Consumes a link token and opens a session. First sign-in creates user, tenant and owner membership. */
    async verify(token: string, client: ClientInfo, wantedTenantId?: string): Promise<SignInResult> {
      let joined: string | null = null;
      const result = await db.transaction(async (trx) => {
        const row = await store.consumeToken(trx, hashSecret(token));
        if (!row) throw new UnauthenticatedError('This sign-in link is invalid, expired or already used');
        const user =
          (await store.findUserByEmail(trx, row.email)) ??
          (await store.insertUser(trx, newId('usr'), row.email));
        await store.touchUser(trx, user.id);

        let memberships = await store.memberships(trx, user.id);
        let tenantId: string;
        if (row.purpose === 'invite' && row.tenant_id && row.role) {
          await store.upsertMembership(trx, row.tenant_id, user.id, row.role);
          tenantId = row.tenant_id;
          await appendAudit(trx, {
            tenantId,
            actorType: 'user',
            actorId: user.id,
            action: 'member.joined',
            targetType: 'user',
            targetId: user.id,
            requestId: client.requestId,
            ip: client.ip,
            metadata: { role: row.role, invited_by: row.invited_by },
          });
          const added = await notify(trx, {
            tenantId,
            type: 'member.joined',
            title: `${user.email} joined the team`,
            body: `They accepted the invite and joined as ${row.role}.`,
            link: '/team',
            targetType: 'user',
            targetId: user.id,
            dedupeKey: `member.joined:${user.id}:${row.id}`,
            audience: 'admins',
            exceptUserId: user.id,
          });
          if (added > 0) joined = tenantId;
        } else if (memberships.length === 0) {
          tenantId = newId('ten');
          await store.insertTenant(trx, {
            id: tenantId,
            name: 'My workspace',
            webhook_secret: newWebhookSecret(),
          });
          await store.upsertMembership(trx, tenantId, user.id, 'owner');
          await appendAudit(trx, {
            tenantId,
            actorType: 'user',
            actorId: user.id,
            action: 'tenant.created',
            targetType: 'tenant',
            targetId: tenantId,
            requestId: client.requestId,
            ip: client.ip,
          });
        } else {
          const chosen = wantedTenantId
            ? memberships.find((m) => m.tenant_id === wantedTenantId)
            : memberships[0];
          if (!chosen) throw new UnauthenticatedError('You are not a member of that tenant');
          tenantId = chosen.tenant_id;
        }
        memberships = await store.memberships(trx, user.id);
        const role = memberships.find((m) => m.tenant_id === tenantId)?.role ?? 'viewer';

        const sessionId = newId('ses');
        await store.insertSession(trx, {
          id: sessionId,
          user_id: user.id,
          tenant_id: tenantId,
          expires_at: new Date(Date.now() + deps.refreshTtlSeconds * 1000),
          ip: client.ip,
          user_agent: client.userAgent?.slice(0, 256) ?? null,
        });
        await appendAudit(trx, {
          tenantId,
          actorType: 'user',
          actorId: user.id,
          action: 'session.created',
          targetType: 'session',
          targetId: sessionId,
          requestId: client.requestId,
          ip: client.ip,
        });
        const pair = await issueTokens(trx, sessionId, user.id, tenantId);
        const tenant = await store.tenant(trx, tenantId);
        if (!tenant) throw new UnauthenticatedError();
        return { ...pair, user, tenant, role };
      });
      if (joined) await announceNotifications(deps.events, joined, 'member.joined');
      return result;
    },

    /**
     * Rotation: the presented token is spent and a new one issued in the same family.
     * Presenting a spent token means it leaked (or a client raced itself): the whole family dies.
     */
    async refresh(refreshToken: string, client: ClientInfo): Promise<TokenPair> {
      const outcome = await db.transaction(async (trx) => {
        const rt = await store.lockRefreshToken(trx, hashSecret(refreshToken));
        if (!rt) return { error: 'unknown' as const };
        if (rt.rotated_at) {
          const ended = await store.revokeSession(trx, rt.session_id, 'refresh_token_reuse');
          if (ended.length > 0) {
            await appendAudit(trx, {
              tenantId: null,
              actorType: 'system',
              action: 'session.revoked_reuse',
              targetType: 'session',
              targetId: rt.session_id,
              requestId: client.requestId,
              ip: client.ip,
            });
          }
          return { error: 'reused' as const, sessionId: rt.session_id, ended };
        }
        const session = await store.liveSession(trx, rt.session_id);
        if (!session || rt.expires_at.getTime() <= Date.now()) return { error: 'dead' as const };
        await store.markRotated(trx, rt.id);
        return { pair: await issueTokens(trx, session.id, session.user_id, session.tenant_id) };
      });
      if ('pair' in outcome && outcome.pair) return outcome.pair;
      if (outcome.error === 'reused') {
        await deps.generations.bump(outcome.ended);
        logger.warn({ session_id: outcome.sessionId }, 'refresh token reuse: family revoked');
      }
      throw new UnauthenticatedError('Refresh token is invalid, expired or revoked');
    },

    /** Ends the session a refresh token belongs to; holding the token is the proof. Unknown tokens: no-op. */
    async logout(refreshToken: string, client: ClientInfo): Promise<void> {
      const ended = await db.transaction(async (trx) => {
        const rt = await store.lockRefreshToken(trx, hashSecret(refreshToken));
        const session = rt
          ? await trx('sessions').select('id', 'user_id', 'tenant_id').where({ id: rt.session_id }).first()
          : null;
        if (!session) return [];
        const userId = session.user_id;
        const ended = await store.revokeSession(trx, session.id, 'logout');
        if (ended.length > 0) {
          await appendAudit(trx, {
            tenantId: session.tenant_id,
            actorType: 'user',
            actorId: userId,
            action: 'session.logout',
            targetType: 'session',
            targetId: session.id,
            requestId: client.requestId,
            ip: client.ip,
          });
        }
        return ended;
      });
      // After commit: the next request with this session's access token fails, on every replica.
      await deps.generations.bump(ended);
    },

    async logoutAll(userId: string, tenantId: string, client: ClientInfo): Promise<void> {
      const ended = await db.transaction(async (trx) => {
        const ended = await store.revokeUserSessions(trx, userId, 'logout_all');
        await appendAudit(trx, {
          tenantId,
          actorType: 'user',
          actorId: userId,
          action: 'session.logout_all',
          targetType: 'user',
          targetId: userId,
          requestId: client.requestId,
          ip: client.ip,
          metadata: { sessions: ended.length },
        });
        return ended;
      });
      await deps.generations.bump(ended);
    },

    /** Waits for mails still being sent (graceful stop, tests). */
    async drain(): Promise<void> {
      await Promise.all([...pending]);
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
