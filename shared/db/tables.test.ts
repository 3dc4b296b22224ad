import type { Knex } from 'knex';
import { describe, expectTypeOf, it } from 'vitest';
import type { JobRow } from '../jobs/job-contract.ts';
import type { TableRow } from './tables.ts';

// Checked by `tsc --noEmit`, not at run time (nothing here is called). An augmentation whose
// module specifier does not resolve is silently an ambient module of its own, and knex would
// type every table as `any` again: these lines would then stop compiling.
function queries(db: Knex) {
  // @ts-expect-error no such column
  db('jobs').where({ no_such_column: 1 });
  // @ts-expect-error an insert names every column without a default
  db('jobs').insert({ id: 'job_x' });
  // @ts-expect-error role is one of the roles
  db('memberships').update({ role: 'superuser' });
  return {
    job: db('jobs').where({ id: 'job_x' }).first(),
    key: db('api_keys').select('id', 'revoked_at').first(),
  };
}

describe('typed tables', () => {
  it('when a query reads a declared table, then knex types its rows from shared/db/tables.ts', () => {
    type Result = ReturnType<typeof queries>;
    expectTypeOf<Awaited<Result['job']>>().toEqualTypeOf<JobRow | undefined>();
    expectTypeOf<Awaited<Result['key']>>().toEqualTypeOf<
      Pick<TableRow<'api_keys'>, 'id' | 'revoked_at'> | undefined
    >();
  });
});
