import { useEffect } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router';
import { useSessionState } from './api/session-context.tsx';
import { Layout } from './components/layout.tsx';
import { ApiKeysPage } from './pages/api-keys-page.tsx';
import { JobPage } from './pages/job-page.tsx';
import { NewRenderPage } from './pages/new-render-page.tsx';
import { NotFoundPage } from './pages/not-found-page.tsx';
import { RendersPage } from './pages/renders-page.tsx';
import { SignInPage } from './pages/sign-in-page.tsx';
import { VerifyPage } from './pages/verify-page.tsx';

const TITLES: Array<[RegExp, string]> = [
  [/^\/sign-in/, 'Sign in'],
  [/^\/renders\/new$/, 'New render'],
  [/^\/renders\/.+/, 'Render'],
  [/^\/renders/, 'Renders'],
  [/^\/api-keys/, 'API keys'],
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
  if (state.status === 'loading') {
    return (
      <p className="loading" role="status">
        Loading…
      </p>
    );
  }
  if (state.status === 'signed-out')
    return <SignInPage {...(state.reason ? { reason: state.reason } : {})} />;
  return (
    <Routes>
      <Route element={<Layout me={state.me} />}>
        <Route index element={<Navigate to="/renders" replace />} />
        <Route path="sign-in" element={<Navigate to="/renders" replace />} />
        <Route path="renders" element={<RendersPage />} />
        <Route path="renders/new" element={<NewRenderPage />} />
        <Route path="renders/:id" element={<JobPage />} />
        <Route path="api-keys" element={<ApiKeysPage me={state.me} />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
