import { ApiKeyScope, CommandMeta } from '@wrenn/contracts';

/** Who is calling: the team everything is scoped to, and the actor recorded on events. */
export interface Caller {
  teamId: string;
  actor: CommandMeta['actor'];
  /** An API key's scope (absent for user tokens). */
  scope?: ApiKeyScope;
}
