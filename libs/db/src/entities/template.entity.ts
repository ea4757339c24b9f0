import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Read model: one row per template, projected from evt.template.* (never written by commands). */
@Entity({ name: 'templates' })
export class TemplateRow {
  @PrimaryColumn({ type: 'text' }) id!: string;
  @Column({ name: 'team_id', type: 'text' }) teamId!: string;
  @Column({ type: 'text' }) name!: string;
  /** creating | ready | failed | deleted */
  @Column({ type: 'text' }) state!: string;
  @Column({ name: 'source_sandbox_id', type: 'text' }) sourceSandboxId!: string;
  /** The only host that holds the template's files; sandboxes from it are placed there. */
  @Column({ name: 'host_id', type: 'text' }) hostId!: string;
  @Column({ type: 'int' }) vcpus!: number;
  @Column({ name: 'memory_mb', type: 'int' }) memoryMb!: number;
  @Column({ name: 'size_bytes', type: 'bigint', nullable: true }) sizeBytes!: string | null;
  @Column({ name: 'failure_reason', type: 'text', nullable: true }) failureReason!: string | null;
  @Column({ type: 'bigint' }) version!: string;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
