import { useMutation } from '@tanstack/react-query';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useSession } from '../api/session-context.tsx';

/**
 * Where the emailed link lands. Opening it (a GET, as mail scanners do) spends nothing: only
 * pressing Sign in does, then Renders opens. Invite links land here too.
 */
export function VerifyPage() {
  const session = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const signIn = useMutation({
    mutationFn: () => session.completeSignIn(token),
    onSuccess: () => navigate('/renders', { replace: true }),
  });
  return (
    <main id="main" className="narrow">
      <h1>Sign in to Rendermill</h1>
      <p>Press the button to finish signing in. The link works once and expires after 15 minutes.</p>
      <button type="button" onClick={() => signIn.mutate()} disabled={!token || signIn.isPending}>
        Sign in
      </button>
      {signIn.isError ? (
        <p role="alert">
          This sign-in link is invalid, expired or already used. <Link to="/sign-in">Ask for a new one</Link>.
        </p>
      ) : null}
    </main>
  );
}
