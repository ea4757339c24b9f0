import { ErrorCode } from '@wrenn/contracts';

/** The one place where error codes become HTTP statuses. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  validation_failed: 400,
  not_found: 404,
  sandbox_not_found: 404,
  template_not_found: 404,
  template_exists: 409,
  template_in_use: 409,
  unauthorized: 401,
  email_taken: 409,
  rate_limited: 429,
  invalid_state: 409,
  sandbox_exists: 409,
  concurrency_conflict: 409,
  no_host_available: 503,
  host_unavailable: 503,
  host_timeout: 504,
  host_operation_failed: 502,
  exec_timeout: 504,
  file_not_found: 404,
  permission_denied: 403,
  sandbox_unavailable: 502,
  insufficient_storage: 507,
  projection_lag: 504,
  service_unavailable: 503,
  internal: 500,
};
