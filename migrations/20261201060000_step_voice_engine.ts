import type { Knex } from 'knex';

/** Which text-to-speech engine spoke a step's narration (the hosted provider, or espeak-ng as its fallback). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('job_steps', (t) => {
    // `http`, `espeak-ng`, or both comma separated; null for steps that speak nothing.
    t.text('voice_engine');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('job_steps', (t) => t.dropColumn('voice_engine'));
}
