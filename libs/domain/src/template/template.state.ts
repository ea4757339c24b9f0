import { assertNever } from '../decider';
import { TemplateEvent, TemplateEventType } from './template.events';

export const TemplateStatus = {
  Creating: 'creating',
  Ready: 'ready',
  Failed: 'failed',
  Deleted: 'deleted',
} as const;
export type TemplateStatus = (typeof TemplateStatus)[keyof typeof TemplateStatus];
export const TEMPLATE_STATUSES: readonly TemplateStatus[] = Object.values(TemplateStatus);

export type TemplateState =
  | { status: 'initial' }
  | {
      status: TemplateStatus;
      templateId: string;
      teamId: string;
      name: string;
      sandboxId: string;
      hostId: string;
      vcpus: number;
      memoryMb: number;
      sizeBytes: number | null;
      failureReason: string | null;
    };

export type ExistingTemplate = Exclude<TemplateState, { status: 'initial' }>;

export function initialTemplateState(): TemplateState {
  return { status: 'initial' };
}

export function evolveTemplate(state: TemplateState, event: TemplateEvent): TemplateState {
  if (event.type === TemplateEventType.Requested) {
    return { status: TemplateStatus.Creating, ...event.data, sizeBytes: null, failureReason: null };
  }
  if (state.status === 'initial') throw new Error(`${event.type} before template.requested`);
  switch (event.type) {
    case TemplateEventType.Created:
      return { ...state, status: TemplateStatus.Ready, sizeBytes: event.data.sizeBytes };
    case TemplateEventType.Failed:
      return { ...state, status: TemplateStatus.Failed, failureReason: event.data.reason };
    case TemplateEventType.Deleted:
      return { ...state, status: TemplateStatus.Deleted };
    default:
      return assertNever(event);
  }
}
