import type { Mail } from '../mail/mailer.ts';

export { ownerEmails } from '../account/owner-emails.ts';

const METRIC_NAMES: Record<string, string> = {
  render_seconds: 'rendered video (seconds)',
  tts_seconds: 'speech (seconds)',
  images: 'images',
  storage_bytes: 'storage (bytes)',
};

export function usageAlertMail(
  to: string,
  a: {
    metric: string;
    threshold: number;
    used: number;
    limit: number;
    overage: boolean;
    resetsAt: string;
    publicUrl: string;
  },
): Mail {
  const what = METRIC_NAMES[a.metric] ?? a.metric;
  const consequence = a.overage
    ? 'Usage past the included amount is billed as overage.'
    : a.threshold >= 100
      ? `New jobs that need more are refused (402) until ${a.resetsAt}, or upgrade your plan.`
      : `At 100% new jobs are refused (402) until ${a.resetsAt}, unless you upgrade.`;
  return {
    to,
    subject: `Rendermill: ${a.threshold}% of your ${what} ${a.overage ? 'included amount' : 'limit'} used`,
    text: [
      `Your workspace has used ${round(a.used)} of ${round(a.limit)} ${what} this period (${a.threshold}% threshold).`,
      consequence,
      `Usage: ${a.publicUrl}/v1/usage`,
    ].join('\n\n'),
  };
}

export function paymentFailedMail(to: string, p: { graceEndsAt: Date | null; publicUrl: string }): Mail {
  const grace = p.graceEndsAt
    ? `Your plan stays active until ${p.graceEndsAt.toISOString()}; after that the free plan's limits apply until the payment succeeds.`
    : "If the payment keeps failing, the free plan's limits will apply.";
  return {
    to,
    subject: 'Rendermill: a payment failed',
    text: [
      'We could not collect the latest payment for your Rendermill subscription.',
      grace,
      `Update your payment method in the billing portal (POST ${p.publicUrl}/v1/billing/portal).`,
    ].join('\n\n'),
  };
}

export function trialEndingMail(
  to: string,
  p: { plan: string; endsAt: Date | null; publicUrl: string },
): Mail {
  const when = p.endsAt ? `on ${p.endsAt.toISOString()}` : 'in 3 days';
  return {
    to,
    subject: `Rendermill: your ${p.plan} trial ends ${p.endsAt ? p.endsAt.toISOString().slice(0, 10) : 'soon'}`,
    text: [
      `The free trial of the ${p.plan} plan for your Rendermill workspace ends ${when}.`,
      `Then the first payment is collected and the ${p.plan} plan continues. If it fails, the plan stays active for a 7-day grace period, after which the free plan's limits apply until a payment succeeds.`,
      `Check or change your payment method in the billing portal (POST ${p.publicUrl}/v1/billing/portal); subscription status: ${p.publicUrl}/v1/billing/subscription.`,
    ].join('\n\n'),
  };
}

function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
