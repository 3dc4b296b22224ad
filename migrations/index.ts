import type { Knex } from 'knex';
import * as foundation from './20261120000001_foundation.ts';
import * as jobs from './20261120000002_jobs.ts';
import * as metering from './20261120000003_metering.ts';
import * as account from './20261120000004_account.ts';
import * as webhooks from './20261201030000_webhooks.ts';
import * as stepVoiceEngine from './20261201060000_step_voice_engine.ts';
import * as backups from './20261201060100_backups.ts';
import * as trials from './20261201060200_trials.ts';
import * as jobReenqueues from './20261202010000_job_reenqueues.ts';
import * as youtube from './20261202020000_youtube.ts';
import * as notificationsSupport from './20261202030000_notifications_support.ts';
import * as webhookEveryEvent from './20261202041500_webhook_every_event.ts';
import * as submitRefusal from './20261202060000_submit_refusal.ts';

export interface Migration {
  name: string;
  up: (knex: Knex) => Promise<void>;
  down: (knex: Knex) => Promise<void>;
}

/** Every migration, in order. Landed migrations are never edited; add a new file and list it here. */
export const migrations: Migration[] = [
  { name: '20261120000001_foundation', ...foundation },
  { name: '20261120000002_jobs', ...jobs },
  { name: '20261120000003_metering', ...metering },
  { name: '20261120000004_account', ...account },
  { name: '20261201030000_webhooks', ...webhooks },
  { name: '20261201060000_step_voice_engine', ...stepVoiceEngine },
  { name: '20261201060100_backups', ...backups },
  { name: '20261201060200_trials', ...trials },
  { name: '20261202010000_job_reenqueues', ...jobReenqueues },
  { name: '20261202020000_youtube', ...youtube },
  { name: '20261202030000_notifications_support', ...notificationsSupport },
  { name: '20261202041500_webhook_every_event', ...webhookEveryEvent },
  { name: '20261202060000_submit_refusal', ...submitRefusal },
];
