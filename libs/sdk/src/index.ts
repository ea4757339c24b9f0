export { WrennClient, WrennClientOptions, UploadSource } from './client';
export { WrennApiError } from './errors';
export { ExecSession, ExecStreamStart, ExecExit } from './exec-stream';
export { OPERATIONS, Operation, operationKey } from './operations';
export * from './types';
