import { Naming } from '@wrenn/contracts';
import { Projection } from '@wrenn/eventlog';
import { auditProjection } from './audit.projection';
import { sandboxProjection } from './sandbox.projection';
import { templateProjection } from './template.projection';
import { usageProjection } from './usage.projection';

export * from './sandbox.projection';
export * from './template.projection';
export * from './audit.projection';
export * from './usage.projection';
export * from './usage.pricing';
export * from './usage.read';

/** Every read model the platform keeps; replay and the projector host iterate this list. */
export function allProjections(naming: Naming): Projection[] {
  return [sandboxProjection(naming), templateProjection(naming), auditProjection(naming), usageProjection(naming)];
}
