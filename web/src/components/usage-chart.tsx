import { formatQuantity, metricLabel } from '../format.ts';

const DAY_MS = 86_400_000;

export interface Period {
  start: Date;
  end: Date;
}

/** Per metric, the quantity of each day of a period (index 0 = the period's first day). */
export type DailyTotals = Record<string, number[]>;

export const daysIn = (p: Period): number =>
  Math.max(1, Math.round((p.end.getTime() - p.start.getTime()) / DAY_MS));

/** The period before `p` (calendar months, as the API meters them). */
export function previousPeriod(p: Period): Period {
  const s = p.start;
  return { start: new Date(Date.UTC(s.getUTCFullYear(), s.getUTCMonth() - 1, 1)), end: s };
}

/** Sums ledger rows into days of `period`; rows outside it are left out. */
export function dailyTotals(
  rows: Array<{ metric: string; quantity: number; occurred_at: string }>,
  period: Period,
): DailyTotals {
  const out: DailyTotals = {};
  const days = daysIn(period);
  for (const r of rows) {
    const at = new Date(r.occurred_at).getTime();
    if (at < period.start.getTime() || at >= period.end.getTime()) continue;
    const day = Math.floor((at - period.start.getTime()) / DAY_MS);
    const series = out[r.metric] ?? new Array<number>(days).fill(0);
    series[day] = (series[day] ?? 0) + r.quantity;
    out[r.metric] = series;
  }
  return out;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const W = 12;
const H = 80;

/**
 * One metric by day: this period's bars, the previous period's as outlines behind them (day 1
 * beside day 1). Plain SVG; the figure's caption and the image's label carry the totals in text.
 */
export function UsageChart(props: { metric: string; current: number[]; previous: number[] }) {
  const { metric, current, previous } = props;
  const days = Math.max(current.length, previous.length);
  const max = Math.max(1e-9, ...current, ...previous);
  const label = metricLabel(metric);
  const totals = `${formatQuantity(metric, sum(current))} this period, ${formatQuantity(metric, sum(previous))} the previous period`;
  const id = `chart-${metric}`;
  const bar = (v: number, i: number, cls: string, inset: number) => {
    const h = (v / max) * H;
    return v > 0 ? (
      <rect
        key={`${cls}-${i}`}
        className={cls}
        x={i * W + inset}
        y={H - h}
        width={W - 2 * inset - 1}
        height={h}
      />
    ) : null;
  };
  return (
    <figure className="chart" data-metric={metric} data-current={sum(current)} data-previous={sum(previous)}>
      <figcaption id={id}>
        <strong>{label}</strong> by day: {totals}
      </figcaption>
      <svg viewBox={`0 0 ${days * W} ${H + 12}`} role="img" aria-labelledby={id} preserveAspectRatio="none">
        <title>{`${label} by day: ${totals}`}</title>
        {previous.map((v, i) => bar(v, i, 'bar-previous', 0))}
        {current.map((v, i) => bar(v, i, 'bar-current', 2))}
        <line x1={0} x2={days * W} y1={H} y2={H} className="axis" />
        {[0, 9, 19, 29]
          .filter((d) => d < days)
          .map((d) => (
            <text key={d} x={d * W + 1} y={H + 11} className="tick">
              {d + 1}
            </text>
          ))}
      </svg>
    </figure>
  );
}
