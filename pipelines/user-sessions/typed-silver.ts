import type { TypedSilverRows } from "../../schemas/rows.ts";
import type { ReceivedEvent } from "./bronze.ts";

/** A row for one of the typed Silver tables, tagged with its event type (the table: `TYPED_TABLES[type]`). */
export type TypedSilverWrite = {
  readonly [T in keyof TypedSilverRows]: { readonly type: T; readonly row: TypedSilverRows[T] };
}[keyof TypedSilverRows];

/**
 * The typed Silver row of an event of a declared type (one with a `detail`: order, inventory, user_activity), or
 * undefined for the other types. Its common columns are the event's as in silver_events.
 */
export function typedSilverRow(r: ReceivedEvent): TypedSilverWrite | undefined {
  const e = r.event;
  const d = e.detail;
  if (d === undefined) return undefined;
  const common = {
    event_id: e.event_id,
    tenant_id: e.tenant_id,
    user_id: e.user_id,
    event_time: e.event_time_ms,
    ingest_time: r.ingestTime,
    message_id: r.message.messageId,
  };
  switch (d.kind) {
    case "order":
      return {
        type: "order",
        row: {
          ...common,
          order_id: d.order_id,
          // The parser requires both for an order (event-types.ts); `?? ` only satisfies the optional types.
          currency: e.currency ?? "",
          total: e.amount ?? 0,
          line_items: d.line_items.map((l) => ({ sku: l.sku, quantity: l.quantity, unit_price: l.unit_price })),
        },
      };
    case "inventory":
      return {
        type: "inventory",
        row: { ...common, sku: d.sku, warehouse: d.warehouse, delta: d.delta, on_hand: d.on_hand },
      };
    case "user_activity":
      return {
        type: "user_activity",
        row: { ...common, action: d.action, actor_id: d.actor_id ?? null, page: e.page ?? null },
      };
    default: {
      const unknownKind: never = d;
      throw new Error(`unhandled event detail ${JSON.stringify(unknownKind)}`);
    }
  }
}

/** Typed rows grouped by their event type, in the order given (one warehouse write per type). */
export function groupTypedRows(writes: readonly TypedSilverWrite[]): {
  [T in keyof TypedSilverRows]: TypedSilverRows[T][];
} {
  const out: { [T in keyof TypedSilverRows]: TypedSilverRows[T][] } = { order: [], inventory: [], user_activity: [] };
  for (const w of writes) (out[w.type] as unknown[]).push(w.row);
  return out;
}
