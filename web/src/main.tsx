import { QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import { AuthenticationError } from './api/rendermill.ts';
import { Session } from './api/session.ts';
import { SessionProvider } from './api/session-context.tsx';
import { App } from './app.tsx';
import './app.css';

const session = new Session();
const queries = new QueryClient({
  queryCache: new QueryCache(),
  defaultOptions: {
    queries: {
      // Live updates come from the event stream; a failed read is retried twice, a 401/4xx never.
      retry: (count, err) => !(err instanceof AuthenticationError) && count < 2,
      refetchOnWindowFocus: false,
    },
  },
});
// Whoever signs in next must not see the previous user's cached data.
session.subscribe(() => {
  if (session.state.status === 'signed-out') queries.clear();
});
void session.restore();

const root = document.getElementById('root');
if (!root) throw new Error('no #root element');
createRoot(root).render(
  <StrictMode>
    <SessionProvider session={session}>
      <QueryClientProvider client={queries}>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </QueryClientProvider>
    </SessionProvider>
  </StrictMode>,
);
