import { existsSync, mkdirSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import {
  BIGINT,
  BOOLEAN,
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  DuckDBTimestampTZValue,
  type DuckDBType,
  type DuckDBValue,
  DOUBLE,
  type JS,
  LIST,
  listValue,
  STRUCT,
  StatementType,
  structValue,
  TIMESTAMPTZ,
  VARCHAR,
} from "@duckdb/node-api";
import { describe } from "../../schemas/row-check.ts";
import type { BronzeRow, GoldHourlyRow, GoldSessionRow, SilverRow, TypedSilverRows } from "../../schemas/rows.ts";
import {
  type Column,
  type ColumnType,
  duckdbDdl,
  duckdbType,
  recordFields,
  type TableSchema,
} from "../../schemas/table-schema.ts";
import { BRONZE, GOLD_HOURLY, GOLD_SESSIONS, SILVER, TABLES, TYPED_TABLES } from "../../schemas/tables.ts";
import type { Warehouse } from "../warehouse.ts";

/** Options of {@link DuckDbWarehouse.create}. */
export interface DuckDbWarehouseOptions {
  /**
   * The one folder under which missing parent directories are created (default `./data`, resolved against the
   * working directory). Anywhere else a missing directory is an error: a typo in a path should not silently
   * create a new, empty warehouse in the wrong place.
   */
  readonly autoCreateUnder?: string;
  /**
   * How much write-ahead log (MB) accumulates before DuckDB folds it into the database file (a checkpoint, run
   * inside the COMMIT that crosses it, and at close). Every COMMIT is durable in the log either way. What the log
   * holds is also held in memory (uncheckpointed row groups) until the checkpoint. Default 64: measured on 400,000
   * messages through the pipeline, DuckDB's default (16 MB) spent 11.7 s in COMMITs and 1.7 s closing, 256 MB 5.4 s
   * and 0.4 s (a checkpoint costs about the same whatever it carries, and smaller ones rewrite the row groups still
   * being filled again and again); but with 256 the process's memory outside V8 rose by up to 340 MB between
   * checkpoints (draining a 1 M backlog), and 64 took 135 MB off its peak on 1 M messages at a cost within the noise
   * of `npx tsx bench/medallion.ts --events=1000000 --duckdb-checkpoint-mb=64` against `=256`.
   */
  readonly checkpointThresholdMb?: number;
  /**
   * DuckDB's memory (MiB) besides its primary-key indexes: data being written and query work stay under it, spilling
   * to a temporary folder beside the file. The indexes cannot spill (DuckDB keeps an ART index in memory; measured:
   * about 70 bytes a row of a VARCHAR key, and a fixed limit of 256 MiB failed with "Out of Memory" at 3 M rows), so
   * the limit DuckDB is given is this plus what its indexes take, raised as they grow (after each write); a write
   * that still runs out of memory doubles this and runs again. (Tables this version creates have no key index: see
   * `withPrimaryKey`; files of earlier versions do.) DuckDB's own default is 80% of the machine's RAM, which an
   * embedded warehouse sharing its process with a streaming job should not take: draining 300,000 messages of a
   * backlog, its buffers held 450-550 MiB. Default 96: with a 64 MB checkpoint threshold, 1 M messages of the
   * command line peaked at 301 MiB outside V8 against 463 with 256 MiB (and 597 with both at 256), for about 7-10%
   * more CPU on `bench/medallion.ts --events=1000000` (noisy; 256 is the faster choice when memory is plentiful).
   */
  readonly memoryLimitMb?: number;
}

/** See `DuckDbWarehouseOptions.checkpointThresholdMb`. */
const DEFAULT_CHECKPOINT_THRESHOLD_MB = 64;
const DEFAULT_MEMORY_LIMIT_MB = 96;
const MIB = 2 ** 20;

const MEMORY = ":memory:";

/**
 * Files opened by a `DuckDbWarehouse` of this process, by real path. DuckDB's file lock is a POSIX lock, which
 * only stops other processes: two instances in one process would both open the file and corrupt it. This set
 * mirrors that process-wide resource (the one module-level state here), so the second open fails clearly.
 */
const openInThisProcess = new Set<string>();

/** The parameter type each column's values are bound as (JSON goes in as text and is cast, and so checked, by DuckDB). */
const PARAM_TYPES: Record<Exclude<ColumnType, "RECORD_ARRAY">, DuckDBType> = {
  STRING: VARCHAR,
  INT64: BIGINT,
  FLOAT64: DOUBLE,
  BOOL: BOOLEAN,
  TIMESTAMP: TIMESTAMPTZ,
  JSON: VARCHAR,
  STRING_ARRAY: LIST(VARCHAR),
};

/** The type a column's values are bound as: `PARAM_TYPES`, or for a RECORD_ARRAY a list of structs of its fields. */
function paramType(c: Column): DuckDBType {
  if (c.type !== "RECORD_ARRAY") return PARAM_TYPES[c.type];
  return LIST(STRUCT(Object.fromEntries(recordFields(c).map((f) => [f.name, PARAM_TYPES[f.type]]))));
}

/** Statement types `query` accepts (DESCRIBE, SHOW, SUMMARIZE and PRAGMA functions are SELECTs to DuckDB). */
const READ_ONLY: ReadonlySet<StatementType> = new Set([StatementType.SELECT, StatementType.EXPLAIN]);

/**
 * The medallion tables in an embedded DuckDB file (or `:memory:`).
 *
 * Writes go through an appender into a per-table TEMP staging table (no constraints), a column-major data chunk of
 * up to 2,048 rows at a time, then the batch is merged into the real table (an `INSERT ... SELECT` of the new keys
 * for Bronze and Silver; for Gold, a DELETE of the batch's keys then an INSERT), all in one transaction per call: a
 * call is atomic, and a batch costs a few statements instead of one per row. The appenders stay open between calls
 * (creating one costs more than a small batch).
 *
 * Values: times are epoch ms in the rows and TIMESTAMPTZ in DuckDB (bound as exact microseconds, so ms are kept
 * exactly); JSON columns hold `JSON.stringify` of the object; STRING_ARRAY columns are `VARCHAR[]`. The session
 * time zone is UTC, so `date_trunc('hour', ...)` in SQL means UTC hours.
 *
 * Operations are serialised: DuckDB transactions belong to the connection, so a write must not interleave with
 * another call's statements.
 */
export class DuckDbWarehouse implements Warehouse {
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | null = null;
  /** The open appender of each staging table, by table name. */
  private readonly appenders = new Map<string, DuckDBAppender>();
  /**
   * The tables of this file that have their key as a primary key (made by an earlier version): their upserts use
   * `ON CONFLICT`, and they keep their keys.
   *
   * Tables made by this version have none: the writer keeps every key unique. Bronze and Silver ("ignore") insert
   * only the keys not yet in the table (an anti-join, one per batch); the Gold tables ("update") delete the rows under
   * the batch's keys and insert the batch, in one transaction. DuckDB's primary key is an ART index updated row by
   * row: on 1,000,000 rows in batches of 50,000 the anti-join took 2.2 s in all against 7.7 s with the key, and on
   * 400,000 messages through the pipeline the Gold session writes took 3.1 s against 15.4 s with `ON CONFLICT`.
   * Writes are serialised on one connection and the file is locked to one process, so no other writer can slip a key
   * in between.
   */
  private readonly withPrimaryKey = new Set<string>();

  private constructor(
    /** The path as given, for messages. */
    readonly path: string,
    private readonly instance: DuckDBInstance,
    private readonly con: DuckDBConnection,
    /** The key in `openInThisProcess`, or null for `:memory:`. */
    private readonly lockKey: string | null,
    /** DuckDB's memory besides its indexes (bytes): see `memoryLimitMb`; doubled after a write runs out. */
    private memoryBesideIndexes: number,
  ) {}

  /** The memory limit DuckDB was last given (bytes). */
  private memoryLimit = 0;

  /**
   * Gives DuckDB a memory limit of `memoryBesideIndexes` plus what its ART indexes take now, when that differs by more
   * than a twentieth from the limit it has.
   */
  private async fitMemoryLimit(con: DuckDBConnection): Promise<void> {
    const [row] = (
      await con.runAndReadAll(
        "SELECT coalesce(sum(memory_usage_bytes), 0)::DOUBLE AS b FROM duckdb_memory() WHERE tag = 'ART_INDEX'",
      )
    ).getRowObjectsJS();
    const want = Math.ceil((this.memoryBesideIndexes + Number(row?.b ?? 0)) / MIB);
    const current = this.memoryLimit / MIB;
    if (Math.abs(want - current) <= current / 20) return;
    await con.run(`SET memory_limit = '${want}MiB'`);
    this.memoryLimit = want * MIB;
  }

  /**
   * Runs the write `body`, then fits the limit. A write that runs out of memory (rolled back) is run again with twice
   * the memory besides the indexes (kept from then on: what one batch needs, the next ones will), up to 4 times.
   */
  private async withMemory(con: DuckDBConnection, body: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await body();
        break;
      } catch (e) {
        if (attempt >= 4 || !/Out of Memory Error/.test(String(e))) throw e;
        this.memoryBesideIndexes *= 2;
        await this.fitMemoryLimit(con);
      }
    }
    await this.fitMemoryLimit(con);
  }

  /**
   * Opens (creating if needed) the DuckDB file at `path`, or an in-memory database for `:memory:`.
   * Throws an Error naming the path when its directory does not exist or the file is locked.
   */
  static async create(path: string, options: DuckDbWarehouseOptions = {}): Promise<DuckDbWarehouse> {
    const thresholdMb = options.checkpointThresholdMb ?? DEFAULT_CHECKPOINT_THRESHOLD_MB;
    if (!(Number.isInteger(thresholdMb) && thresholdMb > 0)) {
      throw openError(path, `checkpointThresholdMb must be a positive integer, got ${thresholdMb}`);
    }
    const memoryMb = options.memoryLimitMb ?? DEFAULT_MEMORY_LIMIT_MB;
    if (!(Number.isInteger(memoryMb) && memoryMb >= 16)) {
      throw openError(path, `memoryLimitMb must be a whole number of MiB, at least 16, got ${memoryMb}`);
    }
    const settings = { thresholdMb, memoryMb };
    if (path === MEMORY) {
      return DuckDbWarehouse.connect(path, await DuckDBInstance.create(MEMORY), null, settings);
    }
    ensureDirectory(path, resolve(options.autoCreateUnder ?? "data"));
    const lockKey = join(realpathSync(dirname(resolve(path))), basename(path));
    if (openInThisProcess.has(lockKey)) {
      throw openError(
        path,
        "it is already open in this process (close the other DuckDbWarehouse or choose another file)",
      );
    }
    openInThisProcess.add(lockKey);
    try {
      return await DuckDbWarehouse.connect(path, await DuckDBInstance.create(path), lockKey, settings);
    } catch (e) {
      openInThisProcess.delete(lockKey);
      throw translateOpenError(path, e);
    }
  }

  /** Connects to `instance` (closing it if that fails) with the session time zone set to UTC and the settings. */
  private static async connect(
    path: string,
    instance: DuckDBInstance,
    lockKey: string | null,
    settings: { readonly thresholdMb: number; readonly memoryMb: number },
  ) {
    try {
      const con = await instance.connect();
      await con.run("SET TimeZone = 'UTC'");
      await con.run(`SET checkpoint_threshold = '${settings.thresholdMb}MB'`);
      const w = new DuckDbWarehouse(path, instance, con, lockKey, settings.memoryMb * MIB);
      // An existing file's indexes are loaded as they are used: the limit follows them from the first write on.
      await w.fitMemoryLimit(con);
      return w;
    } catch (e) {
      instance.closeSync();
      throw e;
    }
  }

  /**
   * Creates the four tables (if missing) and this connection's staging tables. A table made by an older version
   * with another primary key is an error naming the file, the table and both keys, before anything is written. A
   * table of an older version without a column this version added gets it (new columns are nullable: old rows hold
   * NULL); a required column missing is an error naming it.
   */
  open(): Promise<void> {
    return this.exclusive(async (con) => {
      for (const table of TABLES) {
        await con.run(duckdbDdl(table, { primaryKey: false }));
        const reader = await con.runAndReadAll(
          `SELECT constraint_column_names AS cols FROM duckdb_constraints()
           WHERE schema_name = 'main' AND table_name = $1 AND constraint_type = 'PRIMARY KEY'`,
          [table.name],
        );
        const [row] = reader.getRowObjectsJS();
        const key = (row?.cols as string[] | undefined) ?? [];
        // This version's tables have no primary key; a file from an older version may have one: it must be the key.
        if (key.length > 0 && key.join(",") !== table.key.join(",")) {
          throw new Error(
            `the DuckDB warehouse at ${this.path}: table ${table.name} has primary key (${key.join(", ")}) but this ` +
              `version keys it on (${table.key.join(", ")}); write to a new file, or recreate the table`,
          );
        }
        if (key.length > 0) this.withPrimaryKey.add(table.name);
        const present = new Map(
          (
            await con.runAndReadAll(
              "SELECT column_name AS c, data_type AS t FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = $1",
              [table.name],
            )
          )
            .getRowObjectsJS()
            .map((r) => [r.c as string, r.t as string]),
        );
        for (const c of table.columns) {
          const type = present.get(c.name);
          if (type !== undefined) {
            // A list of records takes this version's fields only if the table's records have them all, as they are: an
            // appender would write records into fewer fields without the others, silently.
            if (c.type === "RECORD_ARRAY") await this.checkRecordType(con, table, c, type);
            continue;
          }
          if (c.required) {
            throw new Error(
              `the DuckDB warehouse at ${this.path}: table ${table.name} has no column ${c.name}, which this version ` +
                "requires; write to a new file, or recreate the table",
            );
          }
          await con.run(`ALTER TABLE ${ident(table.name)} ADD COLUMN ${ident(c.name)} ${duckdbType(c)}`);
        }
        const cols = table.columns.map((c) => ident(c.name)).join(", ");
        await con.run(
          `CREATE TEMP TABLE IF NOT EXISTS ${stageName(table)} AS SELECT ${cols} FROM ${ident(table.name)} LIMIT 0`,
        );
      }
    });
  }

  /** Throws, naming the table and both types, when a RECORD_ARRAY column's type in the file is not this version's. */
  private async checkRecordType(con: DuckDBConnection, table: TableSchema, c: Column, type: string): Promise<void> {
    const reader = await con.runAndReadAll(`SELECT typeof(CAST(NULL AS ${duckdbType(c)})) AS t`);
    const wanted = reader.getRowObjectsJS()[0]?.t as string;
    if (type === wanted) return;
    throw new Error(
      `the DuckDB warehouse at ${this.path}: table ${table.name} column ${c.name} is ${type} but this version writes ` +
        `${wanted} (the fields of a record are not evolved); write to a new file, or migrate the column`,
    );
  }

  /** Appends Bronze rows, ignoring those whose message_id is already there (the first of a batch's duplicates wins). */
  appendBronze(rows: readonly BronzeRow[]): Promise<void> {
    return this.write(BRONZE, rows, "ignore");
  }

  /**
   * Appends Silver rows, ignoring those whose (tenant_id, event_id) is already there (the first of a batch's
   * duplicates wins).
   */
  appendSilver(rows: readonly SilverRow[]): Promise<void> {
    return this.write(SILVER, rows, "ignore");
  }

  /** Appends typed Silver rows, ignoring those whose (tenant_id, event_id) is already there (as `appendSilver`). */
  appendTyped<T extends keyof TypedSilverRows>(type: T, rows: readonly TypedSilverRows[T][]): Promise<void> {
    return this.write(TYPED_TABLES[type], rows, "ignore");
  }

  /** In one transaction: deletes the `deletes` session ids, then upserts `upserts` on session_id (last duplicate wins). */
  writeSessions(upserts: readonly GoldSessionRow[], deletes: readonly string[]): Promise<void> {
    if (upserts.length === 0 && deletes.length === 0) return Promise.resolve();
    return this.exclusive((con) =>
      this.withMemory(con, () =>
        inTransaction(con, async () => {
          if (deletes.length > 0) {
            const sql = `DELETE FROM ${ident(GOLD_SESSIONS.name)} WHERE session_id IN (SELECT unnest($1))`;
            await con.run(sql, [listValue([...deletes])], [LIST(VARCHAR)]);
          }
          await this.mergeBatch(con, GOLD_SESSIONS, upserts, "update");
        }),
      ),
    );
  }

  /** Upserts hourly rows on (tenant_id, hour_start) (last duplicate wins). */
  upsertHourly(rows: readonly GoldHourlyRow[]): Promise<void> {
    return this.write(GOLD_HOURLY, rows, "update");
  }

  /** Row counts of the four tables, keyed by table name. */
  counts(): Promise<Record<string, number>> {
    const sql = `SELECT ${TABLES.map((t) => `(SELECT count(*) FROM ${ident(t.name)}) AS ${ident(t.name)}`).join(", ")}`;
    return this.exclusive(async (con) => {
      const [row] = (await con.runAndReadAll(sql)).getRowObjectsJS();
      return Object.fromEntries(TABLES.map((t) => [t.name, Number(row?.[t.name] ?? 0)]));
    });
  }

  /**
   * Runs one read-only statement (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) and returns its rows.
   * Conversions: every DATE and TIMESTAMP becomes epoch ms (a number, like the row types); integers become numbers
   * when they are safe integers and decimal strings otherwise; columns of type JSON are parsed; lists are arrays.
   * So `SELECT * FROM silver_events` gives back `SilverRow`s.
   */
  query(sql: string): Promise<Record<string, unknown>[]> {
    return this.exclusive(async (con) => {
      const extracted = await con.extractStatements(sql);
      if (extracted.count !== 1) throw new Error(`query() runs one statement; got ${extracted.count}`);
      const prepared = await extracted.prepare(0);
      try {
        if (!READ_ONLY.has(prepared.statementType)) {
          throw new Error(`query() runs read-only SQL; got a ${StatementType[prepared.statementType]} statement`);
        }
        const reader = await prepared.runAndReadAll();
        const jsonColumns = new Set(
          reader.columnNames().filter((_, i) => reader.columnType(i).alias?.toUpperCase() === "JSON"),
        );
        return reader.getRowObjectsJS().map((row) => convertRow(row, jsonColumns));
      } finally {
        prepared.destroySync();
      }
    });
  }

  /**
   * Closes the connection and the database and releases the file, after the calls already made have finished.
   * Later calls fail; closing twice is a no-op.
   */
  close(): Promise<void> {
    this.closing ??= this.tail.then(() => this.release());
    this.tail = this.closing.catch(() => undefined);
    return this.closing;
  }

  private release(): void {
    this.closed = true;
    for (const appender of this.appenders.values()) appender.closeSync();
    this.appenders.clear();
    this.con.closeSync();
    this.instance.closeSync();
    if (this.lockKey !== null) openInThisProcess.delete(this.lockKey);
  }

  private write(table: TableSchema, rows: readonly object[], conflict: Conflict): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.exclusive((con) =>
      this.withMemory(con, () => inTransaction(con, () => this.mergeBatch(con, table, rows, conflict))),
    );
  }

  /** Stages `rows` and merges them into `table`; the caller owns the transaction. */
  private async mergeBatch(con: DuckDBConnection, table: TableSchema, rows: readonly object[], conflict: Conflict) {
    if (rows.length === 0) return;
    const unique = dedupeByKey(table, rows, conflict);
    let appender = this.appenders.get(table.name);
    if (appender === undefined) {
      appender = await con.createAppender(stageTable(table), "main", "temp");
      this.appenders.set(table.name, appender);
    }
    try {
      appendRows(appender, table, unique);
      appender.flushSync();
    } catch (e) {
      // A failed append leaves the appender unusable: start afresh next time. What it staged is rolled back with the
      // caller's transaction.
      this.appenders.delete(table.name);
      try {
        appender.closeSync();
      } catch {
        // The appender's own error is the one to report.
      }
      throw e;
    }
    if (conflict === "update" && !this.withPrimaryKey.has(table.name)) {
      // Replace: the rows under the batch's keys go, then the batch goes in (one transaction, the caller's).
      await con.run(deleteStagedKeysSql(table));
      await con.run(insertStagedSql(table));
    } else {
      await con.run(mergeSql(table, conflict));
    }
    await con.run(`DELETE FROM ${stageName(table)}`);
  }

  /** Runs `op` after every earlier call has finished (whether it succeeded or not). */
  private exclusive<T>(op: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    const run = () => {
      if (this.closed) throw new Error(`the DuckDB warehouse at ${this.path} is closed`);
      return op(this.con);
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** What to do with a row whose key is already in the table. */
type Conflict = "ignore" | "update";

/** Rows in one appender data chunk (DuckDB's vector size). */
const CHUNK_ROWS = 2048;

/**
 * Appends `rows` to an appender of a table with `table`'s columns (a staging table here; the archive's file writer
 * too), column by column, in data chunks of CHUNK_ROWS rows.
 */
export function appendRows(appender: DuckDBAppender, table: TableSchema, rows: readonly object[]): void {
  const types = table.columns.map(paramType);
  for (let offset = 0; offset < rows.length; offset += CHUNK_ROWS) {
    const n = Math.min(CHUNK_ROWS, rows.length - offset);
    const chunk = DuckDBDataChunk.create(types, n);
    const values: DuckDBValue[] = new Array(n);
    table.columns.forEach((column, c) => {
      for (let i = 0; i < n; i++)
        values[i] = toDuckValue(table, column, field(rows[offset + i] as object, column.name));
      chunk.setColumnValues(c, values);
    });
    appender.appendDataChunk(chunk);
  }
}

/** Deletes the rows of `table` whose key is in its staging table. */
function deleteStagedKeysSql(table: TableSchema): string {
  const same = table.key.map((k) => `t.${ident(k)} = s.${ident(k)}`).join(" AND ");
  return `DELETE FROM ${ident(table.name)} AS t USING ${stageName(table)} AS s WHERE ${same}`;
}

/** Inserts every staged row of `table`. */
function insertStagedSql(table: TableSchema): string {
  const cols = table.columns.map((c) => ident(c.name)).join(", ");
  return `INSERT INTO ${ident(table.name)} (${cols}) SELECT ${cols} FROM ${stageName(table)}`;
}

/**
 * "ignore": `INSERT INTO t (cols) SELECT cols FROM stage AS s WHERE NOT EXISTS (a row of t with s's key)`;
 * "update" (a table with its key as primary key, from an earlier version): `INSERT ... ON CONFLICT (key) DO UPDATE SET
 * c = excluded.c` for every non-key column.
 */
function mergeSql(table: TableSchema, conflict: Conflict): string {
  const cols = table.columns.map((c) => ident(c.name)).join(", ");
  const key = table.key.map(ident).join(", ");
  if (conflict === "ignore") {
    const same = table.key.map((k) => `t.${ident(k)} = s.${ident(k)}`).join(" AND ");
    return (
      `INSERT INTO ${ident(table.name)} (${cols}) SELECT ${cols} FROM ${stageName(table)} AS s ` +
      `WHERE NOT EXISTS (SELECT 1 FROM ${ident(table.name)} AS t WHERE ${same})`
    );
  }
  const sets = table.columns
    .filter((c) => !table.key.includes(c.name))
    .map((c) => `${ident(c.name)} = excluded.${ident(c.name)}`);
  return `${insertStagedSql(table)} ON CONFLICT (${key}) DO UPDATE SET ${sets.join(", ")}`;
}

/**
 * One row per key: the first for "ignore" (as if inserted one by one), the last for "update".
 * DuckDB does not do this itself: an `ON CONFLICT DO UPDATE` batch with a repeated key silently keeps the first.
 */
function dedupeByKey(table: TableSchema, rows: readonly object[], conflict: Conflict): readonly object[] {
  const byKey = new Map<unknown, object>();
  const single = table.key.length === 1 ? table.key[0] : undefined;
  for (const row of rows) {
    const key = single !== undefined ? field(row, single) : compositeKey(table.key, row);
    if (conflict === "update" || !byKey.has(key)) byKey.set(key, row);
  }
  return [...byKey.values()];
}

/** A composite key as one string, unambiguous: each part (a string or a number) prefixed with its length. */
function compositeKey(columns: readonly string[], row: object): string {
  let key = "";
  for (const column of columns) {
    const part = String(field(row, column));
    key += `${part.length}:${part}`;
  }
  return key;
}

/**
 * One value for DuckDB. Nulls pass through (DuckDB enforces NOT NULL, inside the transaction); a value of the
 * wrong JS type is a TypeError naming the column.
 */
function toDuckValue(table: TableSchema, column: Column, value: unknown): DuckDBValue {
  if (value === null || value === undefined) return null;
  const converted = convertValue(column, value);
  if (converted === undefined) {
    throw new TypeError(`${table.name}.${column.name}: expected ${column.type}, got ${describe(value)}`);
  }
  return converted;
}

/** The DuckDB value of a non-null JS value, or undefined when it does not fit the column type. */
function convertValue(column: Pick<Column, "type" | "fields">, value: unknown): DuckDBValue | undefined {
  const type = column.type;
  switch (type) {
    case "STRING":
      return typeof value === "string" ? value : undefined;
    case "INT64":
      // Data chunks take BIGINT values as bigint.
      if (typeof value === "bigint") return value;
      return typeof value === "number" && Number.isSafeInteger(value) ? BigInt(value) : undefined;
    case "FLOAT64":
      return typeof value === "number" ? value : undefined;
    case "BOOL":
      return typeof value === "boolean" ? value : undefined;
    case "TIMESTAMP":
      // ms → µs exactly: any integer ms below 2^53 / 1000 (the year 287,396) is exact after the multiplication.
      return typeof value === "number" && Number.isFinite(value)
        ? new DuckDBTimestampTZValue(BigInt(Math.round(value * 1000)))
        : undefined;
    case "JSON":
      return JSON.stringify(value);
    case "STRING_ARRAY":
      return Array.isArray(value) && value.every((s) => typeof s === "string") ? listValue(value) : undefined;
    case "RECORD_ARRAY":
      return Array.isArray(value) ? recordList(column as Column, value) : undefined;
    default: {
      const unknownType: never = type;
      throw new Error(`unknown column type ${String(unknownType)}`);
    }
  }
}

/**
 * A list of records as a DuckDB list of structs, or undefined when a record is not an object, lacks a required field,
 * or has a field of the wrong type.
 */
function recordList(column: Column, records: readonly unknown[]): DuckDBValue | undefined {
  const fields = recordFields(column);
  const out: DuckDBValue[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (typeof r !== "object" || r === null || Array.isArray(r)) return undefined;
    const entries: Record<string, DuckDBValue> = {};
    for (const f of fields) {
      const v = (r as Record<string, unknown>)[f.name];
      if (v === null || v === undefined) {
        if (f.required) return undefined;
        entries[f.name] = null;
        continue;
      }
      const converted = convertValue(f, v);
      if (converted === undefined) return undefined;
      entries[f.name] = converted;
    }
    out[i] = structValue(entries);
  }
  return listValue(out);
}

/** A query row with DuckDB's JS values made plain (see `query`). */
function convertRow(row: Record<string, JS>, jsonColumns: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(row)) {
    out[name] = jsonColumns.has(name) && typeof value === "string" ? JSON.parse(value) : plain(value);
  }
  return out;
}

/** bigint → number when safe (else a decimal string), Date → epoch ms, recursively through lists and structs. */
function plain(value: JS): unknown {
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (value instanceof Date) return value.getTime();
  if (Array.isArray(value)) return value.map(plain);
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

/** Runs `body` in a transaction: COMMIT if it succeeds, ROLLBACK and rethrow if anything fails. */
async function inTransaction(con: DuckDBConnection, body: () => Promise<void>): Promise<void> {
  await con.run("BEGIN TRANSACTION");
  try {
    await body();
    await con.run("COMMIT");
  } catch (e) {
    // A failed COMMIT has already ended the transaction, and then ROLLBACK fails: the first error is the one to report.
    await con.run("ROLLBACK").catch(() => undefined);
    throw e;
  }
}

/**
 * Checks that the directory of `path` exists, creating it only when it lies under `autoCreateUnder`.
 * Throws an Error naming the path otherwise.
 */
function ensureDirectory(path: string, autoCreateUnder: string): void {
  const dir = dirname(path);
  const absDir = resolve(dir);
  if (!existsSync(absDir)) {
    if (absDir === autoCreateUnder || absDir.startsWith(autoCreateUnder + sep)) {
      mkdirSync(absDir, { recursive: true });
      return;
    }
    throw openError(path, `directory ${dir} does not exist`);
  }
  if (!statSync(absDir).isDirectory()) throw openError(path, `${dir} is not a directory`);
}

/** Rewrites DuckDB's open errors as ones that name the path and say what to do. */
function translateOpenError(path: string, e: unknown): Error {
  const message = e instanceof Error ? e.message : String(e);
  const lock = /Could not set lock on file .*Conflicting lock is held in (.*?) \(PID (\d+)\)/s.exec(message);
  if (lock) {
    const holder = `PID ${lock[2]}, ${lock[1]}`;
    return openError(
      path,
      `it is locked by another process (${holder}) (close the other pipeline or choose another file)`,
      e,
    );
  }
  return openError(path, message, e);
}

function openError(path: string, what: string, cause?: unknown): Error {
  return new Error(`cannot open DuckDB warehouse at ${path}: ${what}`, cause === undefined ? undefined : { cause });
}

/** The name of the TEMP staging table of `table`. */
function stageTable(table: TableSchema): string {
  return `stage_${table.name}`;
}

/** The staging table of `table`, qualified so it cannot be confused with a real table. */
function stageName(table: TableSchema): string {
  return `temp.main.${ident(stageTable(table))}`;
}

/** A quoted SQL identifier. */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A row's field by column name (the row types' keys are the column names; `test/schemas/rows.test.ts` checks it). */
function field(row: object, name: string): unknown {
  return (row as Readonly<Record<string, unknown>>)[name];
}
