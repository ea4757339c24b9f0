import { BUILT_IN_TEMPLATES, ErrorCode, isTemplateId, isTemplateName, WrennError } from '@wrenn/contracts';
import { assertNever, Decider } from '../decider';
import { TemplateCommand, TemplateCommandType } from './template.commands';
import { TemplateEvent, TemplateEventType } from './template.events';
import { evolveTemplate, initialTemplateState, TemplateState, TemplateStatus } from './template.state';

type From = TemplateState['status'];

/** For each command, the states it may be applied in; anything else is 409 invalid_state. */
export const TEMPLATE_ALLOWED_FROM: Readonly<Record<TemplateCommandType, readonly From[]>> = {
  RequestTemplate: ['initial'],
  MarkTemplateCreated: [TemplateStatus.Creating],
  MarkTemplateFailed: [TemplateStatus.Creating],
  // A failed template is deleted to free its name; a creating one must settle first.
  DeleteTemplate: [TemplateStatus.Ready, TemplateStatus.Failed],
};

function guard(command: TemplateCommand, state: TemplateState): void {
  if (TEMPLATE_ALLOWED_FROM[command.type].includes(state.status)) return;
  if (state.status === 'initial' || state.status === TemplateStatus.Deleted) {
    throw new WrennError(ErrorCode.TemplateNotFound, 'template does not exist', { command: command.type });
  }
  if (command.type === TemplateCommandType.RequestTemplate) {
    throw new WrennError(ErrorCode.TemplateExists, `template ${state.templateId} already exists`);
  }
  throw new WrennError(ErrorCode.InvalidState, `cannot ${command.type} a template that is ${state.status}`, {
    state: state.status,
    command: command.type,
  });
}

function decide(command: TemplateCommand, state: TemplateState): TemplateEvent[] {
  guard(command, state);
  switch (command.type) {
    case TemplateCommandType.RequestTemplate:
      // The API checks names first; the decider refuses again so no path to the log skips it.
      if (!isTemplateName(command.name)) {
        throw new WrennError(ErrorCode.ValidationFailed, 'template name must be 1-63 lower-case letters, digits, "_" or "-"');
      }
      if (BUILT_IN_TEMPLATES.includes(command.name)) {
        throw new WrennError(ErrorCode.TemplateExists, `"${command.name}" is a built-in template`);
      }
      if (!isTemplateId(command.templateId)) throw new WrennError(ErrorCode.ValidationFailed, 'malformed template id');
      return [
        {
          type: TemplateEventType.Requested,
          data: {
            templateId: command.templateId,
            teamId: command.teamId,
            name: command.name,
            sandboxId: command.sandboxId,
            hostId: command.hostId,
            vcpus: command.vcpus,
            memoryMb: command.memoryMb,
          },
        },
      ];
    case TemplateCommandType.MarkTemplateCreated:
      return [{ type: TemplateEventType.Created, data: { sizeBytes: command.sizeBytes, elapsedMs: command.elapsedMs } }];
    case TemplateCommandType.MarkTemplateFailed:
      return [{ type: TemplateEventType.Failed, data: { reason: command.reason } }];
    case TemplateCommandType.DeleteTemplate:
      return [{ type: TemplateEventType.Deleted, data: {} }];
    default:
      return assertNever(command);
  }
}

export const templateDecider: Decider<TemplateCommand, TemplateEvent, TemplateState> = {
  initialState: initialTemplateState,
  decide,
  evolve: evolveTemplate,
};
