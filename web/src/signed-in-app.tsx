import { Navigate, Route, Routes } from 'react-router';
import type { Me } from './api/rendermill.ts';
import { Layout } from './components/layout.tsx';
import { AccountPage } from './pages/account-page.tsx';
import { ApiKeysPage } from './pages/api-keys-page.tsx';
import { AuditLogPage } from './pages/audit-log-page.tsx';
import { BillingPage } from './pages/billing-page.tsx';
import { JobPage } from './pages/job-page.tsx';
import { NewRenderPage } from './pages/new-render-page.tsx';
import { NotFoundPage } from './pages/not-found-page.tsx';
import { RendersPage } from './pages/renders-page.tsx';
import { SupportPage } from './pages/support-page.tsx';
import { TeamPage } from './pages/team-page.tsx';
import { UsagePage } from './pages/usage-page.tsx';
import { WebhooksPage } from './pages/webhooks-page.tsx';

/** Every page behind sign-in, inside the layout (navigation, usage meters, live events). */
export default function SignedInApp(props: { me: Me }) {
  return (
    <Routes>
      <Route element={<Layout me={props.me} />}>
        <Route index element={<Navigate to="/renders" replace />} />
        <Route path="sign-in" element={<Navigate to="/renders" replace />} />
        <Route path="renders" element={<RendersPage />} />
        <Route path="renders/new" element={<NewRenderPage />} />
        <Route path="renders/:id" element={<JobPage me={props.me} />} />
        <Route path="api-keys" element={<ApiKeysPage me={props.me} />} />
        <Route path="team" element={<TeamPage me={props.me} />} />
        {/* Notifications link jobs as /jobs/<id>: the same page as a render's. */}
        <Route path="jobs/:id" element={<JobPage me={props.me} />} />
        <Route path="account" element={<AccountPage me={props.me} />} />
        <Route path="support" element={<SupportPage />} />
        <Route path="audit-log" element={<AuditLogPage me={props.me} />} />
        <Route path="billing" element={<BillingPage me={props.me} />} />
        <Route path="usage" element={<UsagePage me={props.me} />} />
        <Route path="webhooks" element={<WebhooksPage me={props.me} />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
