import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState } from 'react';
import { Link } from 'react-router';
import type { Notification } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { formatTime } from '../format.ts';

/**
 * The bell: the unread count and, when opened, the latest notifications with links to what they
 * are about. No polling: `notification.created` on the event stream invalidates `['notifications']`
 * (see live-events.ts), and so does marking read here.
 */
export function NotificationBell() {
  const session = useSession();
  const queries = useQueryClient();
  const [open, setOpen] = useState(false);
  const panelId = useId();
  const root = useRef<HTMLDivElement>(null);
  const feed = useQuery({
    queryKey: ['notifications'],
    queryFn: () => session.call((rm) => rm.notifications.list({ limit: 20 })),
  });
  const done = () => queries.invalidateQueries({ queryKey: ['notifications'] });
  const read = useMutation({
    mutationFn: (id: string) => session.call((rm) => rm.notifications.read(id)),
    onSuccess: done,
  });
  const readAll = useMutation({
    mutationFn: () => session.call((rm) => rm.notifications.readAll()),
    onSuccess: done,
  });
  // Escape or a click outside closes the panel.
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    const onClick = (e: MouseEvent) => {
      if (root.current && !root.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('mousedown', onClick);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('mousedown', onClick);
    };
  }, [open]);

  const unread = feed.data?.unread_count ?? 0;
  const items = feed.data?.data ?? [];
  const follow = (n: Notification) => {
    setOpen(false);
    if (!n.read_at) read.mutate(n.id);
  };
  return (
    <div className="bell" ref={root}>
      <button
        type="button"
        aria-expanded={open}
        aria-controls={panelId}
        onClick={() => setOpen((o) => !o)}
        data-testid="bell"
      >
        Notifications
        <span className={unread > 0 ? 'badge' : 'badge empty'} data-testid="unread-count">
          {unread}
        </span>
        <span className="visually-hidden"> unread</span>
      </button>
      {open ? (
        <section id={panelId} className="bell-panel" aria-label="Notifications">
          <div className="bell-head">
            <strong>Notifications</strong>
            <button
              type="button"
              disabled={unread === 0 || readAll.isPending}
              onClick={() => readAll.mutate()}
            >
              Mark all read
            </button>
          </div>
          {read.isError || readAll.isError ? (
            <p role="alert">{(read.error ?? readAll.error)?.message}</p>
          ) : null}
          {items.length === 0 ? <p>Nothing yet.</p> : null}
          <ul>
            {items.map((n) => (
              <li key={n.id} className={n.read_at ? 'read' : 'unread'} data-type={n.type}>
                <p className="bell-title">
                  {n.link ? (
                    <Link to={n.link} onClick={() => follow(n)}>
                      {n.title}
                    </Link>
                  ) : (
                    n.title
                  )}
                  {n.read_at ? null : <span className="visually-hidden"> (unread)</span>}
                </p>
                <p>{n.body}</p>
                <p className="bell-meta">
                  <time dateTime={n.created_at}>{formatTime(n.created_at)}</time>
                  {n.read_at ? null : (
                    <button type="button" onClick={() => read.mutate(n.id)} disabled={read.isPending}>
                      Mark read<span className="visually-hidden">: {n.title}</span>
                    </button>
                  )}
                </p>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </div>
  );
}
