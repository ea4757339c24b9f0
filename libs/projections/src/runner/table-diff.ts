import { EntityManager } from 'typeorm';
import { quoteIdent } from './rebuild';

export type Row = Record<string, unknown>;

/** One table compared between the live schema and a rebuilt copy, row by primary key. */
export interface TableDiff {
  table: string;
  primaryKey: string[];
  /** Rows the log produces that the live table lacks. */
  missing: Row[];
  /** Live rows the log does not produce. */
  extra: Row[];
  /** Rows on both sides whose columns differ: the key, and each side's differing columns. */
  different: Array<{ key: Row; columns: string[]; live: Row; rebuilt: Row }>;
}

/** The primary key's columns, in key order; a projection table without one cannot be compared. */
export async function primaryKeyOf(tx: EntityManager, schema: string, table: string): Promise<string[]> {
  const rows: Array<{ column: string }> = await tx.query(
    `SELECT a.attname AS column
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
      WHERE i.indisprimary AND n.nspname = $1 AND c.relname = $2
      ORDER BY k.ord`,
    [schema, table],
  );
  if (rows.length === 0) throw new Error(`${schema}.${table} has no primary key to compare rows by`);
  return rows.map((r) => r.column);
}

/**
 * Compares `live.table` with `rebuilt.table` in one statement: a full outer join on the primary
 * key, rows compared as JSON (so every column counts, NULLs included). Both tables come from the
 * same definition, so their columns are the same.
 */
export async function diffTable(tx: EntityManager, liveSchema: string, rebuiltSchema: string, table: string): Promise<TableDiff> {
  const primaryKey = await primaryKeyOf(tx, liveSchema, table);
  const on = primaryKey.map((c) => `l.${quoteIdent(c)} = r.${quoteIdent(c)}`).join(' AND ');
  const firstKey = quoteIdent(primaryKey[0]);
  const order = primaryKey.map((c) => `coalesce(l.${quoteIdent(c)}, r.${quoteIdent(c)})`).join(', ');
  const rows: Array<{ live: Row | null; rebuilt: Row | null }> = await tx.query(
    `SELECT CASE WHEN l.${firstKey} IS NULL THEN NULL ELSE to_jsonb(l) END AS live,
            CASE WHEN r.${firstKey} IS NULL THEN NULL ELSE to_jsonb(r) END AS rebuilt
       FROM ${quoteIdent(liveSchema)}.${quoteIdent(table)} l
       FULL OUTER JOIN ${quoteIdent(rebuiltSchema)}.${quoteIdent(table)} r ON ${on}
      WHERE l.${firstKey} IS NULL OR r.${firstKey} IS NULL OR to_jsonb(l) IS DISTINCT FROM to_jsonb(r)
      ORDER BY ${order}`,
  );
  const diff: TableDiff = { table, primaryKey, missing: [], extra: [], different: [] };
  for (const { live, rebuilt } of rows) {
    if (!live) diff.missing.push(rebuilt!);
    else if (!rebuilt) diff.extra.push(live);
    else {
      const columns = Object.keys(rebuilt).filter((c) => JSON.stringify(live[c]) !== JSON.stringify(rebuilt[c]));
      const pick = (row: Row) => Object.fromEntries(columns.map((c) => [c, row[c]]));
      diff.different.push({ key: Object.fromEntries(primaryKey.map((c) => [c, live[c]])), columns, live: pick(live), rebuilt: pick(rebuilt) });
    }
  }
  return diff;
}

export function differenceCount(diff: TableDiff): number {
  return diff.missing.length + diff.extra.length + diff.different.length;
}
