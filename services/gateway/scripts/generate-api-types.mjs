#!/usr/bin/env node
/**
 * One wire contract. `services/gateway/openapi.yaml` is the single, reviewed description of the
 * REST API; nothing else is written by hand about the shapes on the wire:
 *
 * - the TypeScript types of every request and answer are generated from it by openapi-typescript
 *   into one committed file in the SDK (`libs/sdk/src/openapi.gen.ts`, so the published package
 *   stands alone), which the gateway imports as types (`OpenApiComponents`, `OpenApiPaths`).
 *   The SDK's types and the gateway's views are names for these, so an answer the gateway builds
 *   differently from the document fails the TypeScript build;
 * - the gateway's request DTOs stay class-validator classes (they are what validates), and the
 *   drift test (`src/docs/wire-contract.spec.ts`) compares their validation metadata with the
 *   document's request bodies and query parameters, route by route.
 *
 * Why the document and not the code: it is the one description the outside reads (Swagger UI,
 * E2B-style clients, other languages), reviewing a change to the API is reviewing a diff of it,
 * and the gateway's validation cannot be generated from TypeScript types anyway.
 *
 * `node scripts/generate-api-types.mjs` rewrites the file; `--check` only says whether they are
 * current (the drift test runs it).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';

const GATEWAY = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(GATEWAY, '../..');
const DOCUMENT = join(GATEWAY, 'openapi.yaml');
const TARGETS = [join(REPO, 'libs/sdk/src/openapi.gen.ts')];

const HEADER = `/**
 * Generated from services/gateway/openapi.yaml by services/gateway/scripts/generate-api-types.mjs
 * (openapi-typescript). Do not edit: change the document and run
 * \`npm run generate:api -w @wrenn/gateway\`.
 */

`;

async function render() {
  const ast = await openapiTS(pathToFileURL(DOCUMENT), { alphabetize: false, defaultNonNullable: false });
  return HEADER + astToString(ast);
}

const expected = await render();
const check = process.argv.includes('--check');
const stale = [];
for (const target of TARGETS) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current === expected) continue;
  stale.push(relative(REPO, target));
  if (!check) await writeFile(target, expected);
}
if (check && stale.length) {
  process.stderr.write(`stale (run npm run generate:api -w @wrenn/gateway): ${stale.join(', ')}\n`);
  process.exit(1);
}
if (!check) process.stdout.write(stale.length ? `wrote ${stale.join(', ')}\n` : 'up to date\n');
