import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Secrets and addresses never reach the log: credentials are redacted by
 * path, and code logs emails only through `maskEmail`.
 */
export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["stripe-signature"]',
        '*.token',
        '*.refresh_token',
        '*.access_token',
        '*.key',
        '*.password',
        '*.email',
        'token',
        'email',
      ],
      censor: '[redacted]',
    },
  });
}

/** `alice@example.com` → `a***@e***.com`: enough to correlate, not enough to identify. */
export function maskEmail(email: string): string {
  const [local = '', domain = ''] = email.split('@');
  const dot = domain.lastIndexOf('.');
  const host = dot > 0 ? domain.slice(0, dot) : domain;
  const tld = dot > 0 ? domain.slice(dot) : '';
  return `${local.slice(0, 1)}***@${host.slice(0, 1)}***${tld}`;
}
