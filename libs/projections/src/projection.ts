import { EntityManager } from 'typeorm';
import { StoredEvent } from '@wrenn/eventlog';

/**
 * A read model fed by the log. `apply` runs inside the runner's transaction and must derive
 * everything from the event (never now(), never random), so a replay rebuilds identical rows.
 */
export interface Projection {
  readonly name: string;
  /** A single subject filter (JetStream 2.9 consumers take one), e.g. evt.sandbox.* */
  readonly filterSubject: string;
  /** Tables this projection owns; replay truncates them before rebuilding. */
  readonly tables: readonly string[];
  apply(event: StoredEvent, tx: EntityManager): Promise<void>;
  /**
   * Applies a run of events (stream order) with a few set-based statements instead of a round
   * trip per event. Must leave exactly the rows that `apply` one event at a time would, and
   * throw if any event of the run cannot be applied: the runner then falls back to `apply` per
   * event to park the culprit alone.
   */
  applyBatch?(events: StoredEvent[], tx: EntityManager): Promise<void>;
}
