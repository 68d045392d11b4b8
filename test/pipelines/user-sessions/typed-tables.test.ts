import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource, fixtureLinesSource, parseFixtureStream } from "../../../io/test-stream/jsonl.ts";
import type { Warehouse } from "../../../io/warehouse.ts";
import {
  type GeneratedMessage,
  type GenerateOptions,
  generateMessages,
  generateStream,
} from "../../../pipelines/user-sessions/generate.ts";
import { runMedallion } from "../../../pipelines/user-sessions/run.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import { useBigQueryEmulator } from "../../io/bigquery/emulator-fixture.ts";

// The typed Silver tables (silver_orders, silver_inventory, silver_activity) through the whole medallion, against the
// generator's ground truth: what it meant to publish (each event's first publication; re-deliveries and malformed
// payloads left out), read from the payloads with JSON.parse, not with the pipeline's parser.

const FIXTURE = "test/fixtures/events-small.jsonl";
const bq = useBigQueryEmulator();

type Payload = Record<string, unknown>;

/** The events the generator meant (origin "event"), with their payload and first message id. */
function meant(messages: readonly GeneratedMessage[]): { payload: Payload; messageId: string; timeMs: number }[] {
  return messages.flatMap((g) =>
    g.origin.kind === "event"
      ? [
          {
            payload: JSON.parse(g.message.data) as Payload,
            messageId: g.message.messageId,
            timeMs: g.origin.eventTimeMs,
          },
        ]
      : [],
  );
}

const byKey = (a: Payload, b: Payload) =>
  `${a.tenant_id}\u0000${a.event_id}` < `${b.tenant_id}\u0000${b.event_id}` ? -1 : 1;

/** The typed rows the generator's events should give, per table, sorted by (tenant_id, event_id). */
function expectedTyped(messages: readonly GeneratedMessage[]): Record<string, Payload[]> {
  const events = meant(messages);
  const common = (e: (typeof events)[number]) => ({
    event_id: e.payload.event_id,
    tenant_id: e.payload.tenant_id,
    user_id: e.payload.user_id,
    event_time: e.timeMs,
    message_id: e.messageId,
  });
  const of = (type: string) => events.filter((e) => e.payload.event_type === type);
  return {
    silver_orders: of("order")
      .map((e) => ({
        ...common(e),
        order_id: e.payload.order_id,
        currency: e.payload.currency,
        total: e.payload.amount,
        line_items: e.payload.line_items,
      }))
      .sort(byKey),
    silver_inventory: of("inventory")
      .map((e) => ({
        ...common(e),
        sku: e.payload.sku,
        warehouse: e.payload.warehouse,
        delta: e.payload.delta,
        on_hand: e.payload.on_hand,
      }))
      .sort(byKey),
    silver_activity: of("user_activity")
      .map((e) => ({ ...common(e), action: e.payload.action, actor_id: e.payload.actor_id, page: e.payload.page }))
      .sort(byKey),
  };
}

/** The typed tables' rows without ingest_time (processing time), sorted by (tenant_id, event_id). */
async function typedTables(w: Warehouse): Promise<Record<string, Payload[]>> {
  const out: Record<string, Payload[]> = {};
  for (const t of ["silver_orders", "silver_inventory", "silver_activity"]) {
    const rows = await w.query(`SELECT * FROM ${t}`);
    out[t] = rows.map(({ ingest_time: _, ...rest }) => rest).sort(byKey);
  }
  return out;
}

async function run(w: Warehouse, options: Partial<GenerateOptions>): Promise<void> {
  await runMedallion(
    fixtureLinesSource<RawMessage>("generated", () => generateStream(options)),
    w,
    {},
    { flushRows: 500 },
  );
}

describe("typed Silver tables: the generator's orders, inventory changes and activity, exactly", () => {
  const options = { users: 200, seed: 21 };
  const messages = generateMessages(options);
  const expected = expectedTyped(messages);

  it("the stream holds enough of each (orders with several lines, a re-delivered typed event)", () => {
    expect(expected.silver_orders?.length).toBeGreaterThanOrEqual(10);
    expect(expected.silver_orders?.some((o) => (o.line_items as unknown[]).length >= 3)).toBe(true);
    expect(expected.silver_inventory?.length).toBeGreaterThanOrEqual(3);
    expect(expected.silver_activity?.length).toBeGreaterThanOrEqual(100);
    const typed = new Set(["order", "inventory", "user_activity"]);
    const redelivered = messages.filter(
      (g) => g.origin.kind === "duplicate" && typed.has((JSON.parse(g.message.data) as Payload).event_type as string),
    );
    expect(redelivered.length).toBeGreaterThan(0);
  });

  it("DuckDB: every order with exactly its line items, every inventory change and activity, once", async () => {
    const w = await DuckDbWarehouse.create(":memory:");
    await w.open();
    await run(w, options);
    expect(await typedTables(w)).toEqual(expected);
    // Each typed row has its row in silver_events, of its type.
    const [orphans] = await w.query(
      `SELECT count(*) AS n FROM (SELECT tenant_id, event_id, 'order' AS t FROM silver_orders
         UNION ALL SELECT tenant_id, event_id, 'inventory' FROM silver_inventory
         UNION ALL SELECT tenant_id, event_id, 'user_activity' FROM silver_activity) AS typed
       ANTI JOIN silver_events AS s ON s.tenant_id = typed.tenant_id AND s.event_id = typed.event_id AND s.event_type = typed.t`,
    );
    expect(orphans).toEqual({ n: 0 });
    await w.close();
  }, 120_000);

  it("BigQuery (emulator): the same rows, line items as a REPEATED RECORD", async () => {
    const small = { users: 60, seed: 21 };
    const want = expectedTyped(generateMessages(small));
    expect(want.silver_orders?.length).toBeGreaterThan(0);
    const w = await bq.warehouse();
    await run(w, small);
    expect(await typedTables(w)).toEqual(want);
  }, 300_000);
});

describe("the main fixture: colliding event ids across tenants, typed events", () => {
  const text = readFileSync(FIXTURE, "utf8");
  const payloads = parseFixtureStream<RawMessage>(text)
    .events.flatMap((e) => (e.kind === "elements" ? e.values : []))
    .flatMap((m) => {
      try {
        return [JSON.parse(m.data) as Payload];
      } catch {
        return [];
      }
    });

  it("both events of each id two tenants share are in Silver, each with its own user and type", async () => {
    const tenantsById = new Map<string, Map<string, Payload>>();
    for (const p of payloads) {
      if (typeof p.event_id !== "string" || typeof p.tenant_id !== "string") continue;
      const m = tenantsById.get(p.event_id) ?? new Map<string, Payload>();
      m.set(p.tenant_id, p);
      tenantsById.set(p.event_id, m);
    }
    const colliding = [...tenantsById].filter(([, m]) => m.size > 1);
    expect(colliding.length).toBeGreaterThanOrEqual(1);
    const w = await DuckDbWarehouse.create(":memory:");
    await w.open();
    await runMedallion(fixtureFileSource<RawMessage>(FIXTURE), w, {}, {});
    for (const [id, byTenant] of colliding) {
      const rows = await w.query(
        `SELECT tenant_id, user_id, event_type FROM silver_events WHERE event_id = '${id}' ORDER BY tenant_id`,
      );
      expect(rows).toEqual(
        [...byTenant.values()]
          .map((p) => ({ tenant_id: p.tenant_id, user_id: p.user_id, event_type: p.event_type }))
          .sort((a, b) => ((a.tenant_id as string) < (b.tenant_id as string) ? -1 : 1)),
      );
    }
    // Every typed type is there, and each typed table holds one row per distinct (tenant, id) of its type.
    const distinct = (type: string) =>
      new Set(payloads.filter((p) => p.event_type === type).map((p) => `${p.tenant_id}/${p.event_id}`)).size;
    const counts = await w.counts();
    expect(distinct("order")).toBeGreaterThan(0);
    expect(distinct("inventory")).toBeGreaterThan(0);
    expect(counts.silver_orders).toBe(distinct("order"));
    expect(counts.silver_inventory).toBe(distinct("inventory"));
    await w.close();
  }, 60_000);
});
