import { lazy, Suspense, useEffect } from 'react';
import { useLocation } from 'react-router';
import { useSessionState } from './api/session-context.tsx';
import { SignInPage } from './pages/sign-in-page.tsx';
import { VerifyPage } from './pages/verify-page.tsx';

// The signed-in app is a chunk of its own: the sign-in page (the first page most visits see)
// loads without it.
const SignedInApp = lazy(() => import('./signed-in-app.tsx'));

const TITLES: Array<[RegExp, string]> = [
  [/^\/sign-in/, 'Sign in'],
  [/^\/renders\/new$/, 'New render'],
  [/^\/renders\/.+/, 'Render'],
  [/^\/renders/, 'Renders'],
  [/^\/api-keys/, 'API keys'],
  [/^\/team/, 'Team'],
  [/^\/account/, 'Account'],
  [/^\/audit-log/, 'Audit log'],
  [/^\/billing/, 'Billing'],
  [/^\/usage/, 'Usage'],
  [/^\/webhooks/, 'Webhooks'],
];

function useTitle(): void {
  const { pathname } = useLocation();
  useEffect(() => {
    const title = TITLES.find(([re]) => re.test(pathname))?.[1];
    document.title = title ? `${title} · Rendermill` : 'Rendermill';
  }, [pathname]);
}

/**
 * Routes. The emailed link's page works signed in or not; every other page needs a session, and
 * a session that ends (signed out here or elsewhere, revoked) falls back to the sign-in page.
 */
export function App() {
  const state = useSessionState();
  const location = useLocation();
  useTitle();
  if (location.pathname === '/sign-in/verify') return <VerifyPage />;
  if (state.status === 'loading') return <Loading />;
  if (state.status === 'signed-out')
    return <SignInPage {...(state.reason ? { reason: state.reason } : {})} />;
  return (
    <Suspense fallback={<Loading />}>
      <SignedInApp me={state.me} />
    </Suspense>
  );
}

function Loading() {
  return (
    <p className="loading" role="status">
      Loading…
    </p>
  );
}
