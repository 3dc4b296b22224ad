import type { Knex } from 'knex';
import { appendAudit } from '../../../shared/audit/audit-log.ts';
import type { TenantGenerations } from '../../../shared/auth/tenant-generation.ts';
import { ownerEmails, paymentFailedMail, trialEndingMail } from '../../../shared/billing/billing-mail.ts';
import type { EventWriter } from '../../../shared/events/event-stream.ts';
import type { Logger } from '../../../shared/logging/logger.ts';
import type { Mail, Mailer } from '../../../shared/mail/mailer.ts';
import type { PlanCatalogue } from '../../../shared/metering/plans.ts';
import { graceEndsAt } from '../../../shared/metering/tenant-plan.ts';
import {
  announceNotifications,
  type NewNotification,
  type NotificationType,
  notify,
} from '../../../shared/notifications/notify.ts';
import { parseInput } from '../../../shared/validation/parse.ts';
import type { BillingStore, SubscriptionPatch, TenantBillingRow } from './billing-store.ts';
import {
  invoiceSchema,
  type StripeEvent,
  type Subscription,
  sessionSchema,
  subscriptionSchema,
} from './stripe-objects.ts';

// Statuses that pay for the plan; `past_due` keeps it through the grace period.
const PAYING = new Set(['active', 'trialing', 'past_due']);
const ENDED = new Set(['canceled', 'unpaid', 'incomplete_expired', 'paused']);

/** The notification types an event added to feeds, announced on the stream after the commit. */
interface Notified {
  types: Set<NotificationType>;
}

interface Applied {
  outcome: string;
  tenantId: string | null;
  mails: Mail[];
}

export interface StripeEventDeps {
  db: Knex;
  store: BillingStore;
  plans: PlanCatalogue;
  mailer: Mailer;
  logger: Logger;
  publicUrl: string;
  /** Announces `billing.subscription_updated` (and new notifications) on the tenant's stream after an applied event. */
  events?: Pick<EventWriter, 'emit'>;
  /** Bumped after an event changed a tenant: its plan is cached by every replica (auth-cache.ts). */
  generations: Pick<TenantGenerations, 'bump'>;
}

export type StripeEventHandler = (event: StripeEvent) => Promise<{ duplicate: boolean; outcome: string }>;

/**
 * Applies Stripe events to the tenant's plan and subscription state, each event id once (its
 * `stripe_events` row commits with the change), correct in any delivery order: state comes from
 * the subscription object itself, and a subscription event older (`created`) than the last one
 * applied to the tenant is recorded but ignored. Mail goes out after the commit.
 */
export function createStripeEventHandler(deps: StripeEventDeps): StripeEventHandler {
  const { db, store, plans, logger } = deps;

  const planOf = (sub: Subscription): string | null => {
    const named = sub.metadata.plan;
    if (named && plans.has(named)) return named;
    for (const item of sub.items?.data ?? []) {
      const key = item.price?.lookup_key;
      if (key && plans.has(key)) return key;
      const byPrice = plans.plans.find((p) => p.stripe.base_price && p.stripe.base_price === item.price?.id);
      if (byPrice) return byPrice.name;
    }
    return null;
  };

  const findTenant = async (
    trx: Knex.Transaction,
    customer: string | null | undefined,
    hint?: string | null,
  ) => {
    let t = customer ? await store.tenantByCustomer(trx, customer, true) : undefined;
    if (!t && hint) {
      t = await store.tenant(trx, hint, true);
      if (t && customer && !t.stripe_customer_id) {
        t.stripe_customer_id = await store.linkCustomer(trx, t.id, customer);
      } else if (t && customer && t.stripe_customer_id !== customer) {
        logger.warn({ tenant_id: t.id, customer }, 'stripe event names another customer than the tenant has');
      }
    }
    return t;
  };

  /** Admins hear of money trouble in the app too; the event id makes a redelivery a no-op. */
  const tell = async (
    trx: Knex.Transaction,
    ctx: Notified,
    n: Omit<NewNotification, 'audience' | 'link' | 'targetType' | 'targetId'>,
  ) => {
    const added = await notify(trx, {
      ...n,
      audience: 'admins',
      link: '/billing',
      targetType: 'tenant',
      targetId: n.tenantId,
    });
    if (added > 0) ctx.types.add(n.type);
  };

  const save = async (
    trx: Knex.Transaction,
    ctx: Notified,
    t: TenantBillingRow,
    event: StripeEvent,
    patch: SubscriptionPatch,
  ) => {
    if (patch.plan && patch.plan !== t.plan) patch.plan_changed_at = new Date();
    await store.updateSubscription(trx, t.id, patch);
    const changed =
      (patch.plan && patch.plan !== t.plan) ||
      (patch.subscription_status ?? t.subscription_status) !== t.subscription_status;
    if (changed) {
      await appendAudit(trx, {
        tenantId: t.id,
        actorType: 'stripe',
        actorId: event.id,
        action: 'billing.subscription_changed',
        targetType: 'tenant',
        targetId: t.id,
        metadata: {
          event: event.type,
          plan: patch.plan ?? t.plan,
          status: patch.subscription_status ?? t.subscription_status,
        },
      });
    }
    const before = t.subscription_status;
    const after = patch.subscription_status ?? before;
    if (after === before) return;
    if (after === 'past_due') {
      await tell(trx, ctx, {
        tenantId: t.id,
        type: 'billing.subscription_past_due',
        title: 'Your subscription is past due',
        body: 'A payment did not go through. Update your payment method to keep your plan.',
        dedupeKey: `billing:${event.id}:past_due`,
      });
    } else if (ENDED.has(after) && !ENDED.has(before)) {
      await tell(trx, ctx, {
        tenantId: t.id,
        type: 'billing.subscription_canceled',
        title: 'Your subscription has ended',
        body: 'The workspace is on the free plan now. Upgrade on the Billing page at any time.',
        dedupeKey: `billing:${event.id}:ended`,
      });
    }
  };

  const onSubscription = async (
    trx: Knex.Transaction,
    event: StripeEvent,
    ctx: Notified,
  ): Promise<Applied> => {
    const sub = parseInput(subscriptionSchema, event.data.object);
    const t = await findTenant(trx, sub.customer, sub.metadata.tenant_id);
    if (!t) return { outcome: 'ignored_unknown_tenant', tenantId: null, mails: [] };
    const last = t.stripe_state_at;
    // `created` has one-second resolution: on a tie, `created` loses to what came after it.
    const stale =
      last !== null &&
      (event.created < last ||
        (event.created === last &&
          event.type === 'customer.subscription.created' &&
          t.stripe_subscription_id === sub.id));
    if (stale) return { outcome: 'ignored_stale', tenantId: t.id, mails: [] };
    const status = event.type === 'customer.subscription.deleted' ? 'canceled' : sub.status;
    if (t.stripe_subscription_id && t.stripe_subscription_id !== sub.id && !PAYING.has(status)) {
      // The late end of a subscription this tenant already replaced.
      return { outcome: 'ignored_other_subscription', tenantId: t.id, mails: [] };
    }
    let plan = t.plan;
    if (ENDED.has(status)) plan = 'free';
    else if (PAYING.has(status)) {
      const named = planOf(sub);
      if (named) plan = named;
      else
        logger.error(
          { subscription: sub.id },
          'cannot tell the plan of a subscription: set metadata.plan or a price lookup_key',
        );
    }
    const ends = [sub.current_period_end, ...(sub.items?.data ?? []).map((i) => i.current_period_end)].filter(
      (n): n is number => typeof n === 'number',
    );
    await save(trx, ctx, t, event, {
      plan,
      subscription_status: status,
      stripe_subscription_id: sub.id,
      current_period_end: ends.length > 0 ? new Date(Math.max(...ends) * 1000) : null,
      cancel_at_period_end: sub.cancel_at_period_end ?? false,
      past_due_since: status === 'past_due' ? (t.past_due_since ?? new Date(event.created * 1000)) : null,
      stripe_state_at: event.created,
      // Kept once known: it also records that this workspace has had its trial.
      trial_ends_at: sub.trial_end ? new Date(sub.trial_end * 1000) : t.trial_ends_at,
    });
    return { outcome: 'applied', tenantId: t.id, mails: [] };
  };

  const onCheckout = async (trx: Knex.Transaction, event: StripeEvent, ctx: Notified): Promise<Applied> => {
    const s = parseInput(sessionSchema, event.data.object);
    if (s.mode && s.mode !== 'subscription') return { outcome: 'ignored_type', tenantId: null, mails: [] };
    const t = await findTenant(trx, s.customer, s.client_reference_id ?? s.metadata.tenant_id);
    if (!t) return { outcome: 'ignored_unknown_tenant', tenantId: null, mails: [] };
    // Subscription events carry the full state; the session only bootstraps it when none of
    // them has arrived yet for this subscription (it never moves stripe_state_at, so an older
    // customer.subscription.created still applies after it).
    const known = s.subscription && t.stripe_subscription_id === s.subscription && t.stripe_state_at !== null;
    const newer = t.stripe_state_at === null || event.created > t.stripe_state_at;
    if (known || !newer) {
      if (!t.stripe_subscription_id && s.subscription) {
        await store.updateSubscription(trx, t.id, { stripe_subscription_id: s.subscription });
      }
      return { outcome: 'linked', tenantId: t.id, mails: [] };
    }
    const plan = s.metadata.plan && plans.has(s.metadata.plan) ? s.metadata.plan : t.plan;
    await save(trx, ctx, t, event, {
      plan,
      subscription_status: 'active',
      stripe_subscription_id: s.subscription ?? t.stripe_subscription_id,
      cancel_at_period_end: false,
      past_due_since: null,
    });
    return { outcome: 'applied', tenantId: t.id, mails: [] };
  };

  const onInvoice = async (trx: Knex.Transaction, event: StripeEvent, ctx: Notified): Promise<Applied> => {
    const inv = parseInput(invoiceSchema, event.data.object);
    const details = inv.parent?.subscription_details;
    const t = await findTenant(trx, inv.customer, details?.metadata.tenant_id);
    if (!t) return { outcome: 'ignored_unknown_tenant', tenantId: null, mails: [] };
    const subId = details?.subscription ?? inv.subscription ?? null;
    if (!subId || (t.stripe_subscription_id && subId !== t.stripe_subscription_id)) {
      return { outcome: 'ignored_other_subscription', tenantId: t.id, mails: [] };
    }
    // Invoice events never move stripe_state_at (they carry no subscription state), but one
    // older than the last subscription event is outdated by it.
    if (t.stripe_state_at !== null && event.created < t.stripe_state_at) {
      return { outcome: 'ignored_stale', tenantId: t.id, mails: [] };
    }
    if (event.type === 'invoice.paid') {
      if (t.subscription_status !== 'past_due') return { outcome: 'applied', tenantId: t.id, mails: [] };
      await save(trx, ctx, t, event, { subscription_status: 'active', past_due_since: null });
      return { outcome: 'applied', tenantId: t.id, mails: [] };
    }
    const pastDueSince = t.past_due_since ?? new Date(event.created * 1000);
    if (t.plan !== 'free' && !ENDED.has(t.subscription_status)) {
      await save(trx, ctx, t, event, { subscription_status: 'past_due', past_due_since: pastDueSince });
    }
    const grace = graceEndsAt({ ...t, subscription_status: 'past_due', past_due_since: pastDueSince });
    await tell(trx, ctx, {
      tenantId: t.id,
      type: 'billing.payment_failed',
      title: 'A payment failed',
      body:
        t.plan !== 'free' && grace
          ? `Your plan stays until ${grace.toISOString()}; update your payment method before then.`
          : 'Update your payment method on the Billing page.',
      dedupeKey: `billing.payment_failed:${inv.id}`,
    });
    const mails = (await ownerEmails(trx, t.id)).map((to) =>
      paymentFailedMail(to, { graceEndsAt: t.plan !== 'free' ? grace : null, publicUrl: deps.publicUrl }),
    );
    return { outcome: 'applied', tenantId: t.id, mails };
  };

  /** Stripe's notice 3 days before a trial ends: the owners are told when, and what happens then. */
  const onTrialWillEnd = async (
    trx: Knex.Transaction,
    event: StripeEvent,
    ctx: Notified,
  ): Promise<Applied> => {
    const sub = parseInput(subscriptionSchema, event.data.object);
    const t = await findTenant(trx, sub.customer, sub.metadata.tenant_id);
    if (!t) return { outcome: 'ignored_unknown_tenant', tenantId: null, mails: [] };
    if (t.stripe_subscription_id && t.stripe_subscription_id !== sub.id) {
      return { outcome: 'ignored_other_subscription', tenantId: t.id, mails: [] };
    }
    const endsAt = sub.trial_end ? new Date(sub.trial_end * 1000) : t.trial_ends_at;
    if (endsAt && (!t.trial_ends_at || t.trial_ends_at.getTime() !== endsAt.getTime())) {
      await store.updateSubscription(trx, t.id, { trial_ends_at: endsAt });
    }
    await appendAudit(trx, {
      tenantId: t.id,
      actorType: 'stripe',
      actorId: event.id,
      action: 'billing.trial_will_end',
      targetType: 'tenant',
      targetId: t.id,
      metadata: { trial_ends_at: endsAt?.toISOString() ?? null, plan: t.plan },
    });
    const plan = plans.get(sub.metadata.plan && plans.has(sub.metadata.plan) ? sub.metadata.plan : t.plan);
    await tell(trx, ctx, {
      tenantId: t.id,
      type: 'billing.trial_will_end',
      title: 'Your trial ends soon',
      body: endsAt
        ? `The ${plan.name} trial ends on ${endsAt.toISOString()}; then the subscription follows your payment.`
        : `The ${plan.name} trial ends soon.`,
      dedupeKey: `billing.trial_will_end:${sub.id}:${endsAt?.toISOString() ?? 'unknown'}`,
    });
    const mails = (await ownerEmails(trx, t.id)).map((to) =>
      trialEndingMail(to, { plan: plan.name, endsAt, publicUrl: deps.publicUrl }),
    );
    return { outcome: 'applied', tenantId: t.id, mails };
  };

  const handlers: Record<string, (trx: Knex.Transaction, e: StripeEvent, ctx: Notified) => Promise<Applied>> =
    {
      'checkout.session.completed': onCheckout,
      'customer.subscription.created': onSubscription,
      'customer.subscription.updated': onSubscription,
      'customer.subscription.deleted': onSubscription,
      'customer.subscription.trial_will_end': onTrialWillEnd,
      'invoice.paid': onInvoice,
      'invoice.payment_failed': onInvoice,
    };

  return async (event) => {
    const ctx: Notified = { types: new Set() };
    const result = await db.transaction(async (trx) => {
      if (!(await store.claimEvent(trx, event.id, event.type))) return null;
      const handler = handlers[event.type];
      const applied = handler
        ? await handler(trx, event, ctx)
        : { outcome: 'ignored_type', tenantId: null, mails: [] };
      await store.finishEvent(trx, event.id, applied.outcome, applied.tenantId);
      return applied;
    });
    if (!result) return { duplicate: true, outcome: 'duplicate' };
    if (result.tenantId) {
      // Before anything else: the next submit on any replica must see the new plan's limits.
      await deps.generations.bump([result.tenantId]);
      // The Billing page shows the new plan the moment the webhook lands, without a reload.
      if (result.outcome === 'applied') {
        await deps.events?.emit(result.tenantId, 'billing.subscription_updated', {
          stripe_event: event.type,
        });
      }
      for (const type of ctx.types) await announceNotifications(deps.events, result.tenantId, type);
    }
    for (const mail of result.mails) {
      await deps.mailer
        .send(mail)
        .catch((err: unknown) => logger.warn({ err, event: event.id }, 'billing mail failed'));
    }
    logger.info(
      { stripe_event: event.id, type: event.type, outcome: result.outcome, tenant_id: result.tenantId },
      'stripe event',
    );
    return { duplicate: false, outcome: result.outcome };
  };
}
