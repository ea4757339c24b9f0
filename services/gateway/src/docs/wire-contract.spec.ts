/**
 * The drift test of the wire contract. `openapi.yaml` is the single, reviewed description of the
 * REST API (why: see scripts/generate-api-types.mjs and the README's "The REST API"); this test
 * fails when anything else that describes the wire disagrees with it:
 *
 * - the generated types (the SDK's types and the gateway's views are names for them) are what
 *   the document generates now;
 * - each route's request body and query DTO (class-validator metadata: every validated property,
 *   whether it is required, its type, enum, bounds, pattern and default) is what the document
 *   says of that route's request body and query parameters, and a route without a body DTO
 *   documents no JSON body. That holds for E2B's API under /e2b as for Wrenn's own under /v1: the
 *   official `e2b` SDK is a client of the document like any other; where E2B's wire makes the
 *   gateway check a promise outside the DTO, CHECKED_BEYOND_THE_DTO says which and why.
 *
 * That the document lists exactly the routes the controllers serve is `openapi.spec.ts`; that the
 * SDK has a method for each operation and sends it is libs/sdk's `operations.spec.ts`.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { Allow, getMetadataStorage, IsInt, IsObject, IsString, Max, MaxLength } from 'class-validator';
import { parse } from 'yaml';
import { servedRoutes, ServedRoute } from '@wrenn/gateway-test-support';
import { OPENAPI_FILE } from './docs.paths';

type Schema = Record<string, unknown> & { $ref?: string; properties?: Record<string, Schema>; required?: string[]; items?: Schema; allOf?: Schema[] };
type Parameter = { name: string; in: string; required?: boolean; schema?: Schema; $ref?: string };
type Operation = { parameters?: Parameter[]; requestBody?: { required?: boolean; content?: Record<string, { schema: Schema }> }; deprecated?: boolean; responses: Record<string, { headers?: Record<string, unknown> }> };
type Class = new (...args: never[]) => object;

const GATEWAY_ROOT = resolve(__dirname, '../..');
const doc = parse(readFileSync(OPENAPI_FILE, 'utf8'));

function deref<T>(node: T & { $ref?: string }): T {
  if (!node?.$ref) return node;
  const target = node.$ref.slice(2).split('/').reduce<unknown>((n, part) => (n as Record<string, unknown>)[part], doc);
  return deref(target as T & { $ref?: string });
}

/** A schema with its `$ref`s and `allOf`s folded into one object schema. */
function flat(schema: Schema): Schema {
  const s = deref(schema);
  if (!s.allOf) return s;
  const parts = [s, ...s.allOf.map(flat)];
  return {
    ...Object.assign({}, ...parts.map(({ allOf: _a, properties: _p, required: _r, ...rest }) => rest)),
    properties: Object.assign({}, ...parts.map((p) => p.properties ?? {})),
    required: parts.flatMap((p) => p.required ?? []),
  };
}

function operationOf(route: ServedRoute): { item: { parameters?: Parameter[] }; op: Operation } | undefined {
  const item = doc.paths[route.path];
  const op = item?.[route.method.toLowerCase()];
  return op ? { item, op } : undefined;
}

/** What a DTO class validates, per property: required or not, its constraints, its default. */
interface DtoProperty {
  required: boolean;
  constraints: Array<{ name: string; args: unknown[]; each: boolean }>;
  default: unknown;
}

function describeDto(dto: Class): Map<string, DtoProperty> {
  const out = new Map<string, DtoProperty>();
  const defaults = new (dto as unknown as new () => Record<string, unknown>)();
  const metas = getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false);
  for (const m of metas) {
    const p = out.get(m.propertyName) ?? { required: true, constraints: [], default: defaults[m.propertyName] };
    // IsOptional and Omittable (ValidateIf) both let the property be left out.
    if (m.type === 'conditionalValidation') p.required = false;
    else if (m.name) p.constraints.push({ name: m.name, args: m.constraints ?? [], each: Boolean(m.each) });
    out.set(m.propertyName, p);
  }
  // A property only whitelisted (@Allow) is taken as sent, absence included: optional, unchecked.
  for (const p of out.values()) if (p.constraints.length === 0) p.required = false;
  return out;
}

/** Each class-validator constraint and what the document must say for it. */
function constraintProblems(where: string, schema: Schema, c: DtoProperty['constraints'][number]): string[] {
  const s = c.each ? flat(schema.items ?? {}) : schema;
  const expect = (key: string, value: unknown): string[] =>
    JSON.stringify(s[key]) === JSON.stringify(value) ? [] : [`${where}: the DTO's ${c.name}${c.each ? ' (each)' : ''} means ${key} ${JSON.stringify(value)}, the document says ${JSON.stringify(s[key])}`];
  switch (c.name) {
    case 'isString': return expect('type', 'string');
    case 'isInt': return expect('type', 'integer');
    case 'isBoolean': return expect('type', 'boolean');
    case 'isArray': return expect('type', 'array');
    case 'isObject': return expect('type', 'object');
    case 'isEmail': return expect('format', 'email');
    case 'isIso8601': return expect('format', 'date-time');
    case 'isIn': return JSON.stringify([...(c.args[0] as string[])].sort()) === JSON.stringify([...((s.enum as string[]) ?? [])].sort()) ? [] : [`${where}: the DTO allows ${JSON.stringify(c.args[0])}, the document's enum is ${JSON.stringify(s.enum)}`];
    case 'min': return expect('minimum', c.args[0]);
    case 'max': return expect('maximum', c.args[0]);
    case 'minLength': return expect('minLength', c.args[0]);
    case 'maxLength': return expect('maxLength', c.args[0]);
    case 'arrayMaxSize': return expect('maxItems', c.args[0]);
    case 'matches': return expect('pattern', (c.args[0] as RegExp).source);
    // Object-valued fields checked by a function of their own: the document says object.
    case 'isNetworkInput':
    case 'isEnvMap': return expect('type', 'object');
    default: return [`${where}: no rule maps the DTO's ${c.name} onto the document; add one here`];
  }
}

/** Schema keywords a DTO constraint can stand for, and the constraint that does. */
const KEYWORD_RULES: Array<[keyword: string, holds: (value: unknown) => boolean, constraint: string | string[]]> = [
  // Each of these refuses anything but a string.
  ['type', (v) => v === 'string', ['isString', 'isIso8601', 'isEmail', 'isIn']],
  ['type', (v) => v === 'integer', 'isInt'],
  ['type', (v) => v === 'boolean', 'isBoolean'],
  ['type', (v) => v === 'array', 'isArray'],
  ['type', (v) => v === 'object', ['isObject', 'isNetworkInput', 'isEnvMap']],
  ['enum', () => true, 'isIn'],
  ['minimum', () => true, 'min'],
  ['maximum', () => true, 'max'],
  ['minLength', () => true, 'minLength'],
  ['maxLength', () => true, 'maxLength'],
  ['maxItems', () => true, 'arrayMaxSize'],
  ['pattern', () => true, 'matches'],
  ['format', (v) => v === 'email', 'isEmail'],
  ['format', (v) => v === 'date-time', 'isIso8601'],
];

/**
 * What the document promises that a DTO does not check because the handler or service checks it
 * itself, with the reason; anything else the document promises the DTO must enforce.
 */
const CHECKED_BEYOND_THE_DTO = new Set([
  // The egress lists' entries and length are checked by networkPolicyFrom (a 400 naming the entry).
  'POST /v1/sandboxes body network',
  'PUT /v1/sandboxes/{id}/network body allow_out maxItems',
  'PUT /v1/sandboxes/{id}/network body deny_out maxItems',
  'PUT /v1/sandboxes/{id}/network body allow_out items',
  'PUT /v1/sandboxes/{id}/network body deny_out items',
  // `after` and Last-Event-ID are one rule, applied by the controller to whichever came.
  'GET /v1/events query after pattern',
  // E2B's egress lists carry Wrenn's entries (CIDRs, hosts) and E2B's `allTraffic` sentinel:
  // e2b.mapper turns the sentinel into allow_internet_access, then networkPolicyFrom checks each
  // entry as on /v1 (a 400 naming it), which an `each` constraint would pre-empt with a vaguer one.
  'PUT /e2b/sandboxes/{sandboxID}/network body allowOut items',
  'PUT /e2b/sandboxes/{sandboxID}/network body denyOut items',
  // E2B's SDK sends an egress proxy as an object; Wrenn has none, so e2b.mapper refuses the field
  // whatever it holds, with that reason, instead of the DTO refusing only the wrong shapes.
  'PUT /e2b/sandboxes/{sandboxID}/network body egressProxy type',
]);

/** Promises of the document about one property that its DTO constraints do not keep. */
function unkeptPromises(at: string, schema: Schema, constraints: DtoProperty['constraints']): string[] {
  const problems: string[] = [];
  const check = (s: Schema, each: boolean, label: string) => {
    for (const [keyword, holds, constraint] of KEYWORD_RULES) {
      if (s[keyword] === undefined || !holds(s[keyword])) continue;
      if (CHECKED_BEYOND_THE_DTO.has(`${label} ${keyword}`)) continue;
      const names = [constraint].flat();
      if (!constraints.some((c) => names.includes(c.name) && c.each === each)) problems.push(`${label}: the document says ${keyword} ${JSON.stringify(s[keyword])}, the DTO does not check it (${names.join(' or ')}${each ? ' each' : ''})`);
    }
  };
  if (CHECKED_BEYOND_THE_DTO.has(at)) return [];
  check(schema, false, at);
  if (schema.type === 'array' && schema.items && !CHECKED_BEYOND_THE_DTO.has(`${at} items`)) check(flat(schema.items), true, `${at} items`);
  return problems;
}

/** Disagreements between a DTO and the document's properties (a body's, or the query parameters as one object). */
function dtoProblems(where: string, dto: Class, documented: Map<string, { required: boolean; schema: Schema }>): string[] {
  const problems: string[] = [];
  const props = describeDto(dto);
  for (const name of props.keys()) if (!documented.has(name)) problems.push(`${where}: ${dto.name}.${name} is validated but not documented`);
  for (const name of documented.keys()) if (!props.has(name)) problems.push(`${where}: ${name} is documented but ${dto.name} does not take it (the gateway refuses it)`);
  for (const [name, p] of props) {
    const d = documented.get(name);
    if (!d) continue;
    const at = `${where} ${name}`;
    if (p.required !== d.required) problems.push(`${at}: ${p.required ? 'required' : 'optional'} in ${dto.name}, ${d.required ? 'required' : 'optional'} in the document`);
    const schema = flat(d.schema);
    if (!CHECKED_BEYOND_THE_DTO.has(at)) for (const c of p.constraints) problems.push(...constraintProblems(at, schema, c));
    problems.push(...unkeptPromises(at, schema, p.constraints));
    if (p.default !== undefined && JSON.stringify(p.default) !== JSON.stringify(schema.default)) problems.push(`${at}: ${dto.name} defaults to ${JSON.stringify(p.default)}, the document to ${JSON.stringify(schema.default)}`);
  }
  return problems;
}

/** The DTO classes a handler validates: its whole-body and whole-query parameters. */
function handlerDtos(route: ServedRoute): { body?: Class; query?: Class } {
  const args: Record<string, { index: number; data?: unknown }> = Reflect.getMetadata(ROUTE_ARGS_METADATA, route.controller, route.handler) ?? {};
  const types: unknown[] = Reflect.getMetadata('design:paramtypes', route.controller.prototype, route.handler) ?? [];
  const out: { body?: Class; query?: Class } = {};
  for (const [key, arg] of Object.entries(args)) {
    const kind = Number(key.split(':')[0]);
    if (arg.data !== undefined) continue;
    if (kind === RouteParamtypes.BODY) out.body = types[arg.index] as Class;
    if (kind === RouteParamtypes.QUERY) out.query = types[arg.index] as Class;
  }
  return out;
}

function wireProblems(route: ServedRoute): string[] {
  const found = operationOf(route);
  if (!found) return [`${route.key}: not documented`];
  const { item, op } = found;
  const { body, query } = handlerDtos(route);
  const problems: string[] = [];

  const requestBody = op.requestBody && deref(op.requestBody as NonNullable<Operation['requestBody']> & { $ref?: string });
  const json = requestBody?.content?.['application/json'];
  if (body && !json) problems.push(`${route.key}: takes a JSON body (${body.name}) the document does not describe`);
  if (!body && json) problems.push(`${route.key}: the document describes a JSON body the handler does not read`);
  if (body && json) {
    const schema = flat(json.schema);
    if (schema.additionalProperties !== false) problems.push(`${route.key}: the gateway refuses unknown body fields; the document must say additionalProperties: false`);
    const documented = new Map(Object.entries(schema.properties ?? {}).map(([name, s]) => [name, { required: (schema.required ?? []).includes(name), schema: s }]));
    problems.push(...dtoProblems(`${route.key} body`, body, documented));
    const anyRequired = [...describeDto(body).values()].some((p) => p.required);
    if (Boolean(requestBody?.required) !== anyRequired) problems.push(`${route.key}: requestBody.required is ${Boolean(requestBody?.required)}, but ${body.name} ${anyRequired ? 'has' : 'has no'} required field`);
  }

  const queryParams = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => deref(p)).filter((p) => p.in === 'query');
  if (query) {
    const documented = new Map(queryParams.map((p) => [p.name, { required: Boolean(p.required), schema: p.schema ?? {} }]));
    problems.push(...dtoProblems(`${route.key} query`, query, documented));
  } else if (queryParams.length) {
    problems.push(`${route.key}: documents query parameters ${queryParams.map((p) => p.name).join(', ')} that no query DTO validates`);
  }
  return problems;
}

/** Wrenn's own API. */
const V1 = (r: ServedRoute) => r.path.startsWith('/v1/');
/** E2B's API, which the official `e2b` SDK drives (docs/e2b-compat.md). */
const E2B = (r: ServedRoute) => r.path.startsWith('/e2b/');

describe('the wire contract: openapi.yaml against the gateway and the SDK', () => {
  const routes = servedRoutes();

  it('the generated types (SDK types, gateway views) are what the document generates now', () => {
    const run = spawnSync(process.execPath, [join(GATEWAY_ROOT, 'scripts/generate-api-types.mjs'), '--check'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr || run.stdout);
  });

  it('every /v1 route validates exactly the request body and query parameters the document describes', () => {
    const v1 = routes.filter(V1);
    assert.ok(v1.length >= 30, `found ${v1.length} /v1 routes`);
    assert.ok(v1.filter((r) => handlerDtos(r).body).length >= 8, 'body DTOs are found');
    assert.ok(v1.filter((r) => handlerDtos(r).query).length >= 6, 'query DTOs are found');
    assert.deepEqual(v1.flatMap(wireProblems), []);
  });

  it('every /e2b route validates exactly the request body and query parameters the document describes', () => {
    const e2b = routes.filter(E2B);
    assert.ok(e2b.length >= 13, `found ${e2b.length} /e2b routes`);
    assert.ok(e2b.filter((r) => handlerDtos(r).body).length >= 8, 'body DTOs are found');
    assert.ok(e2b.filter((r) => handlerDtos(r).query).length >= 3, 'query DTOs are found');
    assert.deepEqual(e2b.flatMap(wireProblems), []);
  });

  it('every exception names a promise the document makes', () => {
    // A stale exception would hide a future disagreement at the same place.
    const promised = new Set<string>();
    for (const route of routes.filter((r) => V1(r) || E2B(r))) {
      const found = operationOf(route);
      if (!found) continue;
      const body = found.op.requestBody && deref(found.op.requestBody as NonNullable<Operation['requestBody']> & { $ref?: string });
      const schema = body?.content?.['application/json'] && flat(body.content['application/json'].schema);
      const query = [...(found.item.parameters ?? []), ...(found.op.parameters ?? [])].map((p) => deref(p)).filter((p) => p.in === 'query');
      const places: Array<[string, Schema]> = [
        ...Object.entries(schema?.properties ?? {}).map(([n, s]) => [`${route.key} body ${n}`, flat(s)] as [string, Schema]),
        ...query.map((p) => [`${route.key} query ${p.name}`, flat(p.schema ?? {})] as [string, Schema]),
      ];
      for (const [at, s] of places) {
        promised.add(at);
        for (const k of Object.keys(s)) promised.add(`${at} ${k}`);
        if (s.items) {
          promised.add(`${at} items`);
          for (const k of Object.keys(flat(s.items))) promised.add(`${at} items ${k}`);
        }
      }
    }
    assert.deepEqual([...CHECKED_BEYOND_THE_DTO].filter((e) => !promised.has(e)), []);
  });

  it('finds a disagreement when there is one', () => {
    // The comparison itself, on a DTO and a schema that differ in each way it looks at.
    class Sample {}
    IsInt()(Sample.prototype, 'count');
    Max(10)(Sample.prototype, 'count');
    IsString()(Sample.prototype, 'name');
    MaxLength(5)(Sample.prototype, 'name');
    // E2B's style: a field only whitelisted is optional; an object-valued one says type object.
    Allow()(Sample.prototype, 'passed');
    IsObject()(Sample.prototype, 'map');
    const problems = dtoProblems('sample', Sample, new Map([
      ['count', { required: true, schema: { type: 'integer', maximum: 11 } }],
      ['name', { required: false, schema: { type: 'string', maxLength: 5 } }],
      ['extra', { required: false, schema: { type: 'string' } }],
      ['passed', { required: true, schema: { type: 'object' } }],
      ['map', { required: true, schema: { type: 'string' } }],
    ]));
    assert.deepEqual(problems, [
      'sample: extra is documented but Sample does not take it (the gateway refuses it)',
      'sample count: the DTO\'s max means maximum 10, the document says 11',
      'sample name: required in Sample, optional in the document',
      'sample passed: optional in Sample, required in the document',
      'sample passed: the document says type "object", the DTO does not check it (isObject or isNetworkInput or isEnvMap)',
      'sample map: the DTO\'s isObject means type "object", the document says "string"',
      'sample map: the document says type "string", the DTO does not check it (isString or isIso8601 or isEmail or isIn)',
    ]);
  });

  it('marks the /v1/snapshots aliases deprecated, with the Deprecation and Link headers on their answers, and nothing else', () => {
    const deprecated: string[] = [];
    for (const [path, item] of Object.entries<Record<string, Operation>>(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!op?.deprecated) continue;
        deprecated.push(`${method.toUpperCase()} ${path}`);
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) >= 300) continue;
          assert.deepEqual(Object.keys(response.headers ?? {}).sort(), ['Deprecation', 'Link'], `${method} ${path} ${status}`);
        }
      }
    }
    assert.deepEqual(deprecated.sort(), ['DELETE /v1/snapshots/{name}', 'GET /v1/snapshots', 'POST /v1/snapshots']);
  });

  it('keeps the names apart: a sandbox\'s saved state is its snapshot_*, a template has no snapshot field, no path but the deprecated ones says snapshot', () => {
    const schemas = doc.components.schemas;
    assert.deepEqual(Object.keys(schemas.Sandbox.properties).filter((k) => k.includes('snapshot')), ['snapshot_ref', 'snapshot_size_bytes']);
    assert.deepEqual(Object.keys(schemas.Template.properties).filter((k) => k.includes('snapshot')), []);
    assert.deepEqual(Object.keys(schemas).filter((k) => /snapshot/i.test(k)), ['DeprecatedSnapshotList']);
    for (const [path, item] of Object.entries<Record<string, Operation>>(doc.paths)) {
      if (!path.includes('snapshot')) continue;
      for (const op of Object.values(item)) if (op && typeof op === 'object' && 'responses' in op) assert.equal(op.deprecated, true, path);
    }
  });
});
