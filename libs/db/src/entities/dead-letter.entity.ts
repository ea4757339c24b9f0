import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** An event a projection could not apply, parked with the reason instead of blocking the stream. */
@Entity({ name: 'dead_letters' })
export class DeadLetter {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ type: 'text' }) projection!: string;
  @Column({ name: 'stream_seq', type: 'bigint' }) streamSeq!: string;
  @Column({ type: 'text' }) subject!: string;
  @Column({ name: 'event_type', type: 'text', nullable: true }) eventType!: string | null;
  @Column({ name: 'event_id', type: 'text', nullable: true }) eventId!: string | null;
  @Column({ type: 'text' }) reason!: string;
  @Column({ type: 'text' }) payload!: string;
  @Column({ type: 'jsonb' }) headers!: Record<string, string[]>;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
