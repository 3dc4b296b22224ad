import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { useSession } from '../api/session-context.tsx';
import { formatQuantity, metricLabel } from '../format.ts';

/**
 * The usage banner on every page: used, reserved and limit per metric, the same numbers as
 * `GET /v1/usage`. Warns at 80 %; at 100 % on a plan with a hard limit it offers Upgrade.
 * Refreshed by the event stream when a step or a job settles.
 */
export function UsageMeters() {
  const session = useSession();
  const usage = useQuery({ queryKey: ['usage'], queryFn: () => session.call((rm) => rm.usage.get()) });
  const data = usage.data;
  return (
    <section className="usage" aria-label="Usage">
      <h2 className="usage-title">Usage {data ? <span className="plan">({data.plan} plan)</span> : null}</h2>
      {usage.isError ? <p role="alert">Usage could not be loaded.</p> : null}
      {data ? (
        <ul className="meters">
          {Object.entries(data.metrics).map(([metric, m]) => {
            const label = metricLabel(metric);
            const taken = m.used + m.reserved;
            const share = m.limit ? taken / m.limit : 0;
            const full = m.limit !== null && share >= 1;
            const warn = m.limit !== null && share >= 0.8;
            const id = `meter-${metric}`;
            return (
              <li key={metric} className={full ? 'meter full' : warn ? 'meter warn' : 'meter'}>
                <span id={id} className="meter-label">
                  {label}
                </span>
                {m.limit === null ? (
                  <span className="meter-text" data-metric={metric}>
                    {formatQuantity(metric, m.used)} used, {formatQuantity(metric, m.reserved)} reserved ·
                    unlimited
                  </span>
                ) : (
                  <>
                    <meter
                      aria-labelledby={id}
                      min={0}
                      max={m.limit}
                      low={m.limit * 0.8}
                      high={m.limit * 0.8}
                      optimum={0}
                      value={Math.min(taken, m.limit)}
                      data-used={m.used}
                      data-reserved={m.reserved}
                      data-limit={m.limit}
                    />
                    <span className="meter-text" data-metric={metric}>
                      {formatQuantity(metric, m.used)} used, {formatQuantity(metric, m.reserved)} reserved of{' '}
                      {formatQuantity(metric, m.limit)}
                    </span>
                  </>
                )}
                {warn && !full ? (
                  <span className="meter-warning" role="status">
                    {Math.floor(share * 100)} % of the limit used
                  </span>
                ) : null}
                {full ? (
                  <span className="meter-warning" role="status">
                    Limit reached{' '}
                    {data.overage ? '(further use is billed as overage)' : <Link to="/billing">Upgrade</Link>}
                  </span>
                ) : null}
              </li>
            );
          })}
        </ul>
      ) : null}
    </section>
  );
}
