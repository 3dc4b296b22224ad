import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import type { Account, Me } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { atLeast } from '../roles.ts';

/** The workspace name; admins and owners rename it (the header shows the new name at once). */
export function WorkspaceName(props: { me: Me; account: Account | undefined }) {
  const session = useSession();
  const queries = useQueryClient();
  const current = props.account?.name ?? props.me.tenant.name;
  const [name, setName] = useState<string | null>(null);
  const rename = useMutation({
    mutationFn: (next: string) => session.call((rm) => rm.account.rename(next)),
    onSuccess: async (a) => {
      queries.setQueryData(['account'], a);
      setName(null);
      await session.reloadMe();
    },
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (name !== null) rename.mutate(name);
  };
  return (
    <section aria-labelledby="workspace-heading">
      <h2 id="workspace-heading">Workspace</h2>
      {atLeast(props.me.role, 'admin') ? (
        <form onSubmit={onSubmit} className="inline-form">
          <div className="field">
            <label htmlFor="workspace-name">Workspace name</label>
            <input
              id="workspace-name"
              required
              maxLength={100}
              value={name ?? current}
              onChange={(e) => setName(e.target.value)}
            />
          </div>
          <button type="submit" disabled={rename.isPending || name === null || name.trim() === current}>
            Rename
          </button>
          {rename.isError ? <p role="alert">{rename.error.message}</p> : null}
          {rename.isSuccess && name === null ? <p role="status">Renamed to {current}.</p> : null}
        </form>
      ) : (
        <p>
          Name: <strong>{current}</strong> (admins and owners can rename it)
        </p>
      )}
    </section>
  );
}
