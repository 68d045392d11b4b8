import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { DoFn } from "../../core/do-fn.ts";
import { currentMetricsContainer, type MetricsContainer, runInMetricsContainer } from "../../core/metrics.ts";
import type { PCollection } from "../../core/pcollection.ts";
import type { PTransform } from "../../core/ptransform.ts";
import { duckdbDdl, type TableSchema } from "../../schemas/table-schema.ts";
import { parDo } from "../../transforms/par-do.ts";
import { appendRows } from "../duckdb/duckdb-warehouse.ts";
import type { ArchiveStore } from "./archive-location.ts";

/** Parquet's compression codecs the archive writes (DuckDB's `COPY ... (FORMAT parquet, COMPRESSION ...)`). */
export const ARCHIVE_COMPRESSIONS = ["zstd", "snappy"] as const;
export type ArchiveCompression = (typeof ARCHIVE_COMPRESSIONS)[number];

/** The partition of a row whose time is missing or not a number (Hive's name for a null partition value). */
export const UNKNOWN_PARTITION = "dt=__HIVE_DEFAULT_PARTITION__/hour=__HIVE_DEFAULT_PARTITION__";

const HOUR_MS = 3_600_000;

/** One file the archive put: its name under the location, and the rows it holds. */
export interface ArchivedFile {
  readonly path: string;
  readonly rows: number;
}

export interface ArchiveWriteOptions {
  /** The file's columns (in order, with their types) and the key that identifies a row: one of `schemas/tables.ts`. */
  readonly table: TableSchema;
  /** Where the files go. */
  readonly store: ArchiveStore;
  /** The column (epoch ms) whose hour (UTC) partitions the files: `dt=YYYY-MM-DD/hour=HH/`. */
  readonly timeColumn: string;
  /** Default zstd. */
  readonly compression?: ArchiveCompression;
  /**
   * The sink's name in its metrics (label `sink`): `tidemark/sink_rows_written`, `tidemark/sink_batch_ms` (each
   * bundle's files, a distribution), `tidemark/sink_write_errors` and `tidemark/archive_files_written`. Default none.
   */
  readonly metricsName?: string;
  /** Told of each file once it is in place (for a run's summary). */
  readonly onFile?: (file: ArchivedFile) => void;
}

/**
 * A sink writing a PCollection of rows to compressed Parquet files, hourly partitioned by `timeColumn`:
 * `dt=YYYY-MM-DD/hour=HH/part-HASH.parquet` under the store's location, readable with DuckDB's
 * `read_parquet('DIR/**\/*.parquet', hive_partitioning = true)` (or BigQuery's external tables).
 *
 * **Exactly once per row after a crash.** The step requires stable input (Beam's `@RequiresStableInput`): on a runner
 * that checkpoints, it sees only the rows a durable checkpoint holds, all of one checkpoint's rows in one bundle, and
 * after a crash the same rows again, in one bundle, from that checkpoint (`runners/direct/stable-input.ts`). A
 * bundle's rows of one hour make one file whose name is the hash of their sorted keys: a function of the
 * checkpoint's rows alone, never of when or how a run cut them, so a replayed bundle puts the same names again (each
 * replacing its earlier, whole or part-written, copy) and no row is in two files (see `io/archive/README.md`). A
 * file is written to a scratch name and put in place whole (a rename; one upload), so a reader never sees part of
 * one. Within a bundle a repeated key is written once (the first row, as the warehouse's Bronze keeps it).
 *
 * On a runner without checkpoints the rows come in the runner's own bundles, written as they finish: a crash then
 * may leave a row in two files after the rerun. The medallion's `--archive` therefore requires `--checkpoint-dir`.
 */
export function archiveWrite<T extends object>(
  options: ArchiveWriteOptions,
): PTransform<PCollection<T>, PCollection<never>> {
  const { table, store, timeColumn, metricsName, onFile } = options;
  const compression = options.compression ?? "zstd";
  if (!table.columns.some((c) => c.name === timeColumn)) {
    throw new Error(`archiveWrite: ${table.name} has no column ${timeColumn} to partition by`);
  }
  if (table.key.length === 0) throw new Error(`archiveWrite: ${table.name} has no key to name its files by`);
  let rows: T[] = [];
  let chain: Promise<void> = Promise.resolve();
  let writer: ParquetFileWriter | undefined;
  const writeBundle = async (bundle: readonly T[], metrics: MetricsContainer | undefined): Promise<void> => {
    writer ??= await ParquetFileWriter.open(table);
    const started = performance.now();
    let n = 0;
    for (const [partition, part] of partitionByHour(bundle, table, timeColumn)) {
      const name = `${partition}/part-${part.hash}.parquet`;
      const scratch = join(store.scratchDir, `${part.hash}-${process.pid}.parquet.tmp`);
      try {
        await writer.write(part.rows, scratch, compression);
        await store.put(name, scratch);
      } finally {
        rmSync(scratch, { force: true });
      }
      n += part.rows.length;
      onFile?.({ path: name, rows: part.rows.length });
      if (metrics !== undefined && metricsName !== undefined) {
        metrics.counter("tidemark", "archive_files_written", { sink: metricsName }).inc();
      }
    }
    if (metrics !== undefined && metricsName !== undefined) {
      const labels = { sink: metricsName };
      metrics.counter("tidemark", "sink_rows_written", labels).inc(n);
      metrics.distribution("tidemark", "sink_batch_ms", labels).update(Math.round(performance.now() - started));
    }
  };
  const fn: DoFn<T, never> = {
    requiresStableInput: true,
    setup() {
      rows = [];
      chain = Promise.resolve();
    },
    process(row) {
      rows.push(row);
    },
    finishBundle() {
      if (rows.length === 0) return undefined;
      const bundle = rows;
      rows = [];
      const metrics = currentMetricsContainer();
      chain = chain.then(async () => {
        try {
          await runInMetricsContainer(metrics, () => writeBundle(bundle, metrics));
        } catch (e) {
          if (metricsName !== undefined) metrics.counter("tidemark", "sink_write_errors", { sink: metricsName }).inc();
          throw e;
        }
      });
      return chain;
    },
    teardown() {
      writer?.close();
      writer = undefined;
    },
  };
  return parDo(fn);
}

/** One hour's rows of a bundle: sorted by key, a repeated key once, and the hash of their keys. */
interface HourPart<T> {
  readonly rows: T[];
  readonly hash: string;
}

/**
 * A bundle's rows by hour partition of `timeColumn`, each hour's rows sorted by their key (repeats dropped, the first
 * kept) and named by the SHA-256 of those keys (32 hex digits): the same rows give the same name, whatever their
 * order in the bundle.
 */
export function partitionByHour<T extends object>(
  rows: readonly T[],
  table: TableSchema,
  timeColumn: string,
): Map<string, HourPart<T>> {
  const byHour = new Map<string, Map<string, T>>();
  // The partition of each hour met (one string built per hour, not per row).
  const names = new Map<number, string>();
  for (const row of rows) {
    const time = field(row, timeColumn);
    let partition: string;
    if (typeof time === "number" && Number.isFinite(time)) {
      const hour = Math.floor(time / HOUR_MS);
      partition = names.get(hour) ?? hourPartition(time);
      names.set(hour, partition);
    } else partition = UNKNOWN_PARTITION;
    let keyed = byHour.get(partition);
    if (keyed === undefined) {
      keyed = new Map();
      byHour.set(partition, keyed);
    }
    const key = rowKey(table.key, row);
    if (!keyed.has(key)) keyed.set(key, row);
  }
  const out = new Map<string, HourPart<T>>();
  for (const [partition, keyed] of [...byHour].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const keys = [...keyed.keys()].sort();
    const hash = createHash("sha256");
    for (const k of keys) hash.update(k).update("\n");
    out.set(partition, { rows: keys.map((k) => keyed.get(k) as T), hash: hash.digest("hex").slice(0, 32) });
  }
  return out;
}

/** `dt=YYYY-MM-DD/hour=HH` of an epoch-ms time in UTC; `UNKNOWN_PARTITION` for anything else. */
export function hourPartition(time: unknown): string {
  if (typeof time !== "number" || !Number.isFinite(time) || Math.abs(time) > 8.64e15) return UNKNOWN_PARTITION;
  const iso = new Date(time).toISOString();
  // A year beyond 9999 is written +YYYYYY-: the date is everything before the T.
  const t = iso.indexOf("T");
  return `dt=${iso.slice(0, t)}/hour=${iso.slice(t + 1, t + 3)}`;
}

/** A row's key as one unambiguous string: each part (as text) prefixed with its length. */
function rowKey(columns: readonly string[], row: object): string {
  let key = "";
  for (const column of columns) {
    const part = String(field(row, column));
    key += `${part.length}:${part}`;
  }
  return key;
}

function field(row: object, name: string): unknown {
  return (row as Readonly<Record<string, unknown>>)[name];
}

/**
 * Writes rows of one table to Parquet files through an in-memory DuckDB: the rows are appended to a table made from
 * the schema (the same conversion as the DuckDB warehouse's, so a file's columns are the table's, typed alike), then
 * `COPY ... TO` a file.
 */
export class ParquetFileWriter {
  private constructor(
    private readonly table: TableSchema,
    private readonly instance: DuckDBInstance,
    private readonly con: DuckDBConnection,
  ) {}

  static async open(table: TableSchema): Promise<ParquetFileWriter> {
    const instance = await DuckDBInstance.create(":memory:");
    try {
      const con = await instance.connect();
      await con.run("SET TimeZone = 'UTC'");
      await con.run(duckdbDdl(table, { primaryKey: false }));
      return new ParquetFileWriter(table, instance, con);
    } catch (e) {
      instance.closeSync();
      throw e;
    }
  }

  /** Writes `rows`, in their order, to the Parquet file `path` (replacing it). */
  async write(rows: readonly object[], path: string, compression: ArchiveCompression): Promise<void> {
    const name = `"${this.table.name.replaceAll('"', '""')}"`;
    await this.con.run(`DELETE FROM ${name}`);
    const appender = await this.con.createAppender(this.table.name);
    try {
      appendRows(appender, this.table, rows);
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    const file = `'${path.replaceAll("'", "''")}'`;
    await this.con.run(`COPY ${name} TO ${file} (FORMAT parquet, COMPRESSION ${compression})`);
  }

  close(): void {
    this.con.closeSync();
    this.instance.closeSync();
  }
}
