/**
 * Request and response shapes of the Rendermill API, taken from the types generated from its
 * OpenAPI document (`./generated/openapi.ts`, `npm run sdk:types`). Only the events are written
 * here: the document declares `GET /v1/events` as a text/event-stream, not their JSON.
 */
import type { operations } from './generated/openapi.ts';

type Op = keyof operations;
type Responses<O extends Op> = operations[O]['responses'];
/** The JSON body an operation answers with `status`. */
export type ResponseBody<O extends Op, S extends keyof Responses<O>> = Responses<O>[S] extends {
  content: { 'application/json': infer B };
}
  ? B
  : never;
/** The JSON body an operation takes. */
export type RequestBody<O extends Op> = operations[O] extends {
  requestBody: { content: { 'application/json': infer B } };
}
  ? B
  : operations[O] extends { requestBody?: { content: { 'application/json': infer B } } }
    ? B
    : never;
/** The query parameters of an operation. */
export type QueryOf<O extends Op> = operations[O]['parameters'] extends { query?: infer Q }
  ? NonNullable<Q>
  : never;

export type Job = ResponseBody<'getJob', 200>;
export type JobKind = Job['kind'];
export type JobStatus = Job['status'];
export type JobStep = Job['steps'][number];
export type JobOutput = NonNullable<Job['output']>;
export type Metric = keyof Job['estimate'];

export type RenderRequest = RequestBody<'createRender'>;
export type Scene = RenderRequest['scenes'][number];
export type TtsRequest = RequestBody<'createTts'>;
export type ImageRequest = RequestBody<'createImage'>;

/** What `renders.estimate` (and tts/images) answers. */
export type Estimate = ResponseBody<'estimateRender', 200>;

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export type Usage = ResponseBody<'getUsage', 200>;
export type UsageEvent = ResponseBody<'listUsageEvents', 200>['data'][number];

export type ApiKey = ResponseBody<'listApiKeys', 200>['data'][number];
/** Creation and rotation answer the secret, once. */
export type ApiKeyWithSecret = ResponseBody<'createApiKey', 201>;
export type CreateApiKeyRequest = RequestBody<'createApiKey'>;

export type WebhookDelivery = ResponseBody<'getWebhookDelivery', 200>;
export type WebhookDeliveryQuery = QueryOf<'listWebhookDeliveries'>;
export type WebhookEndpoint = ResponseBody<'getWebhookEndpoint', 200>;
export type WebhookSecret = ResponseBody<'getWebhookSecret', 200>;

export type Notification = ResponseBody<'readNotification', 200>;
/** A page of the feed, with how many are unread in all. */
export type NotificationPage = ResponseBody<'listNotifications', 200>;
export type NotificationQuery = QueryOf<'listNotifications'>;

export type SupportTicket = ResponseBody<'getSupportTicket', 200>;
export type CreateSupportTicketRequest = RequestBody<'createSupportTicket'>;

/** The workspace: its name and a pending deletion's date. */
export type Account = ResponseBody<'getAccount', 200>;
export type AccountDeletion = ResponseBody<'scheduleAccountDeletion', 202>;

/** `POST /v1/jobs/:id/publish`: where and how to publish a succeeded render's video. */
export type PublishRequest = RequestBody<'publishJob'>;
/** The workspace's YouTube channel connection. */
export type YoutubeConnection = ResponseBody<'getYoutubeConnection', 200>;
/** The Google consent URL to open in the browser, and when its state expires. */
export type YoutubeConnect = ResponseBody<'connectYoutube', 200>;

export type EventType =
  | 'job.queued'
  | 'job.started'
  | 'job.step.started'
  | 'job.step.succeeded'
  | 'job.progress'
  | 'job.succeeded'
  | 'job.failed'
  | 'job.canceled'
  | 'usage.threshold_reached'
  | 'billing.subscription_updated'
  | 'notification.created'
  | 'webhook.test';

/** `data.job` of job events: the job's state at that moment. */
export interface JobEventJob {
  id: string;
  kind: JobKind;
  status: JobStatus;
  progress: number;
  attempts: number;
  error: { code: string; message: string } | null;
  output: JobOutput | null;
  metadata: Record<string, unknown>;
  created_at: string;
  finished_at: string | null;
}

interface EventBase<T extends EventType, D> {
  /** `evt_…`; a webhook's `webhook-id` */
  id: string;
  type: T;
  created_at: string;
  data: D;
}

export type JobLifecycleEvent = EventBase<
  'job.queued' | 'job.started' | 'job.succeeded' | 'job.failed' | 'job.canceled',
  { job: JobEventJob; attempt?: number }
>;
export type JobStepEvent = EventBase<
  'job.step.started' | 'job.step.succeeded' | 'job.progress',
  { job: JobEventJob; step: { name: string; attempt?: number; cache_hit?: boolean } }
>;
export type UsageThresholdEvent = EventBase<
  'usage.threshold_reached',
  { usage: { metric: Metric; threshold: number; used: number; limit: number; period: string } }
>;
export type WebhookTestEvent = EventBase<'webhook.test', Record<string, unknown>>;
/** A feed of this tenant changed (who was told is not said): read `notifications.list` again. */
export type NotificationCreatedEvent = EventBase<'notification.created', { notification: { type: string } }>;

/** The plan or subscription changed after a Stripe event (stream only): read `billing.subscription()` again. */
export type BillingSubscriptionUpdatedEvent = EventBase<
  'billing.subscription_updated',
  { stripe_event: string }
>;

/** Every event the stream and webhooks carry, discriminated by `type`. */
export type RendermillEvent =
  | JobLifecycleEvent
  | JobStepEvent
  | UsageThresholdEvent
  | BillingSubscriptionUpdatedEvent
  | NotificationCreatedEvent
  | WebhookTestEvent;

/** An event from `events.stream()`: the event plus its stream id (resume point). */
export type StreamedEvent = RendermillEvent & { streamId: string };
