import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { SourceEvent } from "../../../core/source.ts";
import { MAX_TIMESTAMP } from "../../../core/time/instant.ts";
import { parseFixtureStream } from "../../../io/test-stream/jsonl.ts";
import {
  DEFAULT_OPTIONS,
  type GeneratedMessage,
  generateMessages,
  generateStream,
  MALFORMED_KINDS,
  parseCliOptions,
  parseTenantList,
  WATERMARK_LAG_MS,
} from "../../../pipelines/user-sessions/generate.ts";
import { parseEvent, type RawMessage, type UserEvent } from "../../../schemas/event.ts";

const FIXTURE = new URL("../../fixtures/events-small.jsonl", import.meta.url);
const FIXTURE_OPTIONS = { users: 25, seed: 7, duplicateRate: 0.02, malformedRate: 0.01 };
const TEN_MINUTES_MS = 10 * 60_000;

/** Parses text as a fixture stream and returns its source events. */
function eventsOf(text: string): readonly SourceEvent<RawMessage>[] {
  return parseFixtureStream<RawMessage>(text, "generated").events;
}

/**
 * Checks the stream's time invariants and returns its messages: the watermark never decreases, no element's
 * timestamp (publish time) is below a watermark already emitted, a processingTime line precedes each bundle and is
 * not before any of its publish times, and the stream ends with the watermark at +infinity.
 */
function checkStream(events: readonly SourceEvent<RawMessage>[]): RawMessage[] {
  const messages: RawMessage[] = [];
  let watermark = Number.NEGATIVE_INFINITY;
  let previous: SourceEvent<RawMessage> | undefined;
  let now = Number.NEGATIVE_INFINITY;
  for (const ev of events) {
    if (ev.kind === "watermark") {
      expect(ev.watermark).toBeGreaterThanOrEqual(watermark);
      watermark = ev.watermark;
    } else if (ev.kind === "processingTime") {
      expect(ev.time).toBeGreaterThanOrEqual(now);
      now = ev.time;
    } else {
      expect(previous?.kind).toBe("processingTime");
      ev.values.forEach((m, i) => {
        expect(ev.timestamps[i]).toBe(m.publishTime);
        expect(m.publishTime).toBeGreaterThanOrEqual(watermark);
        expect(m.publishTime).toBeLessThanOrEqual(now);
        expect(now - m.publishTime).toBeLessThanOrEqual(1000);
        messages.push(m);
      });
    }
    previous = ev;
  }
  expect(previous).toEqual({ kind: "watermark", watermark: MAX_TIMESTAMP });
  return messages;
}

const parsedOk = (m: RawMessage): UserEvent | undefined => {
  const p = parseEvent(m.data);
  return p.ok ? p.event : undefined;
};

/**
 * Valid events seen more than once: (tenant_id, event_id) -> the messages that carry it (an event id is unique within
 * its tenant only: two tenants' events may share one).
 */
function duplicatesOf(messages: readonly RawMessage[]): Map<string, RawMessage[]> {
  const byId = new Map<string, RawMessage[]>();
  for (const m of messages) {
    const e = parsedOk(m);
    const key = e && `${e.tenant_id}\u0000${e.event_id}`;
    if (e && key) byId.set(key, [...(byId.get(key) ?? []), m]);
  }
  return new Map([...byId].filter(([, ms]) => ms.length > 1));
}

/** Valid events published more than ten minutes after their event time. */
function lateEvents(messages: readonly RawMessage[]): UserEvent[] {
  return messages.flatMap((m) => {
    const e = parsedOk(m);
    return e && m.publishTime - e.event_time_ms > TEN_MINUTES_MS ? [e] : [];
  });
}

describe("pipelines/user-sessions/generate: a deterministic stream of user-event messages", () => {
  it("is deterministic by seed: the same options give the same lines, another seed gives others", () => {
    const a = [...generateStream({ users: 10, seed: 42 })];
    expect([...generateStream({ users: 10, seed: 42 })]).toEqual(a);
    expect([...generateStream({ users: 10, seed: 43 })]).not.toEqual(a);
    expect(a.length).toBeGreaterThan(100);
  });

  it("parses as a fixture stream whose watermark never passes an element still to come", () => {
    const generated = generateMessages({ users: 40, seed: 3 });
    const messages = checkStream(eventsOf([...generateStream({ users: 40, seed: 3 })].join("\n")));
    expect(messages).toEqual(generated.map((g) => g.message));
    expect(new Set(messages.map((m) => m.messageId)).size).toBe(messages.length);
    const publish = messages.map((m) => m.publishTime);
    expect(publish).toEqual([...publish].sort((x, y) => x - y));
  });

  it("emits the publish-time watermark: latest publish time minus the lag", () => {
    const events = eventsOf([...generateStream({ users: 5, seed: 1 })].join("\n"));
    let latest = Number.NEGATIVE_INFINITY;
    for (const ev of events) {
      if (ev.kind === "elements") latest = Math.max(latest, ...Array.from(ev.timestamps));
      if (ev.kind === "watermark" && ev.watermark < MAX_TIMESTAMP) expect(ev.watermark).toBe(latest - WATERMARK_LAG_MS);
    }
  });

  it("each malformed payload fails parseEvent and every other one passes, at roughly the configured rate", () => {
    const all = generateMessages({ users: 200, seed: 11, malformedRate: 0.05 });
    const malformed = all.filter((g) => g.origin.kind === "malformed");
    for (const g of all)
      expect(parseEvent(g.message.data).ok, g.message.data.slice(0, 200)).toBe(g.origin.kind !== "malformed");
    expect(malformed.length / all.length).toBeGreaterThan(0.04);
    expect(malformed.length / all.length).toBeLessThan(0.06);
    expect(generateMessages({ users: 20, seed: 11, malformedRate: 0 }).some((g) => g.origin.kind === "malformed")).toBe(
      false,
    );
  });

  it("produces every kind of malformed payload, oversized ones rarely", () => {
    const all = generateMessages({ users: 100, seed: 5, malformedRate: 0.3 });
    const reasons = all.flatMap((g) => (g.origin.kind === "malformed" ? [g.origin.reason] : []));
    for (const kind of MALFORMED_KINDS) expect(reasons, kind).toContain(kind);
    const oversized = reasons.filter((r) => r === "oversized").length;
    expect(oversized / reasons.length).toBeLessThan(0.1);
    const big = all.filter((g) => g.origin.kind === "malformed" && g.origin.reason === "oversized");
    for (const g of big) expect(parseEvent(g.message.data)).toMatchObject({ ok: false, error: { field: "payload" } });
  });

  it("re-delivers duplicates later with a new messageId and the same payload", () => {
    const all = generateMessages({ users: 100, seed: 9, duplicateRate: 0.05 });
    const byId = new Map<string, GeneratedMessage>(all.map((g) => [g.message.messageId, g]));
    const dups = all.filter((g) => g.origin.kind === "duplicate");
    expect(dups.length / all.length).toBeGreaterThan(0.03);
    expect(dups.length / all.length).toBeLessThan(0.07);
    for (const d of dups) {
      const original = d.origin.kind === "duplicate" ? byId.get(d.origin.ofMessageId) : undefined;
      expect(original?.origin.kind).toBe("event");
      expect(d.message.messageId).not.toBe(original?.message.messageId);
      expect(d.message.data).toBe(original?.message.data);
      expect(d.message.publishTime).toBeGreaterThan(original?.message.publishTime ?? Number.POSITIVE_INFINITY);
    }
    expect(duplicatesOf(all.map((g) => g.message)).size).toBe(dups.length);
  });

  it("delivers web events at once and some mobile batches more than ten minutes late", () => {
    const all = generateMessages({ users: 60, seed: 4 });
    const late = lateEvents(all.map((g) => g.message));
    expect(late.length).toBeGreaterThan(20);
    expect(late.every((e) => e.platform !== "web")).toBe(true);
    for (const g of all) {
      const e = g.origin.kind === "event" ? parsedOk(g.message) : undefined;
      if (e?.platform === "web") expect(g.message.publishTime - e.event_time_ms).toBeLessThan(1000);
      if (e && g.origin.kind === "event" && !g.origin.offline) {
        expect(g.message.publishTime - e.event_time_ms).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it("walks funnels that drop off step by step, with valid attributes and varied time formats", () => {
    const events = generateMessages({ users: 150, seed: 2 }).flatMap((g) =>
      g.origin.kind === "event" ? [{ m: g.message, e: parsedOk(g.message) as UserEvent }] : [],
    );
    const clicks = (button: string) => events.filter(({ e }) => e.button === button).length;
    const purchases = events.filter(({ e }) => e.event_type === "purchase").length;
    const signups = events.filter(({ e }) => e.event_type === "user_signup").length;
    const funnel = [clicks("cta"), clicks("plan_select"), clicks("checkout"), purchases];
    expect(
      funnel.every((n, i) => n > 0 && (i === 0 || n < (funnel[i - 1] as number))),
      String(funnel),
    ).toBe(true);
    expect(clicks("signup_submit")).toBeLessThan(clicks("plan_select"));
    expect(signups).toBeGreaterThan(0);
    expect(signups).toBeLessThanOrEqual(clicks("signup_submit"));
    for (const { m, e } of events) {
      expect(m.attributes).toEqual({
        tenant_id: e.tenant_id,
        event_type: e.event_type,
        schema_version: "1",
        correlation_id: `req-${e.event_id}`,
      });
    }
    const raw = events.map(({ e }) => e.event_time_raw);
    expect(raw.some((t) => t.endsWith("Z"))).toBe(true);
    expect(raw.some((t) => /\+\d\d:\d\d$/.test(t))).toBe(true);
    expect(raw.some((t) => /-\d\d:\d\d$/.test(t))).toBe(true);
    expect(raw.some((t) => /^\d+$/.test(t))).toBe(true);
    const types = new Set(events.map(({ e }) => e.event_type));
    expect([...types].sort()).toEqual(
      [
        "app_background",
        "button_click",
        "inventory",
        "order",
        "page_view",
        "purchase",
        "session_start",
        "user_activity",
        "user_signup",
      ].sort(),
    );
  });

  it("reads options from flags, then TIDEMARK_* variables, then defaults, and refuses bad values", () => {
    const env = { TIDEMARK_USERS: "12", TIDEMARK_SEED: "3", TIDEMARK_OUT: "x.jsonl" };
    const { options, out, help } = parseCliOptions(["--users=30", "--malformed=0.1"], env);
    expect(options).toMatchObject({
      users: 30,
      seed: 3,
      malformedRate: 0.1,
      duplicateRate: DEFAULT_OPTIONS.duplicateRate,
    });
    expect(out).toBe("x.jsonl");
    expect(help).toBe(false);
    expect(() => parseCliOptions(["--users=0"], {})).toThrow(/--users/);
    expect(() => parseCliOptions(["--duplicates=1.5"], {})).toThrow(/--duplicates/);
    expect(() => parseCliOptions(["--start=soon"], {})).toThrow(/--start/);
  });
});

describe("generate: the typed shapes, tenants and colliding ids", () => {
  type Payload = Record<string, unknown>;
  const payloadOf = (g: GeneratedMessage): Payload => JSON.parse(g.message.data) as Payload;
  const valid = (all: readonly GeneratedMessage[]) => all.filter((g) => g.origin.kind === "event").map(payloadOf);

  it("orders' lines sum to their amount to the cent and their quantities to items; stock never goes below 0", () => {
    const events = valid(generateMessages({ users: 200, seed: 8 }));
    const orders = events.filter((p) => p.event_type === "order");
    expect(orders.length).toBeGreaterThan(5);
    for (const o of orders) {
      const lines = o.line_items as { sku: string; quantity: number; unit_price: number }[];
      expect(lines.length).toBeGreaterThanOrEqual(1);
      expect(lines.length).toBeLessThanOrEqual(4);
      const cents = lines.reduce((s, l) => s + l.quantity * Math.round(l.unit_price * 100), 0);
      expect(Math.round((o.amount as number) * 100)).toBe(cents);
      expect(o.items).toBe(lines.reduce((s, l) => s + l.quantity, 0));
      expect(typeof o.order_id).toBe("string");
      for (const l of lines) expect(l.sku).toMatch(/^SKU-\d{3}$/);
    }
    const stock = events.filter((p) => p.event_type === "inventory");
    expect(stock.length).toBeGreaterThan(0);
    for (const s of stock) {
      expect(Number.isInteger(s.delta)).toBe(true);
      expect(s.on_hand as number).toBeGreaterThanOrEqual(0);
    }
    const activity = events.filter((p) => p.event_type === "user_activity");
    expect(activity.length).toBeGreaterThan(0);
    // One integer actor id per user, and only one user per actor id.
    const actors = new Map<string, number>();
    for (const a of activity) {
      expect(Number.isSafeInteger(a.actor_id)).toBe(true);
      expect(actors.get(a.user_id as string) ?? a.actor_id).toBe(a.actor_id);
      actors.set(a.user_id as string, a.actor_id as number);
    }
    expect(new Set(actors.values()).size).toBe(actors.size);
  });

  it("the shapes and the colliding ids draw apart: messages, times and faults stay those of the main PRNG", () => {
    const base = generateMessages({ users: 60, seed: 4, collidingIds: 0 });
    const collided = generateMessages({ users: 60, seed: 4, collidingIds: 3 });
    const integer = generateMessages({ users: 60, seed: 4, collidingIds: 0, activityIds: "integer" });
    const skeleton = (all: readonly GeneratedMessage[]) =>
      all.map((g) => ({ id: g.message.messageId, at: g.message.publishTime, origin: g.origin }));
    expect(skeleton(collided)).toEqual(skeleton(base));
    expect(skeleton(integer)).toEqual(skeleton(base));
    // Colliding ids: only event_id (and the correlation id made of it) differs, in 3 events and their re-deliveries.
    const changed = collided.filter((g, i) => g.message.data !== base[i]?.message.data);
    const originals = changed.filter((g) => g.origin.kind === "event");
    expect(originals).toHaveLength(3);
    for (const g of changed) {
      const before = base[collided.indexOf(g)] as GeneratedMessage;
      const { event_id: id, ...rest } = payloadOf(g);
      const { event_id: idBefore, ...restBefore } = payloadOf(before);
      expect(id).not.toBe(idBefore);
      expect(rest).toEqual(restBefore);
      expect(g.message.attributes).toEqual({ ...before.message.attributes, correlation_id: `req-${id}` });
    }
    // Each new id is another tenant's valid event's id.
    const events = valid(collided);
    for (const g of originals) {
      const p = payloadOf(g);
      const owners = events.filter((q) => q.event_id === p.event_id).map((q) => q.tenant_id);
      expect(owners).toHaveLength(2);
      expect(new Set(owners).size).toBe(2);
    }
    // --activity-ids=integer: activity payloads name their user by actor_id only; nothing else changes.
    // (A malformed payload made from an activity event is corrupted from that payload: left out.)
    let activities = 0;
    integer.forEach((g, i) => {
      if (g.origin.kind === "malformed") return;
      const p = payloadOf(g);
      const q = payloadOf(base[i] as GeneratedMessage);
      if (p.event_type === "user_activity") {
        activities++;
        const { user_id: _, ...withoutUser } = q;
        expect(p).toEqual(withoutUser);
        expect(Number.isSafeInteger(p.actor_id)).toBe(true);
      } else expect(g.message.data).toBe(base[i]?.message.data);
    });
    expect(activities).toBeGreaterThan(10);
  });

  it("--tenants spreads the users over the tenants given; one tenant has no colliding ids", () => {
    const two = valid(generateMessages({ users: 30, seed: 5, tenants: ["t-1", "t.2"] }));
    expect(new Set(two.map((p) => p.tenant_id))).toEqual(new Set(["t-1", "t.2"]));
    const solo = generateMessages({ users: 30, seed: 5, tenants: ["solo"] });
    const ids = valid(solo).map((p) => p.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(parseCliOptions(["--tenants=a,b2"], {}).options.tenants).toEqual(["a", "b2"]);
    expect(parseCliOptions([], { TIDEMARK_TENANTS: "x" }).options.tenants).toEqual(["x"]);
    expect(parseCliOptions([], {}).options.tenants).toEqual(DEFAULT_OPTIONS.tenants);
    expect(() => parseTenantList("acme,acme")).toThrow('--tenants: "acme" is listed twice');
    expect(() => parseTenantList("acme,")).toThrow('--tenants: "" must be 1 to 63 letters');
    expect(() => parseTenantList("a b")).toThrow('--tenants: "a b" must be 1 to 63 letters');
    expect(() => parseCliOptions(["--activity-ids=uuid"], {})).toThrow(
      '--activity-ids must be one of string, integer, got "uuid"',
    );
    expect(() => parseCliOptions(["--colliding-ids=-1"], {})).toThrow(/--colliding-ids/);
  });
});

describe("test/fixtures/events-small.jsonl", () => {
  const text = readFileSync(FIXTURE, "utf8");
  const messages = checkStream(eventsOf(text));

  it("is what `npm run generate -- --users=25 --seed=7` writes (regenerate it after changing the generator)", () => {
    expect(text).toBe(`${[...generateStream(FIXTURE_OPTIONS)].join("\n")}\n`);
    expect(Buffer.byteLength(text)).toBeLessThan(1.5 * 1024 * 1024);
  });

  it("holds a thousand or more messages with duplicates, malformed payloads and late mobile batches", () => {
    expect(messages.length).toBeGreaterThanOrEqual(1000);
    expect(messages.length).toBeLessThanOrEqual(3000);
    const malformed = messages.filter((m) => !parseEvent(m.data).ok);
    expect(malformed.length).toBeGreaterThan(0);
    expect(malformed.length / messages.length).toBeLessThan(0.03);
    const dups = duplicatesOf(messages);
    expect(dups.size).toBeGreaterThan(0);
    for (const copies of dups.values()) expect(new Set(copies.map((m) => m.messageId)).size).toBe(copies.length);
    expect(lateEvents(messages).length).toBeGreaterThan(0);
  });
});
