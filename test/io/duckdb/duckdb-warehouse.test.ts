import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import type { GoldSessionRow, SilverRow } from "../../../schemas/rows.ts";
import { type ColumnType, duckdbDdl } from "../../../schemas/table-schema.ts";
import { BRONZE, GOLD_HOURLY, GOLD_SESSIONS, SILVER_ACTIVITY, TABLES } from "../../../schemas/tables.ts";
import { activity, bronze, hourly, order, session, silver, T0, warehouseContract } from "../warehouse-contract.ts";

/**
 * The DuckDB type names `information_schema.columns.data_type` reports for each column type (the one RECORD_ARRAY
 * column, silver_orders.line_items, written out).
 */
const DATA_TYPES: Record<ColumnType, string> = {
  RECORD_ARRAY: "STRUCT(sku VARCHAR, quantity BIGINT, unit_price DOUBLE)[]",
  STRING: "VARCHAR",
  INT64: "BIGINT",
  FLOAT64: "DOUBLE",
  BOOL: "BOOLEAN",
  TIMESTAMP: "TIMESTAMP WITH TIME ZONE",
  JSON: "JSON",
  STRING_ARRAY: "VARCHAR[]",
};

let dir: string;
let opened: DuckDbWarehouse[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tidemark-duckdb-"));
  opened = [];
});

afterEach(async () => {
  for (const w of opened) await w.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A warehouse on a fresh file in the test's temp dir, opened, and closed after the test. */
async function warehouse(file = "w.duckdb"): Promise<DuckDbWarehouse> {
  const w = await DuckDbWarehouse.create(join(dir, file));
  opened.push(w);
  await w.open();
  return w;
}

warehouseContract("DuckDbWarehouse", () => warehouse());

async function sessionsById(w: DuckDbWarehouse): Promise<Record<string, unknown>[]> {
  return w.query("SELECT * FROM gold_sessions ORDER BY session_id");
}

describe("DuckDbWarehouse: tables", () => {
  it("creates the seven tables with the schema's columns, types, nullability and keys", async () => {
    const w = await warehouse();
    await w.open(); // a second open is a no-op
    for (const table of TABLES) {
      const cols = await w.query(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns
         WHERE table_schema = 'main' AND table_name = '${table.name}' ORDER BY ordinal_position`,
      );
      expect(cols).toEqual(
        table.columns.map((c) => ({
          column_name: c.name,
          data_type: DATA_TYPES[c.type],
          is_nullable: c.required || table.key.includes(c.name) ? "NO" : "YES",
        })),
      );
      const [pk] = await w.query(
        `SELECT constraint_column_names AS cols FROM duckdb_constraints()
         WHERE table_name = '${table.name}' AND constraint_type = 'PRIMARY KEY'`,
      );
      // The writer keeps every key unique (new keys only for Bronze and Silver, delete-then-insert for Gold): no index.
      expect(pk).toBeUndefined();
    }
    expect(await w.counts()).toEqual({
      bronze_messages: 0,
      silver_events: 0,
      gold_sessions: 0,
      gold_tenant_hourly: 0,
      silver_orders: 0,
      silver_inventory: 0,
      silver_activity: 0,
    });
  });

  it("works in memory", async () => {
    const w = await DuckDbWarehouse.create(":memory:");
    opened.push(w);
    await w.open();
    await w.appendBronze([bronze("m1")]);
    expect(await w.counts()).toMatchObject({ bronze_messages: 1 });
  });
});

describe("DuckDbWarehouse: Bronze and Silver appends", () => {
  it("rejects a value of the wrong type with a TypeError naming the column, and writes nothing", async () => {
    const w = await warehouse();
    const bad = { ...silver("e1"), lateness_ms: "late" } as unknown as SilverRow;
    await expect(w.appendSilver([silver("e0"), bad])).rejects.toThrow("silver_events.lateness_ms: expected INT64");
    expect(await w.counts()).toMatchObject({ silver_events: 0 });
    // A failure after the first data chunk was staged: a later batch is not polluted by the staged rows.
    const many = Array.from({ length: 2100 }, (_, i) => silver(`x${i}`));
    await expect(w.appendSilver([...many, bad])).rejects.toThrow("silver_events.lateness_ms: expected INT64");
    await w.appendSilver([silver("e2")]);
    expect((await w.query("SELECT event_id FROM silver_events")).map((r) => r.event_id)).toEqual(["e2"]);
  });
});

describe("DuckDbWarehouse: timestamps", () => {
  it("keeps millisecond precision exactly before 1970", async () => {
    const w = await warehouse();
    const times = [-1, -999, -86_400_000 * 365 * 30 + 7];
    await w.appendBronze(times.map((t, i) => bronze(`m${i}`, { publish_time: t, ingest_time: t + 1 })));
    const rows = await w.query(
      "SELECT publish_time, ingest_time, epoch_ms(publish_time) AS ms FROM bronze_messages ORDER BY message_id",
    );
    expect(rows).toEqual(times.map((t) => ({ publish_time: t, ingest_time: t + 1, ms: t })));
  });

  it("uses UTC for SQL on the timestamps", async () => {
    const w = await warehouse();
    await w.appendSilver([silver("e1", { event_time: Date.UTC(2024, 0, 1, 23, 59, 59, 999) })]);
    const [row] = await w.query(
      "SELECT date_trunc('hour', event_time) AS hour, strftime(event_time, '%Y-%m-%d %H:%M:%S.%g') AS text FROM silver_events",
    );
    expect(row).toEqual({ hour: Date.UTC(2024, 0, 1, 23), text: "2024-01-01 23:59:59.999" });
  });
});

describe("DuckDbWarehouse: Gold", () => {
  it("writeSessions rolls back the deletes when an upsert violates NOT NULL, and the warehouse stays usable", async () => {
    const w = await warehouse();
    await w.writeSessions([session("s1"), session("s2")], []);
    const before = await sessionsById(w);
    const bad = { ...session("s3"), tenant_id: null } as unknown as GoldSessionRow;
    await expect(w.writeSessions([session("s1", { event_count: 9 }), bad], ["s2"])).rejects.toThrow(
      /NOT NULL constraint failed: gold_sessions\.tenant_id/,
    );
    expect(await sessionsById(w)).toEqual(before);
    await w.writeSessions([session("s3")], ["s2"]);
    expect((await sessionsById(w)).map((r) => r.session_id)).toEqual(["s1", "s3"]);
  });

  it("serialises calls: a failing writeSessions does not roll back a concurrent append", async () => {
    const w = await warehouse();
    const bad = { ...session("s1"), user_id: null } as unknown as GoldSessionRow;
    const [failed, appended] = await Promise.allSettled([w.writeSessions([bad], []), w.appendBronze([bronze("m1")])]);
    expect(failed.status).toBe("rejected");
    expect(appended.status).toBe("fulfilled");
    expect(await w.counts()).toMatchObject({
      bronze_messages: 1,
      silver_events: 0,
      gold_sessions: 0,
      gold_tenant_hourly: 0,
    });
  });
});

describe("DuckDbWarehouse: query", () => {
  it("turns integers into numbers when safe and decimal strings otherwise", async () => {
    const w = await warehouse();
    const [row] = await w.query(
      "SELECT 42::BIGINT AS small, 9007199254740993::BIGINT AS big, 170141183460469231731687303715884105727::HUGEINT AS huge, 2.5::DECIMAL(4,1) AS dec, ['a', NULL] AS list",
    );
    expect(row).toEqual({
      small: 42,
      big: "9007199254740993",
      huge: "170141183460469231731687303715884105727",
      dec: 2.5,
      list: ["a", null],
    });
  });

  it("refuses statements that write and multiple statements", async () => {
    const w = await warehouse();
    await w.appendBronze([bronze("m1")]);
    await expect(w.query("DELETE FROM bronze_messages")).rejects.toThrow("query() runs read-only SQL; got a DELETE");
    await expect(w.query("SELECT 1; DROP TABLE bronze_messages")).rejects.toThrow("query() runs one statement; got 2");
    expect(await w.counts()).toMatchObject({ bronze_messages: 1 });
  });

  it("finishes pending calls on close, then fails clearly", async () => {
    const w = await warehouse();
    const pending = w.appendBronze([bronze("m1")]);
    const closing = w.close();
    const late = w.counts();
    await pending;
    await closing;
    await expect(late).rejects.toThrow("is closed");
    await w.close();
    await expect(w.counts()).rejects.toThrow(`the DuckDB warehouse at ${join(dir, "w.duckdb")} is closed`);
  });
});

describe("DuckDbWarehouse: opening files", () => {
  it("refuses a file whose table has another primary key (an older version's), naming both keys", async () => {
    const path = join(dir, "old-key.duckdb");
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const old = await DuckDBInstance.create(path);
    const con = await old.connect();
    await con.run("CREATE TABLE bronze_messages (message_id VARCHAR PRIMARY KEY, publish_time TIMESTAMPTZ)");
    con.closeSync();
    old.closeSync();
    const w = await DuckDbWarehouse.create(path, { autoCreateUnder: dir });
    await expect(w.open()).rejects.toThrow(
      `table bronze_messages has primary key (message_id) but this version keys it on (message_id, publish_time)`,
    );
    await w.close();
  });

  it("opens a file of the previous version (Bronze and Silver with a primary key) and writes to it idempotently", async () => {
    const path = join(dir, "keyed.duckdb");
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const old = await DuckDBInstance.create(path);
    const con = await old.connect();
    await con.run(
      `CREATE TABLE bronze_messages (message_id VARCHAR, publish_time TIMESTAMPTZ, ingest_time TIMESTAMPTZ NOT NULL,
       attributes JSON NOT NULL, payload VARCHAR NOT NULL, valid BOOLEAN NOT NULL, error_field VARCHAR,
       error_reason VARCHAR, PRIMARY KEY (message_id, publish_time))`,
    );
    con.closeSync();
    old.closeSync();
    const w = await DuckDbWarehouse.create(path, { autoCreateUnder: dir });
    opened.push(w);
    await w.open();
    await w.appendBronze([bronze("m1"), bronze("m2")]);
    await w.appendBronze([bronze("m2"), bronze("m3")]);
    expect((await w.query("SELECT message_id FROM bronze_messages ORDER BY 1")).map((r) => r.message_id)).toEqual([
      "m1",
      "m2",
      "m3",
    ]);
  });

  it("refuses a typed table whose records have other fields than this version's, before writing (not dropping them)", async () => {
    // silver_orders as a version whose line items lacked unit_price: the appender wrote this version's records into
    // it without their unit_price, silently.
    const path = join(dir, "older-records.duckdb");
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const old = await DuckDBInstance.create(path);
    const con = await old.connect();
    await con.run(
      `CREATE TABLE silver_orders (event_id VARCHAR NOT NULL, tenant_id VARCHAR NOT NULL, user_id VARCHAR NOT NULL,
       event_time TIMESTAMPTZ NOT NULL, ingest_time TIMESTAMPTZ NOT NULL, message_id VARCHAR NOT NULL,
       order_id VARCHAR NOT NULL, currency VARCHAR NOT NULL, total DOUBLE NOT NULL,
       line_items STRUCT(sku VARCHAR, quantity BIGINT)[] NOT NULL)`,
    );
    con.closeSync();
    old.closeSync();
    const w = await DuckDbWarehouse.create(path, { autoCreateUnder: dir });
    opened.push(w);
    await expect(w.open()).rejects.toThrow(
      `the DuckDB warehouse at ${path}: table silver_orders column line_items is STRUCT(sku VARCHAR, quantity BIGINT)[] ` +
        "but this version writes STRUCT(sku VARCHAR, quantity BIGINT, unit_price DOUBLE)[] (the fields of a record are " +
        "not evolved); write to a new file, or migrate the column",
    );
    const written = await w.appendTyped("order", [order("o1")]).then(
      () => "written",
      (e: unknown) => String(e),
    );
    expect(await w.query("SELECT line_items FROM silver_orders")).toEqual([]);
    expect(written).not.toBe("written");
  });

  it("adds a column a typed Silver table gained (NULLABLE: old rows hold NULL) and writes through it", async () => {
    const path = join(dir, "typed-older.duckdb");
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const old = await DuckDBInstance.create(path);
    const con = await old.connect();
    // silver_activity as an earlier version made it: without page.
    await con.run(
      `CREATE TABLE silver_activity (event_id VARCHAR NOT NULL, tenant_id VARCHAR NOT NULL, user_id VARCHAR NOT NULL,
       event_time TIMESTAMPTZ NOT NULL, ingest_time TIMESTAMPTZ NOT NULL, message_id VARCHAR NOT NULL,
       action VARCHAR NOT NULL, actor_id BIGINT)`,
    );
    await con.run(
      "INSERT INTO silver_activity VALUES ('a0', 't1', 'u1', TIMESTAMPTZ '2024-03-10 12:00:00Z', TIMESTAMPTZ '2024-03-10 12:00:02Z', 'm-a0', 'share', 7)",
    );
    con.closeSync();
    old.closeSync();
    const w = await DuckDbWarehouse.create(path, { autoCreateUnder: dir });
    opened.push(w);
    await w.open();
    const cols = await w.query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'silver_activity' ORDER BY ordinal_position",
    );
    expect(cols.map((c) => c.column_name)).toEqual(SILVER_ACTIVITY.columns.map((c) => c.name));
    await w.appendTyped("user_activity", [activity("a0", { page: "/replayed" }), activity("a1", { page: "/docs" })]);
    expect(await w.query("SELECT event_id, action, actor_id, page FROM silver_activity ORDER BY event_id")).toEqual([
      { event_id: "a0", action: "share", actor_id: 7, page: null },
      { event_id: "a1", action: "search", actor_id: 9_007_199_254_740_991, page: "/docs" },
    ]);
  });

  it("adds payload_encoding to an earlier version's Bronze (old rows: NULL, text) and keeps a binary payload's bytes", async () => {
    const path = join(dir, "bronze-older.duckdb");
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const old = await DuckDBInstance.create(path);
    const con = await old.connect();
    // bronze_messages as the version before payload bytes made it.
    await con.run(duckdbDdl({ ...BRONZE, columns: BRONZE.columns.filter((c) => c.name !== "payload_encoding") }));
    await con.run(
      `INSERT INTO bronze_messages VALUES ('m0', TIMESTAMPTZ '2024-03-10 12:00:00Z', TIMESTAMPTZ '2024-03-10 12:00:01Z',
       '{}', '{"a":1}', false, 'payload', 'x', NULL)`,
    );
    con.closeSync();
    old.closeSync();
    const w = await DuckDbWarehouse.create(path, { autoCreateUnder: dir });
    opened.push(w);
    await w.open();
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x7b]);
    await w.appendBronze([bronze("m1", { payload: bytes.toString("base64"), payload_encoding: "base64" })]);
    const rows = await w.query("SELECT message_id, payload, payload_encoding FROM bronze_messages ORDER BY 1");
    expect(rows).toEqual([
      { message_id: "m0", payload: '{"a":1}', payload_encoding: null },
      { message_id: "m1", payload: bytes.toString("base64"), payload_encoding: "base64" },
    ]);
    expect(Buffer.from(String(rows[1]?.payload), "base64").equals(bytes)).toBe(true);
  });

  it("opens a file of an earlier version (Gold tables with a primary key) and upserts through it", async () => {
    const path = join(dir, "keyed-gold.duckdb");
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const old = await DuckDBInstance.create(path);
    const con = await old.connect();
    await con.run(duckdbDdl(GOLD_SESSIONS, { primaryKey: true }));
    await con.run(duckdbDdl(GOLD_HOURLY, { primaryKey: true }));
    con.closeSync();
    old.closeSync();
    const w = await DuckDbWarehouse.create(path, { autoCreateUnder: dir });
    opened.push(w);
    await w.open();
    await w.writeSessions([session("s1"), session("s2"), session("s3")], []);
    const grown = session("s1", { event_count: 9, pane_index: 2 });
    await w.writeSessions([grown, session("s1", { event_count: 5 }), grown], ["s2"]);
    expect(await sessionsById(w)).toEqual([grown, session("s3")]);
    await w.upsertHourly([hourly("t1", T0), hourly("t2", T0)]);
    await w.upsertHourly([hourly("t1", T0, { events: 42 })]);
    expect(await w.query("SELECT tenant_id, events FROM gold_tenant_hourly ORDER BY 1")).toEqual([
      { tenant_id: "t1", events: 42 },
      { tenant_id: "t2", events: hourly("t2", T0).events },
    ]);
    const [pk] = await w.query(
      `SELECT constraint_column_names AS cols FROM duckdb_constraints()
       WHERE table_name = 'gold_sessions' AND constraint_type = 'PRIMARY KEY'`,
    );
    expect(pk?.cols).toEqual(["session_id"]);
  });

  it("refuses a checkpoint threshold that is not a positive whole number of MB, naming the path", async () => {
    const path = join(dir, "t.duckdb");
    await expect(DuckDbWarehouse.create(path, { autoCreateUnder: dir, checkpointThresholdMb: 0 })).rejects.toThrow(
      `cannot open DuckDB warehouse at ${path}: checkpointThresholdMb must be a positive integer, got 0`,
    );
  });

  it("keeps DuckDB's memory under the limit asked for (96 MiB unless told), and refuses one under 16 MiB", async () => {
    const limit = async (options: { memoryLimitMb?: number }, name: string) => {
      const w = await DuckDbWarehouse.create(join(dir, name), { autoCreateUnder: dir, ...options });
      try {
        const [row] = await w.query("SELECT current_setting('memory_limit') AS v");
        return row?.v;
      } finally {
        await w.close();
      }
    };
    // DuckDB prints a limit in its own units (KiB, MiB, GiB).
    expect(await limit({}, "default.duckdb")).toBe("96.0 MiB");
    expect(await limit({ memoryLimitMb: 64 }, "small.duckdb")).toBe("64.0 MiB");
    const path = join(dir, "tiny.duckdb");
    await expect(DuckDbWarehouse.create(path, { autoCreateUnder: dir, memoryLimitMb: 8 })).rejects.toThrow(
      `cannot open DuckDB warehouse at ${path}: memoryLimitMb must be a whole number of MiB, at least 16, got 8`,
    );
  });

  it("raises DuckDB's limit as a primary-key index grows past it (an index cannot spill), so writes never run out", async () => {
    // A file of an earlier version: Bronze with its primary key, an ART index DuckDB keeps in memory.
    const path = join(dir, "keyed-bronze.duckdb");
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const old = await DuckDBInstance.create(path);
    const con = await old.connect();
    await con.run(duckdbDdl(BRONZE, { primaryKey: true }));
    con.closeSync();
    old.closeSync();
    // No checkpoint within these writes (a checkpoint writes the index out and DuckDB then holds less of it in
    // memory): the whole index stays in memory, the case where a fixed limit runs out.
    const w = await DuckDbWarehouse.create(path, {
      autoCreateUnder: dir,
      memoryLimitMb: 16,
      checkpointThresholdMb: 256,
    });
    opened.push(w);
    await w.open();
    const rows = 400_000;
    for (let i = 0; i < rows; i += 20_000) {
      await w.appendBronze(Array.from({ length: 20_000 }, (_, j) => bronze(`message-${i + j}-${"k".repeat(24)}`)));
    }
    const [r] = await w.query(
      `SELECT (SELECT count(*) FROM bronze_messages) AS n,
              (SELECT sum(memory_usage_bytes) FROM duckdb_memory() WHERE tag = 'ART_INDEX') AS index_bytes,
              current_setting('memory_limit') AS lim`,
    );
    expect(r?.n).toBe(rows);
    // The index alone is past the 16 MiB asked for: a fixed limit of 16 MiB would have failed these writes.
    expect(Number(r?.index_bytes)).toBeGreaterThan(16 * 2 ** 20);
    const mib = Number(/^([\d.]+) MiB$/.exec(String(r?.lim))?.[1]);
    expect(mib * 2 ** 20).toBeGreaterThanOrEqual(16 * 2 ** 20 + Number(r?.index_bytes) * 0.95);
  });

  it("names the path and the missing directory, and creates nothing", async () => {
    const path = join(dir, "nope", "x.duckdb");
    await expect(DuckDbWarehouse.create(path)).rejects.toThrow(
      `cannot open DuckDB warehouse at ${path}: directory ${join(dir, "nope")} does not exist`,
    );
    expect(existsSync(join(dir, "nope"))).toBe(false);
  });

  it("says when the parent is a file, not a directory", async () => {
    writeFileSync(join(dir, "file"), "x");
    const path = join(dir, "file", "x.duckdb");
    await expect(DuckDbWarehouse.create(path)).rejects.toThrow(`${join(dir, "file")} is not a directory`);
  });

  it("creates missing directories only under autoCreateUnder (./data by default)", async () => {
    const path = join(dir, "data", "deep", "w.duckdb");
    const w = await DuckDbWarehouse.create(path, { autoCreateUnder: join(dir, "data") });
    opened.push(w);
    await w.open();
    expect(await w.counts()).toMatchObject({ bronze_messages: 0 });
    await expect(
      DuckDbWarehouse.create(join(dir, "other", "w.duckdb"), { autoCreateUnder: join(dir, "data") }),
    ).rejects.toThrow("does not exist");
  });

  it("names a file that is not a DuckDB database", async () => {
    const path = join(dir, "text.duckdb");
    writeFileSync(path, "this is not a database, just some text that is long enough to have a header ".repeat(100));
    await expect(DuckDbWarehouse.create(path)).rejects.toThrow(`cannot open DuckDB warehouse at ${path}: `);
  });

  it("refuses a second open in the same process (DuckDB itself would allow it), and reopens after close", async () => {
    const path = join(dir, "w.duckdb");
    const first = await warehouse();
    await first.appendBronze([bronze("m1")]);
    await expect(DuckDbWarehouse.create(path)).rejects.toThrow(
      `cannot open DuckDB warehouse at ${path}: it is already open in this process`,
    );
    symlinkSync(dir, join(dir, "link"));
    await expect(DuckDbWarehouse.create(join(dir, "link", "w.duckdb"))).rejects.toThrow("already open in this process");
    await first.close();
    const second = await warehouse();
    expect(await second.counts()).toMatchObject({ bronze_messages: 1 });
  });

  it("reports a file locked by another process with its PID, and opens once that process is gone", async () => {
    const path = join(dir, "w.duckdb");
    const child = await holdLockInChild(path);
    try {
      await expect(DuckDbWarehouse.create(path)).rejects.toThrow(
        new RegExp(
          `^cannot open DuckDB warehouse at ${escapeRegExp(path)}: it is locked by another process \\(PID ${child.pid}, .*\\) \\(close the other pipeline or choose another file\\)$`,
        ),
      );
    } finally {
      await stop(child);
    }
    const w = await warehouse();
    expect(await w.counts()).toMatchObject({ bronze_messages: 0 });
  });
});

/** Starts a Node process that opens `path` with DuckDB (taking its lock) and keeps it open until killed. */
async function holdLockInChild(path: string): Promise<ChildProcess> {
  const duckdb = createRequire(import.meta.url).resolve("@duckdb/node-api");
  const script = `require(${JSON.stringify(duckdb)}).DuckDBInstance.create(${JSON.stringify(path)})
    .then((db) => { globalThis.db = db; console.log("ready"); setInterval(() => {}, 1000); })
    .catch((e) => { console.error(e.message); process.exit(1); });`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((ready, fail) => {
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) ready();
    });
    child.on("exit", (code) => fail(new Error(`lock holder exited with ${code}: ${stderr}`)));
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once("exit", done));
  child.kill();
  await exited;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
