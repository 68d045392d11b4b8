import type { LineItem } from "./rows.ts";

/**
 * The event types with fields of their own (and a typed Silver table each, `TYPED_TABLES` in tables.ts): their
 * fields are validated here, called once from the parser (`eventDetail`), and carried on the event as its `detail`.
 *
 * - `order`: `order_id`, `line_items` (1 to 1,000 of `{sku, quantity, unit_price}`: a non-empty sku, a positive integer
 *   quantity, a non-negative price), `currency` required; the event's `amount` is the order's total and must equal the
 *   sum of quantity x unit_price to the cent: within half a cent, a sum on a half cent rounded either way, computed
 *   exactly on the decimals sent (`totalProblem`), not on floats; and `items`, when sent, the sum of the quantities.
 * - `inventory`: `sku`, `warehouse`, `delta` (an integer, negative when stock is taken out), `on_hand` (a non-negative
 *   integer, the stock after the change as the source system reports it; not checked against earlier events, which may
 *   arrive in any order).
 * - `user_activity`: `action`; `actor_id`, when sent, the user's integer id in the source system (kept as sent).
 *
 * A field at fault is named with its path (`line_items[2].quantity`).
 */
export const TYPED_EVENT_TYPES = ["order", "inventory", "user_activity"] as const;
export type TypedEventType = (typeof TYPED_EVENT_TYPES)[number];

export interface OrderDetail {
  readonly kind: "order";
  readonly order_id: string;
  readonly line_items: readonly Readonly<LineItem>[];
}

export interface InventoryDetail {
  readonly kind: "inventory";
  readonly sku: string;
  readonly warehouse: string;
  readonly delta: number;
  readonly on_hand: number;
}

export interface ActivityDetail {
  readonly kind: "user_activity";
  readonly action: string;
  readonly actor_id?: number;
}

/** The typed fields of an event of a declared type. */
export type EventDetail = OrderDetail | InventoryDetail | ActivityDetail;

/** Why a typed field is wrong: the field (its path) and what is wrong with it. */
export interface DetailError {
  readonly field: string;
  readonly reason: string;
}

/** Most line items an order may have. */
export const MAX_LINE_ITEMS = 1000;

const isTyped: ReadonlySet<string> = new Set(TYPED_EVENT_TYPES);

/**
 * The detail of an event of type `type` from its JSON object `o` (`amount`, `currency` and `items` already checked
 * by the parser as the common fields), an error naming the field, or undefined for a type without fields of its own.
 */
export function eventDetail(type: string, o: Readonly<Record<string, unknown>>): EventDetail | DetailError | undefined {
  if (!isTyped.has(type)) return undefined;
  switch (type as TypedEventType) {
    case "order":
      return orderDetail(o);
    case "inventory":
      return inventoryDetail(o);
    case "user_activity":
      return activityDetail(o);
    default: {
      const never: never = type as never;
      throw new Error(`unhandled typed event type ${String(never)}`);
    }
  }
}

export const isDetailError = (v: EventDetail | DetailError | undefined): v is DetailError =>
  v !== undefined && "reason" in v;

function orderDetail(o: Readonly<Record<string, unknown>>): OrderDetail | DetailError {
  const orderId = text(o.order_id, "order_id");
  if (typeof orderId !== "string") return orderId;
  if (o.currency === undefined || o.currency === null)
    return { field: "currency", reason: "is required for order events" };
  const lines = o.line_items;
  if (!Array.isArray(lines)) {
    return { field: "line_items", reason: `must be a list of {sku, quantity, unit_price}, got ${show(lines)}` };
  }
  if (lines.length === 0) return { field: "line_items", reason: "is empty: an order has at least one line" };
  if (lines.length > MAX_LINE_ITEMS) {
    return { field: "line_items", reason: `has ${lines.length} lines, more than ${MAX_LINE_ITEMS}` };
  }
  const items: LineItem[] = new Array(lines.length);
  let quantities = 0;
  for (let i = 0; i < lines.length; i++) {
    const at = `line_items[${i}]`;
    const line = lines[i] as unknown;
    if (typeof line !== "object" || line === null || Array.isArray(line)) {
      return { field: at, reason: `must be an object {sku, quantity, unit_price}, got ${show(line)}` };
    }
    const l = line as Record<string, unknown>;
    const sku = text(l.sku, `${at}.sku`);
    if (typeof sku !== "string") return sku;
    const quantity = l.quantity;
    if (typeof quantity !== "number" || !Number.isSafeInteger(quantity) || quantity < 1) {
      return { field: `${at}.quantity`, reason: `must be a positive integer, got ${show(quantity)}` };
    }
    const price = l.unit_price;
    if (typeof price !== "number" || !Number.isFinite(price) || price < 0) {
      return { field: `${at}.unit_price`, reason: `must be a non-negative number, got ${show(price)}` };
    }
    items[i] = { sku, quantity, unit_price: price };
    quantities += quantity;
  }
  const total = o.amount as number;
  const sum = totalProblem(total, items);
  if (sum !== undefined) {
    return { field: "amount", reason: `is ${total}, but the line items sum to ${sum} (quantity x unit_price)` };
  }
  if (o.items !== undefined && o.items !== quantities) {
    return { field: "items", reason: `is ${show(o.items)}, but the line items' quantities sum to ${quantities}` };
  }
  return { kind: "order", order_id: orderId, line_items: items };
}

function inventoryDetail(o: Readonly<Record<string, unknown>>): InventoryDetail | DetailError {
  const sku = text(o.sku, "sku");
  if (typeof sku !== "string") return sku;
  const warehouse = text(o.warehouse, "warehouse");
  if (typeof warehouse !== "string") return warehouse;
  const delta = o.delta;
  if (typeof delta !== "number" || !Number.isSafeInteger(delta)) {
    return { field: "delta", reason: `must be an integer, got ${show(delta)}` };
  }
  const onHand = o.on_hand;
  if (typeof onHand !== "number" || !Number.isSafeInteger(onHand) || onHand < 0) {
    return { field: "on_hand", reason: `must be a non-negative integer, got ${show(onHand)}` };
  }
  return { kind: "inventory", sku, warehouse, delta, on_hand: onHand };
}

function activityDetail(o: Readonly<Record<string, unknown>>): ActivityDetail | DetailError {
  const action = text(o.action, "action");
  if (typeof action !== "string") return action;
  const actor = o.actor_id;
  if (actor === undefined || actor === null) return { kind: "user_activity", action };
  if (typeof actor !== "number" || !Number.isSafeInteger(actor) || actor < 0) {
    return { field: "actor_id", reason: `must be a non-negative integer, got ${show(actor)}` };
  }
  return { kind: "user_activity", action, actor_id: actor };
}

/**
 * The lines' sum of quantity x unit_price as decimal text when `total` is more than half a cent from it, else
 * undefined. Exact: each number is taken as the decimal it prints as (its shortest round-trip form: what the payload
 * wrote, for up to 15 significant digits), so a sum on a half cent (1 x 1.005) accepts the total rounded either way
 * (1.00 and 1.01, where floats put 1.005 below the half and refused 1.01) and a large order's float error (about 0.006
 * for 1,000 lines near 10^12) counts for nothing. `total` and the prices are finite and non-negative.
 */
function totalProblem(total: number, lines: readonly Readonly<LineItem>[]): string | undefined {
  // Most totals are plainly within half a cent in floats too: only those near the bound, or past it, are summed exactly
  // (the floats' sum and the numbers themselves are within this bound of the decimals' sum).
  let floatSum = 0;
  for (const l of lines) floatSum += l.quantity * l.unit_price;
  const floatError = 4 * (lines.length + 2) * Number.EPSILON * (floatSum + total);
  if (Math.abs(total - floatSum) + floatError < 0.005) return undefined;
  const prices = lines.map((l) => decimal(l.unit_price));
  const t = decimal(total);
  // At least 3 decimals: half a cent is 5 x 10^-3.
  const scale = Math.max(3, t.scale, ...prices.map((p) => p.scale));
  let sum = 0n;
  for (let i = 0; i < lines.length; i++) {
    const p = prices[i] as Decimal;
    sum += BigInt((lines[i] as LineItem).quantity) * p.digits * 10n ** BigInt(scale - p.scale);
  }
  const diff = t.digits * 10n ** BigInt(scale - t.scale) - sum;
  if ((diff < 0n ? -diff : diff) <= 5n * 10n ** BigInt(scale - 3)) return undefined;
  const unit = 10n ** BigInt(scale);
  const fraction = String(sum % unit)
    .padStart(scale, "0")
    .replace(/0+$/, "");
  const text = fraction === "" ? String(sum / unit) : `${sum / unit}.${fraction}`;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** A decimal number: `digits` x 10^-`scale`. */
interface Decimal {
  readonly digits: bigint;
  readonly scale: number;
}

/** A finite non-negative number as the decimal its shortest round-trip text (`String`) gives, exactly. */
function decimal(x: number): Decimal {
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(x));
  if (m === null) throw new Error(`not a finite non-negative number: ${x}`);
  const fraction = m[2] ?? "";
  const scale = fraction.length - (m[3] === undefined ? 0 : Number(m[3]));
  const digits = BigInt(`${m[1]}${fraction}`);
  return scale >= 0 ? { digits, scale } : { digits: digits * 10n ** BigInt(-scale), scale: 0 };
}

/** A required non-empty string of at most 256 characters, or the error naming `field`. */
function text(v: unknown, field: string): string | DetailError {
  if (v === undefined || v === null) return { field, reason: "is missing" };
  if (typeof v !== "string" || v.length === 0) return { field, reason: `must be a non-empty string, got ${show(v)}` };
  if (v.length > 256) return { field, reason: `is longer than 256 characters (${v.length})` };
  if (!(v as string & { isWellFormed(): boolean }).isWellFormed()) {
    return { field, reason: `is not valid Unicode (a lone surrogate): ${JSON.stringify(v)}` };
  }
  return v;
}

/** A value as an error shows it (JSON, cut to 80 characters). */
function show(v: unknown): string {
  const s = v === undefined ? "nothing" : (JSON.stringify(v) ?? String(v));
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
