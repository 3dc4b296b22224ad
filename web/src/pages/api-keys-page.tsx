import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import type { ApiKey, Me, Role } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { TableHead } from '../components/table-parts.tsx';
import { formatTime } from '../format.ts';
import { atLeast, RANK } from '../roles.ts';
import { NoAccess } from './no-access.tsx';

const KEY_ROLES: Role[] = ['viewer', 'member', 'admin'];

/** API keys (admin+): create with a role no higher than yours, see the secret once, rotate, delete. */
export function ApiKeysPage(props: { me: Me }) {
  if (!atLeast(props.me.role, 'admin')) return <NoAccess what="Managing API keys" role={props.me.role} />;
  return <ApiKeys me={props.me} />;
}

function ApiKeys(props: { me: Me }) {
  const session = useSession();
  const queries = useQueryClient();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [secret, setSecret] = useState<{ name: string; key: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const keys = useQuery({ queryKey: ['api-keys'], queryFn: () => session.call((rm) => rm.apiKeys.list()) });
  const shown = (k: ApiKey & { key: string }) => {
    setSecret({ name: k.name, key: k.key });
    setCopied(false);
    void queries.invalidateQueries({ queryKey: ['api-keys'] });
  };
  const create = useMutation({
    mutationFn: () => session.call((rm) => rm.apiKeys.create({ name, role })),
    onSuccess: (k) => {
      setName('');
      shown(k);
    },
  });
  const rotate = useMutation({
    mutationFn: (id: string) => session.call((rm) => rm.apiKeys.rotate(id)),
    onSuccess: shown,
  });
  const remove = useMutation({
    mutationFn: (id: string) => session.call((rm) => rm.apiKeys.delete(id)),
    onSuccess: () => queries.invalidateQueries({ queryKey: ['api-keys'] }),
  });
  const onCreate = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const failure = create.error ?? rotate.error ?? remove.error;

  return (
    <>
      <h1>API keys</h1>
      <form onSubmit={onCreate} className="inline-form">
        <h2>Create key</h2>
        <div className="field">
          <label htmlFor="key-name">Name</label>
          <input id="key-name" required value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="key-role">Role</label>
          <select id="key-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {KEY_ROLES.filter((r) => RANK[r] <= RANK[props.me.role]).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={create.isPending || !name.trim()}>
          Create key
        </button>
      </form>
      {failure ? <p role="alert">{failure.message}</p> : null}
      {secret ? (
        <section className="secret" aria-label="New key" role="status">
          <p>
            <strong>Copy the key for “{secret.name}” now: it is shown only once.</strong> Anyone holding it
            can act for this workspace.
          </p>
          <label htmlFor="new-key">Secret key</label>
          <input id="new-key" readOnly value={secret.key} onFocus={(e) => e.target.select()} />
          <button
            type="button"
            onClick={() =>
              void navigator.clipboard.writeText(secret.key).then(
                () => setCopied(true),
                () => setCopied(false),
              )
            }
          >
            Copy
          </button>
          {copied ? <span> Copied.</span> : null}
        </section>
      ) : null}
      <h2>Keys</h2>
      <table>
        <TableHead columns={['Name', 'Prefix', 'Last 4', 'Role', 'Created', 'Last used', 'Actions']} />
        <tbody>
          {(keys.data?.data ?? []).map((k) => (
            <tr key={k.id}>
              <td>{k.name}</td>
              <td>
                <code>{k.prefix}…</code>
              </td>
              <td>
                <code>{k.last4}</code>
              </td>
              <td>{k.role}</td>
              <td>{formatTime(k.created_at)}</td>
              <td>{formatTime(k.last_used_at)}</td>
              <td>
                <button
                  type="button"
                  onClick={() => {
                    if (window.confirm(`Rotate “${k.name}”? The current secret stops working at once.`))
                      rotate.mutate(k.id);
                  }}
                >
                  Rotate<span className="visually-hidden"> {k.name}</span>
                </button>{' '}
                <button
                  type="button"
                  onClick={() => {
                    if (window.confirm(`Delete “${k.name}”? Clients using it get 401 from now on.`))
                      remove.mutate(k.id);
                  }}
                >
                  Delete<span className="visually-hidden"> {k.name}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {keys.isSuccess && keys.data.data.length === 0 ? <p>No keys yet.</p> : null}
    </>
  );
}
