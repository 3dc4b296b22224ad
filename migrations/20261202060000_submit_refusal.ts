import type { Knex } from 'knex';

/**
 * A submission is one statement (api/features/jobs/submit-job.ts): claim, reserve, insert and
 * audit, each a CTE. When the reservation does not fit, the statement must undo the counters it
 * did raise; raising an error is how one statement rolls itself back. SQLSTATE RM402 lets the
 * caller tell this refusal from any other failure and answer 402.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION rendermill_refuse(code text, detail text) RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION USING ERRCODE = 'RM402', MESSAGE = code, DETAIL = coalesce(detail, '');
    END $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION rendermill_refuse(text, text)');
}
