import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Read model: one row per sandbox, projected from evt.sandbox.* (never written by commands). */
@Entity({ name: 'sandboxes' })
export class SandboxRow {
  @PrimaryColumn({ type: 'text' }) id!: string;
  @Column({ name: 'team_id', type: 'text' }) teamId!: string;
  @Column({ type: 'text' }) state!: string;
  @Column({ type: 'text' }) template!: string;
  @Column({ type: 'int' }) vcpus!: number;
  @Column({ name: 'memory_mb', type: 'int' }) memoryMb!: number;
  @Column({ name: 'timeout_sec', type: 'int' }) timeoutSec!: number;
  @Column({ name: 'host_id', type: 'text', nullable: true }) hostId!: string | null;
  /** Boot of the host agent the sandbox's current host operation went to. */
  @Column({ name: 'boot_id', type: 'text', nullable: true }) bootId!: string | null;
  @Column({ name: 'failure_reason', type: 'text', nullable: true }) failureReason!: string | null;
  @Column({ name: 'snapshot_ref', type: 'text', nullable: true }) snapshotRef!: string | null;
  /** Disk the pause snapshot occupies (bytes), while paused; for storage billing. */
  @Column({ name: 'snapshot_size_bytes', type: 'bigint', nullable: true }) snapshotSizeBytes!: string | null;
  /** Snapshot template the sandbox started from; null for built-in images. */
  @Column({ name: 'template_id', type: 'text', nullable: true }) templateId!: string | null;
  /** Egress policy ({allowOut, denyOut, allowInternetAccess}); null = the defaults. */
  @Column({ type: 'jsonb', nullable: true }) network!: { allowOut: string[]; denyOut: string[]; allowInternetAccess: boolean } | null;
  /** Stream sequence of the last event applied to this row. */
  @Column({ type: 'bigint' }) version!: string;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
