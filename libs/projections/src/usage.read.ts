import { UsageTotals } from './usage.pricing';

/** Anything that runs SQL: a DataSource, an EntityManager. */
export interface SqlRunner {
  query(sql: string, params?: unknown[]): Promise<any>;
}

/**
 * Sums a team's usage intervals over [fromMs, toMs): each interval is clipped to the window, and
 * one still open counts up to `openUntilMs` (the caller passes min(to, now): the only place a
 * clock enters billing). Arithmetic is in numeric, so no product overflows or rounds.
 */
export async function readUsageTotals(
  db: SqlRunner,
  teamId: string,
  window: { fromMs: number; toMs: number; openUntilMs: number },
): Promise<UsageTotals> {
  const rows: Array<{ vcpu_ms: string; memory_mib_ms: string; storage_byte_ms: string }> = await db.query(
    `WITH clipped AS (
       SELECT kind, vcpus, memory_mb, size_bytes,
              greatest(0, least(coalesce(end_ms, $4::bigint), $3::bigint) - greatest(start_ms, $2::bigint))::numeric AS ms
       FROM usage_intervals
       WHERE team_id = $1 AND start_ms < $3::bigint AND (end_ms IS NULL OR end_ms > $2::bigint)
     )
     SELECT coalesce(sum(ms * vcpus) FILTER (WHERE kind = 'compute'), 0)::text AS vcpu_ms,
            coalesce(sum(ms * memory_mb) FILTER (WHERE kind = 'compute'), 0)::text AS memory_mib_ms,
            coalesce(sum(ms * size_bytes) FILTER (WHERE kind = 'storage'), 0)::text AS storage_byte_ms
     FROM clipped`,
    [teamId, window.fromMs, window.toMs, window.openUntilMs],
  );
  return {
    vcpuMs: BigInt(rows[0].vcpu_ms),
    memoryMibMs: BigInt(rows[0].memory_mib_ms),
    storageByteMs: BigInt(rows[0].storage_byte_ms),
  };
}
