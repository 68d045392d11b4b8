import type { BronzeRow, GoldHourlyRow, GoldSessionRow, SilverRow, TypedSilverRows } from "../schemas/rows.ts";

/**
 * Where the medallion tables go. One interface for every warehouse (embedded DuckDB, BigQuery), tested by one suite.
 * Writes are idempotent, so replaying a stream after a crash leaves the same tables:
 * - Bronze and Silver (and the typed Silver tables) are appended, ignoring rows whose key is already there
 *   (`schemas/tables.ts`: Bronze (message_id, publish_time), Silver (tenant_id, event_id));
 * - Gold sessions are upserted on session_id, and the sessions merged away are deleted, in one transaction;
 * - Gold hourly rows are upserted on (tenant_id, hour_start).
 */
export interface Warehouse {
  /** Creates the tables if they do not exist. */
  open(): Promise<void>;
  appendBronze(rows: readonly BronzeRow[]): Promise<void>;
  appendSilver(rows: readonly SilverRow[]): Promise<void>;
  /**
   * Appends rows to the typed Silver table of an event type (`TYPED_TABLES`: silver_orders, silver_inventory,
   * silver_activity), ignoring those whose (tenant_id, event_id) is already there, as Silver.
   */
  appendTyped<T extends keyof TypedSilverRows>(type: T, rows: readonly TypedSilverRows[T][]): Promise<void>;
  /**
   * Replaces the sessions in `upserts` and deletes those in `deletes`, atomically. `seqs` gives each session id's
   * change its sequence number (increasing per session id): a warehouse written from many workers at once (BigQuery
   * by change data capture) keeps the highest; one written in order may ignore it.
   */
  writeSessions(
    upserts: readonly GoldSessionRow[],
    deletes: readonly string[],
    seqs?: ReadonlyMap<string, number>,
  ): Promise<void>;
  upsertHourly(rows: readonly GoldHourlyRow[]): Promise<void>;
  /** Row counts per table. */
  counts(): Promise<Record<string, number>>;
  /** Runs a read-only SQL query (for summaries, tests and the README's examples). */
  query(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}
