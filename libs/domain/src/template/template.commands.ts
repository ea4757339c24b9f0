/** Commands on the Template aggregate; facts from the world (the sandbox's host and size) ride inside. */
export const TemplateCommandType = {
  RequestTemplate: 'RequestTemplate',
  MarkTemplateCreated: 'MarkTemplateCreated',
  MarkTemplateFailed: 'MarkTemplateFailed',
  DeleteTemplate: 'DeleteTemplate',
} as const;
export type TemplateCommandType = (typeof TemplateCommandType)[keyof typeof TemplateCommandType];

export type TemplateCommand =
  | {
      type: typeof TemplateCommandType.RequestTemplate;
      templateId: string;
      teamId: string;
      name: string;
      sandboxId: string;
      hostId: string;
      vcpus: number;
      memoryMb: number;
    }
  | { type: typeof TemplateCommandType.MarkTemplateCreated; sizeBytes: number; elapsedMs: number }
  | { type: typeof TemplateCommandType.MarkTemplateFailed; reason: string }
  | { type: typeof TemplateCommandType.DeleteTemplate };

export const TEMPLATE_COMMAND_TYPES: readonly TemplateCommandType[] = Object.values(TemplateCommandType);
