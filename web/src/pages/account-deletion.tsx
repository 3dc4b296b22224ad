import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { type Account, PermissionError } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { formatTime } from '../format.ts';

/** "in 2 d 3 h", "in 59 min 12 s", "now": what is left until `at`. */
export function countdown(at: string, now: number): string {
  const s = Math.max(0, Math.floor((Date.parse(at) - now) / 1000));
  if (s === 0) return 'now';
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `in ${d} d ${h} h`;
  if (h > 0) return `in ${h} h ${m} min`;
  return `in ${m} min ${s % 60} s`;
}

function useNow(enabled: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!enabled) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [enabled]);
  return now;
}

/**
 * Delete account (owner): the owner types the workspace name to confirm; then the page shows
 * when it runs, counting down, with Cancel deletion. The API asks for a recent sign-in (403):
 * that is said plainly, with what to do.
 */
export function AccountDeletion(props: { account: Account }) {
  const session = useSession();
  const queries = useQueryClient();
  const [typed, setTyped] = useState('');
  const scheduled = props.account.deletion_scheduled_for;
  const now = useNow(scheduled !== null);
  const settle = (a: Partial<Account>) =>
    queries.setQueryData<Account>(['account'], (old) => (old ? { ...old, ...a } : old));
  const schedule = useMutation({
    mutationFn: () => session.call((rm) => rm.account.scheduleDeletion()),
    onSuccess: (r) => {
      setTyped('');
      settle({ deletion_scheduled_for: r.scheduled_for });
    },
  });
  const cancel = useMutation({
    mutationFn: () => session.call((rm) => rm.account.cancelDeletion()),
    onSuccess: () => settle({ deletion_scheduled_for: null }),
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    schedule.mutate();
  };
  const matches = typed.trim() === props.account.name;
  return (
    <section aria-labelledby="delete-heading" className="danger">
      <h2 id="delete-heading">Delete account</h2>
      {scheduled ? (
        <>
          <p role="status" data-testid="deletion-scheduled">
            This workspace and everything in it will be deleted on{' '}
            <time dateTime={scheduled}>{formatTime(scheduled)}</time> (
            <span data-testid="deletion-countdown">{countdown(scheduled, now)}</span>).
          </p>
          <button type="button" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            Cancel deletion
          </button>
          {cancel.isError ? <p role="alert">{cancel.error.message}</p> : null}
        </>
      ) : (
        <form onSubmit={onSubmit}>
          <p>
            Deleting erases the workspace's jobs, outputs, members, API keys and audit log after a grace
            period, during which an owner can cancel. Only the usage ledger needed for invoices is kept.
          </p>
          <div className="field">
            <label htmlFor="confirm-name">
              Type the workspace name, <strong>{props.account.name}</strong>, to confirm
            </label>
            <input
              id="confirm-name"
              value={typed}
              autoComplete="off"
              onChange={(e) => setTyped(e.target.value)}
            />
          </div>
          <button type="submit" disabled={!matches || schedule.isPending}>
            Delete account
          </button>
          {schedule.error instanceof PermissionError ? (
            <p role="alert">
              For your safety, deleting the account needs a recent sign-in. Sign out, sign in again with a new
              magic link, and come back here within 15 minutes.
            </p>
          ) : schedule.isError ? (
            <p role="alert">{schedule.error.message}</p>
          ) : null}
        </form>
      )}
    </section>
  );
}
