import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startBigQueryEmulator } from "../../../io/bigquery/emulator.ts";
import { freePort } from "../../../io/local-server.ts";
import { BigQueryWarehouse } from "../../../io/bigquery/bigquery-warehouse.ts";
import type { SilverRow } from "../../../schemas/rows.ts";
import { bigQueryTable } from "../../../schemas/table-schema.ts";
import { GOLD_SESSIONS, SILVER, SILVER_ACTIVITY, TABLES, WRITE_ERRORS } from "../../../schemas/tables.ts";
import { activity, bronze, order, session, silver, T0, warehouseContract } from "../warehouse-contract.ts";
import { useBigQueryEmulator } from "./emulator-fixture.ts";

const bq = useBigQueryEmulator();

warehouseContract("BigQueryWarehouse (Storage Write API, emulator)", () => bq.warehouse("storage-write"));
warehouseContract("BigQueryWarehouse (insertAll, emulator)", () => bq.warehouse("insert-all"));

describe("BigQueryWarehouse: tables", () => {
  let n = 0;
  /** A warehouse on a dataset of its own (checked through the API only: see DATASET). */
  const onOwnDataset = () => {
    const e = bq.emulator();
    const w = new BigQueryWarehouse({
      projectId: e.projectId,
      dataset: `evolve_${n++}`,
      apiEndpoint: e.apiEndpoint,
      storageEndpoint: e.grpcEndpoint,
    });
    return w;
  };

  it("creates every table with its description, column descriptions, day partitioning and clustering", async () => {
    const w = onOwnDataset();
    await w.open();
    for (const t of [...TABLES, WRITE_ERRORS]) {
      const [meta] = await w.bq
        .dataset(`evolve_${n - 1}`)
        .table(t.name)
        .getMetadata();
      const want = bigQueryTable(t);
      expect(meta.description, t.name).toBe(want.description);
      expect(meta.timePartitioning, t.name).toMatchObject(want.timePartitioning ?? {});
      expect(meta.clustering?.fields, t.name).toEqual(want.clustering?.fields);
      expect(
        meta.schema.fields.map((f: Record<string, unknown>) => [f.name, f.type, f.mode ?? "NULLABLE", f.description]),
      ).toEqual(want.schema.fields.map((f) => [f.name, f.type, f.mode, f.description]));
    }
    await w.close();
  });

  it("adds a column the schema gained (NULLABLE) to an existing table, keeping its rows' columns", async () => {
    const w = onOwnDataset();
    const ds = w.bq.dataset(`evolve_${n - 1}`);
    await ds.create();
    const older = bigQueryTable(SILVER);
    await ds.createTable("silver_events", {
      ...older,
      schema: { fields: older.schema.fields.filter((f) => f.name !== "button") },
    });
    await w.open();
    const [meta] = await ds.table("silver_events").getMetadata();
    const button = meta.schema.fields.find((f: { name: string }) => f.name === "button");
    expect(button).toMatchObject({ name: "button", type: "STRING", mode: "NULLABLE" });
    expect(meta.schema.fields).toHaveLength(SILVER.columns.length);
    await w.close();
  });

  it("a typed Silver table: line_items a REPEATED RECORD with its fields; a column the schema gained is added", async () => {
    const w = onOwnDataset();
    const ds = w.bq.dataset(`evolve_${n - 1}`);
    await ds.create();
    const older = bigQueryTable(SILVER_ACTIVITY);
    await ds.createTable("silver_activity", {
      ...older,
      schema: { fields: older.schema.fields.filter((f) => f.name !== "page") },
    });
    await w.open();
    const [activityMeta] = await ds.table("silver_activity").getMetadata();
    expect(activityMeta.schema.fields.map((f: { name: string }) => f.name)).toEqual(
      SILVER_ACTIVITY.columns.map((c) => c.name),
    );
    expect(activityMeta.schema.fields.at(-1)).toMatchObject({ name: "page", type: "STRING", mode: "NULLABLE" });
    const [ordersMeta] = await ds.table("silver_orders").getMetadata();
    const lines = ordersMeta.schema.fields.find((f: { name: string }) => f.name === "line_items");
    expect(lines).toMatchObject({ type: "RECORD", mode: "REPEATED" });
    expect(lines.fields.map((f: Record<string, unknown>) => [f.name, f.type, f.mode])).toEqual([
      ["sku", "STRING", "REQUIRED"],
      ["quantity", "INT64", "REQUIRED"],
      ["unit_price", "FLOAT64", "REQUIRED"],
    ]);
    await w.close();
  });

  it("refuses an incompatible table before any write or change, naming the table and the columns", async () => {
    const w = onOwnDataset();
    const ds = w.bq.dataset(`evolve_${n - 1}`);
    await ds.create();
    // Silver (checked before Gold) lacks a column it could gain; Gold has a column of another type.
    const silverTable = bigQueryTable(SILVER);
    await ds.createTable("silver_events", {
      ...silverTable,
      schema: { fields: silverTable.schema.fields.filter((f) => f.name !== "button") },
    });
    const gold = bigQueryTable(GOLD_SESSIONS);
    await ds.createTable("gold_sessions", {
      ...gold,
      schema: { fields: gold.schema.fields.map((f) => (f.name === "revenue" ? { ...f, type: "STRING" } : f)) },
    });
    const refusal = `BigQuery table ${bq.emulator().projectId}.evolve_${n - 1}.gold_sessions is incompatible with the schema, nothing was written`;
    await expect(w.open()).rejects.toThrow(refusal);
    await expect(w.open()).rejects.toThrow("revenue: type STRING in the table, FLOAT64 in the schema");
    // Every table is checked first: nothing was created, and Silver did not gain its column.
    const [tables] = await ds.getTables();
    expect(tables.map((t) => t.id).sort()).toEqual(["gold_sessions", "silver_events"]);
    const [meta] = await ds.table("silver_events").getMetadata();
    expect(meta.schema.fields.map((f: { name: string }) => f.name)).not.toContain("button");
    await w.close();
  });
});

describe("BigQueryWarehouse with change data capture (--bigquery-upserts=cdc)", () => {
  let n = 0;
  const cdcWarehouse = () => {
    const e = bq.emulator();
    return {
      dataset: `cdc_${n}`,
      w: new BigQueryWarehouse({
        projectId: e.projectId,
        dataset: `cdc_${n++}`,
        apiEndpoint: e.apiEndpoint,
        storageEndpoint: e.grpcEndpoint,
        upserts: "cdc",
      }),
    };
  };

  it("creates the tables with their primary keys and max_staleness, and no staging tables", async () => {
    const { w, dataset } = cdcWarehouse();
    await w.open();
    const ds = w.bq.dataset(dataset);
    for (const t of TABLES) {
      const [meta] = await ds.table(t.name).getMetadata();
      expect(meta.tableConstraints, t.name).toEqual({ primaryKey: { columns: [...t.key] } });
      expect(meta.maxStaleness, t.name).toBe("0-0 0 0:15:0");
    }
    const [tables] = await ds.getTables();
    expect(tables.map((t) => t.id).sort()).toEqual([...TABLES, WRITE_ERRORS].map((t) => t.name).sort());
    await w.close();
  });

  it("writes every change on the table's own default stream: upserts whole, deletions by key (the emulator appends them: it does not apply CDC)", async () => {
    const { w, dataset } = cdcWarehouse();
    const ref = (t: string) => `\`${bq.emulator().projectId}.${dataset}.${t}\``;
    await w.open();
    await w.appendSilver([silver("e1"), silver("e2")]);
    const s1 = session("s1");
    await w.writeSessions(
      [s1, session("s2")],
      [],
      new Map([
        ["s1", 1],
        ["s2", 1],
      ]),
    );
    await w.writeSessions(
      [{ ...s1, event_count: 9 }],
      ["s2"],
      new Map([
        ["s1", 2],
        ["s2", 2],
      ]),
    );
    expect(
      (await w.query(`SELECT event_id FROM ${ref("silver_events")} ORDER BY event_id`)).map((r) => r.event_id),
    ).toEqual(["e1", "e2"]);
    const rows = await w.query(
      `SELECT session_id, event_count FROM ${ref("gold_sessions")} ORDER BY session_id, event_count`,
    );
    expect(rows).toEqual([
      { session_id: "s1", event_count: 1 },
      { session_id: "s1", event_count: 9 },
      { session_id: "s2", event_count: null },
      { session_id: "s2", event_count: 1 },
    ]);
    await expect(w.writeSessions([session("s3")], [])).rejects.toThrow(
      "gold_sessions: change data capture needs each change's sequence number (s3)",
    );
    await w.close();
  });

  it("writes typed rows by change data capture: an order's line items (a REPEATED RECORD) in order, exactly", async () => {
    const { w, dataset } = cdcWarehouse();
    const ref = (t: string) => `\`${bq.emulator().projectId}.${dataset}.${t}\``;
    await w.open();
    const lines = [
      { sku: "Z-9", quantity: 3, unit_price: 0.1 },
      { sku: "A-1", quantity: 9_007_199_254_740_991, unit_price: 0 },
      { sku: "M\u00e9\"'", quantity: 1, unit_price: 1.005 },
    ];
    const orders = [order("o1", { line_items: lines, total: 1.3 }), order("o2", { tenant_id: "globex" })];
    await w.appendTyped("order", orders);
    await w.appendTyped("user_activity", [activity("a1", { actor_id: null, page: "/p" })]);
    expect(await w.query(`SELECT * FROM ${ref("silver_orders")} ORDER BY tenant_id DESC`)).toEqual(orders);
    expect(await w.query(`SELECT * FROM ${ref("silver_activity")}`)).toEqual([
      activity("a1", { actor_id: null, page: "/p" }),
    ]);
    await w.close();
  });

  it("refuses a table without the primary key, naming it and the statement that adds it; and insertAll", async () => {
    const { w, dataset } = cdcWarehouse();
    const ds = w.bq.dataset(dataset);
    await ds.create();
    await ds.createTable("gold_sessions", bigQueryTable(GOLD_SESSIONS));
    await expect(w.open()).rejects.toThrow(
      `${bq.emulator().projectId}.${dataset}.gold_sessions: change data capture needs the primary key (session_id), the table declares none: ALTER TABLE gold_sessions ADD PRIMARY KEY (session_id) NOT ENFORCED`,
    );
    await w.close();
    expect(
      () => new BigQueryWarehouse({ projectId: "p", dataset: "d", upserts: "cdc", appendMethod: "insert-all" }),
    ).toThrow("BigQuery change data capture writes through the Storage Write API: it cannot use insertAll");
  });

  it("refuses a Silver table of an earlier version keyed on event_id alone, naming both statements that re-key it", async () => {
    const { w, dataset } = cdcWarehouse();
    const ds = w.bq.dataset(dataset);
    await ds.create();
    await ds.createTable("silver_events", {
      ...bigQueryTable(SILVER),
      tableConstraints: { primaryKey: { columns: ["event_id"] } },
    });
    await expect(w.open()).rejects.toThrow(
      `${bq.emulator().projectId}.${dataset}.silver_events: change data capture needs the primary key (tenant_id, ` +
        "event_id), the table declares (event_id): ALTER TABLE silver_events DROP PRIMARY KEY, then ALTER TABLE " +
        "silver_events ADD PRIMARY KEY (tenant_id, event_id) NOT ENFORCED, or write with --bigquery-upserts=transaction",
    );
    await w.close();
  });
});

describe("BigQueryWarehouse: bad rows and queries", () => {
  it("a row that does not fit its table goes to write_errors with the reason; the rest of the batch is written", async () => {
    const w = await bq.warehouse();
    const bad = { ...silver("e2"), lateness_ms: "late" } as unknown as SilverRow;
    const missing = { ...silver("e3"), user_id: null } as unknown as SilverRow;
    await w.appendSilver([silver("e1"), bad, missing]);
    expect((await w.query("SELECT event_id FROM silver_events")).map((r) => r.event_id)).toEqual(["e1"]);
    const errors = await w.query("SELECT target_table, row_key, reason, row_json FROM write_errors ORDER BY row_key");
    expect(errors.map((e) => [e.target_table, e.row_key, e.reason])).toEqual([
      ["silver_events", '["t1","e2"]', 'silver_events.lateness_ms: expected INT64, got string "late"'],
      ["silver_events", '["t1","e3"]', "silver_events.user_id: required, got null"],
    ]);
    expect(JSON.parse(String(errors[0]?.row_json))).toMatchObject({ event_id: "e2", lateness_ms: "late" });
  });

  it("query() refuses statements that write and multiple statements", async () => {
    const w = await bq.warehouse();
    await w.appendBronze([bronze("m1")]);
    await expect(w.query("DELETE FROM bronze_messages WHERE TRUE")).rejects.toThrow(
      "query() runs read-only SQL; got a DELETE statement",
    );
    await expect(w.query("SELECT 1; DROP TABLE bronze_messages")).rejects.toThrow("query() runs one statement; got 2");
    await expect(w.query("SELECT ';' AS semi -- ; not a statement\n;")).resolves.toEqual([{ semi: ";" }]);
    expect(await w.counts()).toMatchObject({ bronze_messages: 1 });
  });

  it("turns INT64 into numbers when safe and decimal strings otherwise; DATE and TIMESTAMP into epoch ms", async () => {
    const w = await bq.warehouse();
    const [row] = await w.query(
      "SELECT 42 AS small, 9007199254740993 AS big, DATE '2024-03-10' AS d, TIMESTAMP '2024-03-10 12:00:00.123+00' AS t, [1, 2] AS list",
    );
    expect(row).toEqual({ small: 42, big: "9007199254740993", d: Date.UTC(2024, 2, 10), t: T0, list: [1, 2] });
    const [nested] = await w.query(
      "SELECT STRUCT('v' AS value) AS one, DATETIME '2024-03-10 12:00:00' AS dt, [STRUCT(TIMESTAMP '2024-03-10 12:00:00.123+00' AS seen)] AS list",
    );
    // A STRUCT whose only field is named "value" stays a struct; nested TIMESTAMPs are epoch ms too.
    expect(nested).toEqual({ one: { value: "v" }, dt: "2024-03-10T12:00:00", list: [{ seen: T0 }] });
  });
});

describe("BigQueryWarehouse: an unavailable server", () => {
  it("retries a write while the emulator restarts (its data kept in a file) and completes it, with both append methods", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tidemark-bq-restart-"));
    const databaseFile = join(dir, "bq.db");
    const [port, grpcPort] = [await freePort(), await freePort()];
    let emulator = await startBigQueryEmulator({ port, grpcPort, databaseFile });
    try {
      for (const appendMethod of ["storage-write", "insert-all"] as const) {
        const w = new BigQueryWarehouse({
          projectId: emulator.projectId,
          dataset: "restart",
          apiEndpoint: emulator.apiEndpoint,
          storageEndpoint: emulator.grpcEndpoint,
          appendMethod,
        });
        await w.open();
        await w.appendBronze([bronze(`${appendMethod}-1`)]);
        await emulator.stop();
        // The write starts while nothing listens, and is retried with backoff until the emulator is back.
        const writing = w.appendBronze([bronze(`${appendMethod}-2`), bronze(`${appendMethod}-3`)]);
        await new Promise((r) => setTimeout(r, 300));
        emulator = await startBigQueryEmulator({ port, grpcPort, databaseFile });
        await writing;
        const rows = await w.query(
          `SELECT message_id FROM \`${emulator.projectId}.restart.bronze_messages\` WHERE STARTS_WITH(message_id, '${appendMethod}') ORDER BY message_id`,
        );
        expect(rows.map((r) => r.message_id)).toEqual([1, 2, 3].map((i) => `${appendMethod}-${i}`));
        await w.close();
      }
    } finally {
      await emulator.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
