export { WrennClient, WrennClientOptions, UploadSource } from './client';
export { WrennApiError } from './errors';
export { ExecSession, ExecStreamStart, ExecExit } from './exec-stream';
export { OPERATIONS, Operation, operationKey } from './operations';
export * from './types';
/** The wire's types as generated from the OpenAPI document (the gateway builds its answers from them too). */
export type { components as OpenApiComponents, paths as OpenApiPaths } from './openapi.gen';
