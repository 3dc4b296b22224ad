import type { Role } from '../api/rendermill.ts';

/** What a role below the page's minimum sees instead of a blank or broken page. */
export function NoAccess(props: { what: string; role: Role }) {
  return (
    <>
      <h1>No access</h1>
      <p>
        {props.what} is for the workspace's admins and owners. You are a {props.role}.
      </p>
    </>
  );
}
