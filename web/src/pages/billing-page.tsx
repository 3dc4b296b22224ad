import { useInfiniteQuery, useMutation, useQuery } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import type { Me, Plan, Subscription } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { LoadMore, TableHead } from '../components/table-parts.tsx';
import { formatQuantity, formatTime, metricLabel } from '../format.ts';
import { atLeast } from '../roles.ts';
import { NoAccess } from './no-access.tsx';

/** Billing (admin+): plan and period, banners, the catalogue with Upgrade, the portal, invoices. */
export function BillingPage(props: { me: Me }) {
  if (!atLeast(props.me.role, 'admin')) return <NoAccess what="Billing" role={props.me.role} />;
  return <Billing />;
}

const money = (cents: number, currency: string) =>
  new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).format(cents / 100);

function Billing() {
  const session = useSession();
  const [params] = useSearchParams();
  // Refreshed by `billing.subscription_updated` on the event stream (live-events.ts).
  const sub = useQuery({
    queryKey: ['billing', 'subscription'],
    queryFn: () => session.call((rm) => rm.billing.subscription()),
  });
  const plans = useQuery({ queryKey: ['plans'], queryFn: () => session.call((rm) => rm.plans.list()) });
  // Both answer a URL on Stripe's side; the browser goes there and comes back to /billing.
  const go = (url: string) => window.location.assign(url);
  const checkout = useMutation({
    mutationFn: (plan: string) => session.call((rm) => rm.billing.checkout(plan)),
    onSuccess: ({ url }) => go(url),
  });
  const portal = useMutation({
    mutationFn: () => session.call((rm) => rm.billing.portal()),
    onSuccess: ({ url }) => go(url),
  });
  const s = sub.data;
  const returned = params.get('checkout');

  return (
    <>
      <h1>Billing</h1>
      {sub.isError ? <p role="alert">The subscription could not be loaded.</p> : null}
      {s?.billing_mode === 'local' ? (
        <p className="notice" role="status">
          Billing is not connected: this server runs without Stripe (local-ledger mode). Usage is metered and
          the plan's limits apply, but plans cannot be bought or changed here.
        </p>
      ) : null}
      {s ? <Banner s={s} /> : null}
      {returned === 'done' && s ? (
        <p className="notice" role="status">
          {s.plan_changed_at && Date.now() - new Date(s.plan_changed_at).getTime() < 3_600_000
            ? `Thank you: you are on the ${s.plan} plan now.`
            : 'Thank you: your new plan applies as soon as Stripe confirms the payment (usually within seconds).'}
        </p>
      ) : null}
      {returned === 'canceled' ? <p role="status">Checkout was canceled; nothing changed.</p> : null}
      {s ? (
        <dl className="facts">
          <div>
            <dt>Plan</dt>
            <dd data-testid="plan">{s.plan}</dd>
          </div>
          <div>
            <dt>Effective plan</dt>
            <dd data-testid="effective-plan">{s.effective_plan}</dd>
          </div>
          <div>
            <dt>Status</dt>
            <dd>{s.status}</dd>
          </div>
          <div>
            <dt>{s.cancel_at_period_end ? 'Ends on' : 'Renews on'}</dt>
            <dd>{formatTime(s.current_period_end)}</dd>
          </div>
          {s.trial_ends_at ? (
            <div>
              <dt>Trial ends</dt>
              <dd>{formatTime(s.trial_ends_at)}</dd>
            </div>
          ) : null}
        </dl>
      ) : null}
      {s?.billing_mode === 'stripe' ? (
        <p>
          <button
            type="button"
            onClick={() => portal.mutate()}
            disabled={portal.isPending || !s.has_customer}
            aria-describedby={s.has_customer ? undefined : 'portal-why'}
          >
            Manage billing
          </button>
          {s.has_customer ? null : (
            <span id="portal-why"> (payment details and invoices appear after a first purchase)</span>
          )}
        </p>
      ) : null}
      {checkout.isError || portal.isError ? (
        <p role="alert">{(checkout.error ?? portal.error)?.message}</p>
      ) : null}
      <h2>Plans</h2>
      <table>
        <caption className="visually-hidden">Plan catalogue</caption>
        <TableHead columns={['Plan', 'Price', 'Limits per month', 'Beyond the limits', 'Actions']} />
        <tbody>
          {(plans.data?.data ?? []).map((p) => (
            <tr key={p.name} aria-current={s?.plan === p.name ? 'true' : undefined}>
              <td>
                <strong>{p.name}</strong>
                {p.description ? <div className="muted">{p.description}</div> : null}
              </td>
              <td>{p.price_monthly_usd === null ? 'by contract' : `$${p.price_monthly_usd} / month`}</td>
              <td>
                <Limits plan={p} />
              </td>
              <td>
                {Object.values(p.limits).every((l) => l === null)
                  ? 'no limits'
                  : p.overage
                    ? 'billed as overage'
                    : 'hard limit (402)'}
              </td>
              <td>
                {s?.plan === p.name ? (
                  'Current plan'
                ) : s?.billing_mode === 'stripe' && p.price_monthly_usd ? (
                  <button type="button" onClick={() => checkout.mutate(p.name)} disabled={checkout.isPending}>
                    Upgrade<span className="visually-hidden"> to {p.name}</span>
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {s?.billing_mode === 'stripe' ? <Invoices /> : null}
    </>
  );
}

function Banner(props: { s: Subscription }) {
  const { s } = props;
  if (s.status === 'past_due') {
    return (
      <div className="error-box" role="alert">
        <p>
          <strong>Payment failed</strong> on {formatTime(s.past_due_since)}. The {s.plan} plan stays until{' '}
          {formatTime(s.grace_ends_at)}; if no payment succeeds by then, the workspace moves to the free plan
          and its limits. Update the card under <strong>Manage billing</strong>.
        </p>
      </div>
    );
  }
  if (s.cancel_at_period_end) {
    return (
      <div className="notice" role="status">
        <p>
          <strong>Your subscription is canceled</strong> and ends on {formatTime(s.current_period_end)}. Until
          then the {s.plan} plan applies; afterwards the workspace moves to the free plan. Resume it under{' '}
          <strong>Manage billing</strong>.
        </p>
      </div>
    );
  }
  return null;
}

function Limits(props: { plan: Plan }) {
  return (
    <ul className="plain">
      {Object.entries(props.plan.limits).map(([metric, limit]) => (
        <li key={metric}>
          {metricLabel(metric)}: {limit === null ? 'unlimited' : formatQuantity(metric, limit)}
        </li>
      ))}
      <li>Up to {props.plan.max_resolution}</li>
    </ul>
  );
}

function Invoices() {
  const session = useSession();
  const invoices = useInfiniteQuery({
    queryKey: ['billing', 'invoices'],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => session.call((rm) => rm.billing.invoices(pageParam)),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = invoices.data?.pages.flatMap((p) => p.data) ?? [];
  return (
    <>
      <h2>Invoices</h2>
      {invoices.isError ? <p role="alert">The invoices could not be loaded.</p> : null}
      <table>
        <TableHead columns={['Invoice', 'Date', 'Amount', 'Status', 'Link']} />
        <tbody>
          {rows.map((i) => (
            <tr key={i.id}>
              <td>{i.number ?? i.id}</td>
              <td>{formatTime(i.created)}</td>
              <td>{money(i.status === 'paid' ? i.amount_paid : i.amount_due, i.currency)}</td>
              <td>{i.status ?? '—'}</td>
              <td>
                {i.hosted_invoice_url ? (
                  <a href={i.hosted_invoice_url} rel="noreferrer">
                    View<span className="visually-hidden"> invoice {i.number ?? i.id}</span>
                  </a>
                ) : (
                  '—'
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {invoices.isSuccess && rows.length === 0 ? <p>No invoices yet.</p> : null}
      <LoadMore list={invoices} />
    </>
  );
}
