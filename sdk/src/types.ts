/**
 * Request and response shapes of the Rendermill API.
 * TODO(openapi): generated from the committed OpenAPI snapshot once the API serves /openapi.json.
 */
export type JobKind = 'render' | 'tts' | 'image' | 'export' | 'deletion';
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export type Metric = 'render_seconds' | 'tts_seconds' | 'images' | 'storage_bytes';

export interface Scene {
  text?: string;
  title?: string;
  image_url?: string;
  background?: string;
  duration?: number;
}

export interface RenderRequest {
  scenes: Scene[];
  resolution?: '720p' | '1080p' | '2160p';
  fps?: 24 | 25 | 30 | 60;
  voice?: string;
  callback_url?: string;
  metadata?: Record<string, unknown>;
}

export interface TtsRequest {
  text: string;
  voice?: string;
  format?: 'wav' | 'mp3';
  callback_url?: string;
  metadata?: Record<string, unknown>;
}

export interface ImageRequest {
  title?: string;
  text?: string;
  width?: number;
  height?: number;
  background?: string;
  callback_url?: string;
  metadata?: Record<string, unknown>;
}

export interface JobStep {
  name: string;
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';
  attempt?: number;
  cache_hit?: boolean;
  started_at: string | null;
  finished_at: string | null;
  error?: string | null;
}

export interface JobOutput {
  url: string;
  content_type: string;
  bytes: number;
  duration_seconds: number | null;
  expires_at: string;
}

export interface Job {
  id: string;
  kind: JobKind;
  status: JobStatus;
  progress: number;
  attempts: number;
  steps: JobStep[];
  estimate: Partial<Record<Metric, number>>;
  usage: Array<{ metric: Metric; quantity: number }>;
  output: JobOutput | null;
  error: { code: string; message: string } | null;
  metadata: Record<string, unknown>;
  created_at: string;
  started_at?: string | null;
  finished_at: string | null;
  [key: string]: unknown;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface Usage {
  period: { start: string; end: string };
  plan: string;
  overage: boolean;
  metrics: Record<Metric, { used: number; reserved: number; limit: number | null; remaining: number | null }>;
}

export interface UsageEvent {
  id: string | number;
  occurred_at: string;
  job_id: string | null;
  step: string | null;
  metric: Metric;
  quantity: number;
  [key: string]: unknown;
}

export interface ApiKey {
  id: string;
  name: string;
  role: 'viewer' | 'member' | 'admin';
  prefix: string;
  last4: string;
  created_at: string;
  last_used_at: string | null;
}

/** Creation and rotation answer the secret, once. */
export interface ApiKeyWithSecret extends ApiKey {
  key: string;
}

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

/** Every event the stream and webhooks carry, discriminated by `type`. */
export type RendermillEvent = JobLifecycleEvent | JobStepEvent | UsageThresholdEvent | WebhookTestEvent;

/** An event from `events.stream()`: the event plus its stream id (resume point). */
export type StreamedEvent = RendermillEvent & { streamId: string };
