/**
 * Whether a database error is worth retrying: lost connections, serialization failures,
 * deadlocks, server shutdown and resource exhaustion. Everything else (constraint
 * violations, bad SQL, a projection's own bug) will fail the same way again.
 */
const TRANSIENT_SQLSTATE_CLASSES = ['08', '53', '57', '58'];
const TRANSIENT_SQLSTATES = ['40001', '40P01', '55P03'];
const TRANSIENT_NODE_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'];

export function isTransientDbError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown; driverError?: unknown };
  if (e?.driverError && e.driverError !== error && isTransientDbError(e.driverError)) return true;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (TRANSIENT_SQLSTATES.includes(code)) return true;
  if (code.length === 5 && TRANSIENT_SQLSTATE_CLASSES.includes(code.slice(0, 2))) return true;
  if (TRANSIENT_NODE_CODES.includes(code)) return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message);
}
