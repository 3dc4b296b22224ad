import type { Knex } from 'knex';
import type { Role } from '../auth/roles.ts';
import type { EventWriter } from '../events/event-stream.ts';
import { newId } from '../ids/ids.ts';

type Db = Knex | Knex.Transaction;

/** What a notification is about. The dashboard picks its icon and wording by this. */
export const NOTIFICATION_TYPES = [
  'usage.threshold_reached',
  'billing.payment_failed',
  'billing.subscription_past_due',
  'billing.subscription_canceled',
  'billing.trial_will_end',
  'export.ready',
  'job.failed',
  'deletion.scheduled',
  'deletion.canceled',
  'member.joined',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/**
 * Who in the tenant is told: `admins` (owners and admins: money, quota, team), `everyone` (the
 * workspace itself is going away), or one user (their export, their job).
 */
export type Audience = 'admins' | 'everyone' | { userId: string };

export interface NewNotification {
  tenantId: string;
  type: NotificationType;
  title: string;
  body: string;
  /** A dashboard path such as `/jobs/job_…`. */
  link?: string | null;
  targetType?: string | null;
  targetId?: string | null;
  /** The same moment notified twice (a retried job, a redelivered webhook) lands once per person. */
  dedupeKey: string;
  audience: Audience;
  /** Left out even when the audience includes them (the member who just joined). */
  exceptUserId?: string;
}

const ADMIN_ROLES: Role[] = ['owner', 'admin'];

/**
 * Adds the notification to each recipient's feed, once per (recipient, dedupe key): call it in the
 * transaction of the change it announces. Returns how many feeds got a new row; when any did, call
 * `announceNotifications` after the commit so bells update live.
 */
export async function notify(db: Db, n: NewNotification): Promise<number> {
  const members = db('memberships').select('user_id').where({ tenant_id: n.tenantId });
  if (n.audience === 'admins') members.whereIn('role', ADMIN_ROLES);
  else if (n.audience !== 'everyone') members.where({ user_id: n.audience.userId });
  if (n.exceptUserId) members.whereNot({ user_id: n.exceptUserId });
  const recipients = await members;
  if (recipients.length === 0) return 0;
  const inserted = await db('notifications')
    .insert(
      recipients.map((r) => ({
        id: newId('ntf'),
        tenant_id: n.tenantId,
        user_id: r.user_id,
        type: n.type,
        title: n.title,
        body: n.body,
        link: n.link ?? null,
        target_type: n.targetType ?? null,
        target_id: n.targetId ?? null,
        dedupe_key: n.dedupeKey,
      })),
    )
    .onConflict(['tenant_id', 'user_id', 'dedupe_key'])
    .ignore()
    .returning('id');
  return inserted.length;
}

/**
 * Tells the tenant's event stream that feeds changed (`notification.created`, with the type only:
 * who was told stays in Postgres). Best effort: a lost event only delays the bell to its next fetch.
 */
export async function announceNotifications(
  events: Pick<EventWriter, 'emit'> | undefined,
  tenantId: string,
  type: NotificationType,
): Promise<void> {
  await events?.emit(tenantId, 'notification.created', { notification: { type } }).catch(() => null);
}
