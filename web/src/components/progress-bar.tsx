import { useRef } from 'react';

/**
 * An accessible progress bar (`role="progressbar"`, `aria-valuenow` 0–100). It never moves
 * backwards: a stale read (an older cached copy, a reordered event) cannot undo progress shown.
 */
export function ProgressBar(props: { label: string; value: number; text?: string }) {
  const max = useRef(0);
  max.current = Math.max(max.current, Math.min(1, Math.max(0, props.value)));
  const percent = Math.round(max.current * 100);
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={props.label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
      aria-valuetext={props.text ?? `${percent} %`}
    >
      <div className="progress-fill" style={{ width: `${percent}%` }} />
    </div>
  );
}
