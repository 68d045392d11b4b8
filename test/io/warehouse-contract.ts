import { describe, expect, it } from "vitest";
import type { Warehouse } from "../../io/warehouse.ts";
import type {
  BronzeRow,
  GoldHourlyRow,
  GoldSessionRow,
  SilverActivityRow,
  SilverInventoryRow,
  SilverOrderRow,
  SilverRow,
} from "../../schemas/rows.ts";

/*
 * The behaviour every Warehouse shares (embedded DuckDB, BigQuery): one suite, run against each by its own test file.
 * `query` returns rows in the row types' form (times as epoch ms, JSON parsed, arrays as arrays), so a row written
 * is the row read back.
 */

export const T0 = Date.UTC(2024, 2, 10, 12, 0, 0, 123);

export const bronze = (message_id: string, over: Partial<BronzeRow> = {}): BronzeRow => ({
  message_id,
  publish_time: T0,
  ingest_time: T0 + 5,
  attributes: { source: "web" },
  payload: `{"event_id":"${message_id}"}`,
  valid: true,
  error_field: null,
  error_reason: null,
  correlation_id: `c-${message_id}`,
  payload_encoding: null,
  ...over,
});

export const silver = (event_id: string, over: Partial<SilverRow> = {}): SilverRow => ({
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
  correlation_id: `c-${event_id}`,
  ...over,
});

export const order = (event_id: string, over: Partial<SilverOrderRow> = {}): SilverOrderRow => ({
  event_id,
  tenant_id: "t1",
  user_id: "u1",
  event_time: T0,
  ingest_time: T0 + 2_000,
  message_id: `m-${event_id}`,
  order_id: `ord-${event_id}`,
  currency: "EUR",
  total: 61.97,
  line_items: [
    { sku: "SKU-100", quantity: 2, unit_price: 19.99 },
    { sku: "SKU-7\u00e9\"'", quantity: 1, unit_price: 21.99 },
  ],
  ...over,
});

export const inventory = (event_id: string, over: Partial<SilverInventoryRow> = {}): SilverInventoryRow => ({
  event_id,
  tenant_id: "t1",
  user_id: "u1",
  event_time: T0,
  ingest_time: T0 + 2_000,
  message_id: `m-${event_id}`,
  sku: "SKU-100",
  warehouse: "fra1",
  delta: -3,
  on_hand: 41,
  ...over,
});

export const activity = (event_id: string, over: Partial<SilverActivityRow> = {}): SilverActivityRow => ({
  event_id,
  tenant_id: "t1",
  user_id: "u1",
  event_time: T0,
  ingest_time: T0 + 2_000,
  message_id: `m-${event_id}`,
  action: "search",
  actor_id: 9_007_199_254_740_991,
  page: null,
  ...over,
});

export const session = (session_id: string, over: Partial<GoldSessionRow> = {}): GoldSessionRow => ({
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
  last_correlation_id: null,
  ...over,
});

export const hourly = (tenant_id: string, hour_start: number, over: Partial<GoldHourlyRow> = {}): GoldHourlyRow => ({
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

async function sessionsById(w: Warehouse): Promise<Record<string, unknown>[]> {
  return w.query("SELECT * FROM gold_sessions ORDER BY session_id");
}

/** Defines the shared suite; `make` returns a fresh, opened, empty warehouse (closed by the caller's hooks). */
export function warehouseContract(name: string, make: () => Promise<Warehouse>): void {
  describe(`${name}: the Warehouse contract`, () => {
    it("opens twice without harm and starts with seven empty tables", async () => {
      const w = await make();
      await w.open();
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

    it("typed Silver tables: rows read back exactly (an order's line items as a list of records, in order)", async () => {
      const w = await make();
      const orders = [
        order("o1"),
        order("o2", { line_items: [{ sku: "A", quantity: 1000, unit_price: 0 }], total: 0 }),
      ];
      await w.appendTyped("order", orders);
      await w.appendTyped("inventory", [inventory("i1"), inventory("i2", { delta: 50, on_hand: 0 })]);
      await w.appendTyped("user_activity", [activity("a1"), activity("a2", { actor_id: null, page: "/docs" })]);
      expect(await w.query("SELECT * FROM silver_orders ORDER BY event_id")).toEqual(orders);
      expect(await w.query("SELECT * FROM silver_inventory ORDER BY event_id")).toEqual([
        inventory("i1"),
        inventory("i2", { delta: 50, on_hand: 0 }),
      ]);
      expect(await w.query("SELECT * FROM silver_activity ORDER BY event_id")).toEqual([
        activity("a1"),
        activity("a2", { actor_id: null, page: "/docs" }),
      ]);
    });

    it("typed Silver tables are idempotent on (tenant_id, event_id): a replay keeps the first, two tenants keep both", async () => {
      const w = await make();
      await w.appendTyped("order", [order("o1"), order("o1", { order_id: "dup in batch" })]);
      await w.appendTyped("order", [order("o1", { order_id: "replayed" }), order("o1", { tenant_id: "globex" })]);
      const rows = await w.query("SELECT tenant_id, event_id, order_id FROM silver_orders ORDER BY tenant_id");
      expect(rows).toEqual([
        { tenant_id: "globex", event_id: "o1", order_id: "ord-o1" },
        { tenant_id: "t1", event_id: "o1", order_id: "ord-o1" },
      ]);
    });

    it("Bronze is idempotent on message_id across calls and within a batch (the first row kept)", async () => {
      const w = await make();
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
      const w = await make();
      await w.appendBronze([bronze("m1"), bronze("m1", { publish_time: bronze("m1").publish_time + 1 })]);
      expect(await w.counts()).toMatchObject({ bronze_messages: 2 });
    });

    it("Silver is idempotent on (tenant_id, event_id) and round-trips every column (query returns SilverRows)", async () => {
      const w = await make();
      const e1 = silver("e1");
      const e2 = silver("e2", { amount: null, currency: null, items: null, properties: null, device: "iPhone 15" });
      await w.appendSilver([e1, e2]);
      await w.appendSilver([silver("e2", { user_id: "replayed" }), silver("e3")]);
      const rows = await w.query("SELECT * FROM silver_events ORDER BY event_id");
      expect(rows).toEqual([e1, e2, silver("e3")]);
    });

    it("Silver's key is (tenant_id, event_id): two tenants' events with one id are two rows, each idempotent", async () => {
      const w = await make();
      // Tenants whose id and event id run into each other if joined without a boundary ("t1" + "|x" = "t1|" + "x").
      const rows = [
        silver("e1", { tenant_id: "acme" }),
        silver("e1", { tenant_id: "globex", user_id: "u9" }),
        silver("|x", { tenant_id: "t1" }),
        silver("x", { tenant_id: "t1|" }),
      ];
      await w.appendSilver(rows);
      await w.appendSilver([silver("e1", { tenant_id: "globex", user_id: "replayed" }), ...rows]);
      const got = await w.query("SELECT tenant_id, event_id, user_id FROM silver_events ORDER BY tenant_id, event_id");
      expect(got).toEqual([
        { tenant_id: "acme", event_id: "e1", user_id: "u1" },
        { tenant_id: "globex", event_id: "e1", user_id: "u9" },
        { tenant_id: "t1", event_id: "|x", user_id: "u1" },
        { tenant_id: "t1|", event_id: "x", user_id: "u1" },
      ]);
    });

    it("round-trips payloads and attributes with quotes, newlines, emoji, backslashes and invalid JSON byte for byte", async () => {
      const w = await make();
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
    });

    it("keeps a payload that is not UTF-8 as base64 with payload_encoding, whose bytes come back exactly", async () => {
      const w = await make();
      const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0x7b]);
      const rows = [
        bronze("b1", { payload: bytes.toString("base64"), payload_encoding: "base64", valid: false }),
        bronze("b2", { payload: "text", payload_encoding: null }),
      ];
      await w.appendBronze(rows);
      const back = await w.query("SELECT * FROM bronze_messages ORDER BY message_id");
      expect(back).toEqual(rows);
      expect(Buffer.from(String(back[0]?.payload), "base64").equals(bytes)).toBe(true);
    });

    it("writes large batches, overlapping ones idempotently", async () => {
      const w = await make();
      const ids = Array.from({ length: 5000 }, (_, i) => `e${i}`);
      await w.appendSilver(ids.slice(0, 4500).map((id) => silver(id)));
      await w.appendSilver(ids.slice(4000).map((id) => silver(id)));
      const [row] = await w.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM silver_events");
      expect(row).toEqual({ n: 5000, d: 5000 });
    });

    it("writeSessions replaces sessions and deletes the merged-away ones in one call", async () => {
      const w = await make();
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
      const w = await make();
      await w.writeSessions([session("s1")], []);
      await w.writeSessions([session("s1", { event_count: 2 }), session("s1", { event_count: 3 })], ["s1"]);
      expect(await sessionsById(w)).toEqual([session("s1", { event_count: 3 })]);
      await w.writeSessions([], ["s1", "no-such-session"]);
      expect(await w.counts()).toMatchObject({ gold_sessions: 0 });
    });

    it("upsertHourly upserts on (tenant_id, hour_start)", async () => {
      const w = await make();
      const h0 = Date.UTC(2024, 2, 10, 12);
      const h1 = h0 + 3_600_000;
      await w.upsertHourly([hourly("t1", h0), hourly("t2", h0)]);
      const updated = hourly("t1", h0, { events: 25, revenue: 100.25, pane_timing: "LATE", updated_at: h1 + 5 });
      await w.upsertHourly([updated, hourly("t1", h1)]);
      const rows = await w.query("SELECT * FROM gold_tenant_hourly ORDER BY tenant_id, hour_start");
      expect(rows).toEqual([updated, hourly("t1", h1), hourly("t2", h0)]);
    });

    it("keeps millisecond precision exactly (whole seconds before 1970)", async () => {
      const w = await make();
      // Sub-second times before 1970 are left to the DuckDB tests: the BigQuery emulator stores them right but
      // prints them wrong (TIMESTAMP_MILLIS(-1) comes back as 23:59:58.001).
      const times = [0, 1, 999, T0, 1_700_000_000_001, -86_400_000 * 365 * 30, Date.UTC(2999, 11, 31, 23, 59, 59, 999)];
      await w.appendBronze(times.map((t, i) => bronze(`m${i}`, { publish_time: t, ingest_time: t + 1_000 })));
      const rows = await w.query("SELECT publish_time, ingest_time FROM bronze_messages ORDER BY message_id");
      expect(rows).toEqual(times.map((t) => ({ publish_time: t, ingest_time: t + 1_000 })));
    });
  });
}
