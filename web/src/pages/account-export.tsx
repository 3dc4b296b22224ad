import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useFollowedJob } from '../api/followed-job.ts';
import { useSession } from '../api/session-context.tsx';
import { ProgressBar } from '../components/progress-bar.tsx';
import { FINAL_STATUSES, formatQuantity, formatTime } from '../format.ts';

/**
 * Export my data (admin+): asks for the export job (the open one if there is one), follows it
 * live through the job's events (the cached `['job', id]` is patched by live-events.ts; polling
 * only while the stream is down), then offers the ZIP's signed link with its expiry.
 */
export function AccountExport() {
  const session = useSession();
  const [jobId, setJobId] = useState<string | null>(null);
  const request = useMutation({
    mutationFn: () => session.call((rm) => rm.account.export()),
    onSuccess: (job) => setJobId(job.id),
  });
  const job = useFollowedJob(jobId);
  const j = job.data;
  const ready = j?.status === 'succeeded' && j.output !== null;
  const link = useQuery({
    queryKey: ['job', jobId, 'output-link'],
    enabled: ready,
    queryFn: () => session.call((rm) => rm.jobs.outputLink(jobId ?? '')),
    staleTime: 10 * 60_000,
  });
  return (
    <section aria-labelledby="export-heading">
      <h2 id="export-heading">Export my data</h2>
      <p>
        A ZIP of the workspace: members, jobs and their outputs, API keys (never their secrets), usage and the
        audit log.
      </p>
      <button
        type="button"
        onClick={() => request.mutate()}
        disabled={request.isPending || (j && !FINAL_STATUSES.has(j.status))}
      >
        Export my data
      </button>
      {request.isError ? <p role="alert">{request.error.message}</p> : null}
      {j ? (
        <div className="progress-row">
          <span>
            Export {j.id}: <strong data-testid="export-status">{j.status}</strong>
          </span>
          <ProgressBar key={j.id} label="Export progress" value={j.progress} />
        </div>
      ) : null}
      {j?.status === 'failed' ? (
        <p role="alert">The export failed: {j.error?.message ?? 'unknown error'}</p>
      ) : null}
      {ready && link.data ? (
        <p role="status">
          <a href={link.data.url} download>
            Download the export
          </a>{' '}
          ({formatQuantity('storage_bytes', j.output?.bytes ?? 0)}) — the link expires at{' '}
          <time dateTime={link.data.expires_at}>{formatTime(link.data.expires_at)}</time>
        </p>
      ) : null}
    </section>
  );
}
