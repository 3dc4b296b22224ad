import type { Knex } from 'knex';

/** Subscription trials: when the trial of the tenant's subscription ends (or ended). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenants', (t) => {
    // From Stripe's subscription `trial_end`; kept after the trial so a second Checkout offers none.
    t.timestamp('trial_ends_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenants', (t) => t.dropColumn('trial_ends_at'));
}
