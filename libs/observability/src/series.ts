/**
 * Every series Wrenn defines, named once. The Grafana dashboard (deploy/grafana/wrenn.json) may
 * only query these and prom-client's default process series; a unit test holds it to that.
 */
export const Series = {
  /** Gateway: REST request latency by method, route template and status. */
  HttpRequestDuration: 'wrenn_http_request_duration_seconds',
  /** Sandboxes by state, counted in the sandboxes read model at scrape time. */
  Sandboxes: 'wrenn_sandboxes',
  /** Scheduler: a create from the command to running (or failed), by result. */
  SandboxCreateDuration: 'wrenn_sandbox_create_duration_seconds',
  /** Scheduler: a resume from the command to running (or failed), by result. */
  SandboxResumeDuration: 'wrenn_sandbox_resume_duration_seconds',
  /** Host agent: its own part of a create / resume, by host and result. */
  HostCreateDuration: 'wrenn_host_sandbox_create_duration_seconds',
  HostClaimDuration: 'wrenn_host_sandbox_claim_duration_seconds',
  HostResumeDuration: 'wrenn_host_sandbox_resume_duration_seconds',
  /** Host agent: its own part of a destroy, by host and result. */
  HostDestroyDuration: 'wrenn_host_sandbox_destroy_duration_seconds',
  /** Host agent: one step of a sandbox's start, teardown or save (sandbox/lifecycle.ts, save.ts), by phase, step and result. */
  HostStepDuration: 'wrenn_host_sandbox_step_duration_seconds',
  /** A command's round trip from its sender to the service that handles it and back, by service, command and result. */
  CommandDuration: 'wrenn_command_duration_seconds',
  /** Appending decided events to the log (one JetStream publish per event), by aggregate and result. */
  EventAppendDuration: 'wrenn_event_append_duration_seconds',
  /** Gateway: waiting for a read model to commit a command's last event before answering, by projection and result. */
  ReadModelWait: 'wrenn_read_model_wait_seconds',
  /** Log sequences from a projection's checkpoint to the newest event of its subjects (0 = caught up). */
  ProjectionLag: 'wrenn_projection_lag_events',
  /** Reconnects of each NATS connection of the process. */
  NatsReconnects: 'wrenn_nats_reconnects_total',
  /** Host agent resources, by host and state. */
  HostNetworkSlots: 'wrenn_host_network_slots',
  HostDiskBytes: 'wrenn_host_disk_bytes',
  HostMemoryBytes: 'wrenn_host_memory_bytes',
  HostSandboxes: 'wrenn_host_sandboxes',
  /** A scrape-time collector that failed (its series are left out of that scrape). */
  CollectFailures: 'wrenn_metric_collect_failures_total',
} as const;
export type SeriesName = (typeof Series)[keyof typeof Series];
