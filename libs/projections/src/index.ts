import { Naming } from '@wrenn/contracts';
import { Projection } from './projection';
import { auditProjection } from './audit.projection';
import { sandboxProjection } from './sandbox.projection';
import { templateProjection } from './template.projection';
import { usageProjection } from './usage.projection';

export * from './projection';
export * from './runner/apply';
export * from './runner/projection-runner';
export * from './runner/rebuild';
export * from './runner/scratch-replay';
export * from './runner/table-diff';
export * from './sandbox.projection';
export * from './template.projection';
export * from './audit.projection';
export * from './usage.projection';
export * from './usage.pricing';
export * from './usage.read';

/** Every read model the platform keeps; the projector and replay iterate this list. */
export function allProjections(naming: Naming): Projection[] {
  return [sandboxProjection(naming), templateProjection(naming), auditProjection(naming), usageProjection(naming)];
}
