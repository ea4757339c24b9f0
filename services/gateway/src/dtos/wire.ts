import type { OpenApiPaths as paths } from '@wrenn/sdk';

/**
 * The JSON answer the document gives a route, e.g. `JsonAnswer<'/v1/sandboxes', 'get'>`: a
 * controller that declares it cannot answer a shape the document does not describe.
 */
export type JsonAnswer<P extends keyof paths, M extends keyof paths[P], S extends number = 200> =
  paths[P][M] extends { responses: infer R } ? (S extends keyof R ? (R[S] extends { content: { 'application/json': infer T } } ? T : never) : never) : never;
