import { NavLink, Outlet } from 'react-router';
import { useLiveEvents } from '../api/live-events.ts';
import type { Me } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { NotificationBell } from './notification-bell.tsx';
import { UsageMeters } from './usage-meters.tsx';

const ADMIN_ROLES = new Set(['owner', 'admin']);

/** The signed-in frame: navigation, the usage banner, and the one event-stream subscription. */
export function Layout(props: { me: Me }) {
  const session = useSession();
  useLiveEvents();
  return (
    <div className="shell">
      <header className="top">
        <a className="skip" href="#main">
          Skip to content
        </a>
        <span className="brand">Rendermill</span>
        <nav aria-label="Main">
          <NavLink to="/renders" end>
            Renders
          </NavLink>
          <NavLink to="/renders/new">New render</NavLink>
          {ADMIN_ROLES.has(props.me.role) ? <NavLink to="/api-keys">API keys</NavLink> : null}
          <NavLink to="/usage">Usage</NavLink>
          {ADMIN_ROLES.has(props.me.role) ? <NavLink to="/webhooks">Webhooks</NavLink> : null}
          <NavLink to="/team">Team</NavLink>
          {ADMIN_ROLES.has(props.me.role) ? <NavLink to="/audit-log">Audit log</NavLink> : null}
          {ADMIN_ROLES.has(props.me.role) ? <NavLink to="/billing">Billing</NavLink> : null}
          <NavLink to="/support">Support</NavLink>
          <NavLink to="/account">Account</NavLink>
        </nav>
        <div className="who">
          <NotificationBell />
          <span>
            {props.me.user?.email} · {props.me.tenant.name} · {props.me.role}
          </span>
          <button type="button" onClick={() => void session.signOut()}>
            Sign out
          </button>
          <button type="button" onClick={() => void session.signOutEverywhere()}>
            Sign out everywhere
          </button>
        </div>
      </header>
      <UsageMeters />
      <main id="main">
        <Outlet />
      </main>
    </div>
  );
}
