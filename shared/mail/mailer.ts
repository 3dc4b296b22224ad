import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from '../logging/logger.ts';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** A link worth printing in the dev outbox log line (a sign-in link). */
  link?: string;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
  close(): void;
}

/**
 * Mail over SMTP when SMTP_URL is set; otherwise a dev outbox: each mail is written as a file
 * and one log line carries its link, so a newcomer can sign in without a mail server.
 */
export function createMailer(opts: {
  smtpUrl?: string;
  from: string;
  outboxDir: string;
  logger: Logger;
}): Mailer {
  if (opts.smtpUrl) {
    // Every external call has a timeout: a dead SMTP server must not pile up pending sends.
    const url = new URL(opts.smtpUrl);
    for (const [k, v] of [
      ['connectionTimeout', '10000'],
      ['greetingTimeout', '10000'],
      ['socketTimeout', '20000'],
    ]) {
      if (k && v && !url.searchParams.has(k)) url.searchParams.set(k, v);
    }
    const transport = nodemailer.createTransport(url.toString());
    return {
      async send(mail) {
        await transport.sendMail({
          from: opts.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
        });
      },
      close: () => transport.close(),
    };
  }
  return {
    async send(mail) {
      await mkdir(opts.outboxDir, { recursive: true });
      const file = path.join(
        opts.outboxDir,
        `${new Date().toISOString().replaceAll(':', '-')}-${process.pid}.txt`,
      );
      await writeFile(
        file,
        `From: ${opts.from}\nTo: ${mail.to}\nSubject: ${mail.subject}\n\n${mail.text}\n`,
        {
          mode: 0o600,
        },
      );
      // The dev outbox is for local development only; the link is the point of this line.
      opts.logger.info(
        { file, link: mail.link },
        `dev outbox: ${mail.subject}${mail.link ? ` — ${mail.link}` : ''}`,
      );
    },
    close: () => {},
  };
}
