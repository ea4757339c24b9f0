import Ajv, { ValidateFunction } from 'ajv';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';

/** The repo root, from where this file runs: services/host-agent/test-support/dist. */
export const REPO_ROOT = resolve(__dirname, '../../../..');
export const FIRECRACKER_SPEC_PATH = resolve(REPO_ROOT, '../shared/fixtures/firecracker/firecracker-v1.16.1.yaml');

/**
 * Why the Firecracker contract suites can't run in this checkout, or false. The pinned API spec
 * is data that sits beside the repository (the project's shared fixtures), not in it: a clone
 * without it skips those suites, saying so, instead of failing them.
 */
export const SPEC_MISSING: string | false = !existsSync(FIRECRACKER_SPEC_PATH) && `the pinned Firecracker API spec is not at ${FIRECRACKER_SPEC_PATH} (the project's shared fixtures, beside the repository)`;

interface SwaggerParameter {
  name: string;
  in: 'body' | 'path' | 'query';
  required?: boolean;
  schema?: { $ref?: string };
}
interface SwaggerOperation {
  operationId: string;
  parameters?: SwaggerParameter[];
}
interface SwaggerDoc {
  swagger: string;
  paths: Record<string, Record<string, SwaggerOperation>>;
  definitions: Record<string, Record<string, unknown>>;
}

/**
 * Firecracker's pinned Swagger 2.0 spec as a request validator: a method + path must be an
 * operation of the spec, and its body must match the operation's body schema. Object
 * definitions are closed (no unknown fields), as Firecracker's own deserializer refuses them.
 */
export class FirecrackerSpec {
  readonly doc: SwaggerDoc;
  private readonly routes: Array<{ method: string; template: string; pattern: RegExp; operation: SwaggerOperation; validate?: ValidateFunction }> = [];

  constructor(specPath = FIRECRACKER_SPEC_PATH) {
    this.doc = parse(readFileSync(specPath, 'utf8')) as SwaggerDoc;
    if (this.doc.swagger !== '2.0') throw new Error(`${specPath} is not a Swagger 2.0 document`);
    const definitions = closeObjects(this.doc.definitions);
    const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
    ajv.addSchema({ $id: 'firecracker', definitions }, 'firecracker');
    for (const [template, methods] of Object.entries(this.doc.paths)) {
      const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      for (const [method, operation] of Object.entries(methods)) {
        const bodyParam = operation.parameters?.find((p) => p.in === 'body');
        const ref = bodyParam?.schema?.$ref;
        const validate = ref ? ajv.compile({ $ref: `firecracker${ref}` }) : undefined;
        this.routes.push({ method: method.toUpperCase(), template, pattern, operation, validate });
      }
    }
  }

  /** The operation a request maps to, or why it maps to none / why its body is refused. */
  check(method: string, path: string, body: unknown): { operationId: string; template: string } | { error: string } {
    const route = this.routes.find((r) => r.method === method && r.pattern.test(path));
    if (!route) return { error: `Invalid request method and/or path: ${method} ${path}` };
    const bodyParam = route.operation.parameters?.find((p) => p.in === 'body');
    if (bodyParam) {
      if (body === undefined) {
        if (bodyParam.required) return { error: `${route.operation.operationId}: the request body is required` };
      } else if (route.validate && !route.validate(body)) {
        const why = (route.validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
        return { error: `${route.operation.operationId}: ${why.join('; ')}` };
      }
    }
    return { operationId: route.operation.operationId, template: route.template };
  }
}

/** Copies definitions, adding additionalProperties: false to every object schema with properties. */
function closeObjects<T>(value: T): T {
  if (Array.isArray(value)) return value.map(closeObjects) as T;
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = closeObjects(v);
  if (out.type === 'object' && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out as T;
}
