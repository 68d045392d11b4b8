import { createHash, randomUUID } from "node:crypto";
import {
  BigQuery,
  BigQueryDate,
  BigQueryDatetime,
  BigQueryTime,
  BigQueryTimestamp,
  type Dataset,
  Geography,
} from "@google-cloud/bigquery";
import { adapt, managedwriter } from "@google-cloud/bigquery-storage";
import { grpc } from "google-gax";
import { rowProblem } from "../../schemas/row-check.ts";
import type { BronzeRow, GoldHourlyRow, GoldSessionRow, SilverRow, TypedSilverRows } from "../../schemas/rows.ts";
import { bigQuerySchema, bigQueryTable, type ColumnType, type TableSchema } from "../../schemas/table-schema.ts";
import {
  BRONZE,
  GOLD_HOURLY,
  GOLD_SESSIONS,
  SILVER,
  TABLES,
  TYPED_TABLES,
  WRITE_ERRORS,
} from "../../schemas/tables.ts";
import type { Warehouse } from "../warehouse.ts";
import {
  appendChanges,
  type Change,
  cdcRow,
  hourlyChanges,
  primaryKey,
  sessionChanges,
  withChangeColumns,
} from "./cdc.ts";
import { retrying } from "./retry.ts";
import { planSchemaChange } from "./schema-evolution.ts";

/** How rows reach BigQuery's staging tables (see {@link BigQueryWarehouse}). */
export type AppendMethod = "storage-write" | "insert-all";

/**
 * How the tables are kept idempotent: `transaction` (staging twin, then one DML transaction per batch; one writer
 * process) or `cdc` (change data capture on the tables' default streams, no DML; any number of writers: Dataflow).
 */
export const UPSERT_METHODS = ["transaction", "cdc"] as const;
export type UpsertMethod = (typeof UPSERT_METHODS)[number];

/** CDC tables' `max_staleness`: how old a query's view of the applied changes may be (cheaper background applies). */
const CDC_MAX_STALENESS = "0-0 0 0:15:0";

export interface BigQueryWarehouseOptions {
  readonly projectId: string;
  readonly dataset: string;
  /** The REST endpoint, e.g. an emulator's `http://127.0.0.1:9050`; default Google's. */
  readonly apiEndpoint?: string;
  /** The Storage API's `host:port` in plaintext (an emulator's gRPC port); default Google's, with TLS. */
  readonly storageEndpoint?: string;
  /** Where the dataset is created when missing. Default US. */
  readonly location?: string;
  /** Default "storage-write" (the Storage Write API); "insert-all" uses `tabledata.insertAll`. */
  readonly appendMethod?: AppendMethod;
  /** Default "transaction"; "cdc" for many writers at once (see {@link BigQueryWarehouse}). */
  readonly upserts?: UpsertMethod;
  /** Wall clock for `failed_at`, for tests. */
  readonly now?: () => number;
  /**
   * Writes to different tables may run at once (each sink writes its own table). BigQuery takes concurrent DML on
   * different tables; the emulator's SQLite allows one writer ("database is locked"). Default: true against Google,
   * false when `apiEndpoint` is set (an emulator): then writes run one at a time, in the order they were asked.
   */
  readonly concurrentWrites?: boolean;
}

/** Most rows per staging append (the Storage Write API takes up to 10 MB a request). */
const MAX_ROWS_PER_APPEND = 5_000;
const MAX_BYTES_PER_APPEND = 5 * 2 ** 20;

type StreamConnection = Awaited<ReturnType<managedwriter.WriterClient["createStreamConnection"]>>;
type JSONList = Parameters<managedwriter.JSONWriter["appendRows"]>[0];

/** A table written on its default stream through the Storage Write API, and its open writer. */
interface Stream {
  readonly name: string;
  writer?: managedwriter.JSONWriter;
  connection?: StreamConnection;
}

/** A table's staging twin: the same columns, all NULLABLE, plus the batch that wrote each row. */
interface Staging extends Stream {
  readonly target: TableSchema;
}

/**
 * The medallion tables in a BigQuery dataset (or the BigQuery emulator), behind the same Warehouse interface and
 * tests as DuckDB.
 *
 * Tables are created from `schemas/` with descriptions, day partitioning and clustering; an existing table is
 * evolved (new NULLABLE columns added) or refused with every incompatible column named, before any write.
 *
 * Writes are idempotent by key, as the Warehouse contract asks, through one scheme for every table: a batch is
 * appended to the table's staging twin (`_staging_<table>_<schema hash>`, tagged with a fresh batch id) through the
 * Storage Write API's default stream (or insertAll), then one transaction moves it:
 * - Bronze, Silver: `INSERT ... SELECT` of the batch's rows whose key is not in the table yet (and one per key, so a
 *   retried append that landed twice in staging still counts once);
 * - Gold sessions, hourly: `DELETE` of the batch's keys (and the merged-away sessions), then `INSERT` of the batch.
 * So a replay after a crash, a retried append or a re-delivered message never leaves a duplicate, whatever order
 * the replay comes in (offsets on a committed stream would need the same rows at the same offsets, which a Pub/Sub
 * replay does not give). The cost: one small DML transaction per table per batch, reading the target's key column
 * (BigQuery bills at least 10 MB per statement); batches of a few seconds keep that low. DELETE+INSERT rather than
 * MERGE: the same result, and MERGE is quadratic in the BigQuery emulator.
 *
 * With `upserts: "cdc"` (many writers at once: a Dataflow job's workers) there is no staging and no DML: every
 * change is written on the table's own default stream by change data capture (`_CHANGE_TYPE`,
 * `_CHANGE_SEQUENCE_NUMBER`, see `cdc.ts`) to tables created with their primary key (`NOT ENFORCED`) and a
 * `max_staleness`; BigQuery applies the change with the highest number per key, so the writes stay idempotent and
 * order-free, and BigQuery's limit on concurrent mutating DML per table never comes into play.
 *
 * Rows that do not fit their table (a wrong type, a missing required value) go to `write_errors` with the reason;
 * the rest of the batch is written.
 */
export class BigQueryWarehouse implements Warehouse {
  readonly bq: BigQuery;
  private readonly dataset: Dataset;
  private readonly staging = new Map<string, Staging>();
  /** The tables' own default streams (CDC). */
  private readonly targets = new Map<string, Stream>();
  private writerClient: managedwriter.WriterClient | undefined;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly options: BigQueryWarehouseOptions) {
    this.bq = new BigQuery({
      projectId: options.projectId,
      ...(options.apiEndpoint === undefined ? {} : { apiEndpoint: options.apiEndpoint }),
    });
    this.dataset = this.bq.dataset(options.dataset);
    this.now = options.now ?? Date.now;
    if (options.upserts === "cdc" && options.appendMethod === "insert-all") {
      throw new Error("BigQuery change data capture writes through the Storage Write API: it cannot use insertAll");
    }
  }

  /** `bigquery://PROJECT/DATASET`. */
  static parseSpec(spec: string): { projectId: string; dataset: string } {
    const m = /^bigquery:\/\/([a-z][a-z0-9-]{4,29}|[A-Za-z0-9_.:-]+)\/([A-Za-z_][A-Za-z0-9_]{0,1023})$/.exec(spec);
    if (m === null) throw new Error(`a BigQuery warehouse is bigquery://PROJECT/DATASET, got ${JSON.stringify(spec)}`);
    return { projectId: m[1] as string, dataset: m[2] as string };
  }

  /** `project.dataset`, for messages. */
  get name(): string {
    return `${this.options.projectId}.${this.options.dataset}`;
  }

  async open(): Promise<void> {
    this.check();
    const [exists] = await this.dataset.exists();
    if (!exists) {
      await this.bq.createDataset(this.options.dataset, { location: this.options.location ?? "US" });
    }
    // Every table is checked before any is created or changed: an incompatible one leaves the dataset as it was.
    const changes: (() => Promise<unknown>)[] = [];
    for (const table of [...TABLES, WRITE_ERRORS]) {
      const change = await this.planTable(table);
      if (change !== undefined) changes.push(change);
    }
    for (const change of changes) await change();
    if (this.cdc) return;
    for (const table of TABLES) await this.ensureStaging(table);
  }

  private get cdc(): boolean {
    return this.options.upserts === "cdc";
  }

  appendBronze(rows: readonly BronzeRow[]): Promise<void> {
    return this.serial(() => this.append(BRONZE, rows));
  }

  appendSilver(rows: readonly SilverRow[]): Promise<void> {
    return this.serial(() => this.append(SILVER, rows));
  }

  appendTyped<T extends keyof TypedSilverRows>(type: T, rows: readonly TypedSilverRows[T][]): Promise<void> {
    return this.serial(() => this.append(TYPED_TABLES[type], rows));
  }

  writeSessions(
    upserts: readonly GoldSessionRow[],
    deletes: readonly string[],
    seqs?: ReadonlyMap<string, number>,
  ): Promise<void> {
    return this.serial(() => this.replace(GOLD_SESSIONS, upserts, deletes, (good, d) => sessionChanges(good, d, seqs)));
  }

  upsertHourly(rows: readonly GoldHourlyRow[]): Promise<void> {
    return this.serial(() => this.replace(GOLD_HOURLY, rows, [], hourlyChanges));
  }

  /** The end of the queue of writes, when they run one at a time (see `concurrentWrites`). */
  private writeTail: Promise<unknown> = Promise.resolve();

  /** Runs a write now, or after the writes asked before it when writes run one at a time. */
  private serial(write: () => Promise<void>): Promise<void> {
    if (this.options.concurrentWrites ?? this.options.apiEndpoint === undefined) return write();
    const result = this.writeTail.then(write, write);
    this.writeTail = result.catch(() => undefined);
    return result;
  }

  async counts(): Promise<Record<string, number>> {
    this.check();
    const sql = `SELECT ${TABLES.map((t) => `(SELECT COUNT(*) FROM ${this.ref(t.name)}) AS ${t.name}`).join(", ")}`;
    const [row] = await this.run(sql);
    return Object.fromEntries(TABLES.map((t) => [t.name, Number(row?.[t.name] ?? 0)]));
  }

  /**
   * Runs one read-only statement (SELECT or WITH) with the dataset as default, so tables are named bare. Values
   * come back in the row types' form: TIMESTAMP and DATE as epoch ms, INT64 as numbers when safe (else decimal
   * strings), NUMERIC as numbers, JSON parsed, arrays as arrays.
   */
  async query(sql: string): Promise<Record<string, unknown>[]> {
    this.check();
    assertReadOnly(sql);
    return this.run(sql);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.staging.values(), ...this.targets.values()]) s.connection?.close();
    this.writerClient?.close();
  }

  // --- tables

  /**
   * What `table` needs: to be created, to be evolved (the new field list), or nothing. Throws, naming every column,
   * when the existing table is incompatible; `open` plans every table before it changes any.
   */
  private async planTable(table: TableSchema): Promise<(() => Promise<unknown>) | undefined> {
    const t = this.dataset.table(table.name);
    const [exists] = await t.exists();
    const cdc = this.cdc && table !== WRITE_ERRORS;
    if (!exists) {
      return () =>
        this.dataset.createTable(table.name, {
          ...bigQueryTable(table),
          ...(cdc ? { tableConstraints: primaryKey(table), maxStaleness: CDC_MAX_STALENESS } : {}),
        });
    }
    const [meta] = await t.getMetadata();
    if (cdc) {
      const declared: string[] = meta.tableConstraints?.primaryKey?.columns ?? [];
      if (declared.join(",") !== table.key.join(",")) {
        // A table of an earlier version may declare another key (Silver's was event_id alone): it goes first.
        const drop = declared.length === 0 ? "" : `ALTER TABLE ${table.name} DROP PRIMARY KEY, then `;
        throw new Error(
          `${this.name}.${table.name}: change data capture needs the primary key (${table.key.join(", ")}), the table ` +
            `declares ${declared.length === 0 ? "none" : `(${declared.join(", ")})`}: ${drop}ALTER TABLE ${table.name} ` +
            `ADD PRIMARY KEY (${table.key.join(", ")}) NOT ENFORCED, or write with --bigquery-upserts=transaction`,
        );
      }
    }
    const plan = planSchemaChange(`${this.name}.${table.name}`, meta.schema?.fields ?? [], bigQuerySchema(table));
    if (plan.add.length === 0 && plan.relax.length === 0) return undefined;
    const relax = new Set(plan.relax.map((n) => n.toLowerCase()));
    const fields = [
      ...(meta.schema?.fields ?? []).map((f: { name: string; mode?: string }) =>
        relax.has(f.name.toLowerCase()) ? { ...f, mode: "NULLABLE" } : f,
      ),
      ...plan.add,
    ];
    return () => t.setMetadata({ schema: { fields } });
  }

  /** The staging twin of `table`, named by a hash of its schema: a schema change gets a fresh one. */
  private async ensureStaging(table: TableSchema): Promise<void> {
    const fields = bigQuerySchema(table).map((f) => ({ ...f, mode: f.mode === "REPEATED" ? "REPEATED" : "NULLABLE" }));
    const hash = createHash("sha256").update(JSON.stringify(fields)).digest("hex").slice(0, 10);
    const name = `_staging_${table.name}_${hash}`;
    const [exists] = await this.dataset.table(name).exists();
    if (!exists) {
      await this.dataset.createTable(name, {
        description: `Staging for ${table.name}: each batch lands here, then moves in one transaction.`,
        schema: { fields: [...fields, { name: "_batch", type: "STRING", mode: "REQUIRED" }] },
        // Staged rows are needed for seconds; BigQuery drops day partitions after two days.
        timePartitioning: { type: "DAY", expirationMs: String(2 * 86_400_000) },
      });
    }
    this.staging.set(table.name, { target: table, name });
  }

  // --- writes

  private async append(table: TableSchema, rows: readonly object[]): Promise<void> {
    this.check();
    const good = await this.screen(table, rows);
    if (good.length === 0) return;
    if (this.cdc) return this.writeChanges(table, appendChanges(good));
    const batch = await this.stage(table, firstPerKey(table, good));
    const key = keyExpression(table);
    const cols = table.columns.map((c) => c.name).join(", ");
    await this.run(
      `INSERT INTO ${this.ref(table.name)} (${cols}) SELECT ${cols} FROM ${this.ref(this.stagingOf(table).name)} ` +
        `WHERE _batch = @batch AND ${key} NOT IN (SELECT ${key} FROM ${this.ref(table.name)}) ` +
        `QUALIFY ROW_NUMBER() OVER (PARTITION BY ${key}) = 1`,
      { batch },
    );
  }

  /**
   * Deletes `rows`' keys and `deletes` (keys of a single-column key), then inserts `rows`, in one transaction; or,
   * by CDC, writes the changes `cdc` makes of them.
   */
  private async replace(
    table: TableSchema,
    rows: readonly object[],
    deletes: readonly string[],
    cdc: (good: readonly object[], deletes: readonly string[]) => Change[],
  ): Promise<void> {
    this.check();
    const good = await this.screen(table, lastPerKey(table, rows));
    if (good.length === 0 && deletes.length === 0) return;
    if (this.cdc) return this.writeChanges(table, cdc(good, deletes));
    const batch = good.length > 0 ? await this.stage(table, good) : randomUUID();
    const key = keyExpression(table);
    const stage = this.ref(this.stagingOf(table).name);
    const cols = table.columns.map((c) => c.name).join(", ");
    await this.run(
      [
        "BEGIN TRANSACTION",
        `DELETE FROM ${this.ref(table.name)} WHERE ${key} IN UNNEST(@deletes) OR ${key} IN (SELECT ${key} FROM ${stage} WHERE _batch = @batch)`,
        `INSERT INTO ${this.ref(table.name)} (${cols}) SELECT ${cols} FROM ${stage} WHERE _batch = @batch QUALIFY ROW_NUMBER() OVER (PARTITION BY ${key}) = 1`,
        "COMMIT TRANSACTION",
      ].join(";\n"),
      { batch, deletes: [...deletes] },
      { deletes: ["STRING"] },
    );
  }

  /** The rows that fit `table`; the others are written to `write_errors` with the reason. */
  private async screen(table: TableSchema, rows: readonly object[]): Promise<object[]> {
    const good: object[] = [];
    const bad: Record<string, unknown>[] = [];
    const failedAt = this.now();
    for (const row of rows) {
      const problem = rowProblem(table, row);
      if (problem === undefined) {
        good.push(row);
        continue;
      }
      const values = row as Record<string, unknown>;
      bad.push({
        target_table: table.name,
        row_key: safeJson(table.key.map((k) => values[k])),
        reason: problem,
        row_json: safeJson(row),
        failed_at: failedAt,
      });
    }
    if (bad.length > 0) {
      // Straight into write_errors (an append-only record; the insertId drops a retried request's copy).
      await this.insertAll(
        WRITE_ERRORS.name,
        bad.map((r) => ({ insertId: `${r.row_key}@${failedAt}`, json: toApiRow(WRITE_ERRORS, r, isoTimestamp) })),
      );
    }
    return good;
  }

  /** Appends rows to the table's staging twin under a fresh batch id, which it returns. */
  private async stage(table: TableSchema, rows: readonly object[]): Promise<string> {
    const batch = randomUUID();
    const staging = this.stagingOf(table);
    for (const chunk of chunks(rows)) {
      if ((this.options.appendMethod ?? "storage-write") === "insert-all") {
        // The insertId (batch and key) lets BigQuery drop the copy a retried request would add (best effort; the
        // move out of staging keeps one row per key anyway).
        await this.insertAll(
          staging.name,
          chunk.map((r) => ({
            insertId: `${batch}:${keyOf(table, r)}`,
            json: { ...toApiRow(table, r, isoTimestamp), _batch: batch },
          })),
        );
      } else {
        const json = chunk.map((r) => ({ ...toApiRow(table, r, microsTimestamp), _batch: batch }));
        await this.appendJson(staging, json);
      }
    }
    return batch;
  }

  /** `tabledata.insertAll` in chunks, each retried on transient errors. */
  private async insertAll(
    tableName: string,
    rows: readonly { insertId: string; json: Record<string, unknown> }[],
  ): Promise<void> {
    const table = this.dataset.table(tableName);
    for (const chunk of chunks(rows)) {
      await retrying(`insertAll into ${tableName}`, async () => {
        try {
          await table.insert(chunk, { raw: true, skipInvalidRows: false });
        } catch (e) {
          throw describeInsertError(tableName, e);
        }
      });
    }
  }

  /** Writes `changes` to `table`'s own default stream by change data capture, in chunks. */
  private async writeChanges(table: TableSchema, changes: readonly Change[]): Promise<void> {
    let stream = this.targets.get(table.name);
    if (stream === undefined) {
      stream = { name: table.name };
      this.targets.set(table.name, stream);
    }
    for (const chunk of chunks(changes)) {
      await this.appendJson(
        stream,
        chunk.map((c) => cdcRow(c, toApiRow(table, c.row, microsTimestamp))),
        table,
      );
    }
  }

  /**
   * Appends JSON rows on a table's default stream, retried on transient errors. With `cdcOf`, the writer's schema
   * is the table's with the CDC pseudo-columns, and only `cdcOf`'s key columns required (a DELETE carries its key).
   */
  private async appendJson(
    stream: Stream,
    json: readonly Record<string, unknown>[],
    cdcOf?: TableSchema,
  ): Promise<void> {
    await retrying(`Storage Write API append to ${stream.name}`, async () => {
      const writer = await this.writerFor(stream, cdcOf);
      try {
        const result = await writer.appendRows(json as JSONList).getResult();
        const errors = result.error ?? result.rowErrors?.[0];
        if (errors) throw new Error(`${stream.name}: ${JSON.stringify(errors)}`);
      } catch (e) {
        // A connection is dead after a server error: the next attempt opens another.
        stream.connection?.close();
        stream.connection = undefined;
        stream.writer = undefined;
        throw e;
      }
    });
  }

  /** A JSON writer on the table's default stream. */
  private async writerFor(staging: Stream, cdcOf?: TableSchema): Promise<managedwriter.JSONWriter> {
    if (staging.writer !== undefined) return staging.writer;
    this.writerClient ??= new managedwriter.WriterClient({
      projectId: this.options.projectId,
      ...(this.options.storageEndpoint === undefined ? {} : storageEndpointOptions(this.options.storageEndpoint)),
    });
    const parent = `projects/${this.options.projectId}/datasets/${this.options.dataset}/tables/${staging.name}`;
    // The emulator registers a table's default stream only when asked for it first (and an append to an unknown
    // stream wedges its gRPC side); real BigQuery answers this too.
    await this.writerClient.getWriteStream({ streamId: `${parent}/streams/_default` });
    const [meta] = await this.dataset.table(staging.name).getMetadata();
    let schema = meta.schema;
    if (cdcOf !== undefined) {
      const key = new Set(cdcOf.key);
      type Field = { name: string; type: string; mode?: string };
      const fields = (schema.fields as Field[]).map((f) =>
        key.has(f.name) || f.mode !== "REQUIRED" ? f : { ...f, mode: "NULLABLE" },
      );
      schema = { fields: withChangeColumns(fields, (name) => ({ name, type: "STRING", mode: "NULLABLE" })) };
    }
    const protoDescriptor = adapt.convertStorageSchemaToProto2Descriptor(
      adapt.convertBigQuerySchemaToStorageTableSchema(schema),
      "root",
    );
    const connection = await this.writerClient.createStreamConnection({
      streamId: managedwriter.DefaultStream,
      destinationTable: parent,
    });
    staging.connection = connection;
    staging.writer = new managedwriter.JSONWriter({ connection, protoDescriptor });
    return staging.writer;
  }

  // --- queries

  private async run(
    sql: string,
    params?: Record<string, unknown>,
    types?: Record<string, unknown>,
  ): Promise<Record<string, unknown>[]> {
    // Every statement run here may run again: reads, and transactions that move a staged batch by key.
    const [rows] = await retrying("a BigQuery statement", () =>
      this.bq.query(
        {
          query: sql,
          defaultDataset: { projectId: this.options.projectId, datasetId: this.options.dataset },
          ...(params === undefined ? {} : { params }),
          ...(types === undefined ? {} : { types }),
          parseJSON: true,
          wrapIntegers: { integerTypeCastFunction: integer },
        } as Parameters<BigQuery["query"]>[0] & object,
        // Nested TIMESTAMPs (in arrays, structs) crash the client's parser unless they come as ISO strings.
        { "formatOptions.timestampOutputFormat": "ISO8601_STRING" } as Record<string, unknown>,
      ),
    );
    return (rows as Record<string, unknown>[]).map((r) => plain(r) as Record<string, unknown>);
  }

  private ref(table: string): string {
    return `\`${this.options.projectId}.${this.options.dataset}.${table}\``;
  }

  private stagingOf(table: TableSchema): Staging {
    const s = this.staging.get(table.name);
    if (s === undefined) throw new Error(`BigQuery warehouse ${this.name}: open() it before writing`);
    return s;
  }

  private check(): void {
    if (this.closed) throw new Error(`the BigQuery warehouse ${this.name} is closed`);
  }
}

function storageEndpointOptions(endpoint: string): Record<string, unknown> {
  const m = /^([^:]+):(\d+)$/.exec(endpoint);
  if (m === null) throw new Error(`the Storage API endpoint must be host:port, got ${JSON.stringify(endpoint)}`);
  // Plaintext: an emulator on loopback (google-gax takes sslCreds as given and skips authentication).
  return { apiEndpoint: m[1], port: Number(m[2]), sslCreds: grpc.credentials.createInsecure() };
}

/**
 * An SQL expression of the table's key as one STRING, for `IN` lists: the column itself for a STRING key; for a
 * composite key the non-string parts (as decimal text) first, then the string columns, each but the last prefixed
 * with its length and ":" (Silver's (tenant_id, event_id): `4:acme|e1`), joined by "|", so the split is unambiguous
 * whatever the strings hold: two rows have the same expression only when they have the same key.
 */
function keyExpression(table: TableSchema): string {
  const cols = table.key.map((k) => {
    const col = table.columns.find((c) => c.name === k);
    if (col === undefined) throw new Error(`${table.name}: key column ${k} is not a column`);
    return col;
  });
  if (cols.length === 1 && cols[0]?.type === "STRING") return cols[0].name;
  const strings = cols.filter((c) => c.type === "STRING");
  const text = (name: string, type: ColumnType): string =>
    type === "TIMESTAMP" ? `CAST(UNIX_MICROS(${name}) AS STRING)` : `CAST(${name} AS STRING)`;
  const parts = [
    ...cols.filter((c) => c.type !== "STRING").map((c) => text(c.name, c.type)),
    ...strings.map((c, i) => (i < strings.length - 1 ? `CAST(LENGTH(${c.name}) AS STRING), ':', ${c.name}` : c.name)),
  ];
  return `CONCAT(${parts.join(", '|', ")})`;
}

function keyOf(table: TableSchema, row: object): string {
  const values = row as Record<string, unknown>;
  return JSON.stringify(table.key.map((k) => values[k]));
}

/** The first row of each key (a replayed Bronze or Silver row never replaces the one written first). */
function firstPerKey(table: TableSchema, rows: readonly object[]): object[] {
  const seen = new Map<string, object>();
  for (const r of rows) {
    const k = keyOf(table, r);
    if (!seen.has(k)) seen.set(k, r);
  }
  return [...seen.values()];
}

/** The last row of each key (a later pane replaces an earlier one). */
function lastPerKey(table: TableSchema, rows: readonly object[]): object[] {
  const last = new Map<string, object>();
  for (const r of rows) last.set(keyOf(table, r), r);
  return [...last.values()];
}

/** TIMESTAMP values as each API takes them: insertAll an ISO string (exact to the ms), the Storage Write API µs. */
const isoTimestamp = (ms: number): string => new Date(ms).toISOString();
const microsTimestamp = (ms: number): number => ms * 1000;

/** A row for insertAll or the Storage Write API's JSON writer: nulls left out, JSON as text, times by `time`. */
function toApiRow(table: TableSchema, row: object, time: (ms: number) => unknown): Record<string, unknown> {
  const values = row as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const c of table.columns) {
    const v = values[c.name];
    if (v === null || v === undefined) continue;
    out[c.name] = c.type === "TIMESTAMP" ? time(v as number) : c.type === "JSON" ? JSON.stringify(v) : v;
  }
  return out;
}

function* chunks<T>(rows: readonly T[]): Generator<T[]> {
  let start = 0;
  while (start < rows.length) {
    let bytes = 0;
    let end = start;
    while (end < rows.length && end - start < MAX_ROWS_PER_APPEND && bytes < MAX_BYTES_PER_APPEND) {
      bytes += JSON.stringify(rows[end]).length;
      end++;
    }
    yield rows.slice(start, end);
    start = end;
  }
}

function describeInsertError(table: string, e: unknown): Error {
  const rowErrors = (e as { errors?: { errors?: { message?: string }[]; row?: unknown }[] })?.errors;
  if (Array.isArray(rowErrors) && rowErrors.length > 0) {
    const first = rowErrors[0];
    return new Error(
      `insertAll into ${table}: ${rowErrors.length} rows refused; first: ${first?.errors?.map((x) => x.message).join("; ")}`,
      { cause: e },
    );
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** INT64 from the client (a decimal string): a number when safe, else the string. */
function integer(value: string | number): number | string {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : String(value);
}

/** Query values in the row types' form (see `query`), recursively. */
function plain(value: unknown): unknown {
  if (value instanceof BigQueryTimestamp) return Date.parse(value.value);
  if (value instanceof BigQueryDate) return Date.parse(`${value.value}T00:00:00Z`);
  if (Array.isArray(value)) return value.map(plain);
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Buffer) return value;
  // NUMERIC and BIGNUMERIC come as Big.js values.
  if (value.constructor?.name === "Big") return Number(String(value));
  // DATETIME, TIME and GEOGRAPHY as their text; a STRUCT (a plain object) field by field.
  if (value instanceof BigQueryDatetime || value instanceof BigQueryTime || value instanceof Geography) {
    return value.value;
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

/** Refuses anything but one SELECT or WITH statement (a trailing semicolon allowed). */
export function assertReadOnly(sql: string): void {
  const statements = splitStatements(sql);
  if (statements.length !== 1) throw new Error(`query() runs one statement; got ${statements.length}`);
  const first = /^\s*(?:\(\s*)*([A-Za-z]+)/.exec(statements[0] as string)?.[1]?.toUpperCase();
  if (first !== "SELECT" && first !== "WITH") {
    throw new Error(`query() runs read-only SQL; got a ${first ?? "empty"} statement`);
  }
}

/** Statements of a script, split on semicolons outside quotes, backticks and comments; empty ones dropped. */
function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = "";
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i] as string;
    if (ch === "'" || ch === '"' || ch === "`") {
      let j = i + 1;
      while (j < sql.length && sql[j] !== ch) j += sql[j] === "\\" ? 2 : 1;
      current += sql.slice(i, j + 1);
      i = j;
    } else if (ch === "-" && sql[i + 1] === "-") {
      const j = sql.indexOf("\n", i);
      i = j === -1 ? sql.length : j;
      current += " ";
    } else if (ch === "/" && sql[i + 1] === "*") {
      const j = sql.indexOf("*/", i + 2);
      i = j === -1 ? sql.length : j + 1;
      current += " ";
    } else if (ch === ";") {
      out.push(current);
      current = "";
    } else current += ch;
  }
  out.push(current);
  return out.filter((s) => s.trim() !== "");
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
