import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { pubsubClient } from "../../io/pubsub/client.ts";
import { PubsubPublisher, publishAtRate } from "../../io/pubsub/pubsub-sink.ts";
import type { Platform, RawMessage } from "../../schemas/event.ts";
import { tenantIdProblem } from "../../schemas/tenant.ts";
import { PAYLOAD_FORMATS, type PayloadFormat, payloadInFormat } from "../../schemas/parsers/event-protobuf.ts";
import { payloadBytes } from "../../schemas/payload.ts";

/**
 * A deterministic generator of realistic Pub/Sub user-event traffic, written as a fixture stream
 * (io/test-stream/jsonl.ts). Everything comes from one seeded PRNG (mulberry32): the same options give the same
 * bytes. Users belong to tenants and keep mostly one platform; their activity comes in sessions separated by idle
 * gaps (mostly > 30 min, sometimes shorter, so that sessions merge). Some sessions walk the sign-up funnel
 * (landing -> cta -> plan_select -> signup_submit -> checkout -> purchase) and drop off along the way.
 *
 * Delivery: web events are published a few hundred ms after they happen; mobile clients sometimes go offline and
 * flush a batch minutes to hours late. Some messages are re-delivered (same payload, new messageId) and some
 * payloads are malformed (each kind fails `parseEvent`). Element timestamps are publish times, so the
 * publish-time watermark (latest publish time - 10 s) never passes an element still to come.
 *
 * Event shapes with fields of their own (`schemas/event-types.ts`, each with its typed Silver table): an `order` has an
 * order id and line items `{sku, quantity, unit_price}` whose sum is its `amount`; an `inventory` change has a sku, a
 * warehouse, a delta and the stock on hand after it (kept per tenant, warehouse and sku); a `user_activity` has an
 * action and the user's integer id in the source system (`actor_id`; with `activityIds: "integer"` it is the only user
 * id the payload carries, as that system sends it, for a field mapping to turn into a user id). Their details come
 * from a second PRNG seeded from the seed, so the main one (sessions, times, faults) draws as before they existed.
 * From that second PRNG too: `collidingIds` events of one tenant get the event id of another tenant's event (two
 * events, one id, two tenants: both belong in Silver, whose key is the tenant and the id).
 */

export interface GenerateOptions {
  readonly users: number;
  readonly seed: number;
  /** Fraction of valid messages re-delivered later with a new messageId. */
  readonly duplicateRate: number;
  /** Fraction of events whose payload is malformed. */
  readonly malformedRate: number;
  /** Epoch ms around which activity starts (first sessions begin within 6 h of it). */
  readonly startMs: number;
  readonly tenants: readonly string[];
  /** Events given the event id of another tenant's event (none with fewer than two tenants). */
  readonly collidingIds: number;
  /** How a user_activity payload names its user: `string` (user_id, and actor_id beside it) or `integer` (actor_id only). */
  readonly activityIds: ActivityIds;
  /** The payloads' format: JSON text (the default) or `protobuf` (`tidemark.events.v1.UserEvent`, `--format`). */
  readonly format?: PayloadFormat;
}

export const ACTIVITY_IDS = ["string", "integer"] as const;
export type ActivityIds = (typeof ACTIVITY_IDS)[number];

export const DEFAULT_OPTIONS: GenerateOptions = {
  users: 25,
  seed: 7,
  duplicateRate: 0.02,
  malformedRate: 0.01,
  startMs: Date.UTC(2026, 0, 5, 6),
  tenants: ["acme", "globex", "initech"],
  collidingIds: 3,
  activityIds: "string",
};

export const MALFORMED_KINDS = [
  "not_json",
  "missing_field",
  "wrong_type",
  "unknown_event_type",
  "bad_event_time",
  "oversized",
] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

/** Why a message exists: ground truth for tests (Bronze keeps only the `RawMessage`). */
export type Origin =
  | { readonly kind: "event"; readonly eventTimeMs: number; readonly offline: boolean }
  | { readonly kind: "duplicate"; readonly ofMessageId: string }
  | { readonly kind: "malformed"; readonly reason: MalformedKind };

export interface GeneratedMessage {
  readonly message: RawMessage;
  readonly origin: Origin;
}

/** The publish-time watermark trails the latest publish time by this much. */
export const WATERMARK_LAG_MS = 10_000;
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** mulberry32: a tiny seeded PRNG with a 2^32 period; `next()` is uniform in [0, 1). */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** Log-uniform in [lo, hi): most values near lo, a long tail towards hi. */
  logUniform(lo: number, hi: number): number {
    return Math.round(lo * (hi / lo) ** this.next());
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [v, w] of entries) {
      r -= w;
      if (r < 0) return v;
    }
    return (entries[entries.length - 1] as readonly [T, number])[0];
  }
  hex(chars: number): string {
    let s = "";
    while (s.length < chars)
      s += Math.floor(this.next() * 0x100000000)
        .toString(16)
        .padStart(8, "0");
    return s.slice(0, chars);
  }
  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
  }
}

type Payload = Record<string, unknown>;
/** How a user's client writes event time: ISO-8601 with a fixed UTC offset (minutes; 0 is "Z") or epoch ms. */
type TimeFormat = { readonly kind: "iso"; readonly offsetMin: number } | { readonly kind: "epoch" };

interface UserProfile {
  readonly userId: string;
  /** The user's integer id in the source system of activity events. */
  readonly actorId: number;
  readonly tenant: string;
  readonly platform: Platform;
  readonly otherPlatform: Platform;
  readonly devices: Readonly<Record<Platform, string>>;
  readonly timeFormat: TimeFormat;
  readonly acquisitionSource: string;
  readonly currency: string;
  signedUp: boolean;
}

/** An event as it happened, before delivery. */
interface Draft {
  readonly payload: Payload;
  readonly eventTimeMs: number;
}

/** A message before its messageId is assigned (ids follow publish order). */
interface Pending {
  readonly data: string;
  readonly attributes: Record<string, string>;
  readonly publishTime: number;
  readonly origin: Exclude<Origin, { kind: "duplicate" }> | { readonly kind: "duplicate"; readonly of: Pending };
}

const DEVICES: Readonly<Record<Platform, readonly string[]>> = {
  web: ["Chrome 131 / macOS", "Firefox 133 / Windows", "Safari 18 / macOS", "Edge 131 / Windows"],
  ios: ["iPhone15,2 / iOS 18.2", "iPhone14,5 / iOS 17.6", "iPad13,4 / iPadOS 18.1"],
  android: ["Pixel 8 / Android 15", "SM-S918B / Android 14", "moto g84 / Android 14"],
};
const OFFSETS_MIN = [0, 0, 60, 120, -300, -480, 330, 540];
const SOURCES = ["organic", "google_ads", "referral", "newsletter", "facebook"];
const BROWSE_PAGES = ["/", "/pricing", "/docs", "/features", "/blog/launch-week", "/account", "/search"];
const PLANS: readonly (readonly [string, number])[] = [
  ["basic", 9.99],
  ["pro", 29],
  ["team", 79],
];

/** The sign-up funnel: each step is reached with probability `p` from the one before. */
const FUNNEL: readonly { type: string; page: string; button?: string; p: number; signup?: true }[] = [
  { type: "page_view", page: "/", p: 1 },
  { type: "button_click", page: "/", button: "cta", p: 0.7 },
  { type: "page_view", page: "/pricing", p: 0.95 },
  { type: "button_click", page: "/pricing", button: "plan_select", p: 0.75 },
  { type: "page_view", page: "/signup", p: 0.9, signup: true },
  { type: "button_click", page: "/signup", button: "signup_submit", p: 0.7, signup: true },
  { type: "user_signup", page: "/signup", p: 0.97, signup: true },
  { type: "page_view", page: "/checkout", p: 0.85 },
  { type: "button_click", page: "/checkout", button: "checkout", p: 0.8 },
  { type: "purchase", page: "/checkout", p: 0.85 },
];

function makeUser(rng: Rng, index: number, tenants: readonly string[]): UserProfile {
  const platform = rng.weighted<Platform>([
    ["web", 5],
    ["ios", 3],
    ["android", 3],
  ]);
  const otherPlatform = platform === "web" ? rng.pick<Platform>(["ios", "android"]) : "web";
  const devices = { web: rng.pick(DEVICES.web), ios: rng.pick(DEVICES.ios), android: rng.pick(DEVICES.android) };
  const timeFormat: TimeFormat =
    platform === "android" && rng.chance(0.4) ? { kind: "epoch" } : { kind: "iso", offsetMin: rng.pick(OFFSETS_MIN) };
  const tenant = rng.pick(tenants);
  return {
    userId: `u_${String(index + 1).padStart(4, "0")}_${rng.hex(6)}`,
    actorId: 100_000 + index + 1,
    tenant,
    platform,
    otherPlatform,
    devices,
    timeFormat,
    acquisitionSource: rng.pick(SOURCES),
    currency: rng.pick(["USD", "USD", "EUR", "GBP"]),
    signedUp: rng.chance(0.3),
  };
}

/** Event time as the client writes it: `2026-01-05T08:00:00.000+02:00`, `...Z`, or epoch ms. */
export function formatEventTime(ms: number, offsetMin: number | "epoch"): string | number {
  if (offsetMin === "epoch") return ms;
  if (offsetMin === 0) return new Date(ms).toISOString();
  const local = new Date(ms + offsetMin * MINUTE_MS).toISOString().slice(0, 23);
  const abs = Math.abs(offsetMin);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `${local}${offsetMin < 0 ? "-" : "+"}${hh}:${mm}`;
}

/** Builds one event's payload with the schema's common fields plus `extra`. */
function event(rng: Rng, u: UserProfile, platform: Platform, type: string, timeMs: number, extra: Payload): Draft {
  const fmt = u.timeFormat.kind === "epoch" ? "epoch" : u.timeFormat.offsetMin;
  const payload: Payload = {
    event_id: rng.uuid(),
    event_type: type,
    user_id: u.userId,
    tenant_id: u.tenant,
    event_time: formatEventTime(timeMs, platform === u.platform ? fmt : 0),
    platform,
    schema_version: 1,
    device: u.devices[platform],
    ...extra,
  };
  return { payload, eventTimeMs: timeMs };
}

/** The typed content of one funnel step (page, button, purchase fields, signup source). */
function funnelExtra(
  rng: Rng,
  u: UserProfile,
  step: (typeof FUNNEL)[number],
  plan: readonly [string, number],
): Payload {
  const base: Payload = { page: step.page };
  if (step.button) return { ...base, button: step.button, properties: { plan: plan[0] } };
  if (step.type === "user_signup") return { ...base, acquisition_source: u.acquisitionSource };
  if (step.type === "purchase") {
    const items = rng.weighted([
      [1, 8],
      [2, 2],
      [3, 1],
    ]);
    const amount = Math.round(plan[1] * items * 100) / 100;
    return {
      ...base,
      amount,
      currency: u.currency,
      items,
      properties: { plan: plan[0], order_id: `ord_${rng.hex(10)}` },
    };
  }
  return { ...base, properties: step.page === "/" ? { utm_source: u.acquisitionSource } : { referrer: "internal" } };
}

/**
 * What the event shapes draw from (`shapes`, the second PRNG) and keep: the stock on hand per tenant, warehouse and
 * sku; how activity payloads name their user.
 */
interface Shapes {
  readonly rng: Rng;
  readonly stock: Map<string, number>;
  readonly activityIds: ActivityIds;
}

/**
 * An order's line items: `lines` of them, the first at `firstCents`, the others at prices from `shapes`; quantities
 * mostly 1. The amount is their sum, computed in cents (exact), and `items` the sum of the quantities.
 */
function orderLines(
  shapes: Rng,
  lines: number,
  firstCents: number,
): { line_items: Payload[]; amount: number; items: number } {
  const line_items: Payload[] = [];
  let cents = 0;
  let items = 0;
  for (let i = 0; i < lines; i++) {
    const sku = `SKU-${shapes.int(100, 999)}`;
    const quantity = shapes.weighted([
      [1, 6],
      [2, 3],
      [3, 1],
    ]);
    const priceCents = i === 0 ? firstCents : shapes.int(199, 9999);
    line_items.push({ sku, quantity, unit_price: priceCents / 100 });
    cents += quantity * priceCents;
    items += quantity;
  }
  return { line_items, amount: cents / 100, items };
}

/** An inventory change of `sku` in `warehouse`: the stock on hand after it (never below 0: a delta takes at most all). */
function inventoryChange(shapes: Shapes, tenant: string, sku: string, warehouse: string, wantedDelta: number): Payload {
  const key = `${tenant}/${warehouse}/${sku}`;
  const before = shapes.stock.get(key) ?? shapes.rng.int(0, 500);
  const delta = Math.max(wantedDelta, -before);
  shapes.stock.set(key, before + delta);
  return { sku, warehouse, delta, on_hand: before + delta };
}

/** The event types of a session's body: funnel steps until drop-off, or browsing with a few misc events. */
function sessionBody(rng: Rng, shapes: Shapes, u: UserProfile, platform: Platform): { type: string; extra: Payload }[] {
  const out: { type: string; extra: Payload }[] = [];
  if (rng.chance(0.4)) {
    const plan = rng.pick(PLANS);
    for (const step of FUNNEL) {
      if (step.signup && u.signedUp) continue;
      if (!rng.chance(step.p)) break;
      out.push({ type: step.type, extra: funnelExtra(rng, u, step, plan) });
      if (step.type === "user_signup") u.signedUp = true;
    }
    return out;
  }
  const views = rng.int(2, 12);
  for (let i = 0; i < views; i++) {
    const page = rng.pick(BROWSE_PAGES);
    out.push({ type: "page_view", extra: { page, properties: { referrer: i === 0 ? "direct" : "internal" } } });
    if (rng.chance(0.12)) out.push({ type: "button_click", extra: { page, button: "cta" } });
    if (rng.chance(0.08)) {
      const action = rng.pick(["search", "scroll", "share", "favorite"]);
      out.push({ type: "user_activity", extra: { page, action, actor_id: u.actorId } });
    }
  }
  if (u.signedUp && rng.chance(0.1)) {
    // The main PRNG's draws, in their order: the number of lines, the first line's price, the order id.
    const lines = rng.int(1, 4);
    const firstCents = rng.int(500, 4000);
    const orderId = `ord_${rng.hex(10)}`;
    const { line_items, amount, items } = orderLines(shapes.rng, lines, firstCents);
    out.push({
      type: "order",
      extra: { page: "/account", amount, currency: u.currency, items, order_id: orderId, line_items },
    });
  }
  if (platform === "web" && rng.chance(0.04)) {
    const sku = `SKU-${rng.int(100, 999)}`;
    const delta = rng.int(-20, 50);
    const warehouse = rng.pick(["fra1", "iad2"]);
    const extra = inventoryChange(shapes, u.tenant, sku, warehouse, delta);
    out.push({ type: "inventory", extra: { page: "/admin/inventory", ...extra } });
  }
  return out;
}

/** One session's events in event-time order; mobile sessions open with session_start and close with app_background. */
function session(rng: Rng, shapes: Shapes, u: UserProfile, startMs: number): { platform: Platform; drafts: Draft[] } {
  const platform = rng.chance(0.9) ? u.platform : u.otherPlatform;
  const mobile = platform !== "web";
  const body = sessionBody(rng, shapes, u, platform);
  const steps = [
    ...(mobile ? [{ type: "session_start", extra: { page: "/", properties: { cold_start: rng.chance(0.5) } } }] : []),
    ...body,
    ...(mobile ? [{ type: "app_background", extra: { properties: { screen_count: body.length } } }] : []),
  ];
  let t = startMs;
  const drafts = steps.map((s) => {
    t += rng.logUniform(2_000, 150_000);
    const d = event(rng, u, platform, s.type, t, s.extra);
    // The source system of activity events knows its users by their integer id only.
    if (s.type === "user_activity" && shapes.activityIds === "integer") delete d.payload.user_id;
    return d;
  });
  return { platform, drafts };
}

/** Publish times: web at once; mobile mostly at once, but sometimes offline from some event on, flushed late. */
function deliver(rng: Rng, platform: Platform, drafts: readonly Draft[]): Pending[] {
  const offlineFrom =
    platform !== "web" && rng.chance(0.3) ? rng.int(0, Math.max(0, drafts.length - 1)) : drafts.length;
  const last = drafts[drafts.length - 1];
  const flushAt = (last?.eventTimeMs ?? 0) + rng.logUniform(2 * MINUTE_MS, 4 * HOUR_MS);
  return drafts.map((d, i) => {
    const offline = i >= offlineFrom;
    const publishTime = offline ? flushAt + (i - offlineFrom) * 3 : d.eventTimeMs + rng.int(40, 600);
    const origin: Origin = { kind: "event", eventTimeMs: d.eventTimeMs, offline };
    return { data: JSON.stringify(d.payload), attributes: attributesOf(d.payload), publishTime, origin };
  });
}

/**
 * Pub/Sub attributes the client sets: tenant, type and schema version, when it knows them, and a correlation id (the
 * client's request id: one per event, kept by a re-publication).
 */
function attributesOf(p: Payload): Record<string, string> {
  const a: Record<string, string> = {};
  if (typeof p.event_id === "string") a.correlation_id = `req-${p.event_id}`;
  if (typeof p.tenant_id === "string") a.tenant_id = p.tenant_id;
  if (typeof p.event_type === "string") a.event_type = p.event_type;
  if (typeof p.schema_version === "number" || typeof p.schema_version === "string") {
    a.schema_version = String(p.schema_version);
  }
  return a;
}

/** Corrupts a payload in one of the ways real clients do; every result fails `parseEvent`. */
function corrupt(rng: Rng, p: Payload, reason: MalformedKind): { data: string; attributes: Record<string, string> } {
  const q: Payload = { ...p };
  switch (reason) {
    case "not_json": {
      const text = JSON.stringify(p);
      const data = rng.chance(0.5)
        ? text.slice(0, rng.int(1, text.length - 2))
        : `event_type=${String(p.event_type)}&user_id=${String(p.user_id)}`;
      return { data, attributes: attributesOf(p) };
    }
    case "missing_field":
      delete q[rng.pick(["event_id", "user_id", "tenant_id", "event_type", "platform", "event_time"])];
      break;
    case "wrong_type": {
      const field = rng.pick(["user_id", "schema_version", "event_time", "properties", "amount"]);
      if (field === "user_id") q.user_id = Number.parseInt(String(p.user_id).slice(2, 6), 10);
      else if (field === "schema_version") q.schema_version = "1";
      else if (field === "event_time")
        q.event_time = typeof p.event_time === "number" ? String(p.event_time) : [p.event_time];
      else if (field === "properties") q.properties = ["oops"];
      else q.amount = String(typeof p.amount === "number" ? p.amount : "12.50");
      break;
    }
    case "unknown_event_type":
      q.event_type = rng.pick(["page_veiw", "screen_view", "add_to_cart", "PageView"]);
      break;
    case "bad_event_time":
      q.event_time = rng.pick(["2026-01-05 10:15:00", "2026-01-05T10:15:00", "yesterday", "2026-13-45T99:00:00Z"]);
      break;
    case "oversized":
      q.properties = { debug_trace: rng.hex(256).repeat(rng.int(260, 320)) };
      break;
  }
  return { data: JSON.stringify(q), attributes: attributesOf(q) };
}

/** Replaces a fraction of events with malformed payloads and re-delivers a fraction of valid ones. */
function addFaults(rng: Rng, opts: GenerateOptions, pending: readonly Pending[]): Pending[] {
  const out: Pending[] = [];
  for (const m of pending) {
    if (rng.chance(opts.malformedRate)) {
      const reason = rng.weighted<MalformedKind>([
        ["not_json", 3],
        ["missing_field", 3],
        ["wrong_type", 3],
        ["unknown_event_type", 2],
        ["bad_event_time", 2],
        ["oversized", 0.4],
      ]);
      const bad = corrupt(rng, JSON.parse(m.data) as Payload, reason);
      out.push({ ...bad, publishTime: m.publishTime, origin: { kind: "malformed", reason } });
      continue;
    }
    out.push(m);
    if (rng.chance(opts.duplicateRate)) {
      const publishTime = m.publishTime + rng.logUniform(1_000, 10 * MINUTE_MS);
      out.push({ data: m.data, attributes: m.attributes, publishTime, origin: { kind: "duplicate", of: m } });
    }
  }
  return out;
}

/**
 * Gives `count` events of one tenant the event id of an event of another (each chosen once, from `shapes`), and their
 * re-deliveries the same payload. Only valid events (not malformed) are chosen, so both events of a pair reach
 * Silver.
 */
function collideIds(shapes: Rng, messages: readonly Pending[], count: number): Pending[] {
  const byTenant = new Map<string, Pending[]>();
  for (const m of messages) {
    if (m.origin.kind !== "event") continue;
    const tenant = (JSON.parse(m.data) as Payload).tenant_id as string;
    // Pushed, not copied: a copy of the tenant's list per message made this quadratic (60 s for 100,000 messages).
    const list = byTenant.get(tenant);
    if (list === undefined) byTenant.set(tenant, [m]);
    else list.push(m);
  }
  const tenants = [...byTenant.keys()].sort();
  if (tenants.length < 2) return [...messages];
  const used = new Set<Pending>();
  const replaced = new Map<Pending, Pending>();
  const pickUnused = (tenant: string): Pending | undefined => {
    const free = (byTenant.get(tenant) ?? []).filter((m) => !used.has(m));
    const m = free.length === 0 ? undefined : shapes.pick(free);
    if (m !== undefined) used.add(m);
    return m;
  };
  for (let k = 0; k < count; k++) {
    const a = shapes.pick(tenants);
    const b = shapes.pick(tenants.filter((t) => t !== a));
    const from = pickUnused(a);
    const to = pickUnused(b);
    if (from === undefined || to === undefined) break;
    const payload = JSON.parse(to.data) as Payload;
    payload.event_id = (JSON.parse(from.data) as Payload).event_id;
    replaced.set(to, { ...to, data: JSON.stringify(payload), attributes: attributesOf(payload) });
  }
  return messages.map((m) => {
    const own = replaced.get(m);
    if (own !== undefined) return own;
    if (m.origin.kind !== "duplicate") return m;
    const of = replaced.get(m.origin.of);
    return of === undefined ? m : { ...m, data: of.data, attributes: of.attributes, origin: { kind: "duplicate", of } };
  });
}

/** All messages in publish-time order, each with its origin. messageIds are numeric strings in publish order. */
export function generateMessages(options: Partial<GenerateOptions> = {}): GeneratedMessage[] {
  const opts: GenerateOptions = { ...DEFAULT_OPTIONS, ...options };
  const rng = new Rng(opts.seed);
  // The shapes' own PRNG (a fixed odd constant apart from the seed's), so that the main one draws as it did before.
  const shapes: Shapes = {
    rng: new Rng((opts.seed ^ 0x5eed_c0de) >>> 0),
    stock: new Map(),
    activityIds: opts.activityIds,
  };
  const pending: Pending[] = [];
  for (let i = 0; i < opts.users; i++) {
    const u = makeUser(rng, i, opts.tenants);
    let start = opts.startMs + rng.int(0, 6 * HOUR_MS);
    const sessions = rng.int(3, 10);
    for (let s = 0; s < sessions; s++) {
      const { platform, drafts } = session(rng, shapes, u, start);
      pending.push(...deliver(rng, platform, drafts));
      const end = drafts[drafts.length - 1]?.eventTimeMs ?? start;
      start = end + (rng.chance(0.15) ? rng.int(3, 25) * MINUTE_MS : rng.logUniform(35 * MINUTE_MS, 8 * HOUR_MS));
    }
  }
  const ordered = collideIds(shapes.rng, addFaults(rng, opts, pending), opts.collidingIds)
    .map((m, seq) => ({ m, seq }))
    .sort((a, b) => a.m.publishTime - b.m.publishTime || a.seq - b.seq)
    .map(({ m }) => m);
  const idBase = 4_000_000_000_000_000 + (opts.seed >>> 0) * 1_000_000;
  const ids = new Map<Pending, string>(ordered.map((m, i) => [m, String(idBase + i * 7)]));
  return ordered.map((m) => {
    const messageId = ids.get(m) as string;
    const origin: Origin =
      m.origin.kind === "duplicate" ? { kind: "duplicate", ofMessageId: ids.get(m.origin.of) as string } : m.origin;
    const payload = payloadInFormat(m.data, opts.format);
    return { message: { messageId, publishTime: m.publishTime, attributes: m.attributes, ...payload }, origin };
  });
}

/**
 * The fixture stream's lines: per bundle (messages published within the same second) a `processingTime` line (end
 * of that second), an `input` line (value = RawMessage, timestamp = publishTime) and a `watermark` line
 * `W' = max(W, maxPublishTime - WATERMARK_LAG_MS)`; at the end `{"watermark": "inf"}`.
 */
export function* generateStream(options: Partial<GenerateOptions> = {}): Generator<string> {
  const opts: GenerateOptions = { ...DEFAULT_OPTIONS, ...options };
  yield `# Tidemark user events: ${describeOptions(opts)}. Format: io/test-stream/jsonl.ts; timestamps are publish times.`;
  const messages = generateMessages(opts);
  let watermark = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < messages.length; ) {
    const second = Math.floor((messages[i] as GeneratedMessage).message.publishTime / 1000);
    const bundle: RawMessage[] = [];
    while (i < messages.length && Math.floor((messages[i] as GeneratedMessage).message.publishTime / 1000) === second) {
      bundle.push((messages[i++] as GeneratedMessage).message);
    }
    yield JSON.stringify({ processingTime: (second + 1) * 1000 });
    yield JSON.stringify({ input: bundle.map((m) => ({ value: m, timestamp: m.publishTime })) });
    const next = Math.max(watermark, ...bundle.map((m) => m.publishTime - WATERMARK_LAG_MS));
    if (next > watermark) yield JSON.stringify({ watermark: next });
    watermark = next;
  }
  yield JSON.stringify({ watermark: "inf" });
}

/** The CLI flags that regenerate a stream with these options (the shape flags only when not their defaults). */
export function describeOptions(o: GenerateOptions): string {
  const start = new Date(o.startMs).toISOString();
  const d = DEFAULT_OPTIONS;
  const extra = [
    o.tenants.join(",") === d.tenants.join(",") ? "" : ` --tenants=${o.tenants.join(",")}`,
    o.collidingIds === d.collidingIds ? "" : ` --colliding-ids=${o.collidingIds}`,
    o.activityIds === d.activityIds ? "" : ` --activity-ids=${o.activityIds}`,
    o.format === undefined || o.format === "json" ? "" : ` --format=${o.format}`,
  ].join("");
  return `--users=${o.users} --seed=${o.seed} --duplicates=${o.duplicateRate} --malformed=${o.malformedRate} --start=${start}${extra}`;
}

/** A `--tenants` list: comma-separated tenant ids (schemas/tenant.ts), each once; an Error naming the one at fault. */
export function parseTenantList(raw: string): string[] {
  const tenants = raw.split(",").map((t) => t.trim());
  const seen = new Set<string>();
  for (const t of tenants) {
    const problem = tenantIdProblem(t);
    if (problem !== undefined) throw new Error(`--tenants: ${JSON.stringify(t)} ${problem}`);
    if (seen.has(t)) throw new Error(`--tenants: ${JSON.stringify(t)} is listed twice`);
    seen.add(t);
  }
  return tenants;
}

const HELP = `Usage: npm run generate -- [--users=N] [--seed=S] [--duplicates=R] [--malformed=R] [--start=ISO] [--out=FILE]
         [--tenants=A,B,...] [--colliding-ids=N] [--activity-ids=string|integer] [--format=json|protobuf]
       npm run generate -- [same options] --to=pubsub://projects/P/topics/T [--rate=N] [--pubsub-endpoint=HOST:PORT]

Writes a deterministic fixture stream (JSON Lines, see io/test-stream/jsonl.ts) of Pub/Sub user-event messages:
sessions and sign-up funnels per user, late mobile batches, duplicates (new messageId) and malformed payloads,
orders with line items, inventory changes and activity events (their own Silver tables). Users are spread over
--tenants; --colliding-ids=N events of one tenant reuse the event id of another tenant's event; with
--activity-ids=integer, activity events name their user by an integer actor_id only (for a field mapping).
--format=protobuf writes each event as a tidemark.events.v1.UserEvent message (schemas/proto/; read with
--parsers=deploy/parsers/protobuf.json); a malformed payload that fits no message stays as it is.
With --to it publishes the same messages (payload and attributes, in publish-time order) to a Pub/Sub topic
instead, at about N messages per second (--rate; as fast as possible without it), to the endpoint given or
$PUBSUB_EMULATOR_HOST; Pub/Sub assigns message ids and publish times. With --to, --start defaults to now.
Defaults: --users=${DEFAULT_OPTIONS.users} --seed=${DEFAULT_OPTIONS.seed} --duplicates=${DEFAULT_OPTIONS.duplicateRate} --malformed=${DEFAULT_OPTIONS.malformedRate} --start=${new Date(DEFAULT_OPTIONS.startMs).toISOString()} --tenants=${DEFAULT_OPTIONS.tenants.join(",")} --colliding-ids=${DEFAULT_OPTIONS.collidingIds} --activity-ids=${DEFAULT_OPTIONS.activityIds}; stdout without --out.
Environment: TIDEMARK_USERS, TIDEMARK_SEED, TIDEMARK_DUPLICATES, TIDEMARK_MALFORMED, TIDEMARK_START, TIDEMARK_OUT,
TIDEMARK_TENANTS, TIDEMARK_COLLIDING_IDS, TIDEMARK_ACTIVITY_IDS, TIDEMARK_FORMAT.`;

function numberOption(name: string, raw: string | undefined, fallback: number, ok: (n: number) => boolean): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !ok(n)) throw new Error(`--${name} is out of range or not a number: ${JSON.stringify(raw)}`);
  return n;
}

/** Reads options from flags, then `TIDEMARK_*` environment variables, then defaults. */
export function parseCliOptions(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): {
  options: GenerateOptions;
  out: string | undefined;
  help: boolean;
  to: string | undefined;
  rate: number | undefined;
  pubsubEndpoint: string | undefined;
} {
  const { values: v } = parseArgs({
    args: [...args],
    options: {
      users: { type: "string" },
      seed: { type: "string" },
      duplicates: { type: "string" },
      malformed: { type: "string" },
      start: { type: "string" },
      tenants: { type: "string" },
      "colliding-ids": { type: "string" },
      "activity-ids": { type: "string" },
      format: { type: "string" },
      out: { type: "string" },
      to: { type: "string" },
      rate: { type: "string" },
      "pubsub-endpoint": { type: "string" },
      help: { type: "boolean" },
    },
  });
  const to = v.to ?? env.TIDEMARK_TO;
  const d = DEFAULT_OPTIONS;
  const rate = (n: number) => n >= 0 && n < 1;
  const startRaw = v.start ?? env.TIDEMARK_START;
  const startMs = startRaw === undefined ? (to !== undefined ? Date.now() : d.startMs) : Date.parse(startRaw);
  if (Number.isNaN(startMs)) throw new Error(`--start must be an ISO-8601 time, got ${JSON.stringify(startRaw)}`);
  const tenantsRaw = v.tenants ?? env.TIDEMARK_TENANTS;
  const activityIds = v["activity-ids"] ?? env.TIDEMARK_ACTIVITY_IDS ?? d.activityIds;
  if (!(ACTIVITY_IDS as readonly string[]).includes(activityIds)) {
    throw new Error(`--activity-ids must be one of ${ACTIVITY_IDS.join(", ")}, got ${JSON.stringify(activityIds)}`);
  }
  let options: GenerateOptions = {
    ...d,
    users: numberOption("users", v.users ?? env.TIDEMARK_USERS, d.users, (n) => Number.isInteger(n) && n > 0),
    seed: numberOption(
      "seed",
      v.seed ?? env.TIDEMARK_SEED,
      d.seed,
      (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32,
    ),
    duplicateRate: numberOption("duplicates", v.duplicates ?? env.TIDEMARK_DUPLICATES, d.duplicateRate, rate),
    malformedRate: numberOption("malformed", v.malformed ?? env.TIDEMARK_MALFORMED, d.malformedRate, rate),
    startMs,
    tenants: tenantsRaw === undefined ? d.tenants : parseTenantList(tenantsRaw),
    collidingIds: numberOption(
      "colliding-ids",
      v["colliding-ids"] ?? env.TIDEMARK_COLLIDING_IDS,
      d.collidingIds,
      (n) => Number.isInteger(n) && n >= 0,
    ),
    activityIds: activityIds as ActivityIds,
  };
  const format = v.format ?? env.TIDEMARK_FORMAT ?? "json";
  if (!(PAYLOAD_FORMATS as readonly string[]).includes(format)) {
    throw new Error(`--format must be one of ${PAYLOAD_FORMATS.join(", ")}, got ${JSON.stringify(format)}`);
  }
  if (format !== "json") options = { ...options, format: format as PayloadFormat };
  const rateRaw = v.rate ?? env.TIDEMARK_RATE;
  return {
    options,
    out: v.out ?? env.TIDEMARK_OUT,
    help: v.help ?? false,
    to,
    rate: rateRaw === undefined ? undefined : numberOption("rate", rateRaw, 0, (n) => n > 0),
    pubsubEndpoint: v["pubsub-endpoint"] ?? env.TIDEMARK_PUBSUB_ENDPOINT,
  };
}

async function main(): Promise<void> {
  const { options, out, help, to, rate, pubsubEndpoint } = parseCliOptions(process.argv.slice(2), process.env);
  if (help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (to !== undefined) {
    const m = /^pubsub:\/\/projects\/([^/]+)\/topics\/([^/]+)$/.exec(to);
    if (m === null) throw new Error(`--to must be pubsub://projects/P/topics/T, got ${JSON.stringify(to)}`);
    const pubsub = pubsubClient(m[1] as string, pubsubEndpoint);
    try {
      const publisher = new PubsubPublisher({ pubsub, topic: m[2] as string });
      await publisher.checkExists();
      const messages = generateMessages(options).map(({ message }) => ({
        data: payloadBytes(message),
        attributes: message.attributes,
      }));
      const started = performance.now();
      const n = await publishAtRate(publisher, messages, rate);
      const s = (performance.now() - started) / 1000;
      process.stderr.write(
        `published ${n} messages to ${publisher.name} in ${s.toFixed(1)} s (${Math.round(n / s)}/s)\n`,
      );
    } finally {
      await pubsub.close();
    }
    return;
  }
  let text = "";
  for (const line of generateStream(options)) text += `${line}\n`;
  if (out === undefined) process.stdout.write(text);
  else writeFileSync(out, text);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
