import { readFileSync } from "node:fs";
import { DuckDBInstance } from "@duckdb/node-api";
import { BRONZE } from "../../../schemas/tables.ts";

/** A Bronze column as comparable text in SQL (JSON as its text, times as epoch microseconds). */
function comparable(name: string): string {
  const c = BRONZE.columns.find((x) => x.name === name);
  if (c?.type === "TIMESTAMP") return `epoch_us(${name}) AS ${name}`;
  if (c?.type === "JSON") return `${name}::VARCHAR AS ${name}`;
  return name;
}

/** Bronze's columns but `except`, as `comparable` gives them. */
function columns(except: readonly string[]): string {
  return BRONZE.columns
    .filter((c) => !except.includes(c.name))
    .map((c) => comparable(c.name))
    .join(", ");
}

export interface ArchiveCheck {
  /** Rows in the archive's files. */
  readonly rows: number;
  /** Rows whose (message_id, publish_time) another row of the archive has too. */
  readonly duplicates: number;
  /** Rows whose dt= and hour= are not their publish time's (UTC). */
  readonly misplaced: number;
  /** Bronze rows the archive lacks, and archive rows Bronze lacks (every column compared but the `except` ones). */
  readonly missing: number;
  readonly extra: number;
  /** Archive rows whose ingest time is before the Bronze row's of the same key (an earlier delivery's). */
  readonly earlierIngest: number;
  /** The distinct message ids of the archive, sorted. */
  readonly messageIds: string[];
  /** The files read. */
  readonly files: string[];
}

/**
 * Reads the Parquet files under `glob` with DuckDB (`read_parquet(..., hive_partitioning = true)`) and compares them
 * with the Bronze table of the DuckDB file `warehouse` (attached read-only): every column (but `except`), every row,
 * both ways.
 */
export async function checkArchive(
  glob: string,
  warehouse: string,
  except: readonly string[] = [],
): Promise<ArchiveCheck> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    await con.run("SET TimeZone = 'UTC'");
    await con.run(`ATTACH '${warehouse}' AS w (READ_ONLY)`);
    const files = `read_parquet('${glob}', hive_partitioning = true, filename = true)`;
    await con.run(`CREATE TEMP TABLE a AS SELECT * FROM ${files}`);
    const one = async (sql: string): Promise<number> =>
      Number((await con.runAndReadAll(sql)).getRowObjectsJson()[0]?.n ?? Number.NaN);
    const rows = await one("SELECT count(*) AS n FROM a");
    const duplicates = await one("SELECT count(*) - count(DISTINCT (message_id, publish_time)) AS n FROM a");
    const misplaced = await one(
      "SELECT count(*) AS n FROM a WHERE dt::VARCHAR <> strftime(publish_time, '%Y-%m-%d') " +
        "OR lpad(hour::VARCHAR, 2, '0') <> strftime(publish_time, '%H')",
    );
    const bronze = `SELECT ${columns(except)} FROM w.bronze_messages`;
    const archived = `SELECT ${columns(except)} FROM a`;
    const missing = await one(`SELECT count(*) AS n FROM (${bronze} EXCEPT ALL ${archived})`);
    const extra = await one(`SELECT count(*) AS n FROM (${archived} EXCEPT ALL ${bronze})`);
    const earlierIngest = await one(
      "SELECT count(*) AS n FROM a JOIN w.bronze_messages AS b USING (message_id, publish_time) " +
        "WHERE a.ingest_time < b.ingest_time",
    );
    const ids = (await con.runAndReadAll("SELECT DISTINCT message_id FROM a ORDER BY 1")).getRowObjectsJson();
    const fileRows = (await con.runAndReadAll("SELECT DISTINCT filename FROM a ORDER BY 1")).getRowObjectsJson();
    return {
      rows,
      duplicates,
      misplaced,
      missing,
      extra,
      earlierIngest,
      messageIds: ids.map((r) => String(r.message_id)).sort(),
      files: fileRows.map((r) => String(r.filename)),
    };
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** The message ids of a fixture stream file (`io/test-stream/jsonl.ts`), read here on their own, sorted. */
export function fixtureMessageIds(file: string): string[] {
  const ids: string[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    const ev = JSON.parse(line) as { input?: { value: { messageId: string } }[] };
    for (const e of ev.input ?? []) ids.push(e.value.messageId);
  }
  return ids.sort();
}
