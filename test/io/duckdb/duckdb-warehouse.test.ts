import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import type { BronzeRow, GoldHourlyRow, GoldSessionRow, SilverRow } from "../../../schemas/rows.ts";
import type { ColumnType } from "../../../schemas/table-schema.ts";
import { TABLES } from "../../../schemas/tables.ts";

const T0 = Date.UTC(2024, 2, 10, 12, 0, 0, 123);

const bronze = (message_id: string, over: Partial<BronzeRow> = {}): BronzeRow => ({
  message_id,
  publish_time: T0,
  ingest_time: T0 + 5,
  attributes: { source: "web" },
  payload: `{"event_id":"${message_id}"}`,
  valid: true,
  error_field: null,
  error_reason: null,
  ...over,
});

const silver = (event_id: string, over: Partial<SilverRow> = {}): SilverRow => ({
  event_id,
  event_type: "purchase",
  tenant_id: "t1",
  user_id: "u1",
  event_time: T0,
  event_time_raw: "2024-03-10T12:00:00.123Z",
  ingest_time: T0 + 2_000,
  lateness_ms: 2_000,
  is_late: false,
  platform: "web",
  schema_version: 2,
  device: null,
  page: "/checkout",
  amount: 19.99,
  currency: "EUR",
  items: 3,
  acquisition_source: null,
  button: null,
  properties: { coupon: "SPRING", nested: { list: [1, "two", null] } },
  message_id: `m-${event_id}`,
  ...over,
});

const session = (session_id: string, over: Partial<GoldSessionRow> = {}): GoldSessionRow => ({
  session_id,
  tenant_id: "t1",
  user_id: "u1",
  session_start: T0,
  session_end: T0 + 1_800_000,
  duration_ms: 0,
  event_count: 1,
  page_views: 1,
  clicks: 0,
  purchases: 0,
  revenue: 0,
  entry_page: "/",
  exit_page: "/",
  platforms: ["web"],
  funnel_steps: [],
  converted: false,
  acquisition_source: null,
  pane_index: 0,
  pane_timing: "EARLY",
  is_final: false,
  updated_at: T0 + 60_000,
  ...over,
});

const hourly = (tenant_id: string, hour_start: number, over: Partial<GoldHourlyRow> = {}): GoldHourlyRow => ({
  tenant_id,
  hour_start,
  events: 10,
  active_users: 3,
  sessions_started: 2,
  revenue: 42.5,
  funnel_landing_cta: 3,
  funnel_plan_selection: 2,
  funnel_signup_attempt: 1,
  funnel_purchase_attempt: 1,
  funnel_purchase: 1,
  pane_timing: "ON_TIME",
  updated_at: hour_start + 3_600_000,
  ...over,
});

/** The DuckDB type names `information_schema.columns.data_type` reports for each column type. */
const DATA_TYPES: Record<ColumnType, string> = {
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

async function sessionsById(w: DuckDbWarehouse): Promise<Record<string, unknown>[]> {
  return w.query("SELECT * FROM gold_sessions ORDER BY session_id");
}

describe("DuckDbWarehouse: tables", () => {
  it("creates the four tables with the schema's columns, types, nullability and keys", async () => {
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
      expect(pk?.cols).toEqual(table.key);
    }
    expect(await w.counts()).toEqual({ bronze_messages: 0, silver_events: 0, gold_sessions: 0, gold_tenant_hourly: 0 });
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
  it("Bronze is idempotent on message_id across calls and within a batch (the first row kept)", async () => {
    const w = await warehouse();
    await w.appendBronze([bronze("m1"), bronze("m2"), bronze("m2", { payload: "dup in batch" })]);
    await w.appendBronze([bronze("m2", { payload: "replayed" }), bronze("m3")]);
    const rows = await w.query("SELECT message_id, payload FROM bronze_messages ORDER BY message_id");
    expect(rows).toEqual([
      { message_id: "m1", payload: bronze("m1").payload },
      { message_id: "m2", payload: bronze("m2").payload },
      { message_id: "m3", payload: bronze("m3").payload },
    ]);
    expect(await w.counts()).toMatchObject({ bronze_messages: 3 });
  });

  it("Bronze keeps one message id published at two times as two messages (ids are unique per topic only)", async () => {
    const w = await warehouse();
    await w.appendBronze([bronze("m1"), bronze("m1", { publish_time: bronze("m1").publish_time + 1 })]);
    expect(await w.counts()).toMatchObject({ bronze_messages: 2 });
  });

  it("Silver is idempotent on event_id and round-trips every column (query returns SilverRows)", async () => {
    const w = await warehouse();
    const e1 = silver("e1");
    const e2 = silver("e2", { amount: null, currency: null, items: null, properties: null, device: "iPhone 15" });
    await w.appendSilver([e1, e2]);
    await w.appendSilver([silver("e2", { user_id: "replayed" }), silver("e3")]);
    const rows = await w.query("SELECT * FROM silver_events ORDER BY event_id");
    expect(rows).toEqual([e1, e2, silver("e3")]);
  });

  it("round-trips payloads and attributes with quotes, newlines, emoji, backslashes and invalid JSON byte for byte", async () => {
    const w = await warehouse();
    const payloads = [
      `{"broken": "unterminated`,
      `it's a "quote" and a '' pair; DROP TABLE bronze_messages; --`,
      "line1\nline2\r\nline3\ttab \\n not a newline \\u0000",
      "emoji 🎉👩‍👩‍👧 and accents éàü and CJK 漢字 and RTL עברית",
      "",
      "$1 ? :name %s {} [] \u2028\u2029",
      "nul \u0000 inside",
    ];
    const rows = payloads.map((payload, i) =>
      bronze(`m${i}`, {
        payload,
        valid: false,
        error_field: "event_id",
        error_reason: `bad "field" at offset ${i}\n`,
        attributes: { 'weird "key"\n': payload, emoji: "🎉" },
      }),
    );
    await w.appendBronze(rows);
    const back = await w.query("SELECT * FROM bronze_messages ORDER BY message_id");
    expect(back).toEqual(rows);
    for (const [i, r] of back.entries()) {
      expect(Buffer.from(String(r.payload), "utf8").equals(Buffer.from(payloads[i]!, "utf8"))).toBe(true);
    }
    const [lengths] = await w.query("SELECT strlen(payload) AS n FROM bronze_messages WHERE message_id = 'm3'");
    expect(lengths?.n).toBe(Buffer.byteLength(payloads[3]!, "utf8"));
  });

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

  it("writes batches larger than one data chunk (2,048 rows) and many batches through one appender", async () => {
    const w = await warehouse();
    const ids = Array.from({ length: 5000 }, (_, i) => `e${i}`);
    await w.appendSilver(ids.slice(0, 4500).map((id) => silver(id)));
    await w.appendSilver(ids.slice(4000).map((id) => silver(id)));
    const [row] = await w.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM silver_events");
    expect(row).toEqual({ n: 5000, d: 5000 });
  });
});

describe("DuckDbWarehouse: timestamps", () => {
  it("keeps millisecond precision exactly, before and after 1970", async () => {
    const w = await warehouse();
    const times = [
      0,
      1,
      999,
      T0,
      1_700_000_000_001,
      -1,
      -86_400_000 * 365 * 30 + 7,
      Date.UTC(2999, 11, 31, 23, 59, 59, 999),
    ];
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
  it("writeSessions replaces sessions and deletes the merged-away ones in one call", async () => {
    const w = await warehouse();
    await w.writeSessions([session("s1"), session("s2"), session("s3", { user_id: "u2" })], []);
    const merged = session("s1", {
      session_end: T0 + 3_600_000,
      event_count: 5,
      purchases: 1,
      revenue: 99.5,
      platforms: ["web", "ios"],
      funnel_steps: ["landing_cta", "plan_selection", "purchase"],
      converted: true,
      exit_page: null,
      pane_index: 1,
      pane_timing: "LATE",
      is_final: true,
    });
    await w.writeSessions([merged, session("s4")], ["s2", "s3"]);
    expect(await sessionsById(w)).toEqual([merged, session("s4")]);
  });

  it("writeSessions: an id both deleted and upserted ends up upserted; the last duplicate of a batch wins", async () => {
    const w = await warehouse();
    await w.writeSessions([session("s1")], []);
    await w.writeSessions([session("s1", { event_count: 2 }), session("s1", { event_count: 3 })], ["s1"]);
    expect(await sessionsById(w)).toEqual([session("s1", { event_count: 3 })]);
    await w.writeSessions([], ["s1", "no-such-session"]);
    expect(await w.counts()).toMatchObject({ gold_sessions: 0 });
  });

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
    expect(await w.counts()).toEqual({ bronze_messages: 1, silver_events: 0, gold_sessions: 0, gold_tenant_hourly: 0 });
  });

  it("upsertHourly upserts on (tenant_id, hour_start)", async () => {
    const w = await warehouse();
    const h0 = Date.UTC(2024, 2, 10, 12);
    const h1 = h0 + 3_600_000;
    await w.upsertHourly([hourly("t1", h0), hourly("t2", h0)]);
    const updated = hourly("t1", h0, { events: 25, revenue: 100.25, pane_timing: "LATE", updated_at: h1 + 5 });
    await w.upsertHourly([updated, hourly("t1", h1)]);
    const rows = await w.query("SELECT * FROM gold_tenant_hourly ORDER BY tenant_id, hour_start");
    expect(rows).toEqual([updated, hourly("t1", h1), hourly("t2", h0)]);
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
