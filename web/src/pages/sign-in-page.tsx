import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { RateLimitedError, ValidationError } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';

/** Email → link. The answer is the same whether or not the address has an account. */
export function SignInPage(props: { reason?: string }) {
  const session = useSession();
  const [email, setEmail] = useState('');
  const send = useMutation({ mutationFn: (address: string) => session.anonymous.auth.sendLink(address) });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    send.mutate(email);
  };
  const error = send.error;
  return (
    <main id="main" className="narrow">
      <h1>Sign in to Rendermill</h1>
      {props.reason ? <p role="status">{props.reason}</p> : null}
      <form onSubmit={onSubmit} noValidate>
        <label htmlFor="email">Email</label>
        <input
          id="email"
          type="email"
          autoComplete="email"
          required
          value={email}
          aria-invalid={error instanceof ValidationError}
          aria-describedby={error ? 'email-error' : undefined}
          onChange={(e) => setEmail(e.target.value)}
        />
        {error ? (
          <p id="email-error" className="field-error" role="alert">
            {error instanceof ValidationError
              ? 'Enter a valid email address.'
              : error instanceof RateLimitedError
                ? 'Too many links asked for. Wait a few minutes and try again.'
                : 'The link could not be sent. Try again.'}
          </p>
        ) : null}
        <button type="submit" disabled={send.isPending}>
          Send sign-in link
        </button>
      </form>
      {send.isSuccess ? (
        <p role="status">If that address can sign in, a link is on its way. It works once, for 15 minutes.</p>
      ) : null}
    </main>
  );
}
