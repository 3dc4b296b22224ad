import { useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';
import type { Me } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { LoadMore, TableHead } from '../components/table-parts.tsx';
import { formatTime } from '../format.ts';
import { atLeast } from '../roles.ts';
import { NoAccess } from './no-access.tsx';

const FAMILIES = [
  'session',
  'member',
  'invite',
  'api_key',
  'job',
  'billing',
  'tenant',
  'account',
  'export',
  'deletion',
];

const isoOf = (local: string) => (local ? new Date(local).toISOString() : undefined);

/** Who did what (admin+): filters by action family, actor and time range; cursor paging. */
export function AuditLogPage(props: { me: Me }) {
  if (!atLeast(props.me.role, 'admin')) return <NoAccess what="The audit log" role={props.me.role} />;
  return <AuditLog />;
}

function AuditLog() {
  const session = useSession();
  const [family, setFamily] = useState('');
  const [actor, setActor] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const filters = {
    ...(family ? { action: `${family}.*` } : {}),
    ...(actor.trim() ? { actor_id: actor.trim() } : {}),
    ...(from ? { from: isoOf(from) } : {}),
    ...(to ? { to: isoOf(to) } : {}),
  };
  const log = useInfiniteQuery({
    queryKey: ['audit-log', filters],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      session.call((rm) => rm.auditLog.list({ ...filters, ...(pageParam ? { cursor: pageParam } : {}) })),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = log.data?.pages.flatMap((p) => p.data) ?? [];
  return (
    <>
      <h1>Audit log</h1>
      <div className="filters">
        <label>
          Action
          <select value={family} onChange={(e) => setFamily(e.target.value)}>
            <option value="">All</option>
            {FAMILIES.map((f) => (
              <option key={f} value={f}>
                {f}.*
              </option>
            ))}
          </select>
        </label>
        <label>
          Actor
          <input value={actor} onChange={(e) => setActor(e.target.value)} placeholder="usr_… or key_…" />
        </label>
        <label>
          From
          <input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          To
          <input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
      </div>
      {log.isError ? <p role="alert">{log.error.message}</p> : null}
      <table>
        <TableHead columns={['Time', 'Actor', 'Action', 'Target', 'IP', 'Request id']} />
        <tbody>
          {rows.map((a) => (
            <tr key={a.id}>
              <td>{formatTime(a.created_at)}</td>
              <td>{a.actor_id ?? a.actor_type}</td>
              <td>
                <code>{a.action}</code>
              </td>
              <td>{a.target_id ? `${a.target_type} ${a.target_id}` : '—'}</td>
              <td>{a.ip ?? '—'}</td>
              <td>
                <code>{a.request_id ?? '—'}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {log.isSuccess && rows.length === 0 ? <p>No entries.</p> : null}
      <LoadMore list={log} />
    </>
  );
}
