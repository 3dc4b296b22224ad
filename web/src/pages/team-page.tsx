import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import type { Me, Role } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { TableHead } from '../components/table-parts.tsx';
import { formatTime } from '../format.ts';
import { atLeast, RANK, ROLES } from '../roles.ts';

/**
 * Members, invites, role changes and removal. The API's rules (last owner, owner-only grants,
 * nobody invites above their own role) come back as messages shown here, not as disabled controls.
 */
export function TeamPage(props: { me: Me }) {
  const session = useSession();
  const queries = useQueryClient();
  const admin = atLeast(props.me.role, 'admin');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const members = useQuery({ queryKey: ['members'], queryFn: () => session.call((rm) => rm.members.list()) });
  const invites = useQuery({
    queryKey: ['invites'],
    enabled: admin,
    queryFn: () => session.call((rm) => rm.invites.list()),
  });
  const refresh = () => {
    void queries.invalidateQueries({ queryKey: ['members'] });
    void queries.invalidateQueries({ queryKey: ['invites'] });
  };
  const invite = useMutation({
    mutationFn: () => session.call((rm) => rm.invites.create({ email, role })),
    onSuccess: () => {
      setEmail('');
      refresh();
    },
  });
  const withdraw = useMutation({
    mutationFn: (id: string) => session.call((rm) => rm.invites.revoke(id)),
    onSuccess: refresh,
  });
  const changeRole = useMutation({
    mutationFn: (v: { userId: string; role: Role }) =>
      session.call((rm) => rm.members.changeRole(v.userId, v.role)),
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: (userId: string) => session.call((rm) => rm.members.remove(userId)),
    onSuccess: refresh,
  });
  const failure = invite.error ?? withdraw.error ?? changeRole.error ?? remove.error;
  const onInvite = (e: FormEvent) => {
    e.preventDefault();
    invite.mutate();
  };

  return (
    <>
      <h1>Team</h1>
      {failure ? (
        <p className="field-error" role="alert">
          {failure.message}
        </p>
      ) : null}
      <table>
        <caption className="visually-hidden">Members</caption>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">Joined</th>
            {admin ? <th scope="col">Actions</th> : null}
          </tr>
        </thead>
        <tbody>
          {(members.data?.data ?? []).map((m) => (
            <tr key={m.user_id}>
              <td>{m.email}</td>
              <td>
                {admin ? (
                  <select
                    aria-label={`Role of ${m.email}`}
                    value={m.role}
                    onChange={(e) => changeRole.mutate({ userId: m.user_id, role: e.target.value as Role })}
                  >
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                ) : (
                  m.role
                )}
              </td>
              <td>{formatTime(m.joined_at)}</td>
              {admin ? (
                <td>
                  <button
                    type="button"
                    onClick={() => {
                      if (window.confirm(`Remove ${m.email} from the workspace? Their sessions end at once.`))
                        remove.mutate(m.user_id);
                    }}
                  >
                    Remove<span className="visually-hidden"> {m.email}</span>
                  </button>
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
      {admin ? (
        <>
          <form onSubmit={onInvite} className="inline-form">
            <h2>Invite</h2>
            <div className="field">
              <label htmlFor="invite-email">Email</label>
              <input
                id="invite-email"
                type="email"
                value={email}
                onChange={(e) => setEmail(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="invite-role">Role</label>
              <select id="invite-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
                {ROLES.filter((r) => RANK[r] <= RANK[props.me.role]).map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
            </div>
            <button type="submit" disabled={invite.isPending || !email.trim()}>
              Invite
            </button>
          </form>
          <h2>Pending invites</h2>
          {invites.data?.data.length ? (
            <table>
              <TableHead columns={['Email', 'Role', 'Expires', 'Actions']} />
              <tbody>
                {invites.data.data.map((i) => (
                  <tr key={i.id}>
                    <td>{i.email}</td>
                    <td>{i.role}</td>
                    <td>{formatTime(i.expires_at)}</td>
                    <td>
                      <button
                        type="button"
                        onClick={() => {
                          if (window.confirm(`Withdraw the invitation of ${i.email}?`)) withdraw.mutate(i.id);
                        }}
                      >
                        Withdraw<span className="visually-hidden"> {i.email}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p>No pending invites.</p>
          )}
        </>
      ) : null}
    </>
  );
}
