import { Metrics } from "../../core/metrics.ts";
import type { Warehouse } from "../../io/warehouse.ts";
import { batchedWrite } from "../../io/batched-write.ts";
import type { GoldHourlyRow, GoldSessionRow } from "../../schemas/rows.ts";
import { parDo } from "../../transforms/par-do.ts";
import type { SessionWrite } from "./gold.ts";
import type { DeadLetter } from "./bronze.ts";
import type { MedallionOutputs } from "./pipeline.ts";
import { groupTypedRows, type TypedSilverWrite } from "./typed-silver.ts";

/** Default rows per warehouse batch (`--batch-rows`). */
export const BATCH_ROWS = 50_000;

/** Rows written per table (counted when their batch is committed), and dead letters seen. */
export interface MedallionWrites {
  bronze: number;
  silver: number;
  /** Rows of the typed Silver tables, all three together. */
  typed: number;
  deadLetter: number;
  sessionUpserts: number;
  sessionDeletes: number;
  hourly: number;
}

export function newMedallionWrites(): MedallionWrites {
  return { bronze: 0, silver: 0, typed: 0, deadLetter: 0, sessionUpserts: 0, sessionDeletes: 0, hourly: 0 };
}

/**
 * Attaches the warehouse sinks to the medallion's tables, one transform per table:
 * - `WriteBronze`, `WriteSilver`, `WriteTypedSilver` (the typed Silver tables, one write per table of a batch's rows,
 *   metrics labelled `silver_typed`): appended in batches; idempotent by key (message id, event id) whatever a replay
 *   gives, so they need no stable input and are written as soon as their batch is full or their bundle ends.
 * - `WriteHourly`: hourly rows upserted by (tenant, hour), the last row of a key in a batch winning; a replay
 *   recomputes the same rows from the checkpointed aggregate state, so no stable input either.
 * - `WriteSessions`: Gold session changes, folded per batch (the last change of a session id wins, so a session
 *   updated then merged away is deleted), with **stable input**: a replay may see messages in another order and
 *   produce other intermediate sessions, so the writer sees only changes whose state is in a durable checkpoint
 *   (and sees them again, identical, after a crash). Gold never holds a row the restored state does not know.
 * - `CountDeadLetters`: dead letters are kept in Bronze (with their error); this only counts them (also as the metric
 *   `medallion/dead_letters` by the field that was wrong: a bounded label, unlike the reason's text).
 * Each sink reports `tidemark/sink_*` metrics labelled with its table; `WriteSessions` also sets the gauge
 * `medallion/gold_newest_event_ms`: the latest session end written to Gold (its freshness is now minus that).
 */
export function writeMedallion(
  tables: MedallionOutputs,
  warehouse: Warehouse,
  options: { readonly batchRows?: number } = {},
  writes: MedallionWrites = newMedallionWrites(),
): MedallionWrites {
  const maxRows = options.batchRows ?? BATCH_ROWS;
  // The newest event time in Gold (the gauge is the WriteSessions step's).
  let newestWritten = Number.NEGATIVE_INFINITY;
  /** A sink of `write`, counting the rows each committed batch holds in `writes[counter]`. */
  const sink = <T>(
    write: (rows: T[]) => Promise<number>,
    counter: "bronze" | "silver" | "typed" | "hourly",
    table: string,
  ) =>
    batchedWrite<T>({
      maxRows,
      metricsName: table,
      write: async (rows) => {
        const n = await write(rows);
        writes[counter] += n;
        return n;
      },
    });
  tables.bronze.apply(
    sink((rows) => warehouse.appendBronze(rows).then(() => rows.length), "bronze", "bronze_messages"),
    "WriteBronze",
  );
  tables.silver.apply(
    sink((rows) => warehouse.appendSilver(rows).then(() => rows.length), "silver", "silver_events"),
    "WriteSilver",
  );
  tables.typed.apply(
    sink(
      async (writes: TypedSilverWrite[]) => {
        const byType = groupTypedRows(writes);
        // One write per table; each is idempotent by (tenant_id, event_id), so a replay after a partial batch is safe.
        if (byType.order.length > 0) await warehouse.appendTyped("order", byType.order);
        if (byType.inventory.length > 0) await warehouse.appendTyped("inventory", byType.inventory);
        if (byType.user_activity.length > 0) await warehouse.appendTyped("user_activity", byType.user_activity);
        return writes.length;
      },
      "typed",
      "silver_typed",
    ),
    "WriteTypedSilver",
  );
  tables.hourly.apply(
    sink(
      (rows: GoldHourlyRow[]) => {
        const last = foldHourly(rows);
        return warehouse.upsertHourly(last).then(() => last.length);
      },
      "hourly",
      "gold_tenant_hourly",
    ),
    "WriteHourly",
  );
  tables.sessions.apply(
    batchedWrite({
      maxRows,
      requiresStableInput: true,
      metricsName: "gold_sessions",
      write: async (changes, metrics) => {
        const { upserts, deletes, seqs } = foldSessions(changes);
        if (upserts.length === 0 && deletes.length === 0) return 0;
        await warehouse.writeSessions(upserts, deletes, seqs);
        writes.sessionUpserts += upserts.length;
        writes.sessionDeletes += deletes.length;
        let newest = newestWritten;
        for (const r of upserts) if (r.session_end > newest) newest = r.session_end;
        if (newest > newestWritten) {
          newestWritten = newest;
          metrics.gauge("medallion", "gold_newest_event_ms").set(newest);
        }
        return upserts.length + deletes.length;
      },
    }),
    "WriteSessions",
  );
  tables.deadLetter.apply(
    parDo<DeadLetter, never>({
      process(d) {
        writes.deadLetter++;
        Metrics.counter("medallion", "dead_letters", { field: d.error.field }).inc();
      },
    }),
    "CountDeadLetters",
  );
  return writes;
}

/** Gold session changes folded: the last operation per session id, and its sequence number. */
export interface SessionChanges {
  readonly upserts: GoldSessionRow[];
  readonly deletes: string[];
  readonly seqs: Map<string, number>;
}

/**
 * The operation with the highest sequence number per session id wins (the last one, in the order the writer made
 * them; a batch that came in another order folds the same).
 */
export function foldSessions(writes: readonly SessionWrite[]): SessionChanges {
  const last = new Map<string, SessionWrite>();
  for (const w of writes) {
    const id = w.kind === "upsert" ? w.row.session_id : w.sessionId;
    const before = last.get(id);
    if (before === undefined || w.seq >= before.seq) {
      last.delete(id);
      last.set(id, w);
    }
  }
  const upserts: GoldSessionRow[] = [];
  const deletes: string[] = [];
  const seqs = new Map<string, number>();
  for (const [id, w] of last) {
    if (w.kind === "delete") deletes.push(id);
    else upserts.push(w.row);
    seqs.set(id, w.seq);
  }
  return { upserts, deletes, seqs };
}

/** The last row per (tenant, hour) wins. */
function foldHourly(rows: readonly GoldHourlyRow[]): GoldHourlyRow[] {
  const last = new Map<string, GoldHourlyRow>();
  for (const r of rows) last.set(`${r.tenant_id}\u0000${r.hour_start}`, r);
  return [...last.values()];
}
