export { Rendermill } from './client.js';
export * from './errors.js';
export { JobHandle, PendingJob } from './job-handle.js';
export {
  DEFAULT_TOLERANCE_SECONDS,
  sign as signWebhook,
  testHeaders,
  verifyWebhook,
  WebhookVerificationError,
} from './webhooks.js';
