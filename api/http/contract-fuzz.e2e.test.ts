import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyMutation,
  type Mutation,
  mutationArbitrary,
  namesField,
} from '../testing/contract-mutations.ts';
import {
  createWorld,
  type DocOp,
  type RequestPlan,
  type World,
  withQuery,
} from '../testing/contract-world.ts';

/**
 * Property-based bad input for every operation of the document: fast-check mutates each valid
 * example (missing fields, wrong types, boundaries and oversized values, unicode, non-URLs,
 * unknown enum values, extra properties) and every answer must be a documented status (the
 * harness checks each against the document), never a 5xx; a mutation that must fail answers 400
 * problem+json naming the field. Fixed seed, printed; CONTRACT_SEED replays another.
 */
const SEED = Number(process.env.CONTRACT_SEED ?? 20261201);
const RUNS = Number(process.env.CONTRACT_RUNS ?? 30);
// Generous: the machine is shared; the suite itself takes well under 2 minutes when it is quiet.
const TIMEOUT = 300_000;

type Json = Record<string, unknown>;
const counts = new Map<string, number>();
const count = (id: string) => counts.set(id, (counts.get(id) ?? 0) + 1);

/** The header values the registry must refuse (fetch cannot send what HTTP forbids, so no CR/LF/NUL). */
const BAD_HEADER_VALUES = ['has space', 'x'.repeat(256), 'caf\u00e9', 'tab\tinside'];

describe('contract fuzz: every operation, property-based bad input', () => {
  let w: World;
  beforeAll(async () => {
    w = await createWorld();
    console.log(
      `contract fuzz: seed ${SEED}, ${RUNS} runs per operation part (CONTRACT_SEED / CONTRACT_RUNS to change)`,
    );
  });
  afterAll(async () => {
    const lines = [...counts.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, n]) => `  ${id}: ${n}`);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    console.log(`contract fuzz: ${total} cases over ${counts.size} operations\n${lines.join('\n')}`);
    await w?.close();
  });

  const expectAnswer = async (o: DocOp, plan: RequestPlan, m: Mutation | null) => {
    count(o.operationId);
    const r = await w.send(plan); // throws when the status or body is not the document's
    const what = `${o.operationId} ${m ? `${m.kind} ${m.pointer} = ${JSON.stringify(m.value)?.slice(0, 80)}` : 'valid'}`;
    expect(r.status, `${what}: ${r.text.slice(0, 300)}`).toBeLessThan(500);
    if (r.status >= 400) expect(r.headers.get('content-type'), what).toContain('application/problem+json');
    if (m?.mustFail) {
      expect(r.status, `${what}: ${r.text.slice(0, 300)}`).toBe(400);
      const errors = (r.body.errors ?? []) as Array<{ path: string }>;
      expect(namesField(errors, m.pointer), `${what}: errors ${JSON.stringify(errors)}`).toBe(true);
    }
  };

  it(
    'when each operation gets its documented example, then it answers a documented status below 500',
    async () => {
      for (const o of w.ops) {
        await expectAnswer(o, await w.validRequest(o, w.sessionsA.owner), null);
      }
    },
    TIMEOUT,
  );

  it(
    'when bodies are mutated, then every answer is documented, never 5xx, and invalid ones are a 400 naming the field',
    async () => {
      for (const o of w.ops) {
        const media = o.op.requestBody?.content['application/json'];
        if (!media || o.operationId === 'receiveStripeWebhook') continue; // raw bytes, verified before parsing
        const arb = mutationArbitrary(media.schema, media.example);
        if (!arb) continue;
        // One valid request per operation: mutated ones are refused before they could consume it.
        const plan = await w.validRequest(o, w.sessionsA.owner, false);
        await fc.assert(
          fc.asyncProperty(arb, async (m) => {
            await expectAnswer(o, { ...plan, body: applyMutation(plan.body, m) }, m);
          }),
          { seed: SEED, numRuns: RUNS, endOnFailure: false },
        );
      }
    },
    TIMEOUT,
  );

  it(
    'when queries are mutated, then every answer is documented, never 5xx, and invalid ones are a 400 naming the field',
    async () => {
      for (const o of w.ops) {
        const params = (o.op.parameters ?? []).filter((p) => p.in === 'query');
        if (params.length === 0) continue;
        const schema = {
          type: 'object',
          properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
          required: params.filter((p) => p.required).map((p) => p.name),
        };
        const example = Object.fromEntries(
          params.filter((p) => p.example !== undefined).map((p) => [p.name, p.example]),
        );
        const arb = mutationArbitrary(schema, example, true);
        if (!arb) continue;
        const plan = await w.validRequest(o, w.sessionsA.owner, false);
        await fc.assert(
          fc.asyncProperty(arb, async (m) => {
            const query = applyMutation(example as Json, m);
            await expectAnswer(o, { ...plan, path: withQuery(plan.path, query) }, m);
          }),
          { seed: SEED, numRuns: RUNS },
        );
      }
    },
    TIMEOUT,
  );

  it(
    'when headers and path ids are mutated, then invalid headers are a 400 naming the header and odd ids a documented 4xx',
    async () => {
      for (const o of w.ops) {
        for (const p of (o.op.parameters ?? []).filter(
          (x) => x.in === 'header' && x.name !== 'Stripe-Signature',
        )) {
          const plan = await w.validRequest(o, w.sessionsA.owner, false);
          await fc.assert(
            fc.asyncProperty(fc.constantFrom(...BAD_HEADER_VALUES), async (value) => {
              const m: Mutation = { kind: 'header', pointer: `/headers/${p.name}`, value, mustFail: true };
              await expectAnswer(o, { ...plan, headers: { ...plan.headers, [p.name]: value } }, m);
            }),
            { seed: SEED, numRuns: BAD_HEADER_VALUES.length },
          );
        }
        if (!o.path.includes('{')) continue;
        const plan = await w.validRequest(o, w.sessionsA.owner, false);
        await fc.assert(
          fc.asyncProperty(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 300 }), async (id) => {
            const path =
              o.path.replace(/\{[^}]+\}/g, encodeURIComponent(id)) +
              (plan.path.includes('?') ? `?${plan.path.split('?')[1]}` : '');
            await expectAnswer(o, { ...plan, path }, null);
          }),
          { seed: SEED, numRuns: Math.ceil(RUNS / 3) },
        );
      }
    },
    TIMEOUT,
  );
});
