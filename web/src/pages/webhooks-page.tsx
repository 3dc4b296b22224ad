import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import {
  type Delivery,
  type DeliveryStatus,
  type Me,
  NotFoundError,
  ValidationError,
  type WebhookSecret,
} from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { FilterSelect } from '../components/filter-select.tsx';
import { LoadMore, TableHead } from '../components/table-parts.tsx';
import { formatTime } from '../format.ts';
import { atLeast } from '../roles.ts';
import { NoAccess } from './no-access.tsx';

const STATUSES: DeliveryStatus[] = ['pending', 'delivered', 'failed'];
const EVENTS = ['job.succeeded', 'job.failed', 'job.canceled', 'usage.threshold_reached', 'webhook.test'];
const OVERLAPS: Array<[number, string]> = [
  [3600, '1 hour'],
  [86_400, '24 hours'],
  [7 * 86_400, '7 days'],
];

/** Webhooks (admin+): the default endpoint, the signing secret, a test event, the delivery log. */
export function WebhooksPage(props: { me: Me }) {
  if (!atLeast(props.me.role, 'admin')) return <NoAccess what="Managing webhooks" role={props.me.role} />;
  return (
    <>
      <h1>Webhooks</h1>
      <Endpoint />
      <Secret />
      <Deliveries />
    </>
  );
}

function Endpoint() {
  const session = useSession();
  const queries = useQueryClient();
  const endpoint = useQuery({
    queryKey: ['webhook-endpoint'],
    // No endpoint is a 404: shown as "none set", not as an error.
    queryFn: () =>
      session
        .call((rm) => rm.webhooks.endpoint())
        .catch((err: unknown) => {
          if (err instanceof NotFoundError) return null;
          throw err;
        }),
  });
  const [url, setUrl] = useState('');
  const done = () => {
    setUrl('');
    void queries.invalidateQueries({ queryKey: ['webhook-endpoint'] });
  };
  const save = useMutation({
    mutationFn: () => session.call((rm) => rm.webhooks.setEndpoint(url)),
    onSuccess: done,
  });
  const remove = useMutation({
    mutationFn: () => session.call((rm) => rm.webhooks.removeEndpoint()),
    onSuccess: done,
  });
  const test = useMutation({
    mutationFn: () => session.call((rm) => rm.webhooks.sendTest()),
    onSuccess: () => queries.invalidateQueries({ queryKey: ['webhook-deliveries'] }),
  });
  const urlError =
    save.error instanceof ValidationError
      ? save.error.errors.map((e) => e.message).join('; ')
      : (save.error?.message ?? undefined);
  const onSave = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const current = endpoint.data;
  return (
    <section aria-labelledby="endpoint-heading">
      <h2 id="endpoint-heading">Default endpoint</h2>
      <p>
        Where job and usage events go when a job has no <code>callback_url</code>:{' '}
        {current ? <code data-testid="endpoint-url">{current.url}</code> : <em>none set</em>}
      </p>
      <form className="inline-form" onSubmit={onSave} noValidate>
        <div className="field">
          <label htmlFor="endpoint-url">Endpoint URL</label>
          <input
            id="endpoint-url"
            type="url"
            size={48}
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            aria-invalid={urlError ? true : undefined}
            aria-describedby={urlError ? 'endpoint-url-error' : undefined}
          />
          {urlError ? (
            <span id="endpoint-url-error" className="field-error">
              {urlError}
            </span>
          ) : null}
        </div>
        <button type="submit" disabled={save.isPending || !url.trim()}>
          {current ? 'Change endpoint' : 'Set endpoint'}
        </button>
        {current ? (
          <button
            type="button"
            onClick={() => {
              if (window.confirm(`Remove the endpoint ${current.url}? Events stop going there.`))
                remove.mutate();
            }}
          >
            Remove endpoint
          </button>
        ) : null}
        <button type="button" onClick={() => test.mutate()} disabled={!current || test.isPending}>
          Send test event
        </button>
      </form>
      {remove.isError || test.isError ? <p role="alert">{(remove.error ?? test.error)?.message}</p> : null}
      {test.isSuccess ? (
        <p role="status">A signed webhook.test event is on its way; see the log below.</p>
      ) : null}
    </section>
  );
}

function Secret() {
  const session = useSession();
  const [shown, setShown] = useState<WebhookSecret | null>(null);
  const [overlap, setOverlap] = useState(86_400);
  const reveal = useMutation({
    mutationFn: () => session.call((rm) => rm.webhooks.secret()),
    onSuccess: setShown,
  });
  const rotate = useMutation({
    mutationFn: () => session.call((rm) => rm.webhooks.rotateSecret(overlap)),
    onSuccess: setShown,
  });
  const failure = reveal.error ?? rotate.error;
  return (
    <section aria-labelledby="secret-heading">
      <h2 id="secret-heading">Signing secret</h2>
      <p>
        Verifies <code>webhook-signature</code> (Standard Webhooks) and <code>Rendermill-Signature</code>.
      </p>
      <div className="inline-form">
        <div className="field">
          <label htmlFor="webhook-secret">Secret</label>
          <input id="webhook-secret" readOnly size={44} value={shown ? shown.secret : '••••••••••••••••'} />
        </div>
        {shown ? (
          <button type="button" onClick={() => setShown(null)}>
            Hide
          </button>
        ) : (
          <button type="button" onClick={() => reveal.mutate()} disabled={reveal.isPending}>
            Reveal
          </button>
        )}
        <div className="field">
          <label htmlFor="overlap">Old secret keeps signing for</label>
          <select id="overlap" value={overlap} onChange={(e) => setOverlap(Number(e.target.value))}>
            {OVERLAPS.map(([s, label]) => (
              <option key={s} value={s}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <button
          type="button"
          disabled={rotate.isPending}
          onClick={() => {
            if (
              window.confirm(
                'Rotate the signing secret? Receivers must switch to the new one before the overlap ends.',
              )
            )
              rotate.mutate();
          }}
        >
          Rotate secret
        </button>
      </div>
      {shown?.previous_valid_until ? (
        <p role="status">
          The previous secret also signs until {formatTime(shown.previous_valid_until)}: both signatures are
          sent until then.
        </p>
      ) : null}
      {failure ? <p role="alert">{failure.message}</p> : null}
    </section>
  );
}

function Deliveries() {
  const session = useSession();
  const queries = useQueryClient();
  const [status, setStatus] = useState<DeliveryStatus | ''>('');
  const [event, setEvent] = useState('');
  const log = useInfiniteQuery({
    queryKey: ['webhook-deliveries', { status, event }],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      session.call((rm) =>
        rm.webhooks.deliveries({
          ...(status ? { status } : {}),
          ...(event ? { event } : {}),
          ...(pageParam ? { cursor: pageParam } : {}),
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    // No event reports a delivery's outcome: re-read while one shown is still being attempted.
    refetchInterval: (q) =>
      q.state.data?.pages.some((p) => p.data.some((d) => d.status === 'pending')) ? 1000 : false,
  });
  const replay = useMutation({
    mutationFn: (id: string) => session.call((rm) => rm.webhooks.replay(id)),
    onSuccess: () => queries.invalidateQueries({ queryKey: ['webhook-deliveries'] }),
  });
  const rows = log.data?.pages.flatMap((p) => p.data) ?? [];
  return (
    <section aria-labelledby="log-heading">
      <h2 id="log-heading">Delivery log</h2>
      <div className="filters">
        <FilterSelect
          label="Status"
          value={status}
          options={STATUSES}
          onChange={(v) => setStatus(v as DeliveryStatus | '')}
        />
        <FilterSelect label="Event type" value={event} options={EVENTS} onChange={setEvent} />
      </div>
      {replay.isError ? <p role="alert">{replay.error.message}</p> : null}
      {log.isError ? <p role="alert">{log.error.message}</p> : null}
      <table>
        <caption className="visually-hidden">Webhook deliveries, newest first</caption>
        <TableHead columns={['Created', 'Event', 'Status', 'Attempts', 'Actions']} />
        <tbody>
          {rows.map((d) => (
            <DeliveryRow key={d.id} d={d} onReplay={() => replay.mutate(d.id)} replaying={replay.isPending} />
          ))}
        </tbody>
      </table>
      {log.isSuccess && rows.length === 0 ? <p>No deliveries.</p> : null}
      <LoadMore list={log} />
    </section>
  );
}

function DeliveryRow(props: { d: Delivery; onReplay: () => void; replaying: boolean }) {
  const { d } = props;
  return (
    <tr data-delivery={d.id}>
      <td>{formatTime(d.created_at)}</td>
      <td>
        <code>{d.event}</code>
        <div className="muted">{d.url}</div>
      </td>
      <td>
        <span data-testid="delivery-status">{d.status}</span>
        {d.last_status_code ? ` (HTTP ${d.last_status_code})` : ''}
      </td>
      <td>
        <details>
          <summary>
            {d.attempt_count} attempt{d.attempt_count === 1 ? '' : 's'}
          </summary>
          <table className="attempts">
            <TableHead columns={['Time', 'Status', 'Latency', 'Response']} />
            <tbody>
              {d.attempts.map((a) => (
                <tr key={`${a.attempted_at}-${a.status_code}-${a.latency_ms}`}>
                  <td>{formatTime(a.attempted_at)}</td>
                  <td>{a.status_code ?? a.error ?? '—'}</td>
                  <td>{a.latency_ms} ms</td>
                  <td>
                    <code className="excerpt">{a.response_body?.slice(0, 200) ?? ''}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      </td>
      <td>
        <button type="button" onClick={props.onReplay} disabled={d.status === 'pending' || props.replaying}>
          Replay<span className="visually-hidden"> delivery {d.id}</span>
        </button>
      </td>
    </tr>
  );
}
