import { IsString, Matches, MaxLength } from 'class-validator';
import { TEMPLATE_NAME_RE } from '@wrenn/contracts';

export const TEMPLATE_NAME_MESSAGE = 'name must be 1-63 lower-case ASCII letters, digits, "_" or "-", starting with a letter or digit';

export class CreateSnapshotDto {
  @IsString() @MaxLength(64)
  sandbox_id!: string;

  @IsString() @Matches(TEMPLATE_NAME_RE, { message: TEMPLATE_NAME_MESSAGE })
  name!: string;
}

export interface SnapshotView {
  id: string;
  name: string;
  state: string;
  sandbox_id: string;
  host_id: string;
  /** Sandboxes from the template get exactly these. */
  vcpus: number;
  memory_mb: number;
  size_bytes: number | null;
  created_at: string;
}
