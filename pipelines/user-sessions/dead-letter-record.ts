import { CATCH_ALL_MISROUTED, TENANT_ATTRIBUTE } from "../../schemas/tenant.ts";
import type { InvalidMessage } from "./insights-feed.ts";

/**
 * A dead letter, whichever place it was read from: the original message (its id, publish time, attributes and
 * payload bytes, exactly as the pipeline received them) and why it was refused.
 */
export interface DeadLetterRecord {
  /** The original message's id (Bronze's `message_id`; the feed's `message_id`). */
  readonly messageId: string;
  /** The original message's publish time, epoch ms. */
  readonly publishTime: number;
  /** The original message's attributes, as received (nothing added by the dead-letter path). */
  readonly attributes: Readonly<Record<string, string>>;
  /** The original payload, byte for byte. */
  readonly data: Buffer;
  readonly field: string;
  readonly reason: string;
  /**
   * The catch-all reader's copy of a message its tenant's worker takes (`CATCH_ALL_MISROUTED`): never replayed, as
   * that worker has the message.
   */
  readonly misrouted: boolean;
  /** Where it was read: the pipeline's dead-letter feed, a subscription's dead-letter topic, or Bronze. */
  readonly origin: "feed" | "delivery-attempts" | "bronze";
}

/** The attribute a replayed message carries: the id of the message it replays. */
export const REPLAY_OF_ATTRIBUTE = "tidemark_replay_of";
/** The attribute a replayed message carries: when it was replayed (ISO-8601, UTC). */
export const REPLAYED_AT_ATTRIBUTE = "tidemark_replayed_at";
/** The feed's attribute that marks a misrouted copy (see `deadLetterFeed`). */
export const MISROUTED_ATTRIBUTE = CATCH_ALL_MISROUTED;
/**
 * Attributes Pub/Sub adds to a message it moves to a subscription's dead-letter topic (after its maximum delivery
 * attempts): the source subscription, its project, the attempts, the original publish time. Not the message's own.
 */
const PUBSUB_DEAD_LETTER_PREFIX = "CloudPubSubDeadLetter";

/** The payload as shown: text when the bytes are valid UTF-8 (and say so), else base64. */
export function showPayload(data: Buffer): { readonly encoding: "utf8" | "base64"; readonly payload: string } {
  try {
    return { encoding: "utf8", payload: new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(data) };
  } catch {
    return { encoding: "base64", payload: data.toString("base64") };
  }
}

/**
 * A stored payload's bytes: its UTF-8 text (`encoding` absent or null), or its bytes in base64 where the store says
 * so (`encoding` "base64": Bronze's `payload_encoding`, the feed's `encoding`, for bytes that are not UTF-8 text).
 */
export function payloadBytes(text: string, encoding: unknown, where: string): Buffer {
  if (encoding === undefined || encoding === null) return Buffer.from(text, "utf8");
  if (encoding === "base64") return Buffer.from(text, "base64");
  throw new Error(`${where}: payload encoding ${JSON.stringify(encoding)} is not one known (absent, or "base64")`);
}

/** A message pulled from a dead-letter subscription: its own id and attributes, and its data. */
export interface DeliveredDeadLetter {
  readonly id: string;
  readonly publishTime: number;
  readonly attributes: Readonly<Record<string, string>>;
  readonly data: Buffer;
}

/**
 * The dead letter a pulled message carries. A message of the pipeline's feed (`--dead-letter-topic`, attribute
 * `tidemark_message_id`) is JSON (`InvalidMessage`): the original message and its error. Any other is a message
 * Pub/Sub moved to a subscription's dead-letter topic after its maximum delivery attempts: the original bytes and
 * attributes (less Pub/Sub's `CloudPubSubDeadLetter*` ones), its reason the attempts. Throws, naming the message, on a
 * feed message that is not an `InvalidMessage`.
 */
export function fromDelivered(m: DeliveredDeadLetter, subscription: string): DeadLetterRecord {
  if (m.attributes.tidemark_message_id !== undefined) {
    const where = `${subscription}: message ${m.id}`;
    // `encoding` ("base64" for bytes that are not UTF-8 text) once the feed carries payloads as bytes.
    let invalid: InvalidMessage & { readonly encoding?: unknown };
    try {
      invalid = JSON.parse(m.data.toString("utf8")) as typeof invalid;
    } catch (e) {
      throw new Error(
        `${where} has the attribute tidemark_message_id but its data is not JSON: ${(e as Error).message}`,
      );
    }
    if (
      typeof invalid !== "object" ||
      invalid === null ||
      typeof invalid.message_id !== "string" ||
      typeof invalid.data !== "string" ||
      typeof invalid.attributes !== "object" ||
      typeof invalid.error?.field !== "string"
    ) {
      throw new Error(`${where} is not a dead letter of the pipeline's feed (message_id, data, attributes, error)`);
    }
    return {
      messageId: invalid.message_id,
      publishTime: invalid.publish_time,
      attributes: invalid.attributes,
      data: payloadBytes(invalid.data, invalid.encoding, where),
      field: invalid.error.field,
      reason: invalid.error.reason,
      misrouted: m.attributes[MISROUTED_ATTRIBUTE] === "1" || invalid.error.field === CATCH_ALL_MISROUTED,
      origin: "feed",
    };
  }
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.attributes)) if (!k.startsWith(PUBSUB_DEAD_LETTER_PREFIX)) attributes[k] = v;
  const attempts = m.attributes.CloudPubSubDeadLetterSourceDeliveryCount;
  const from = m.attributes.CloudPubSubDeadLetterSourceSubscription;
  const published = Date.parse(m.attributes.CloudPubSubDeadLetterSourceTopicPublishTime ?? "");
  return {
    messageId: m.id,
    publishTime: Number.isFinite(published) ? published : m.publishTime,
    attributes,
    data: m.data,
    field: "delivery",
    reason:
      `not acknowledged within the maximum delivery attempts` +
      `${attempts === undefined ? "" : ` (${attempts})`}${from === undefined ? "" : ` of ${from}`}`,
    misrouted: false,
    origin: "delivery-attempts",
  };
}

/** A Bronze row (`valid = false`) as a dead letter; `where` names the warehouse for errors. */
export function fromBronzeRow(row: Record<string, unknown>, where: string): DeadLetterRecord {
  const id = String(row.message_id);
  const at = `${where}: Bronze row ${id}`;
  const attributes = (typeof row.attributes === "string" ? JSON.parse(row.attributes) : row.attributes) as Record<
    string,
    string
  >;
  if (typeof row.payload !== "string") throw new Error(`${at}: payload is not text`);
  const field = String(row.error_field ?? "");
  return {
    messageId: id,
    publishTime: Number(row.publish_time),
    attributes: attributes ?? {},
    data: payloadBytes(row.payload, row.payload_encoding, at),
    field,
    reason: String(row.error_reason ?? ""),
    misrouted: field === CATCH_ALL_MISROUTED,
    origin: "bronze",
  };
}

/** The tenant a dead letter is under: its `tenant_id` attribute, else its payload's `tenant_id` when it is JSON. */
export function tenantOf(r: DeadLetterRecord): string | undefined {
  const attribute = r.attributes[TENANT_ATTRIBUTE];
  if (attribute !== undefined) return attribute;
  try {
    const json = JSON.parse(r.data.toString("utf8")) as unknown;
    const t = (json as { tenant_id?: unknown } | null)?.tenant_id;
    return typeof t === "string" ? t : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A reason without the values in it, so that dead letters refused for the same cause count together: each JSON
 * string literal becomes `"…"`, and the reason is cut before what it goes on to quote or detail (`: `, `, got `,
 * ` (`). `is "globex", not this worker's tenant (--tenant=acme)` -> `is "…", not this worker's tenant`.
 */
export function reasonClass(reason: string): string {
  const masked = reason.replace(/"(?:[^"\\]|\\.)*"/g, '"…"');
  let cut = masked.length;
  for (const stop of [": ", ", got ", " ("]) {
    const i = masked.indexOf(stop);
    if (i > 0 && i < cut) cut = i;
  }
  return masked.slice(0, cut).trim();
}

/** Which dead letters a command takes: every given condition must hold. */
export interface DeadLetterFilter {
  /** Original message ids. */
  readonly ids?: readonly string[];
  readonly tenant?: string;
  /** The field at fault, exactly. */
  readonly field?: string;
  /** Text the reason contains (case-sensitive). */
  readonly reason?: string;
  /** Publish time at or after, epoch ms. */
  readonly sinceMs?: number;
  /** Publish time before, epoch ms. */
  readonly untilMs?: number;
}

/** Whether `r` is one `f` selects. */
export function isSelected(r: DeadLetterRecord, f: DeadLetterFilter): boolean {
  if (f.ids !== undefined && !f.ids.includes(r.messageId)) return false;
  if (f.field !== undefined && r.field !== f.field) return false;
  if (f.reason !== undefined && !r.reason.includes(f.reason)) return false;
  if (f.sinceMs !== undefined && !(r.publishTime >= f.sinceMs)) return false;
  if (f.untilMs !== undefined && !(r.publishTime < f.untilMs)) return false;
  if (f.tenant !== undefined && tenantOf(r) !== f.tenant) return false;
  return true;
}

/** How `list` groups: by field and reason class (default), by field, or by the exact reason. */
export type GroupBy = "class" | "field" | "reason";

export interface ReasonCount {
  readonly field: string;
  /** The reason class, the exact reason, or "" when grouped by field. */
  readonly reason: string;
  readonly count: number;
}

/** Counts by reason, the largest first (then by field and reason). */
export function countByReason(records: readonly DeadLetterRecord[], by: GroupBy): ReasonCount[] {
  const counts = new Map<string, ReasonCount>();
  for (const r of records) {
    const reason = by === "field" ? "" : by === "class" ? reasonClass(r.reason) : r.reason;
    const key = `${r.field}\u0000${reason}`;
    const c = counts.get(key);
    counts.set(key, { field: r.field, reason, count: (c?.count ?? 0) + 1 });
  }
  return [...counts.values()].sort(
    (a, b) => b.count - a.count || a.field.localeCompare(b.field) || a.reason.localeCompare(b.reason),
  );
}
