import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { Me } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { TableHead } from '../components/table-parts.tsx';
import { formatTime } from '../format.ts';
import { atLeast } from '../roles.ts';
import { AccountDeletion } from './account-deletion.tsx';
import { AccountExport } from './account-export.tsx';
import { AccountYoutube } from './account-youtube.tsx';
import { WorkspaceName } from './workspace-name.tsx';

/**
 * Account: the workspace name (rename: admin+), your sign-ins in every workspace (the current one
 * marked, each with Revoke), the YouTube channel (connect: admin+), the last verified backup, Export my data (admin+) and
 * Delete account (owner).
 */
export function AccountPage(props: { me: Me }) {
  const session = useSession();
  const queries = useQueryClient();
  const account = useQuery({
    queryKey: ['account'],
    queryFn: () => session.call((rm) => rm.account.get()),
  });
  const sessions = useQuery({
    queryKey: ['sessions'],
    queryFn: () => session.call((rm) => rm.sessions.list()),
  });
  const revoke = useMutation({
    mutationFn: async (v: { id: string; current: boolean }) => {
      await session.call((rm) => rm.sessions.revoke(v.id));
      if (v.current) await session.signOut();
    },
    onSuccess: () => queries.invalidateQueries({ queryKey: ['sessions'] }),
  });
  return (
    <>
      <h1>Account</h1>
      <WorkspaceName me={props.me} account={account.data} />
      <h2>Sessions</h2>
      {revoke.isError ? <p role="alert">{revoke.error.message}</p> : null}
      <table>
        <TableHead columns={['Device', 'IP', 'Signed in', 'Last used', 'Actions']} />
        <tbody>
          {(sessions.data?.data ?? []).map((s) => (
            <tr key={s.id} aria-current={s.current ? 'true' : undefined}>
              <td>
                {s.user_agent ?? 'unknown'}
                {s.current ? <strong> (this session)</strong> : null}
              </td>
              <td>{s.ip ?? '—'}</td>
              <td>{formatTime(s.created_at)}</td>
              <td>{formatTime(s.last_used_at)}</td>
              <td>
                <button
                  type="button"
                  onClick={() => {
                    if (
                      window.confirm(
                        s.current ? 'Revoke this session? You will be signed out.' : 'Revoke this session?',
                      )
                    )
                      revoke.mutate({ id: s.id, current: s.current });
                  }}
                >
                  Revoke<span className="visually-hidden"> session {s.id}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <AccountYoutube me={props.me} />
      <h2>Backups</h2>
      {account.data ? (
        <p data-testid="last-backup">
          {account.data.last_backup_at ? (
            <>
              Last verified backup:{' '}
              <time dateTime={account.data.last_backup_at}>{formatTime(account.data.last_backup_at)}</time>
            </>
          ) : (
            'No verified backup yet.'
          )}
        </p>
      ) : null}
      {atLeast(props.me.role, 'admin') ? <AccountExport /> : null}
      {props.me.role === 'owner' && account.data ? <AccountDeletion account={account.data} /> : null}
    </>
  );
}
