import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { type Me, RendermillError, UpgradeRequiredError } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { formatTime } from '../format.ts';
import { atLeast } from '../roles.ts';

const REASONS: Record<string, string> = {
  invalid_state: 'the consent link had expired or was already used',
  access_denied: 'access was not granted on the Google page',
  no_code: 'Google sent no authorization code',
  exchange_failed: 'Google refused the authorization code',
  no_refresh_token: 'Google sent no refresh token',
  scope_not_granted: 'the upload permission was not granted',
};

/** What Google's return (`/account?youtube=connected|error&reason=…`) means, read once. */
function returnMessage(params: URLSearchParams): { ok: boolean; text: string } | null {
  const outcome = params.get('youtube');
  if (outcome === 'connected') return { ok: true, text: 'The YouTube channel is connected.' };
  if (outcome !== 'error') return null;
  const reason = params.get('reason') ?? 'unknown';
  return { ok: false, text: `Connecting YouTube failed: ${REASONS[reason] ?? reason}.` };
}

/** The free plan's answer (403 upgrade_required, feature youtube_publish). */
export function UpgradeToPublish() {
  return (
    <p role="alert">
      Publishing to YouTube needs a paid plan. <Link to="/billing">Upgrade</Link>
    </p>
  );
}

function ConnectError(props: { error: Error; doing: 'connect' | 'disconnect' }) {
  const e = props.error;
  if (e instanceof UpgradeRequiredError) return <UpgradeToPublish />;
  if (e instanceof RendermillError && e.status === 503) {
    return (
      <p role="alert">
        {props.doing === 'connect'
          ? 'YouTube publishing is not configured on this server.'
          : 'Google did not confirm the disconnection; the channel is still connected. Try again.'}
      </p>
    );
  }
  return <p role="alert">{e.message}</p>;
}

/**
 * The workspace's YouTube channel: its status for everyone; Connect (sends the browser to Google's
 * consent page) and Disconnect for admin+. Google's return to `/account?youtube=…` is shown once,
 * then dropped from the address so a reload does not repeat it.
 */
export function AccountYoutube(props: { me: Me }) {
  const session = useSession();
  const queries = useQueryClient();
  const [params, setParams] = useSearchParams();
  const [returned] = useState(() => returnMessage(params));
  useEffect(() => {
    if (!params.has('youtube')) return;
    const rest = new URLSearchParams(params);
    rest.delete('youtube');
    rest.delete('reason');
    setParams(rest, { replace: true });
  }, [params, setParams]);
  const status = useQuery({
    queryKey: ['youtube'],
    queryFn: () => session.call((rm) => rm.youtube.get()),
  });
  const connect = useMutation({
    mutationFn: () => session.call((rm) => rm.youtube.connect()),
    onSuccess: (c) => window.location.assign(c.authorize_url),
  });
  const disconnect = useMutation({
    mutationFn: () => session.call((rm) => rm.youtube.disconnect()),
    onSettled: () => queries.invalidateQueries({ queryKey: ['youtube'] }),
  });
  const admin = atLeast(props.me.role, 'admin');
  const s = status.data;
  return (
    <section aria-labelledby="youtube-heading">
      <h2 id="youtube-heading">YouTube</h2>
      {returned ? <p role={returned.ok ? 'status' : 'alert'}>{returned.text}</p> : null}
      {status.isError ? <p role="alert">The YouTube connection could not be loaded.</p> : null}
      {s ? (
        <p data-testid="youtube-status">
          {s.connected ? (
            <>
              Connected{s.channel_title ? ` to ${s.channel_title}` : ''}
              {s.connected_at ? (
                <>
                  {' '}
                  since <time dateTime={s.connected_at}>{formatTime(s.connected_at)}</time>
                </>
              ) : null}
            </>
          ) : (
            'Not connected'
          )}
        </p>
      ) : null}
      {admin && s && !s.connected ? (
        <button type="button" onClick={() => connect.mutate()} disabled={connect.isPending}>
          Connect YouTube
        </button>
      ) : null}
      {admin && s?.connected ? (
        <button type="button" onClick={() => disconnect.mutate()} disabled={disconnect.isPending}>
          Disconnect YouTube
        </button>
      ) : null}
      {connect.isError ? <ConnectError error={connect.error} doing="connect" /> : null}
      {disconnect.isError ? <ConnectError error={disconnect.error} doing="disconnect" /> : null}
    </section>
  );
}
