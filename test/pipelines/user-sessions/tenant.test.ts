import { describe, expect, it } from "vitest";
import { minutes } from "../../../core/time/duration.ts";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import type { Warehouse } from "../../../io/warehouse.ts";
import { sessionId } from "../../../pipelines/user-sessions/gold.ts";
import type { UserSessionsOptions } from "../../../pipelines/user-sessions/pipeline.ts";
import { runMedallion } from "../../../pipelines/user-sessions/run.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import { CATCH_ALL_MISROUTED } from "../../../schemas/tenant.ts";

// Tenant isolation through the whole medallion (Bronze, Silver, Gold, the dead-letter counter) into a real DuckDB
// warehouse: the tenant is part of Silver's and Gold's keys, the tenant_id attribute must agree with the payload,
// and a worker for one tenant (--tenant) refuses every other message, each with its reason.

const T0 = Date.UTC(2026, 0, 1, 12);
const FIXTURE = "test/fixtures/events-small.jsonl";

interface Sent {
  /** The payload's tenant_id. */
  readonly tenant: string;
  /** The tenant_id attribute; absent: the message has none. */
  readonly attribute?: string;
  readonly eventId: string;
  readonly user?: string;
  readonly atMs: number;
}

function message(id: string, s: Sent): { value: RawMessage; timestamp: number } {
  const payload = {
    event_id: s.eventId,
    event_type: "page_view",
    user_id: s.user ?? "u1",
    tenant_id: s.tenant,
    event_time: new Date(T0 + s.atMs).toISOString(),
    platform: "web",
    schema_version: 1,
    page: "/",
  };
  const value: RawMessage = {
    messageId: id,
    publishTime: T0 + s.atMs + 100,
    attributes: s.attribute === undefined ? {} : { tenant_id: s.attribute },
    data: JSON.stringify(payload),
  };
  return { value, timestamp: value.publishTime };
}

/** Two tenants with the same event id and user id, a re-delivery, a forged attribute, none, a tenant id not one. */
const MESSAGES = [
  message("m-acme", { tenant: "acme", attribute: "acme", eventId: "shared-1", atMs: 0 }),
  message("m-globex", { tenant: "globex", attribute: "globex", eventId: "shared-1", atMs: minutes(1) }),
  message("m-acme-again", { tenant: "acme", attribute: "acme", eventId: "shared-1", atMs: minutes(2) }),
  message("m-forged", { tenant: "globex", attribute: "acme", eventId: "forged-1", atMs: minutes(3) }),
  message("m-no-attribute", { tenant: "acme", eventId: "plain-1", atMs: minutes(4) }),
  message("m-bad-tenant", { tenant: "acme corp", attribute: "acme corp", eventId: "bad-1", atMs: minutes(5) }),
];

const FORGED = {
  error_field: "attributes.tenant_id",
  error_reason: 'is "acme" but the payload\'s tenant_id is "globex": written under neither tenant',
};
const BAD_TENANT = {
  error_field: "tenant_id",
  error_reason:
    "must be 1 to 63 letters, digits, '_', '-' or '.', starting with a letter or a digit, got \"acme corp\"",
};

async function runOn(opts: UserSessionsOptions) {
  const stream = TestStream.create<RawMessage>()
    .advanceProcessingTimeTo(T0)
    .addElements(...MESSAGES)
    .advanceWatermarkToInfinity();
  const w = await DuckDbWarehouse.create(":memory:");
  await w.open();
  const run = await runMedallion(stream, w, opts);
  const deadLetters = Object.fromEntries(
    run.metrics.user
      .filter((m) => m.namespace === "medallion" && m.name === "dead_letters")
      .map((m) => [m.labels.field, (m as { value: number }).value]),
  );
  return { w, run, deadLetters };
}

const rows = (w: Warehouse, sql: string) => w.query(sql);

describe("tenant isolation in the medallion (DuckDB)", () => {
  it("keeps two tenants' events with the same id, and their users' sessions apart; a forged attribute is dead-lettered", async () => {
    const { w, run, deadLetters } = await runOn({});
    expect(await rows(w, "SELECT tenant_id, event_id, message_id FROM silver_events ORDER BY ALL")).toEqual([
      { tenant_id: "acme", event_id: "plain-1", message_id: "m-no-attribute" },
      { tenant_id: "acme", event_id: "shared-1", message_id: "m-acme" },
      { tenant_id: "globex", event_id: "shared-1", message_id: "m-globex" },
    ]);
    // Gold: one session per (tenant, user), u1 of acme and u1 of globex apart, each id the tenant's own.
    expect(
      await rows(w, "SELECT session_id, tenant_id, user_id, event_count FROM gold_sessions ORDER BY tenant_id"),
    ).toEqual([
      { session_id: sessionId("acme", "u1", T0), tenant_id: "acme", user_id: "u1", event_count: 2 },
      { session_id: sessionId("globex", "u1", T0 + minutes(1)), tenant_id: "globex", user_id: "u1", event_count: 1 },
    ]);
    expect(await rows(w, "SELECT tenant_id, events FROM gold_tenant_hourly ORDER BY ALL")).toEqual([
      { tenant_id: "acme", events: 2 },
      { tenant_id: "globex", events: 1 },
    ]);
    // Every message is in Bronze; the forged one and the bad tenant id are invalid there, with their reasons.
    expect(
      await rows(w, "SELECT message_id, valid, error_field, error_reason FROM bronze_messages ORDER BY message_id"),
    ).toEqual([
      { message_id: "m-acme", valid: true, error_field: null, error_reason: null },
      { message_id: "m-acme-again", valid: true, error_field: null, error_reason: null },
      { message_id: "m-bad-tenant", valid: false, ...BAD_TENANT },
      { message_id: "m-forged", valid: false, ...FORGED },
      { message_id: "m-globex", valid: true, error_field: null, error_reason: null },
      { message_id: "m-no-attribute", valid: true, error_field: null, error_reason: null },
    ]);
    expect(deadLetters).toEqual({ "attributes.tenant_id": 1, tenant_id: 1 });
    expect(run.written.deadLetter).toBe(2);
    // Written under neither tenant: nothing of the forged event anywhere past Bronze.
    expect(await rows(w, "SELECT count(*)::INT AS n FROM silver_events WHERE event_id = 'forged-1'")).toEqual([
      { n: 0 },
    ]);
    await w.close();
  });

  it("--tenant=acme: another tenant's message and one without the attribute are refused, each with its reason", async () => {
    const { w, run, deadLetters } = await runOn({ tenant: "acme" });
    expect(await rows(w, "SELECT tenant_id, event_id, message_id FROM silver_events ORDER BY ALL")).toEqual([
      { tenant_id: "acme", event_id: "shared-1", message_id: "m-acme" },
    ]);
    expect(await rows(w, "SELECT tenant_id, user_id, event_count FROM gold_sessions")).toEqual([
      { tenant_id: "acme", user_id: "u1", event_count: 1 },
    ]);
    expect(
      await rows(
        w,
        "SELECT message_id, error_field, error_reason FROM bronze_messages WHERE NOT valid ORDER BY message_id",
      ),
    ).toEqual([
      { message_id: "m-bad-tenant", ...BAD_TENANT },
      { message_id: "m-forged", ...FORGED },
      {
        message_id: "m-globex",
        error_field: "tenant_id",
        error_reason: 'is "globex", not this worker\'s tenant (--tenant=acme)',
      },
      {
        message_id: "m-no-attribute",
        error_field: "attributes.tenant_id",
        error_reason:
          "is missing: this worker (--tenant=acme) takes only the messages its subscription's filter selects " +
          '(attributes.tenant_id = "acme")',
      },
    ]);
    expect(deadLetters).toEqual({ "attributes.tenant_id": 2, tenant_id: 2 });
    expect(run.written.deadLetter).toBe(4);
    expect((await w.counts()).bronze_messages).toBe(MESSAGES.length);
    await w.close();
  });

  it("a tenant's worker over the shipped fixture writes exactly the shared job's rows of that tenant", async () => {
    const shared = await DuckDbWarehouse.create(":memory:");
    await shared.open();
    await runMedallion(fixtureFileSource<RawMessage>(FIXTURE), shared, {});
    const acme = await DuckDbWarehouse.create(":memory:");
    await acme.open();
    const run = await runMedallion(fixtureFileSource<RawMessage>(FIXTURE), acme, { tenant: "acme" });
    for (const [table, where] of [
      ["silver_events", "tenant_id = 'acme'"],
      ["gold_sessions", "tenant_id = 'acme'"],
      ["gold_tenant_hourly", "tenant_id = 'acme'"],
    ] as const) {
      const expected = await shared.query(`SELECT * FROM ${table} WHERE ${where} ORDER BY ALL`);
      expect(expected.length, table).toBeGreaterThan(10);
      expect(await acme.query(`SELECT * FROM ${table} ORDER BY ALL`), table).toEqual(expected);
    }
    // Bronze holds every message; the other tenants' valid ones are refused with their tenant named, the invalid
    // ones keep their own reason.
    const bronzeOf = (w: Warehouse) =>
      w.query("SELECT message_id, valid, error_field, error_reason FROM bronze_messages ORDER BY message_id");
    const before = await bronzeOf(shared);
    const after = await bronzeOf(acme);
    expect(after).toHaveLength(1480);
    const tenantOf = new Map(
      (
        await shared.query(
          "SELECT message_id, payload->>'$.tenant_id' AS tenant FROM bronze_messages WHERE valid ORDER BY ALL",
        )
      ).map((r) => [r.message_id as string, r.tenant as string]),
    );
    const refused = after.map((r, i) => {
      const b = before[i] as Record<string, unknown>;
      expect(r.message_id).toBe(b.message_id);
      if (!b.valid) {
        expect(r).toEqual(b);
        return undefined;
      }
      const tenant = tenantOf.get(b.message_id as string);
      if (tenant === "acme") {
        expect(r).toEqual(b);
        return undefined;
      }
      expect(r).toEqual({
        message_id: b.message_id,
        valid: false,
        error_field: "tenant_id",
        error_reason: `is ${JSON.stringify(tenant)}, not this worker's tenant (--tenant=acme)`,
      });
      return tenant;
    });
    const counts = new Map<string, number>();
    for (const t of refused) if (t !== undefined) counts.set(t, (counts.get(t) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(["globex", "initech"]);
    const invalidBefore = before.filter((r) => !r.valid).length;
    expect(run.written.deadLetter).toBe(invalidBefore + (counts.get("globex") ?? 0) + (counts.get("initech") ?? 0));
    await shared.close();
    await acme.close();
  });
});

describe("the catch-all's reader (catchAllTenants): every message it takes is dead-lettered, with the tenant problem", () => {
  const TENANTS = ["acme", "globex", "initech"];
  const NO_WORKER = "no tenant's worker takes the message (tenants: acme, globex, initech)";
  const CAUGHT = [
    message("c-no-attribute", { tenant: "acme", eventId: "c-1", atMs: 0 }),
    message("c-unknown", { tenant: "umbrella", attribute: "umbrella", eventId: "c-2", atMs: minutes(1) }),
    message("c-malformed", { tenant: "acme", attribute: "acme corp", eventId: "c-3", atMs: minutes(2) }),
    message("c-empty", { tenant: "acme", attribute: "", eventId: "c-4", atMs: minutes(3) }),
    // A known tenant's message reaches the catch-all only where filters are not applied (the emulator).
    message("c-known", { tenant: "acme", attribute: "acme", eventId: "c-5", atMs: minutes(4) }),
  ];

  it("no attribute, an unknown tenant, a malformed or empty id, a known tenant: each in Bronze and the dead letters", async () => {
    const notJson = {
      value: { messageId: "c-not-json", publishTime: T0, attributes: {}, data: "{oops" },
      timestamp: T0,
    };
    // A known tenant's message that does not parse: its worker takes (and dead-letters) it, so here it is misrouted.
    const knownNotJson = {
      value: { messageId: "c-known-not-json", publishTime: T0, attributes: { tenant_id: "globex" }, data: "{oops" },
      timestamp: T0,
    };
    const stream = TestStream.create<RawMessage>()
      .advanceProcessingTimeTo(T0)
      .addElements(...CAUGHT, notJson, knownNotJson)
      .advanceWatermarkToInfinity();
    const w = await DuckDbWarehouse.create(":memory:");
    await w.open();
    const run = await runMedallion(stream, w, { catchAllTenants: TENANTS });
    const bronze = await rows(
      w,
      "SELECT message_id, valid, error_field, error_reason FROM bronze_messages ORDER BY message_id",
    );
    const grammar = "must be 1 to 63 letters, digits, '_', '-' or '.', starting with a letter or a digit, got";
    expect(bronze).toEqual([
      {
        message_id: "c-empty",
        valid: false,
        error_field: "attributes.tenant_id",
        error_reason: `${grammar} "": ${NO_WORKER}`,
      },
      // Marked: acme's worker takes the message, so a replay of the dead letters must skip this copy.
      {
        message_id: "c-known",
        valid: false,
        error_field: CATCH_ALL_MISROUTED,
        error_reason:
          "is \"acme\": tenant acme's worker takes the message, not the catch-all's reader (whose filter leaves it " +
          "out where Pub/Sub applies filters)",
      },
      {
        message_id: "c-known-not-json",
        valid: false,
        error_field: CATCH_ALL_MISROUTED,
        error_reason:
          "is \"globex\": tenant globex's worker takes the message, not the catch-all's reader (whose filter leaves " +
          "it out where Pub/Sub applies filters)",
      },
      {
        message_id: "c-malformed",
        valid: false,
        error_field: "attributes.tenant_id",
        error_reason: `${grammar} "acme corp": ${NO_WORKER}`,
      },
      {
        message_id: "c-no-attribute",
        valid: false,
        error_field: "attributes.tenant_id",
        error_reason: `is missing: ${NO_WORKER}`,
      },
      // A payload that does not parse keeps its own reason (the first problem found).
      expect.objectContaining({ message_id: "c-not-json", valid: false, error_field: "payload" }),
      {
        message_id: "c-unknown",
        valid: false,
        error_field: "attributes.tenant_id",
        error_reason: `is "umbrella", not one of the tenants: ${NO_WORKER}`,
      },
    ]);
    expect(run.written.deadLetter).toBe(7);
    const counts = await w.counts();
    expect([counts.silver_events, counts.gold_sessions, counts.gold_tenant_hourly]).toEqual([0, 0, 0]);
    await w.close();
  });

  it("is a reader's mode, not a tenant's worker: both at once is refused", async () => {
    const w = await DuckDbWarehouse.create(":memory:");
    await w.open();
    await expect(
      runMedallion(TestStream.create<RawMessage>(), w, { tenant: "acme", catchAllTenants: TENANTS }),
    ).rejects.toThrow("bronze: a worker for tenant acme is not the catch-all's reader (tenant and catchAllTenants)");
    await w.close();
  });
});
