import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

type Json = Record<string, unknown>;

interface DocOperation {
  operationId: string;
  responses: Record<string, { content?: Record<string, { schema?: Json }> }>;
}

export interface DocumentedOperation {
  method: string;
  template: string;
  operation: DocOperation;
}

/** Finds the documented operation a request hit (`null` when none: unknown paths and methods). */
export function matchOperation(document: Json, method: string, pathname: string): DocumentedOperation | null {
  const paths = document.paths as Record<string, Record<string, DocOperation>>;
  let best: { op: DocumentedOperation; params: number } | null = null;
  for (const [template, item] of Object.entries(paths)) {
    const operation = item[method.toLowerCase()];
    if (!operation) continue;
    const pattern = new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (!pattern.test(pathname)) continue;
    const params = (template.match(/\{/g) ?? []).length;
    // A literal segment beats a parameter (`/v1/account/delete/cancel` over a `{id}` sibling).
    if (!best || params < best.params) best = { op: { method, template, operation }, params };
  }
  return best?.op ?? null;
}

function mediaMatches(declared: string, actual: string): boolean {
  if (declared === 'application/octet-stream') return true; // any file type
  return declared === actual;
}

/**
 * Checks answers against the OpenAPI document the API serves, strictly: a status the operation
 * does not document, a content type it does not declare, or a JSON body that does not match
 * its schema (closed objects: no extra fields) is an error.
 */
export function createContractChecker(document: Json) {
  // Unoptimised code generation: compiling is the cost here (each schema is used a few times per file).
  const ajv = new Ajv2020({ strict: false, code: { optimize: false } });
  addFormats.default(ajv);
  const problem = (document.components as { schemas: Record<string, Json> }).schemas.Problem;
  const compiled = new Map<string, ValidateFunction>();
  const problemValidator = ajv.compile(problem as Json);
  const validatorFor = (key: string, schema: Json): ValidateFunction => {
    if (schema.$ref === '#/components/schemas/Problem') return problemValidator;
    let v = compiled.get(key);
    if (!v) {
      v = ajv.compile(schema);
      compiled.set(key, v);
    }
    return v;
  };

  return {
    /** Throws when the answer drifts from the document; returns the operation id it checked (or null). */
    check(answer: {
      method: string;
      path: string;
      status: number;
      contentType: string | null;
      text: string;
    }): string | null {
      const pathname = answer.path.split('?')[0]!;
      const hit = matchOperation(document, answer.method, pathname);
      if (!hit) return null;
      const where = `${answer.method} ${pathname} (${hit.operation.operationId}) → ${answer.status}`;
      const response = hit.operation.responses[String(answer.status)];
      if (!response) {
        throw new Error(`contract: ${where} is not a documented status\n${answer.text.slice(0, 500)}`);
      }
      if (!response.content) return hit.operation.operationId;
      const actual = (answer.contentType ?? '').split(';')[0]!.trim().toLowerCase();
      const declared = Object.keys(response.content).find((t) => mediaMatches(t, actual));
      if (!declared) {
        throw new Error(
          `contract: ${where} answered ${actual || 'no content type'}; documented: ${Object.keys(response.content).join(', ')}`,
        );
      }
      const schema = response.content[declared]?.schema;
      if (!schema || !declared.includes('json')) return hit.operation.operationId;
      let body: unknown;
      try {
        body = JSON.parse(answer.text);
      } catch {
        throw new Error(`contract: ${where} declared JSON but sent ${answer.text.slice(0, 200)}`);
      }
      const validate = validatorFor(`${hit.method} ${hit.template} ${answer.status} ${declared}`, schema);
      if (!validate(body)) {
        throw new Error(
          `contract: ${where} body drifts from its schema: ${ajv.errorsText(validate.errors)}\n${answer.text.slice(0, 800)}`,
        );
      }
      return hit.operation.operationId;
    },
  };
}

export type ContractChecker = ReturnType<typeof createContractChecker>;
