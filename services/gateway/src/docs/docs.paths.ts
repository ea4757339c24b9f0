import { dirname, join, resolve } from 'node:path';

/** The gateway package's root (this file runs from dist/docs/). */
const PACKAGE_ROOT = resolve(__dirname, '../..');

/** The hand-written OpenAPI 3.1 document; a test checks it against the routes. */
export const OPENAPI_FILE = join(PACKAGE_ROOT, 'openapi.yaml');

/** The test UI: static HTML and vanilla JS, no build step. */
export const TEST_UI_DIR = join(PACKAGE_ROOT, 'public/test');

/** Swagger UI's assets, from the installed package (no network at run time). */
export const SWAGGER_UI_DIR = dirname(require.resolve('swagger-ui-dist/package.json'));
