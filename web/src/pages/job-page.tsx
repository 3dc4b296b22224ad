import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { Link, useParams } from 'react-router';
import { useLive } from '../api/live-events.ts';
import { type Me, NotFoundError } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { ProgressBar } from '../components/progress-bar.tsx';
import { TableHead } from '../components/table-parts.tsx';
import { FINAL_STATUSES, formatDuration, formatQuantity, formatTime, metricLabel } from '../format.ts';
import { atLeast } from '../roles.ts';
import { JobPublish, PublishedLink, publishedUrl } from './job-publish.tsx';

const STEP_DONE: Record<string, number> = { succeeded: 1, skipped: 1 };

/**
 * One job: status, progress per step and overall (live), usage billed, then play and download;
 * a succeeded render can be published to YouTube (member+). A publish job links its video.
 */
export function JobPage(props: { me: Me }) {
  const { id = '' } = useParams();
  const session = useSession();
  const live = useLive();
  const queries = useQueryClient();
  const job = useQuery({
    queryKey: ['job', id],
    queryFn: () => session.call((rm) => rm.jobs.get(id)),
    refetchInterval: (q) =>
      !live && q.state.data && !FINAL_STATUSES.has(q.state.data.status) ? 1000 : false,
  });
  const j = job.data;
  const settled = j ? FINAL_STATUSES.has(j.status) : false;
  // A job that settles releases its reservation: the meters must show it even without the stream.
  useEffect(() => {
    if (settled) void queries.invalidateQueries({ queryKey: ['usage'] });
  }, [settled, queries]);
  const succeeded = j?.status === 'succeeded' && j.output !== null;
  const link = useQuery({
    queryKey: ['job', id, 'output-link'],
    enabled: succeeded,
    queryFn: () => session.call((rm) => rm.jobs.outputLink(id)),
    // The signed link lives 15 minutes; renew it well before.
    staleTime: 10 * 60_000,
    refetchInterval: 10 * 60_000,
  });
  const cancel = useMutation({
    mutationFn: () => session.call((rm) => rm.jobs.cancel(id)),
    onSuccess: (updated) => queries.setQueryData(['job', id], updated),
  });

  if (job.isError) {
    return (
      <>
        <h1>Job {id}</h1>
        <p role="alert">
          {job.error instanceof NotFoundError ? 'There is no such job.' : 'The job could not be loaded.'}
        </p>
      </>
    );
  }
  if (!j) return <p role="status">Loading…</p>;
  const running = j.status === 'queued' || j.status === 'running';
  const videoLink = j.kind === 'publish' && j.status === 'succeeded' ? publishedUrl(j.result) : null;
  return (
    <>
      <h1>
        {j.kind === 'render' ? 'Render' : `Job (${j.kind})`} {j.id}
      </h1>
      <p className="status-line">
        Status: <strong data-testid="job-status">{j.status}</strong> · created {formatTime(j.created_at)} ·
        took {formatDuration(j.started_at, j.finished_at)}
      </p>
      <h2>Progress</h2>
      <div className="progress-row">
        <span id="overall">Overall</span>
        <ProgressBar key={j.id} label="Overall progress" value={j.progress} />
      </div>
      <ul className="steps">
        {j.steps.map((s) => (
          <li key={s.name} className="progress-row">
            <span>
              {s.name} — {s.status}
              {s.cache_hit ? ' (from cache)' : ''}
            </span>
            <ProgressBar
              key={`${j.id}-${s.name}`}
              label={`Step ${s.name}`}
              value={STEP_DONE[s.status] ?? 0}
              text={s.status}
            />
          </li>
        ))}
      </ul>
      {running ? (
        <button type="button" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
          Cancel
        </button>
      ) : null}
      {cancel.isError ? <p role="alert">{cancel.error.message}</p> : null}
      {j.status === 'failed' && j.error ? (
        <div className="error-box" role="alert">
          <p>
            Failed: <code>{j.error.code}</code>
          </p>
          <p>{j.error.message}</p>
          <p>
            <Link to={`/support?job_id=${encodeURIComponent(j.id)}`}>Report a problem</Link>
          </p>
        </div>
      ) : null}
      {succeeded && link.data ? (
        <section aria-labelledby="output-heading">
          <h2 id="output-heading">Output</h2>
          {/* biome-ignore lint/a11y/useMediaCaption: generated narration videos carry no caption track */}
          <video controls preload="metadata" src={link.data.url} aria-label={`Video of ${j.id}`} />
          <p>
            <a href={link.data.url} download>
              Download
            </a>{' '}
            ({formatQuantity('storage_bytes', j.output?.bytes ?? 0)}
            {j.output?.duration_seconds ? `, ${j.output.duration_seconds.toFixed(1)} s` : ''})
          </p>
        </section>
      ) : null}
      {videoLink ? <PublishedLink url={videoLink} /> : null}
      {succeeded && j.kind === 'render' && atLeast(props.me.role, 'member') ? (
        <JobPublish jobId={j.id} />
      ) : null}
      <h2>Usage billed</h2>
      {j.usage.length === 0 ? (
        <p>Nothing billed yet.</p>
      ) : (
        <table>
          <TableHead columns={['Metric', 'Quantity']} />
          <tbody>
            {j.usage.map((u) => (
              <tr key={u.metric}>
                <td>{metricLabel(u.metric)}</td>
                <td>{formatQuantity(u.metric, u.quantity)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
