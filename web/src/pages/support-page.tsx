import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { ValidationError } from '../api/rendermill.ts';
import { useSession } from '../api/session-context.tsx';
import { TableHead } from '../components/table-parts.tsx';
import { formatTime } from '../format.ts';

const STATUS_TEXT: Record<string, string> = {
  pending: 'Sending to support…',
  delivered: 'Received by support',
  failed: 'Could not be delivered',
};

/**
 * Support: the form (subject, message, and the job it is about — filled in by "Report a problem"
 * on a failed job's page as `?job_id=`) and the workspace's tickets with status and helpdesk id.
 */
export function SupportPage() {
  const session = useSession();
  const queries = useQueryClient();
  const [params] = useSearchParams();
  const [subject, setSubject] = useState(() => (params.get('job_id') ? 'Problem with a job' : ''));
  const [message, setMessage] = useState('');
  const [jobId, setJobId] = useState(() => params.get('job_id') ?? '');
  const [sent, setSent] = useState<string | null>(null);
  const tickets = useQuery({
    queryKey: ['support-tickets'],
    queryFn: () => session.call((rm) => rm.support.list()),
    // Delivery is a worker's job and sends no event: look again only while a ticket is on its way.
    refetchInterval: (q) => (q.state.data?.data.some((t) => t.status === 'pending') ? 2000 : false),
  });
  const create = useMutation({
    mutationFn: () =>
      session.call((rm) =>
        rm.support.create({ subject, message, ...(jobId.trim() ? { job_id: jobId.trim() } : {}) }),
      ),
    onSuccess: (t) => {
      setSent(t.id);
      setSubject('');
      setMessage('');
      setJobId('');
      void queries.invalidateQueries({ queryKey: ['support-tickets'] });
    },
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setSent(null);
    create.mutate();
  };
  const fieldError = (path: string) =>
    create.error instanceof ValidationError
      ? create.error.errors.find((x) => x.path === `/${path}`)?.message
      : undefined;

  return (
    <>
      <h1>Support</h1>
      <form onSubmit={onSubmit} aria-labelledby="new-ticket">
        <h2 id="new-ticket">Ask for help</h2>
        <div className="field">
          <label htmlFor="ticket-subject">Subject</label>
          <input
            id="ticket-subject"
            required
            maxLength={200}
            value={subject}
            onChange={(e) => setSubject(e.target.value)}
            aria-describedby={fieldError('subject') ? 'ticket-subject-error' : undefined}
          />
          {fieldError('subject') ? <span id="ticket-subject-error">{fieldError('subject')}</span> : null}
        </div>
        <div className="field wide">
          <label htmlFor="ticket-message">Message</label>
          <textarea
            id="ticket-message"
            required
            rows={6}
            maxLength={10_000}
            value={message}
            onChange={(e) => setMessage(e.target.value)}
          />
          {fieldError('message') ? <span>{fieldError('message')}</span> : null}
        </div>
        <div className="field">
          <label htmlFor="ticket-job">Job (optional)</label>
          <input
            id="ticket-job"
            value={jobId}
            placeholder="job_…"
            onChange={(e) => setJobId(e.target.value)}
          />
          {fieldError('job_id') ? <span role="alert">Job: {fieldError('job_id')}</span> : null}
        </div>
        <button type="submit" disabled={create.isPending}>
          Send
        </button>
        {create.isError && !(create.error instanceof ValidationError) ? (
          <p role="alert">{create.error.message}</p>
        ) : null}
        {create.error instanceof ValidationError ? (
          <p role="alert">The ticket was not sent: {create.error.message}</p>
        ) : null}
        {sent ? <p role="status">Thanks: ticket {sent} is on its way to support.</p> : null}
      </form>
      <h2>Your workspace's tickets</h2>
      {tickets.isError ? <p role="alert">{tickets.error.message}</p> : null}
      {tickets.data && tickets.data.data.length === 0 ? <p>No tickets yet.</p> : null}
      {tickets.data && tickets.data.data.length > 0 ? (
        <table>
          <TableHead columns={['Subject', 'Job', 'From', 'Status', 'Helpdesk id', 'Sent']} />
          <tbody>
            {tickets.data.data.map((t) => (
              <tr key={t.id} data-ticket={t.id}>
                <td>{t.subject}</td>
                <td>{t.job_id ? <Link to={`/renders/${t.job_id}`}>{t.job_id}</Link> : '—'}</td>
                <td>{t.requester_email}</td>
                <td data-testid="ticket-status">{STATUS_TEXT[t.status] ?? t.status}</td>
                <td data-testid="helpdesk-id">{t.helpdesk_ticket_id ?? '—'}</td>
                <td>{formatTime(t.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
