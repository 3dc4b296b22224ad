import type { Knex } from 'knex';
import { API_KEY_PREFIX } from '../../api/features/auth/authenticate.ts';
import { hashSecret, newSecret } from '../../shared/crypto/tokens.ts';
import { newId } from '../../shared/ids/ids.ts';

export interface LoadTenant {
  id: string;
  plan: string;
  /** An admin API key of the tenant (admins may also request exports). */
  key: string;
}

/**
 * Tenants for load and soak runs, written straight to the database: each with an owner (usage
 * alerts are mailed to owners), an admin API key and, except on free, a Stripe customer id.
 */
export async function createLoadTenants(db: Knex, plans: string[], label = 'load'): Promise<LoadTenant[]> {
  const out: LoadTenant[] = [];
  for (const [i, plan] of plans.entries()) {
    const id = newId('ten');
    await db('tenants').insert({
      id,
      name: `${label} ${plan} ${i}`,
      plan,
      webhook_secret: newSecret('whsec_', 24),
      stripe_customer_id: plan === 'free' ? null : `cus_${label}${i}_${id.slice(-6)}`,
    });
    const userId = newId('usr');
    await db('users').insert({
      id: userId,
      email: `owner-${i}-${id.slice(-6)}@${label}.example.com`.toLowerCase(),
    });
    await db('memberships').insert({ tenant_id: id, user_id: userId, role: 'owner' });
    const key = newSecret(API_KEY_PREFIX, 32);
    await db('api_keys').insert({
      id: newId('key'),
      tenant_id: id,
      name: label,
      role: 'admin',
      prefix: key.slice(0, API_KEY_PREFIX.length + 4),
      last4: key.slice(-4),
      key_hash: hashSecret(key),
    });
    out.push({ id, plan, key });
  }
  return out;
}
