import { Naming } from '@wrenn/contracts';
import { Projection } from '@wrenn/eventlog';
import { sandboxProjection } from './sandbox.projection';
import { templateProjection } from './template.projection';

export * from './sandbox.projection';
export * from './template.projection';

/** Every read model the platform keeps; replay and the projector host iterate this list. */
export function allProjections(naming: Naming): Projection[] {
  return [sandboxProjection(naming), templateProjection(naming)];
}
