import type { QuotaLimits } from './quota.events';

/** Quota commands. The clock (`at`, epoch ms) and the limits in force ride inside: the decider stays pure. */
export type QuotaCommand =
  | { type: 'ReserveCreate'; sandboxId: string; vcpus: number; memoryMb: number; at: number; limits: QuotaLimits }
  | { type: 'ReserveResume'; sandboxId: string; vcpus: number; memoryMb: number; at: number; limits: QuotaLimits }
  | { type: 'ReservePause'; sandboxId: string; at: number; limits: QuotaLimits }
  | { type: 'SettlePause'; sandboxId: string; snapshotBytes: number }
  | { type: 'UndoPause'; sandboxId: string }
  | { type: 'UndoResume'; sandboxId: string }
  | { type: 'Release'; sandboxId: string; reason: string };
