import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { useFollowedJob } from '../api/followed-job.ts';
import { ConflictError, type PublishRequest, UpgradeRequiredError } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { ProgressBar } from '../components/progress-bar.tsx';
import { FINAL_STATUSES } from '../format.ts';
import { UpgradeToPublish } from './account-youtube.tsx';

type Privacy = NonNullable<PublishRequest['privacy']>;
const PRIVACIES: Privacy[] = ['private', 'unlisted', 'public'];

/** The publish job's `result` once it succeeded (null for other kinds). */
export function publishedUrl(result: unknown): string | null {
  const url = (result as { url?: unknown } | null)?.url;
  return typeof url === 'string' ? url : null;
}

/**
 * Publish to YouTube (member+) for a succeeded render: title, description, privacy →
 * `POST /v1/jobs/:id/publish`; then the publish job is followed like any job (live events patch
 * `['job', id]`, polling only while the stream is down) until its `result.url` is the link.
 */
export function JobPublish(props: { jobId: string }) {
  const session = useSession();
  const queries = useQueryClient();
  const [publishId, setPublishId] = useState<string | null>(null);
  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [privacy, setPrivacy] = useState<Privacy>('private');
  const connection = useQuery({
    queryKey: ['youtube'],
    queryFn: () => session.call((rm) => rm.youtube.get()),
  });
  const publish = useMutation({
    mutationFn: () =>
      session.call((rm) =>
        rm.jobs.publish(props.jobId, { destination: 'youtube', title, description, privacy }),
      ),
    onSuccess: (job) => {
      queries.setQueryData(['job', job.id], job);
      setPublishId(job.id);
    },
    // A 409 may mean the channel was disconnected meanwhile: the status says which.
    onError: () => queries.invalidateQueries({ queryKey: ['youtube'] }),
  });
  const job = useFollowedJob(publishId);
  const j = job.data;
  const url = j?.status === 'succeeded' ? publishedUrl(j.result) : null;
  const notConnected = connection.data?.connected === false;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    publish.mutate();
  };
  return (
    <section aria-labelledby="publish-heading">
      <h2 id="publish-heading">Publish to YouTube</h2>
      {notConnected ? (
        <p role="status">
          No YouTube channel is connected. <Link to="/account">Connect one on the Account page</Link>.
        </p>
      ) : null}
      <form onSubmit={submit} className="publish-form">
        <label>
          Title
          <input required maxLength={100} value={title} onChange={(e) => setTitle(e.target.value)} />
        </label>
        <label>
          Description
          <textarea maxLength={5000} value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <label>
          Privacy
          <select value={privacy} onChange={(e) => setPrivacy(e.target.value as Privacy)}>
            {PRIVACIES.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <button
          type="submit"
          disabled={publish.isPending || (j !== undefined && !FINAL_STATUSES.has(j.status))}
        >
          Publish
        </button>
      </form>
      {publish.isError ? <PublishError error={publish.error} /> : null}
      {j ? (
        <div className="progress-row">
          <span>
            Publish <Link to={`/jobs/${encodeURIComponent(j.id)}`}>{j.id}</Link>:{' '}
            <strong data-testid="publish-status">{j.status}</strong>
          </span>
          <ProgressBar key={j.id} label="Publish progress" value={j.progress} />
        </div>
      ) : null}
      {j?.status === 'failed' ? (
        <p role="alert">Publishing failed: {j.error?.message ?? 'unknown error'}</p>
      ) : null}
      {url ? <PublishedLink url={url} /> : null}
    </section>
  );
}

/** The published video's link (on the render's page and on the publish job's own). */
export function PublishedLink(props: { url: string }) {
  return (
    <p role="status">
      Published: <a href={props.url}>{props.url}</a>
    </p>
  );
}

function PublishError(props: { error: Error }) {
  const e = props.error;
  if (e instanceof UpgradeRequiredError) return <UpgradeToPublish />;
  if (e instanceof ConflictError) {
    return (
      <p role="alert">
        {e.message}. <Link to="/account">YouTube connection on the Account page</Link>
      </p>
    );
  }
  return <p role="alert">{e.message}</p>;
}
