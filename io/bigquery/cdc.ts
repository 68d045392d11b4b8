import type { TableSchema } from "../../schemas/table-schema.ts";

/**
 * BigQuery change data capture (CDC): rows written on a table's default stream through the Storage Write API with
 * two pseudo-columns, `_CHANGE_TYPE` (UPSERT or DELETE by the table's primary key) and `_CHANGE_SEQUENCE_NUMBER`
 * (of a key's changes, BigQuery applies the one with the highest). No DML runs: any number of workers write at once,
 * and BigQuery applies the changes in the background (within the table's `max_staleness`).
 *
 * Tidemark's numbers make every table's writes idempotent and order-free, as the local warehouses' are:
 * - Bronze, Silver (appended, the first row of a key kept): the number falls as the row's `ingest_time` grows, so
 *   the earliest-ingested copy of a message or event wins whatever the order of the writes, and a replayed copy
 *   changes nothing;
 * - Gold sessions: the session writer's own count of a session id's changes (upserts, the deletion when it merges
 *   away, the final row), increasing per id and the same after a replay (its input is stable);
 * - Gold hourly: accumulating panes of an hour, ordered by their event count, then their `updated_at`.
 */
export type ChangeType = "UPSERT" | "DELETE";

/** One change to write: the row (for a DELETE, its key columns are enough) and its sequence number's parts. */
export interface Change {
  readonly type: ChangeType;
  readonly row: Readonly<Record<string, unknown>>;
  readonly seq: readonly number[];
}

/** The largest value of a section Tidemark writes (the numbers stay exact JavaScript integers). */
const MAX_SECTION = Number.MAX_SAFE_INTEGER;

/**
 * `_CHANGE_SEQUENCE_NUMBER` of non-negative integers: BigQuery's format (up to four sections of up to 16 hex digits,
 * separated by "/", compared section by section), each section written with all 16 digits so that the text orders
 * as the numbers do.
 */
export function changeSequence(parts: readonly number[]): string {
  if (parts.length === 0 || parts.length > 4) {
    throw new Error(`a change sequence number has one to four sections, got ${parts.length}`);
  }
  return parts
    .map((p) => {
      if (!Number.isSafeInteger(p) || p < 0)
        throw new Error(`a change sequence section must be a whole number >= 0, got ${p}`);
      return p.toString(16).toUpperCase().padStart(16, "0");
    })
    .join("/");
}

/** The first-ingested row wins: a number that falls as `ingest_time` (epoch ms) grows. */
export function firstIngestedWins(ingestTimeMs: number): number[] {
  return [MAX_SECTION - Math.max(0, Math.floor(ingestTimeMs))];
}

/** The table's primary key as BigQuery declares it (`NOT ENFORCED`): CDC needs one. */
export function primaryKey(table: TableSchema): { primaryKey: { columns: string[] } } {
  return { primaryKey: { columns: [...table.key] } };
}

/** A change as the JSON row the Storage Write API's writer takes: the row's API values and the pseudo-columns. */
export function cdcRow(change: Change, apiRow: Record<string, unknown>): Record<string, unknown> {
  return { ...apiRow, _CHANGE_TYPE: change.type, _CHANGE_SEQUENCE_NUMBER: changeSequence(change.seq) };
}

/** The storage schema's fields with the two pseudo-columns added (the writer's proto descriptor is made from it). */
export function withChangeColumns<F extends { name?: string | null }>(
  fields: readonly F[],
  column: (name: string) => F,
): F[] {
  return [...fields, column("_CHANGE_TYPE"), column("_CHANGE_SEQUENCE_NUMBER")];
}

/** Bronze and Silver rows as upserts, the first-ingested copy of a key winning. */
export function appendChanges(rows: readonly object[]): Change[] {
  return rows.map((row) => {
    const r = row as Readonly<Record<string, unknown>> & { readonly ingest_time: number };
    return { type: "UPSERT", row: r, seq: firstIngestedWins(r.ingest_time) };
  });
}

/** Gold session upserts and deletions (by `session_id`), numbered by the session writer's count (`seqs`). */
export function sessionChanges(
  upserts: readonly object[],
  deletes: readonly string[],
  seqs: ReadonlyMap<string, number> | undefined,
): Change[] {
  const seqOf = (id: string): number[] => {
    const seq = seqs?.get(id);
    if (seq === undefined)
      throw new Error(`gold_sessions: change data capture needs each change's sequence number (${id})`);
    return [seq];
  };
  const changes: Change[] = upserts.map((row) => {
    const r = row as Readonly<Record<string, unknown>> & { readonly session_id: string };
    return { type: "UPSERT", row: r, seq: seqOf(r.session_id) };
  });
  for (const id of deletes) changes.push({ type: "DELETE", row: { session_id: id }, seq: seqOf(id) });
  return changes;
}

/** The order of an hour's panes that fired with the same events at the same time. */
const TIMING_RANK: Readonly<Record<string, number>> = { EARLY: 0, ON_TIME: 1, LATE: 2 };

/**
 * Gold hourly rows as upserts: an hour's panes accumulate, so the newer row has more events, or as many fired
 * later (`updated_at`), or fired at the same moment in a later pane kind (early, on time, late).
 */
export function hourlyChanges(rows: readonly object[]): Change[] {
  return rows.map((row) => {
    const r = row as Readonly<Record<string, unknown>> & {
      readonly events: number;
      readonly updated_at: number;
      readonly pane_timing: string;
    };
    return { type: "UPSERT", row: r, seq: [r.events, Math.max(0, r.updated_at), TIMING_RANK[r.pane_timing] ?? 3] };
  });
}
