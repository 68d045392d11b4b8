import { DateTime } from "luxon";
import { type EventDetail, eventDetail, isDetailError } from "./event-types.ts";
import type { Payload } from "./payload.ts";
import { tenantIdProblem } from "./tenant.ts";

/**
 * The user events Tidemark ingests: one definition gives the TypeScript type, the validation, and (in `tables.ts`)
 * the Silver columns. Every event has the common fields; some event types carry more.
 */
export const EVENT_TYPES = [
  "page_view",
  "button_click",
  "purchase",
  "user_signup",
  "session_start",
  "app_background",
  "order",
  "inventory",
  "user_activity",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const PLATFORMS = ["web", "ios", "android"] as const;
export type Platform = (typeof PLATFORMS)[number];

/** The schema versions this build understands. */
export const SCHEMA_VERSIONS = [1] as const;

/**
 * A message as it arrives (Pub/Sub's shape): what Bronze keeps, byte for byte. The payload is a `Payload`
 * (`payload.ts`): its UTF-8 text, or (`encoding: "base64"`) its bytes in base64 when they are not UTF-8.
 */
export interface RawMessage extends Payload {
  readonly messageId: string;
  /** Epoch ms. */
  readonly publishTime: number;
  readonly attributes: Readonly<Record<string, string>>;
  /** The payload as text (UTF-8), or its bytes in base64 when `encoding` is `base64`. */
  readonly data: string;
}

/** A parsed, validated event. `event_time_ms` is normalised; `event_time_raw` keeps what was sent. */
export interface UserEvent {
  readonly event_id: string;
  readonly event_type: EventType;
  readonly user_id: string;
  readonly tenant_id: string;
  readonly event_time_ms: number;
  readonly event_time_raw: string;
  readonly platform: Platform;
  readonly schema_version: number;
  readonly device?: string;
  readonly page?: string;
  readonly properties?: Readonly<Record<string, unknown>>;
  /** purchase / order */
  readonly amount?: number;
  readonly currency?: string;
  readonly items?: number;
  /** user_signup */
  readonly acquisition_source?: string;
  /** button_click: which control (e.g. "cta", "plan_select", "signup_submit", "checkout") */
  readonly button?: string;
  /** Not from the payload: the correlation id attribute of the message it came in, if it has one. */
  readonly correlation_id?: string;
  /** order, inventory, user_activity: the type's own fields (`event-types.ts`), for its typed Silver table. */
  readonly detail?: EventDetail;
}

/** Why a message is not a valid event: the field at fault and what is wrong with it. */
export interface ValidationError {
  readonly field: string;
  readonly reason: string;
}

export type Parsed =
  | { readonly ok: true; readonly event: UserEvent }
  | { readonly ok: false; readonly error: ValidationError };

/** The largest payload accepted, in bytes (a larger one is kept in Bronze and dead-lettered). */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

const fail = (field: string, reason: string): Parsed => ({ ok: false, error: { field, reason } });

function str(o: Record<string, unknown>, field: string, required: boolean): string | undefined | ValidationError {
  const v = o[field];
  if (v === undefined || v === null) return required ? { field, reason: "is missing" } : undefined;
  if (typeof v !== "string" || v.length === 0)
    return { field, reason: `must be a non-empty string, got ${JSON.stringify(v)}` };
  if (v.length > 512) return { field, reason: `is longer than 512 characters (${v.length})` };
  // A lone surrogate (a JSON escape such as \ud800 without its pair) is not Unicode: it has no UTF-8 form, so a
  // warehouse would store U+FFFD instead, and two different ids could become one key there.
  if (!(v as WellFormedString).isWellFormed()) {
    return { field, reason: `is not valid Unicode (a lone surrogate): ${JSON.stringify(v)}` };
  }
  return v;
}

/** `String.prototype.isWellFormed` (ES2024, in Node 20; the project's lib is ES2023). */
type WellFormedString = string & { isWellFormed(): boolean };

const isError = (v: unknown): v is ValidationError => typeof v === "object" && v !== null && "reason" in v;

/**
 * Parses event time: ISO-8601 with an offset (normalised to UTC ms with luxon), or epoch ms as a number.
 * Times without an offset are refused: they are ambiguous.
 */
export function parseEventTime(v: unknown): number | ValidationError {
  if (typeof v === "number") {
    if (!Number.isInteger(v) || v < 0 || v > 8.64e15)
      return { field: "event_time", reason: `is not epoch milliseconds: ${v}` };
    return v;
  }
  if (typeof v !== "string")
    return { field: "event_time", reason: `must be an ISO-8601 string or epoch ms, got ${JSON.stringify(v)}` };
  const fast = parseRfc3339(v);
  if (fast !== undefined) return fast;
  const dt = DateTime.fromISO(v, { setZone: true });
  if (!dt.isValid)
    return { field: "event_time", reason: `is not ISO-8601: ${JSON.stringify(v)} (${dt.invalidReason})` };
  if (!/([zZ]|[+-]\d\d:?\d\d)$/.test(v))
    return { field: "event_time", reason: `has no UTC offset: ${JSON.stringify(v)}` };
  return dt.toMillis();
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[zZ]|([+-])(\d{2}):(\d{2}))$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * The common case of `parseEventTime`, without luxon: an RFC 3339 date-time (`2026-11-25T10:00:00.123+01:00`, `Z` or
 * an offset, fractions truncated to ms as luxon does) as UTC ms; undefined for anything else, which then goes to
 * luxon (other ISO-8601 forms, out-of-range fields and their error messages). A test checks it equals luxon.
 */
export function parseRfc3339(v: string): number | undefined {
  const m = RFC3339.exec(v);
  if (m === null) return undefined;
  const year = +m[1]!;
  const month = +m[2]!;
  const day = +m[3]!;
  const hour = +m[4]!;
  const minute = +m[5]!;
  const second = +m[6]!;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return undefined;
  let offsetMin = 0;
  if (m[8] !== undefined) {
    const oh = +m[9]!;
    const om = +m[10]!;
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (m[8] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const ms = m[7] === undefined ? 0 : Math.floor(+`0.${m[7]}` * 1000);
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, ms);
  return utc.getTime() - offsetMin * 60_000;
}

/**
 * Parses and validates a message's payload. Never throws: a bad payload is a `ValidationError`. `correlationId` (the
 * message's, from its attributes) is set on the event as it is built.
 */
export function parseEvent(data: string, correlationId?: string): Parsed {
  // A string's UTF-8 length is at most three bytes per UTF-16 unit: measure only when it could be too large.
  if (data.length * 3 > MAX_PAYLOAD_BYTES && Buffer.byteLength(data, "utf8") > MAX_PAYLOAD_BYTES) {
    return fail("payload", `is larger than ${MAX_PAYLOAD_BYTES} bytes (${Buffer.byteLength(data, "utf8")})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch (e) {
    return fail("payload", `is not JSON: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return fail("payload", "is not a JSON object");
  return validateEvent(json as Record<string, unknown>, correlationId);
}

/** What `validateEvent` takes besides the object: for parsers other than the JSON one (`schemas/parsers/`). */
export interface ValidateOptions {
  /** The schema versions accepted (default `SCHEMA_VERSIONS`). */
  readonly versions?: readonly number[];
  /** The event time already read (a parser's own format): `event_time` of the object is then not read. */
  readonly eventTime?: { readonly ms: number; readonly raw: string };
}

/**
 * Validates a decoded payload (a JSON object, or what a parser of `schemas/parsers/` made of its payload) into an
 * event: the one validation every parser's output goes through. Never throws. `correlationId` as for `parseEvent`.
 */
export function validateEvent(o: Record<string, unknown>, correlationId?: string, options?: ValidateOptions): Parsed {
  // The string fields, checked in STRING_FIELDS order (the first problem is the one reported).
  const strings: (string | undefined)[] = new Array(STRING_FIELDS.length);
  for (let i = 0; i < STRING_FIELDS.length; i++) {
    const [field, required] = STRING_FIELDS[i] as (typeof STRING_FIELDS)[number];
    const v = str(o, field, required);
    if (isError(v)) return { ok: false, error: v };
    strings[i] = v;
  }
  const [eventId, type, userId, tenantId, platform, device, page, currency, acquisitionSource, button] = strings;
  // The tenant is part of every key and of Pub/Sub names and filters: it has a grammar (schemas/tenant.ts).
  const tenantProblem = tenantIdProblem(tenantId as string);
  if (tenantProblem !== undefined) return fail("tenant_id", tenantProblem);
  if (!EVENT_TYPE_SET.has(type as string)) {
    return fail("event_type", `is not a known event type: ${JSON.stringify(type)} (known: ${EVENT_TYPES.join(", ")})`);
  }
  if (!PLATFORM_SET.has(platform as string)) {
    return fail("platform", `must be one of ${PLATFORMS.join(", ")}, got ${JSON.stringify(platform)}`);
  }
  const version = o.schema_version;
  const versions: readonly number[] = options?.versions ?? SCHEMA_VERSIONS;
  if (typeof version !== "number" || !versions.includes(version)) {
    return fail("schema_version", `must be one of ${versions.join(", ")}, got ${JSON.stringify(version)}`);
  }
  const time = options?.eventTime !== undefined ? options.eventTime.ms : parseEventTime(o.event_time);
  if (isError(time)) return { ok: false, error: time };
  const props = o.properties;
  if (props !== undefined && (typeof props !== "object" || props === null || Array.isArray(props))) {
    return fail("properties", "must be a JSON object");
  }
  const amount = o.amount;
  if (amount !== undefined && (typeof amount !== "number" || !Number.isFinite(amount) || amount < 0)) {
    return fail("amount", `must be a non-negative number, got ${JSON.stringify(amount)}`);
  }
  const items = o.items;
  if (items !== undefined && (typeof items !== "number" || !Number.isFinite(items) || items < 0)) {
    return fail("items", `must be a non-negative number, got ${JSON.stringify(items)}`);
  }
  if ((type === "purchase" || type === "order") && typeof amount !== "number") {
    return fail("amount", `is required for ${type} events`);
  }
  // The fields of a type that has its own (order, inventory, user_activity): event-types.ts.
  const detail = eventDetail(type as string, o);
  if (isDetailError(detail)) return fail(detail.field, detail.reason);
  // Optional fields are absent, not undefined, when not sent (set one by one: no object spread per field).
  const event: { -readonly [F in keyof UserEvent]: UserEvent[F] } = {
    event_id: eventId as string,
    event_type: type as EventType,
    user_id: userId as string,
    tenant_id: tenantId as string,
    event_time_ms: time,
    event_time_raw:
      options?.eventTime !== undefined
        ? options.eventTime.raw
        : typeof o.event_time === "string"
          ? o.event_time
          : String(o.event_time),
    platform: platform as Platform,
    schema_version: version,
  };
  if (device) event.device = device;
  if (page) event.page = page;
  if (props) event.properties = props as Record<string, unknown>;
  if (typeof amount === "number") event.amount = amount;
  if (currency) event.currency = currency;
  if (typeof items === "number") event.items = items;
  if (acquisitionSource) event.acquisition_source = acquisitionSource;
  if (button) event.button = button;
  if (correlationId !== undefined) event.correlation_id = correlationId;
  if (detail !== undefined) event.detail = detail;
  return { ok: true, event };
}

/** The string fields of an event and whether each is required, in the order `parseEvent` checks and unpacks them. */
const STRING_FIELDS = [
  ["event_id", true],
  ["event_type", true],
  ["user_id", true],
  ["tenant_id", true],
  ["platform", true],
  ["device", false],
  ["page", false],
  ["currency", false],
  ["acquisition_source", false],
  ["button", false],
] as const;

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);
const PLATFORM_SET: ReadonlySet<string> = new Set(PLATFORMS);
