import { IsString, Matches, MaxLength } from 'class-validator';
import { TEMPLATE_NAME_RE } from '@wrenn/contracts';
import type { OpenApiComponents as components } from '@wrenn/sdk';

export const TEMPLATE_NAME_MESSAGE = 'name must be 1-63 lower-case ASCII letters, digits, "_" or "-", starting with a letter or digit';

/** `POST /v1/templates` (and its deprecated alias `POST /v1/snapshots`); the document's CreateTemplate. */
export class CreateTemplateDto {
  @IsString() @MaxLength(64)
  sandbox_id!: string;

  @IsString() @Matches(TEMPLATE_NAME_RE, { message: TEMPLATE_NAME_MESSAGE })
  name!: string;
}

/** A template as the API answers it (generated from the document's Template). */
export type TemplateView = components['schemas']['Template'];
export type TemplateListView = components['schemas']['TemplateList'];
export type DeprecatedSnapshotListView = components['schemas']['DeprecatedSnapshotList'];
