import { DateTime } from "luxon";
import { parseEventTime } from "../event.ts";
import { ParseProblem } from "./parser.ts";

/**
 * A declarative field mapping: how a decoded payload (a JSON object, or a protobuf message as JSON) becomes the
 * object `validateEvent` checks. Given as JSON (a `--parsers` file, or a file of its own):
 *
 *   { "fields": {
 *       "event_id":   { "from": "id", "type": "string" },           rename, and an integer id made a string
 *       "user_id":    { "from": "user.id", "type": "string" },      a nested field (dots)
 *       "tenant_id":  { "attribute": "tenant_id" },                 from a message attribute
 *       "platform":   { "from": "client.os", "default": "web" },    a constant when absent
 *       "amount":     { "from": "total", "type": "number" },        "12.50" made 12.5
 *       "event_time": { "from": "ts", "format": "epoch_s" },        iso8601, epoch_ms, epoch_s, or a luxon format
 *       "page":       { "from": ["page", "screen"] },              the first of several that is present
 *       "properties.order_id": { "from": "order.id" }               a nested target
 *     },
 *     "keepUnmapped": true }
 *
 * Each target takes the first of: the source field (`from`, by default the target's own path; or the first present
 * of a list of paths), the attribute
 * (`attribute`), the constant (`default`); then its `type` (a coercion) or, for `event_time`, its `format`. With
 * `keepUnmapped` (the default) the source's other top-level fields are kept as they are, so a mapping names only what
 * differs from the JSON event. A refusal names the target field and where its value came from.
 */
export interface FieldMappingSpec {
  readonly fields: Readonly<Record<string, FieldRule>>;
  /** Keep the source's top-level fields that no rule names (default true). */
  readonly keepUnmapped?: boolean;
}

export interface FieldRule {
  /** The source field, a dotted path into nested objects (default: the target's path), or the first present of several. */
  readonly from?: string | readonly string[];
  /** When the source has no value: this message attribute's value. */
  readonly attribute?: string;
  /** When neither has a value: this constant. */
  readonly default?: string | number | boolean;
  /** A coercion: `string` (an integer becomes its digits), `number` and `integer` (a numeric string becomes a number), `boolean`. */
  readonly type?: FieldType;
  /** For `event_time` only: `iso8601`, `epoch_ms`, `epoch_s`, or a luxon format string (with `zone`). */
  readonly format?: string;
  /** For a luxon `format` without an offset in it: the zone the time is in (IANA name or `UTC+1`; default UTC). */
  readonly zone?: string;
}

export const FIELD_TYPES = ["string", "number", "integer", "boolean"] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** The mapped object, and the event time when a rule read it in its own format. */
export interface Mapped {
  readonly object: Record<string, unknown>;
  readonly eventTime?: { readonly ms: number; readonly raw: string };
}

interface CompiledRule {
  readonly target: readonly string[];
  readonly targetName: string;
  readonly from: readonly (readonly string[])[];
  readonly fromNames: readonly string[];
  readonly attribute?: string;
  readonly default?: string | number | boolean;
  readonly type?: FieldType;
  readonly format?: string;
  readonly zone?: string;
}

const RULE_KEYS = new Set(["from", "attribute", "default", "type", "format", "zone"]);
const PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** A field mapping, checked when made (each problem an error naming `where` and the field). */
export class FieldMapping {
  private readonly rules: readonly CompiledRule[];
  private readonly keepUnmapped: boolean;

  constructor(spec: unknown, where = "field mapping") {
    if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
      throw new Error(`${where}: must be a JSON object with "fields", got ${JSON.stringify(spec)}`);
    }
    const s = spec as Record<string, unknown>;
    for (const k of Object.keys(s)) {
      if (k !== "fields" && k !== "keepUnmapped") {
        throw new Error(`${where}: unknown key ${JSON.stringify(k)} (known: fields, keepUnmapped)`);
      }
    }
    if (s.keepUnmapped !== undefined && typeof s.keepUnmapped !== "boolean") {
      throw new Error(`${where}: keepUnmapped must be true or false, got ${JSON.stringify(s.keepUnmapped)}`);
    }
    this.keepUnmapped = s.keepUnmapped !== false;
    const fields = s.fields;
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
      throw new Error(`${where}: fields must be an object of target field -> rule, got ${JSON.stringify(fields)}`);
    }
    this.rules = Object.entries(fields as Record<string, unknown>).map(([target, rule]) =>
      compileRule(target, rule, `${where}: field ${JSON.stringify(target)}`),
    );
  }

  /** Maps a decoded payload (not changed) with the message's attributes. Never throws. */
  apply(source: Record<string, unknown>, attributes: Readonly<Record<string, string>>): Mapped | ParseProblem {
    const object: Record<string, unknown> = this.keepUnmapped ? { ...source } : {};
    let eventTime: Mapped["eventTime"];
    for (const r of this.rules) {
      let value: unknown;
      let origin = "";
      for (let i = 0; i < r.from.length && value === undefined; i++) {
        value = get(source, r.from[i] as readonly string[]);
        origin = `from ${r.fromNames[i]}`;
      }
      if (value === undefined && r.attribute !== undefined) {
        value = attributes[r.attribute];
        origin = `from the attribute ${r.attribute}`;
      }
      if (value === undefined && r.default !== undefined) {
        value = r.default;
        origin = "the default";
      }
      if (value === undefined) {
        // Nothing to map: the target stays as the source had it (validation says if it is required).
        if (r.fromNames.some((f) => f !== r.targetName) && this.keepUnmapped && r.target.length === 1) {
          delete object[r.targetName];
        }
        continue;
      }
      if (r.format !== undefined) {
        const t = readTime(value, r.format, r.zone);
        if (typeof t === "string") return new ParseProblem(r.targetName, `${t} (${origin})`);
        eventTime = t;
        set(object, r.target, value);
        continue;
      }
      if (r.type !== undefined) {
        const c = coerce(value, r.type);
        if (c === undefined) {
          return new ParseProblem(
            r.targetName,
            `cannot be made ${article(r.type)}: ${JSON.stringify(value)} (${origin})`,
          );
        }
        value = c;
      }
      set(object, r.target, value);
    }
    return eventTime === undefined ? { object } : { object, eventTime };
  }
}

const article = (t: FieldType) => (t === "integer" ? "an integer" : `a ${t}`);

function compileRule(target: string, rule: unknown, where: string): CompiledRule {
  if (!PATH.test(target)) throw new Error(`${where}: not a field path (names joined by dots)`);
  if (typeof rule !== "object" || rule === null || Array.isArray(rule)) {
    throw new Error(`${where}: the rule must be an object (from, attribute, default, type, format, zone)`);
  }
  const r = rule as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!RULE_KEYS.has(k))
      throw new Error(`${where}: unknown key ${JSON.stringify(k)} (known: ${[...RULE_KEYS].join(", ")})`);
  }
  const from = r.from ?? target;
  const froms = Array.isArray(from) ? from : [from];
  if (froms.length === 0 || froms.some((f) => typeof f !== "string" || !PATH.test(f))) {
    throw new Error(
      `${where}: from must be a field path (names joined by dots) or a list of them, got ${JSON.stringify(r.from)}`,
    );
  }
  if (r.attribute !== undefined && (typeof r.attribute !== "string" || r.attribute === "")) {
    throw new Error(`${where}: attribute must be an attribute's name, got ${JSON.stringify(r.attribute)}`);
  }
  const d = r.default;
  if (d !== undefined && typeof d !== "string" && typeof d !== "number" && typeof d !== "boolean") {
    throw new Error(`${where}: default must be a string, a number or a boolean, got ${JSON.stringify(d)}`);
  }
  if (r.type !== undefined && !(FIELD_TYPES as readonly unknown[]).includes(r.type)) {
    throw new Error(`${where}: type must be one of ${FIELD_TYPES.join(", ")}, got ${JSON.stringify(r.type)}`);
  }
  if (r.format !== undefined) {
    if (target !== "event_time") throw new Error(`${where}: format applies to event_time only`);
    if (typeof r.format !== "string" || r.format === "") {
      throw new Error(
        `${where}: format must be iso8601, epoch_ms, epoch_s or a luxon format, got ${JSON.stringify(r.format)}`,
      );
    }
    if (r.type !== undefined) throw new Error(`${where}: a time has a format, not a type`);
  }
  if (r.zone !== undefined) {
    if (typeof r.zone !== "string" || !DateTime.now().setZone(r.zone).isValid) {
      throw new Error(`${where}: zone must be an IANA zone or UTC+H, got ${JSON.stringify(r.zone)}`);
    }
    if (r.format === undefined || ["iso8601", "epoch_ms", "epoch_s"].includes(r.format as string)) {
      throw new Error(`${where}: zone applies to a luxon format only`);
    }
  }
  return {
    target: target.split("."),
    targetName: target,
    from: (froms as string[]).map((f) => f.split(".")),
    fromNames: froms as string[],
    ...(r.attribute === undefined ? {} : { attribute: r.attribute as string }),
    ...(d === undefined ? {} : { default: d }),
    ...(r.type === undefined ? {} : { type: r.type as FieldType }),
    ...(r.format === undefined ? {} : { format: r.format as string }),
    ...(r.zone === undefined ? {} : { zone: r.zone as string }),
  };
}

/** The value at `path` (undefined where a step is missing or not an object; null counts as absent). */
function get(o: Record<string, unknown>, path: readonly string[]): unknown {
  let v: unknown = o;
  for (const k of path) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    v = Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined;
  }
  return v === null ? undefined : v;
}

/** Sets `path` in `o`, copying each nested object on the way (the source is never changed). */
function set(o: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = o;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i] as string;
    const next = cur[k];
    const copy: Record<string, unknown> =
      typeof next === "object" && next !== null && !Array.isArray(next) ? { ...(next as Record<string, unknown>) } : {};
    cur[k] = copy;
    cur = copy;
  }
  cur[path[path.length - 1] as string] = value;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/** `value` as `type`, or undefined when it cannot be one. */
export function coerce(value: unknown, type: FieldType): unknown {
  switch (type) {
    case "string":
      if (typeof value === "string") return value;
      if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
      return undefined;
    case "number":
      if (typeof value === "number") return value;
      if (typeof value === "string" && NUMBER.test(value.trim())) return Number(value.trim());
      return undefined;
    case "integer": {
      if (typeof value === "number") return Number.isSafeInteger(value) ? value : undefined;
      if (typeof value !== "string" || !INTEGER.test(value.trim())) return undefined;
      const n = Number(value.trim());
      return Number.isSafeInteger(n) ? n : undefined;
    }
    case "boolean":
      if (typeof value === "boolean") return value;
      if (value === "true") return true;
      if (value === "false") return false;
      return undefined;
  }
}

/** An event time in `format` as UTC ms with its raw text, or why it is not one. */
export function readTime(value: unknown, format: string, zone?: string): { ms: number; raw: string } | string {
  const raw = typeof value === "string" ? value : String(value);
  switch (format) {
    case "iso8601": {
      if (typeof value !== "string") return `must be an ISO-8601 string, got ${JSON.stringify(value)}`;
      const t = parseEventTime(value);
      return typeof t === "number" ? { ms: t, raw } : t.reason;
    }
    case "epoch_ms":
    case "epoch_s": {
      const n =
        typeof value === "number" ? value : typeof value === "string" && NUMBER.test(value) ? Number(value) : NaN;
      const ms = format === "epoch_ms" ? n : Math.round(n * 1000);
      if (!Number.isFinite(n) || !Number.isInteger(ms) || ms < 0 || ms > 8.64e15) {
        const unit = format === "epoch_ms" ? "milliseconds" : "seconds";
        return `is not epoch ${unit}: ${JSON.stringify(value)}`;
      }
      return { ms, raw };
    }
    default: {
      if (typeof value !== "string")
        return `must be a string in the format ${JSON.stringify(format)}, got ${JSON.stringify(value)}`;
      const dt = DateTime.fromFormat(value, format, { zone: zone ?? "UTC", setZone: true });
      if (!dt.isValid) {
        return `does not match the format ${JSON.stringify(format)}: ${JSON.stringify(value)} (${dt.invalidExplanation ?? dt.invalidReason})`;
      }
      return { ms: dt.toMillis(), raw };
    }
  }
}
