import { useInfiniteQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { useLive } from '../api/live-events.ts';
import type { JobKind, JobStatus } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { FilterSelect } from '../components/filter-select.tsx';
import { ProgressBar } from '../components/progress-bar.tsx';
import { LoadMore, TableHead } from '../components/table-parts.tsx';
import { FINAL_STATUSES, formatDuration, formatTime } from '../format.ts';

const STATUSES: JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'canceled'];
const KINDS: JobKind[] = ['render', 'tts', 'image', 'export', 'deletion', 'publish'];

/** The tenant's jobs, newest first, filtered by status and kind, paged by cursor, live. */
export function RendersPage() {
  const session = useSession();
  const live = useLive();
  const [params, setParams] = useSearchParams();
  const status = (params.get('status') ?? '') as JobStatus | '';
  const kind = (params.get('kind') ?? '') as JobKind | '';
  const jobs = useInfiniteQuery({
    queryKey: ['jobs', { status, kind }],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      session.call((rm) =>
        rm.jobs.page({
          limit: 20,
          ...(status ? { status } : {}),
          ...(kind ? { kind } : {}),
          ...(pageParam ? { cursor: pageParam } : {}),
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    // Only without the event stream: poll while something is still moving.
    refetchInterval: (q) =>
      !live && q.state.data?.pages.some((p) => p.data.some((j) => !FINAL_STATUSES.has(j.status)))
        ? 2000
        : false,
  });
  const rows = jobs.data?.pages.flatMap((p) => p.data) ?? [];
  const setFilter = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };

  return (
    <>
      <div className="page-head">
        <h1>Renders</h1>
        <Link className="button" to="/renders/new">
          New render
        </Link>
      </div>
      <div className="filters">
        <FilterSelect
          label="Status"
          value={status}
          options={STATUSES}
          onChange={(v) => setFilter('status', v)}
        />
        <FilterSelect label="Kind" value={kind} options={KINDS} onChange={(v) => setFilter('kind', v)} />
      </div>
      {jobs.isError ? <p role="alert">The jobs could not be loaded.</p> : null}
      <table>
        <caption className="visually-hidden">Jobs, newest first</caption>
        <TableHead columns={['Job', 'Kind', 'Status', 'Progress', 'Created', 'Duration']} />
        <tbody>
          {rows.map((j) => (
            <tr key={j.id}>
              <td>
                <Link to={`/renders/${j.id}`}>{j.id}</Link>
              </td>
              <td>{j.kind}</td>
              <td>{j.status}</td>
              <td>
                <ProgressBar key={j.id} label={`Progress of ${j.id}`} value={j.progress} />
              </td>
              <td>{formatTime(j.created_at)}</td>
              <td>{formatDuration(j.started_at, j.finished_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {jobs.isSuccess && rows.length === 0 ? <p>No jobs yet.</p> : null}
      <LoadMore list={jobs} />
    </>
  );
}
