import type { Knex } from 'knex';
import { type AuditEntry, appendAudit } from '../../../shared/audit/audit-log.ts';
import { type Role, roleAtLeast } from '../../../shared/auth/roles.ts';
import type { TenantGenerations } from '../../../shared/auth/tenant-generation.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../../../shared/errors/http-errors.ts';
import type { AuthService } from '../auth/auth-service.ts';
import type { MemberRow, MemberStore } from './member-store.ts';

/** Who acts: tenant, role, user id (null for an API key) and the request's audit fields. */
export interface MemberActor {
  tenantId: string;
  role: Role;
  userId: string | null;
  audit: Pick<AuditEntry, 'actorType' | 'actorId' | 'requestId' | 'ip'>;
}

export interface InviteCreated {
  id: string;
  email: string;
  role: Role;
  expires_at: string;
}

/**
 * Member rules: admins manage members; nobody grants more than they hold; only an owner grants,
 * revokes or removes the owner role; the last owner can be neither demoted nor removed.
 * Each change locks the tenant row first, so these rules hold under concurrent requests. A role
 * change or a removal bumps the tenant's generation after commit, so the member's very next
 * request, on any replica, is authorized with the new role or not at all.
 */
export function createMemberService(deps: {
  db: Knex;
  store: MemberStore;
  auth: AuthService;
  generations: TenantGenerations;
}) {
  const { db, store } = deps;

  const audit = (trx: Knex.Transaction, actor: MemberActor, e: Omit<AuditEntry, 'tenantId' | 'actorType'>) =>
    appendAudit(trx, { ...actor.audit, tenantId: actor.tenantId, ...e });

  async function target(trx: Knex.Transaction, actor: MemberActor, userId: string): Promise<MemberRow> {
    const m = await store.find(trx, actor.tenantId, userId);
    if (!m) throw new NotFoundError('Member not found');
    return m;
  }

  async function guardLastOwner(trx: Knex.Transaction, tenantId: string, what: string): Promise<void> {
    if ((await store.countOwners(trx, tenantId)) <= 1) {
      throw new ConflictError(`The last owner cannot be ${what}; make another member owner first`);
    }
  }

  return {
    async invite(actor: MemberActor, email: string, role: Role): Promise<InviteCreated> {
      if (!roleAtLeast(actor.role, role)) {
        throw new ForbiddenError(`You cannot invite with a role above your own (${actor.role})`);
      }
      const created = await db.transaction(async (trx) => {
        const tenant = await store.lockTenant(trx, actor.tenantId);
        if (await store.findByEmail(trx, actor.tenantId, email)) {
          throw new ConflictError('This address already belongs to a member');
        }
        // Re-inviting replaces the pending invite, so only the newest link works.
        const replaced = await store.pendingInviteIds(trx, actor.tenantId, email);
        await store.deleteInvites(trx, actor.tenantId, replaced);
        const invite = await deps.auth.createInvite(trx, {
          email,
          tenantId: actor.tenantId,
          role,
          invitedBy: actor.userId,
          tenantName: tenant.name,
        });
        await audit(trx, actor, {
          action: 'invite.created',
          targetType: 'invite',
          targetId: invite.id,
          metadata: { email, role, replaces: replaced },
        });
        return invite;
      });
      created.send();
      return { id: created.id, email, role, expires_at: created.expiresAt.toISOString() };
    },

    async revokeInvite(actor: MemberActor, id: string): Promise<void> {
      await db.transaction(async (trx) => {
        await store.lockTenant(trx, actor.tenantId);
        const invite = await store.findInvite(trx, actor.tenantId, id);
        if (!invite) throw new NotFoundError('Invite not found');
        if (!roleAtLeast(actor.role, invite.role)) {
          throw new ForbiddenError(`Only an ${invite.role} or above can withdraw this invite`);
        }
        await store.deleteInvites(trx, actor.tenantId, [id]);
        await audit(trx, actor, {
          action: 'invite.revoked',
          targetType: 'invite',
          targetId: id,
          metadata: { email: invite.email, role: invite.role },
        });
      });
    },

    async changeRole(actor: MemberActor, userId: string, role: Role): Promise<MemberRow> {
      const changed = await db.transaction(async (trx) => {
        await store.lockTenant(trx, actor.tenantId);
        const m = await target(trx, actor, userId);
        if ((role === 'owner' || m.role === 'owner') && actor.role !== 'owner') {
          throw new ForbiddenError('Only an owner can grant or revoke the owner role');
        }
        if (!roleAtLeast(actor.role, role)) {
          throw new ForbiddenError(`You cannot grant a role above your own (${actor.role})`);
        }
        if (m.role === role) return m;
        if (m.role === 'owner') await guardLastOwner(trx, actor.tenantId, 'demoted');
        await store.setRole(trx, actor.tenantId, userId, role);
        await audit(trx, actor, {
          action: 'member.role_changed',
          targetType: 'user',
          targetId: userId,
          metadata: { from: m.role, to: role },
        });
        return { ...m, role };
      });
      await deps.generations.bump([actor.tenantId]);
      return changed;
    },

    /** Removes the membership and, in the same transaction, ends the user's sessions for this tenant. */
    async remove(actor: MemberActor, userId: string): Promise<void> {
      await db.transaction(async (trx) => {
        await store.lockTenant(trx, actor.tenantId);
        const m = await target(trx, actor, userId);
        if (m.role === 'owner') {
          if (actor.role !== 'owner') throw new ForbiddenError('Only an owner can remove an owner');
          await guardLastOwner(trx, actor.tenantId, 'removed');
        }
        await store.remove(trx, actor.tenantId, userId);
        const sessions = await store.revokeSessions(trx, actor.tenantId, userId, 'member_removed');
        await audit(trx, actor, {
          action: 'member.removed',
          targetType: 'user',
          targetId: userId,
          metadata: { role: m.role, sessions_ended: sessions },
        });
      });
      await deps.generations.bump([actor.tenantId]);
    },
  };
}

export type MemberService = ReturnType<typeof createMemberService>;
