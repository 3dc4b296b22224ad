import fc from 'fast-check';

type Json = Record<string, unknown>;
type Schema = Json & {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: unknown;
  items?: Schema;
  anyOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
};

/** One place in a request a mutation can aim at: a JSON pointer with the schema found there. */
export interface Field {
  pointer: string;
  schema: Schema;
  required: boolean;
  present: boolean;
  /** The example's value there (the seed of oversized arrays). */
  value: unknown;
  /** An object that refuses unknown properties. */
  closed: boolean;
}

/**
 * A change to a valid request. `mustFail` mutations must answer 400 naming `pointer`; the others
 * (unicode text, dropped optional fields) may be valid, and must only answer a documented status.
 */
export interface Mutation {
  kind: string;
  pointer: string;
  remove?: boolean;
  value?: unknown;
  mustFail: boolean;
}

const types = (s: Schema): string[] => {
  if (s.anyOf) return s.anyOf.flatMap(types);
  if (s.const !== undefined) return [typeof s.const === 'number' ? 'number' : typeof s.const];
  if (Array.isArray(s.type)) return s.type;
  return s.type ? [s.type === 'integer' ? 'number' : s.type] : [];
};

/** Walks a schema along a valid example, collecting every field (nested objects, first array item). */
export function collectFields(schema: Schema, example: unknown, pointer = '', required = true): Field[] {
  const present = example !== undefined;
  const closed = schema.type === 'object' && schema.additionalProperties === false;
  const out: Field[] = pointer ? [{ pointer, schema, required, present, value: example, closed }] : [];
  if (!pointer && closed)
    out.push({ pointer: '', schema, required: true, present: true, value: example, closed });
  if (schema.type === 'object' && schema.properties) {
    const ex = (example ?? {}) as Json;
    for (const [k, sub] of Object.entries(schema.properties)) {
      out.push(...collectFields(sub, ex[k], `${pointer}/${k}`, (schema.required ?? []).includes(k)));
    }
  } else if (schema.type === 'array' && schema.items && Array.isArray(example) && example.length > 0) {
    out.push(...collectFields(schema.items, example[0], `${pointer}/0`, true));
  }
  return out;
}

const NOT_URLS = [
  'not a url',
  'ftp://example.com/a',
  'javascript:alert(1)',
  '//example.com',
  'example.com',
  'http//x',
  'mailto:a@b.c',
  ' ',
  'http://',
];
const NOT_EMAILS = ['not-an-email', '@example.com', 'a@', 'a b@example.com', 'ü@'];
const NOT_TIMES = ['yesterday', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '1700000000', '2026-11-01'];

function wrongTypeValue(accepted: string[]): fc.Arbitrary<unknown> {
  const all: Array<[string, fc.Arbitrary<unknown>]> = [
    ['string', fc.string({ maxLength: 8 })],
    ['number', fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }))],
    ['boolean', fc.boolean()],
    ['null', fc.constant(null)],
    ['array', fc.array(fc.integer(), { maxLength: 2 })],
    ['object', fc.constant({ nested: true })],
  ];
  const wrong = all.filter(
    ([t]) => !accepted.includes(t) && !(t === 'number' && accepted.includes('integer')),
  );
  return fc.oneof(...wrong.map(([, a]) => a));
}

/** The mutations that apply to one field, as arbitraries (fast-check shrinks them on failure). */
function mutationsOf(f: Field, query: boolean): Array<fc.Arbitrary<Mutation>> {
  const s = f.schema;
  const out: Array<fc.Arbitrary<Mutation>> = [];
  const m = (kind: string, value: fc.Arbitrary<unknown>, mustFail = true) =>
    value.map((v) => ({ kind, pointer: f.pointer, value: v, mustFail }));
  const accepted = types(s);
  if (f.pointer && f.required && f.present) {
    out.push(fc.constant({ kind: 'missing', pointer: f.pointer, remove: true, mustFail: true }));
  }
  if (f.pointer && !f.required && f.present) {
    out.push(fc.constant({ kind: 'drop-optional', pointer: f.pointer, remove: true, mustFail: false }));
  }
  if (f.closed) {
    out.push(
      fc
        .stringMatching(/^x_[a-z]{1,8}$/)
        .map((k) => ({ kind: 'extra-property', pointer: `${f.pointer}/${k}`, value: 1, mustFail: true })),
    );
  }
  if (!f.pointer || accepted.length === 0) return out;
  if (query) {
    // Query values are strings: a wrong type is a string the schema cannot read.
    if (accepted.includes('number'))
      out.push(m('wrong-type', fc.constantFrom('abc', '1.5e', 'NaN', '0x1g', '')));
  } else {
    out.push(m('wrong-type', wrongTypeValue(accepted)));
  }
  const isString = accepted.includes('string') && s.enum === undefined && s.const === undefined;
  if (s.enum) {
    out.push(
      m(
        'unknown-enum',
        fc.string({ minLength: 1, maxLength: 12 }).filter((v) => !s.enum!.includes(v)),
      ),
    );
  }
  const consts = s.anyOf?.filter((a) => a.const !== undefined).map((a) => a.const);
  if (consts && consts.length > 0 && consts.length === s.anyOf!.length) {
    out.push(
      m(
        'unknown-enum',
        fc.integer({ min: -5, max: 200 }).filter((v) => !consts.includes(v)),
      ),
    );
  }
  if (isString && s.maxLength !== undefined) {
    const max = s.maxLength;
    out.push(
      m(
        'oversized',
        fc.integer({ min: 1, max: 40 }).map((extra) => 'é'.repeat(max + extra)),
      ),
    );
  }
  if (isString && (s.minLength ?? 0) >= 1 && !s.format) out.push(m('undersized', fc.constant('')));
  if (s.format === 'uri')
    out.push(
      m(
        'not-a-url',
        fc.oneof(
          fc.constantFrom(...NOT_URLS),
          fc.string().filter((v) => !/^https?:/i.test(v.trim())),
        ),
      ),
    );
  if (s.format === 'email') out.push(m('not-an-email', fc.constantFrom(...NOT_EMAILS)));
  if (s.format === 'date-time') out.push(m('not-a-time', fc.constantFrom(...NOT_TIMES)));
  if (s.pattern) {
    const re = new RegExp(s.pattern, 'u');
    out.push(
      m(
        'pattern',
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((v) => !re.test(v)),
      ),
    );
  }
  if (isString && !s.pattern && !s.format) {
    const max = Math.max(1, Math.min(s.maxLength ?? 40, 40));
    out.push(m('unicode', fc.string({ unit: 'grapheme', minLength: 1, maxLength: max }), false));
  }
  if (accepted.includes('number')) {
    const num = (v: number) => (query ? String(v) : v);
    if (s.maximum !== undefined)
      out.push(
        m(
          'boundary',
          fc.integer({ min: 1, max: 1e6 }).map((d) => num(s.maximum! + d)),
        ),
      );
    if (s.minimum !== undefined && s.minimum > -1e15)
      out.push(
        m(
          'boundary',
          fc.integer({ min: 1, max: 1e6 }).map((d) => num(s.minimum! - d)),
        ),
      );
    if (s.exclusiveMinimum !== undefined) out.push(m('boundary', fc.constant(num(s.exclusiveMinimum))));
    if (s.type === 'integer')
      out.push(
        m(
          'boundary',
          fc.integer({ min: 1, max: 100 }).map((d) => num(d + 0.5)),
        ),
      );
  }
  if (s.type === 'array') {
    if (s.maxItems !== undefined && Array.isArray(f.value) && f.value.length > 0) {
      const item = f.value[0];
      out.push(m('oversized', fc.constant(Array.from({ length: s.maxItems + 1 }, () => item))));
    }
    if ((s.minItems ?? 0) >= 1) out.push(m('undersized', fc.constant([])));
  }
  return out;
}

/** Every mutation of a request part (body, query or headers), or null when it has nothing to mutate. */
export function mutationArbitrary(
  schema: Schema,
  example: unknown,
  query = false,
): fc.Arbitrary<Mutation> | null {
  const all = collectFields(schema, example).flatMap((f) => mutationsOf(f, query));
  return all.length > 0 ? fc.oneof(...all) : null;
}

/** The example with the mutation applied (a copy). */
export function applyMutation<T>(example: T, mutation: Mutation): T {
  const copy = structuredClone(example ?? ({} as T)) as unknown;
  const keys = mutation.pointer
    .split('/')
    .slice(1)
    .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
  let at = copy as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  const last = keys.at(-1)!;
  if (mutation.remove) delete at[last];
  else at[last] = mutation.value;
  return copy as T;
}

/** Whether a 400's `errors[].path` names the mutated field (or a field inside it). */
export function namesField(errors: Array<{ path: string }>, pointer: string): boolean {
  return errors.some((e) => e.path === pointer || e.path.startsWith(`${pointer}/`));
}
