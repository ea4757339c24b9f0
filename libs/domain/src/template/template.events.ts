/**
 * Template events, all version 1. Past tense; a published schema never
 * changes (a breaking change becomes a new version plus an upcaster).
 */
export const TemplateEventType = {
  Requested: 'template.requested',
  Created: 'template.created',
  Failed: 'template.failed',
  Deleted: 'template.deleted',
} as const;
export type TemplateEventType = (typeof TemplateEventType)[keyof typeof TemplateEventType];

export type TemplateEvent =
  | {
      type: typeof TemplateEventType.Requested;
      data: {
        templateId: string;
        teamId: string;
        name: string;
        /** The running sandbox frozen into the template. */
        sandboxId: string;
        /** The template's files live on this host only; sandboxes from it are placed there. */
        hostId: string;
        vcpus: number;
        memoryMb: number;
      };
    }
  | { type: typeof TemplateEventType.Created; data: { sizeBytes: number; elapsedMs: number } }
  | { type: typeof TemplateEventType.Failed; data: { reason: string } }
  | { type: typeof TemplateEventType.Deleted; data: Record<string, never> };

export const TEMPLATE_EVENT_TYPES: readonly TemplateEventType[] = Object.values(TemplateEventType);

export function isTemplateEventType(type: string): type is TemplateEventType {
  return (TEMPLATE_EVENT_TYPES as readonly string[]).includes(type);
}
