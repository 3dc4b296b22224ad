import type { Knex } from 'knex';
import type { Role } from '../auth/roles.ts';
import type { Metric } from '../jobs/estimate.ts';
import type { JobRow, JobStepRow } from '../jobs/job-contract.ts';
import type { NotificationType } from '../notifications/notify.ts';

/**
 * Every table's row as knex hands it back, written from `migrations/`: timestamptz columns come
 * back as `Date`, bigint and numeric as `number` (`db.ts` sets the parsers), jsonb as parsed JSON.
 * One owner per row type: stores that show part of a row derive it from here (`Pick`/`Omit`).
 * A migration that adds or changes a column changes its table here in the same commit.
 */
export interface Rows {
  tenants: {
    id: string;
    name: string;
    plan: string;
    created_at: Date;
    webhook_secret: string | null;
    webhook_secret_previous: string | null;
    webhook_secret_previous_until: Date | null;
    /** none | active | trialing | past_due | unpaid | canceled | incomplete | incomplete_expired | paused */
    subscription_status: string;
    stripe_customer_id: string | null;
    stripe_subscription_id: string | null;
    current_period_end: Date | null;
    cancel_at_period_end: boolean;
    past_due_since: Date | null;
    plan_changed_at: Date | null;
    /** `created` (unix seconds) of the newest Stripe event applied to the subscription state. */
    stripe_state_at: number | null;
    trial_ends_at: Date | null;
    deletion_scheduled_for: Date | null;
  };
  users: {
    id: string;
    email: string;
    created_at: Date;
    last_sign_in_at: Date | null;
  };
  memberships: {
    tenant_id: string;
    user_id: string;
    role: Role;
    created_at: Date;
  };
  magic_link_tokens: {
    id: string;
    token_hash: string;
    email: string;
    purpose: 'login' | 'invite';
    tenant_id: string | null;
    role: Role | null;
    invited_by: string | null;
    expires_at: Date;
    consumed_at: Date | null;
    created_at: Date;
  };
  sessions: {
    id: string;
    user_id: string;
    tenant_id: string;
    created_at: Date;
    authenticated_at: Date;
    last_used_at: Date;
    expires_at: Date;
    revoked_at: Date | null;
    revoked_reason: string | null;
    ip: string | null;
    user_agent: string | null;
  };
  refresh_tokens: {
    id: string;
    session_id: string;
    token_hash: string;
    created_at: Date;
    expires_at: Date;
    rotated_at: Date | null;
  };
  api_keys: {
    id: string;
    tenant_id: string;
    created_by: string | null;
    name: string;
    role: Role;
    prefix: string;
    key_hash: string;
    last4: string;
    created_at: Date;
    last_used_at: Date | null;
    revoked_at: Date | null;
  };
  audit_log: {
    id: number;
    tenant_id: string | null;
    actor_type: string;
    actor_id: string | null;
    action: string;
    target_type: string | null;
    target_id: string | null;
    request_id: string | null;
    ip: string | null;
    metadata: Record<string, unknown>;
    created_at: Date;
  };
  jobs: JobRow;
  job_steps: JobStepRow;
  usage_events: {
    id: string;
    tenant_id: string;
    job_id: string;
    step: string;
    metric: Metric;
    quantity: number;
    occurred_at: Date;
    reported_at: Date | null;
    report_attempts: number;
    report_after: Date | null;
    /** delivered | duplicate | before_billing | not_metered | too_old */
    report_outcome: string | null;
    report_error: string | null;
  };
  idempotency_keys: {
    tenant_id: string;
    key: string;
    request_hash: string;
    job_id: string;
    expires_at: Date;
  };
  webhook_deliveries: {
    id: string;
    tenant_id: string;
    /** Null for tenant events (usage alerts, `webhook.test`). */
    job_id: string | null;
    event: string;
    /** The event's id: the `webhook-id` of every attempt and replay. */
    event_id: string | null;
    url: string;
    payload: unknown;
    status: 'pending' | 'delivered' | 'failed';
    attempts: number;
    last_status_code: number | null;
    last_error: string | null;
    next_retry_at: Date | null;
    created_at: Date;
    delivered_at: Date | null;
  };
  usage_counters: {
    tenant_id: string;
    /**
     * A `date`, written and compared as `YYYY-MM-DD` (`periods.ts`). Read it as
     * `period_start::text`: pg would parse it to a Date at local midnight.
     */
    period_start: string;
    metric: Metric;
    used: number;
    reserved: number;
    updated_at: Date;
  };
  job_reservations: {
    job_id: string;
    tenant_id: string;
    /** A `date`: see `usage_counters.period_start`. */
    period_start: string;
    /** What the job still holds of each metric. */
    amounts: Partial<Record<Metric, number>>;
    created_at: Date;
    settled_at: Date | null;
    /** settled | released | swept */
    outcome: string | null;
  };
  stripe_events: {
    id: string;
    type: string;
    tenant_id: string | null;
    /** processing | applied | ignored_stale | ignored_unknown_tenant | ignored_type */
    outcome: string;
    processed_at: Date;
  };
  usage_alerts: {
    id: number;
    tenant_id: string;
    metric: Metric;
    /** A `date`: see `usage_counters.period_start`. */
    period_start: string;
    threshold: 80 | 100;
    used: number;
    limit: number;
    created_at: Date;
    sent_at: Date | null;
  };
  deletion_receipts: {
    id: string;
    job_id: string;
    tenant_ref: string;
    counts: Record<string, number>;
    started_at: Date;
    completed_at: Date | null;
    notified_at: Date | null;
  };
  webhook_endpoints: {
    tenant_id: string;
    url: string;
    /** Null: every event type webhooks carry. */
    events: string[] | null;
    created_at: Date;
    updated_at: Date;
  };
  webhook_attempts: {
    id: number;
    delivery_id: string;
    tenant_id: string;
    attempted_at: Date;
    url: string;
    status_code: number | null;
    latency_ms: number;
    /** The first 2 KB of the answer. */
    response_body: string | null;
    error: string | null;
    next_retry_at: Date | null;
  };
  backups: {
    id: string;
    status: 'verified' | 'failed';
    started_at: Date;
    finished_at: Date;
    /** The manifest's `taken_at`; null when the backup failed before the snapshot. */
    taken_at: Date | null;
    verified_at: Date | null;
    verification: 'checksum' | 'restore' | null;
    manifest_key: string | null;
    stored_bytes: number | null;
    encrypted: boolean | null;
    key_fingerprint: string | null;
    /** Rows per table in the dump. */
    tables: Record<string, number> | null;
    error: string | null;
  };
  youtube_connections: {
    tenant_id: string;
    /** AES-256-GCM under INTEGRATIONS_ENCRYPTION_KEY (iv.tag.ciphertext, base64url); never the plain token. */
    refresh_token_encrypted: string;
    /** First 16 hex of sha256(key): which key decrypts it. */
    key_fingerprint: string;
    scope: string;
    channel_id: string | null;
    channel_title: string | null;
    connected_by: string | null;
    connected_at: Date;
  };
  youtube_oauth_states: {
    /** sha256 of the `state` sent to Google. */
    state_hash: string;
    tenant_id: string;
    user_id: string;
    /** The PKCE code_verifier, sealed like the refresh token. */
    code_verifier_encrypted: string;
    expires_at: Date;
    created_at: Date;
  };
  notifications: {
    id: string;
    tenant_id: string;
    user_id: string;
    type: NotificationType;
    title: string;
    body: string;
    /** A dashboard path, never an absolute URL. */
    link: string | null;
    target_type: string | null;
    target_id: string | null;
    dedupe_key: string;
    created_at: Date;
    read_at: Date | null;
  };
  support_tickets: {
    id: string;
    tenant_id: string;
    user_id: string | null;
    api_key_id: string | null;
    requester_email: string;
    subject: string;
    message: string;
    job_id: string | null;
    status: 'pending' | 'delivered' | 'failed';
    channel: 'freshdesk' | 'email' | 'outbox' | null;
    helpdesk_ticket_id: string | null;
    attempts: number;
    delivery_started_at: Date | null;
    delivered_at: Date | null;
    last_error: string | null;
    created_at: Date;
  };
}

export type TableName = keyof Rows;
export type TableRow<T extends TableName> = Rows[T];

type NullableKey<Row> = { [K in keyof Row]-?: null extends Row[K] ? K : never }[keyof Row];

/**
 * What a write may put in a column: a value, SQL (`db.fn.now()`, `db.raw(…)`, a subquery), a
 * timestamp as ISO text, or for jsonb its JSON text.
 */
type Writable<Row, JsonKey extends keyof Row> = {
  [K in keyof Row]:
    | Row[K]
    | Knex.Raw
    | Knex.QueryBuilder
    | (Date extends Row[K] ? string : never)
    | (K extends JsonKey ? string : never);
};

/**
 * A table for knex: inserts may leave out the columns with a default (`Defaulted`) and the
 * nullable ones; `JsonKey` are the jsonb columns, which a write may also give as JSON text
 * (pg sends a JS array as a Postgres array, so arrays go in stringified).
 */
type Table<
  Row,
  Defaulted extends keyof Row = never,
  JsonKey extends keyof Row = never,
> = Knex.CompositeTableType<
  Row,
  Omit<Writable<Row, JsonKey>, Defaulted | NullableKey<Row>> &
    Partial<Pick<Writable<Row, JsonKey>, Defaulted | NullableKey<Row>>>,
  Partial<Writable<Row, JsonKey>>
>;

declare module 'knex/types/tables.js' {
  interface Tables {
    tenants: Table<Rows['tenants'], 'plan' | 'created_at' | 'subscription_status' | 'cancel_at_period_end'>;
    users: Table<Rows['users'], 'created_at'>;
    memberships: Table<Rows['memberships'], 'created_at'>;
    magic_link_tokens: Table<Rows['magic_link_tokens'], 'purpose' | 'created_at'>;
    sessions: Table<Rows['sessions'], 'created_at' | 'authenticated_at' | 'last_used_at'>;
    refresh_tokens: Table<Rows['refresh_tokens'], 'created_at'>;
    api_keys: Table<Rows['api_keys'], 'role' | 'created_at'>;
    audit_log: Table<Rows['audit_log'], 'id' | 'metadata' | 'created_at', 'metadata'>;
    jobs: Table<
      JobRow,
      | 'status'
      | 'progress'
      | 'attempts'
      | 'priority'
      | 'estimate'
      | 'metadata'
      | 'reenqueues'
      | 'created_at'
      | 'updated_at',
      'payload' | 'estimate' | 'metadata' | 'result'
    >;
    job_steps: Table<JobStepRow, 'attempt' | 'cache_hit', 'result'>;
    usage_events: Table<Rows['usage_events'], 'occurred_at' | 'report_attempts'>;
    idempotency_keys: Table<Rows['idempotency_keys']>;
    webhook_deliveries: Table<Rows['webhook_deliveries'], 'status' | 'attempts' | 'created_at', 'payload'>;
    usage_counters: Table<Rows['usage_counters'], 'used' | 'reserved' | 'updated_at'>;
    job_reservations: Table<Rows['job_reservations'], 'amounts' | 'created_at', 'amounts'>;
    stripe_events: Table<Rows['stripe_events'], 'processed_at'>;
    usage_alerts: Table<Rows['usage_alerts'], 'id' | 'created_at'>;
    deletion_receipts: Table<Rows['deletion_receipts'], 'counts' | 'started_at', 'counts'>;
    webhook_endpoints: Table<Rows['webhook_endpoints'], 'created_at' | 'updated_at', 'events'>;
    webhook_attempts: Table<Rows['webhook_attempts'], 'id' | 'attempted_at'>;
    backups: Table<Rows['backups'], 'finished_at', 'tables'>;
    youtube_connections: Table<Rows['youtube_connections'], 'connected_at'>;
    youtube_oauth_states: Table<Rows['youtube_oauth_states'], 'created_at'>;
    notifications: Table<Rows['notifications'], 'created_at'>;
    support_tickets: Table<Rows['support_tickets'], 'status' | 'attempts' | 'created_at'>;
  }
}
