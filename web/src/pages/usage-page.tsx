import { useInfiniteQuery, useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { type LedgerRow, type Me, UpgradeRequiredError } from '../api/rendermill.ts';
import type { Session } from '../api/session.ts';
import { useSession } from '../api/session-context.tsx';
import { LoadMore, TableHead } from '../components/table-parts.tsx';
import { dailyTotals, daysIn, type Period, previousPeriod, UsageChart } from '../components/usage-chart.tsx';
import { formatQuantity, formatTime, metricLabel } from '../format.ts';
import { atLeast } from '../roles.ts';

/** Every ledger row of [from, to), page by page (the charts need them all; 1000 a page). */
async function allRows(session: Session, from: Date, to: Date): Promise<LedgerRow[]> {
  const rows: LedgerRow[] = [];
  let cursor: string | undefined;
  do {
    const page = await session.call((rm) =>
      rm.ledger.page({
        from: from.toISOString(),
        to: to.toISOString(),
        limit: 1000,
        ...(cursor ? { cursor } : {}),
      }),
    );
    rows.push(...page.data);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return rows;
}

/** A `<input type="date">` value as the start of that UTC day (`end`: of the next day). */
const dayStart = (value: string, end = false) =>
  value
    ? new Date(new Date(`${value}T00:00:00Z`).getTime() + (end ? 86_400_000 : 0)).toISOString()
    : undefined;

/** Usage: a chart per metric by day (this period and the previous), the ledger, its CSV. */
export function UsagePage(props: { me: Me }) {
  const session = useSession();
  const usage = useQuery({ queryKey: ['usage'], queryFn: () => session.call((rm) => rm.usage.get()) });
  const period: Period | undefined = usage.data
    ? { start: new Date(usage.data.period.start), end: new Date(usage.data.period.end) }
    : undefined;
  // Under ['usage']: the event stream's invalidation of the meters refreshes these too.
  const chart = useQuery({
    queryKey: ['usage', 'chart', usage.data?.period.start],
    enabled: !!period,
    queryFn: async () => {
      if (!period) return null;
      const prev = previousPeriod(period);
      const rows = await allRows(session, prev.start, period.end);
      return {
        current: dailyTotals(rows, period),
        previous: dailyTotals(rows, prev),
        days: daysIn(period),
        prev,
      };
    },
  });
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const range = { from: dayStart(from), to: dayStart(to, true) };
  const ledger = useInfiniteQuery({
    queryKey: ['usage', 'ledger', range],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      session.call((rm) =>
        rm.ledger.page({
          limit: 20,
          ...(range.from ? { from: range.from } : {}),
          ...(range.to ? { to: range.to } : {}),
          ...(pageParam ? { cursor: pageParam } : {}),
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const csv = useMutation({
    mutationFn: async () => {
      const blob = await session.call((rm) =>
        rm.ledger.csv({ ...(range.from ? { from: range.from } : {}), ...(range.to ? { to: range.to } : {}) }),
      );
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = `usage-${props.me.tenant.id}.csv`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    },
  });
  const rows = ledger.data?.pages.flatMap((p) => p.data) ?? [];
  const metrics = usage.data ? Object.keys(usage.data.metrics) : [];

  return (
    <>
      <h1>Usage</h1>
      {usage.isError || chart.isError ? <p role="alert">Usage could not be loaded.</p> : null}
      {period && chart.data ? (
        <section aria-labelledby="by-day">
          <h2 id="by-day">By day</h2>
          <p className="muted">
            This period: {formatTime(period.start.toISOString())} to {formatTime(period.end.toISOString())}{' '}
            (solid); the previous period from {formatTime(chart.data.prev.start.toISOString())} (outlined).
          </p>
          <div className="charts">
            {metrics.map((m) => (
              <UsageChart
                key={m}
                metric={m}
                current={chart.data?.current[m] ?? new Array<number>(chart.data?.days ?? 30).fill(0)}
                previous={chart.data?.previous[m] ?? []}
              />
            ))}
          </div>
        </section>
      ) : null}
      <h2>Ledger</h2>
      <div className="filters">
        <label>
          From
          <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          To
          <input type="date" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        <button type="button" onClick={() => csv.mutate()} disabled={csv.isPending}>
          Download CSV
        </button>
      </div>
      {csv.isError ? (
        <p role="alert">
          {csv.error.message}
          {csv.error instanceof UpgradeRequiredError && atLeast(props.me.role, 'admin') ? (
            <>
              {' '}
              <Link to="/billing">Upgrade</Link>
            </>
          ) : null}
        </p>
      ) : null}
      {ledger.isError ? <p role="alert">{ledger.error.message}</p> : null}
      <table>
        <caption className="visually-hidden">Usage ledger, newest first</caption>
        <TableHead columns={['Time', 'Job', 'Step', 'Metric', 'Quantity']} />
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <td>{formatTime(r.occurred_at)}</td>
              <td>
                <Link to={`/renders/${r.job_id}`}>{r.job_id}</Link>
              </td>
              <td>{r.step}</td>
              <td>{metricLabel(r.metric)}</td>
              <td>{formatQuantity(r.metric, r.quantity)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {ledger.isSuccess && rows.length === 0 ? <p>No usage in this range.</p> : null}
      <LoadMore list={ledger} />
    </>
  );
}
