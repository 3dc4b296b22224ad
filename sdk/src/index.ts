export { type ListJobsOptions, type PostOptions, Rendermill, type RendermillOptions } from './client.ts';
export * from './errors.ts';
export type { StreamOptions } from './events.ts';
export { JobHandle, PendingJob, type WaitOptions } from './job-handle.ts';
export type * from './types.ts';
export {
  DEFAULT_TOLERANCE_SECONDS,
  type HeaderBag,
  sign as signWebhook,
  testHeaders,
  type VerifyOptions,
  verifyWebhook,
  WebhookVerificationError,
} from './webhooks.ts';
