import { describe, expect, it } from "vitest";
import { eventDetail, MAX_LINE_ITEMS } from "../../schemas/event-types.ts";
import { parseEvent } from "../../schemas/event.ts";

// The fields of the typed event types (order, inventory, user_activity): each refusal names the field (its path in
// the payload) and says why, word for word; an accepted payload gives exactly its fields.

const order = {
  order_id: "ord_1",
  currency: "EUR",
  amount: 61.97,
  items: 3,
  line_items: [
    { sku: "SKU-100", quantity: 2, unit_price: 19.99 },
    { sku: "SKU-200", quantity: 1, unit_price: 21.99 },
  ],
};
const inventory = { sku: "SKU-100", warehouse: "fra1", delta: -3, on_hand: 41 };
const activity = { action: "search", actor_id: 100_017 };

describe("eventDetail: the typed fields of order, inventory and user_activity", () => {
  it("accepts well-formed payloads, keeping exactly their fields (lines in order)", () => {
    expect(eventDetail("order", order)).toEqual({
      kind: "order",
      order_id: "ord_1",
      line_items: [
        { sku: "SKU-100", quantity: 2, unit_price: 19.99 },
        { sku: "SKU-200", quantity: 1, unit_price: 21.99 },
      ],
    });
    expect(eventDetail("inventory", inventory)).toEqual({ kind: "inventory", ...inventory });
    expect(eventDetail("user_activity", activity)).toEqual({ kind: "user_activity", ...activity });
    expect(eventDetail("user_activity", { action: "scroll" })).toEqual({ kind: "user_activity", action: "scroll" });
    // Types without fields of their own have no detail, whatever the payload holds.
    expect(eventDetail("page_view", { line_items: "whatever" })).toBeUndefined();
  });

  it("the total may differ from the lines' sum by float rounding only (under half a cent)", () => {
    // 0.1 * 3 is 0.30000000000000004 in floats: the payload's 0.3 is that total.
    const lines = [{ sku: "A", quantity: 3, unit_price: 0.1 }];
    expect(eventDetail("order", { ...order, items: undefined, line_items: lines, amount: 0.3 })).toMatchObject({
      kind: "order",
    });
    expect(eventDetail("order", { ...order, items: undefined, line_items: lines, amount: 0.31 })).toEqual({
      field: "amount",
      reason: "is 0.31, but the line items sum to 0.3 (quantity x unit_price)",
    });
  });

  it("a sum on a half cent: the total rounded either way is accepted, a cent further is not, whatever floats make of it", () => {
    // Prices with a third decimal (fuel, B2B) put a sum on a half cent: 1 x 1.005 is 1.00499999999999989 in floats,
    // 3 x 0.335 is 1.00500000000000012, 1 x 2.675 is 2.67499999999999982. A total rounded half up or half to even is
    // to the cent; which of the two was refused depended on the floats.
    const withLine = (quantity: number, unit_price: number, amount: number) =>
      eventDetail("order", {
        ...order,
        items: undefined,
        amount,
        line_items: [{ sku: "A", quantity, unit_price }],
      });
    for (const [quantity, price, down, up] of [
      [1, 1.005, 1, 1.01],
      [3, 0.335, 1, 1.01],
      [1, 2.675, 2.67, 2.68],
      [1, 0.015, 0.01, 0.02],
    ] as const) {
      expect(withLine(quantity, price, down)).toMatchObject({ kind: "order" });
      expect(withLine(quantity, price, up)).toMatchObject({ kind: "order" });
      expect(withLine(quantity, price, Math.round(down * 100 - 1) / 100)).toMatchObject({ field: "amount" });
      expect(withLine(quantity, price, Math.round(up * 100 + 1) / 100)).toMatchObject({ field: "amount" });
    }
    // The refusal gives the lines' sum as it is (it said "is 2.69, but the line items sum to 2.68" for 2.675).
    expect(withLine(1, 2.675, 2.69)).toEqual({
      field: "amount",
      reason: "is 2.69, but the line items sum to 2.675 (quantity x unit_price)",
    });
  });

  it("a large order's total, exact in decimals, is accepted; a cent off is refused (1,000 lines of up to 10^9)", () => {
    // The reference sums in integer cents (BigInt); the floats' sum of 1,000 lines near 10^12 is off by up to 0.006.
    let seed = 17;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    let refused = 0;
    let offByACentAccepted = 0;
    for (let t = 0; t < 40; t++) {
      const line_items: { sku: string; quantity: number; unit_price: number }[] = [];
      let cents = 0n;
      for (let i = 0; i < MAX_LINE_ITEMS; i++) {
        const c = Math.floor(next() * 1e11);
        const quantity = 1 + Math.floor(next() * 10);
        line_items.push({ sku: `S${i}`, quantity, unit_price: c / 100 });
        cents += BigInt(c) * BigInt(quantity);
      }
      const amount = (c: bigint) => Number(`${c / 100n}.${String(c % 100n).padStart(2, "0")}`);
      const base = { ...order, items: undefined, line_items };
      if ("reason" in (eventDetail("order", { ...base, amount: amount(cents) }) ?? {})) refused++;
      if (!("reason" in (eventDetail("order", { ...base, amount: amount(cents + 1n) }) ?? {}))) offByACentAccepted++;
    }
    expect({ refused, offByACentAccepted }).toEqual({ refused: 0, offByACentAccepted: 0 });
  });

  it.each<[string, string, Record<string, unknown>, { field: string; reason: string }]>([
    [
      "an order without its id",
      "order",
      { ...order, order_id: undefined },
      { field: "order_id", reason: "is missing" },
    ],
    [
      "an order without currency",
      "order",
      { ...order, currency: undefined },
      { field: "currency", reason: "is required for order events" },
    ],
    [
      "line items that are not a list",
      "order",
      { ...order, line_items: { sku: "A" } },
      { field: "line_items", reason: 'must be a list of {sku, quantity, unit_price}, got {"sku":"A"}' },
    ],
    [
      "no line items",
      "order",
      { ...order, line_items: [] },
      { field: "line_items", reason: "is empty: an order has at least one line" },
    ],
    [
      "too many line items",
      "order",
      { ...order, line_items: new Array(MAX_LINE_ITEMS + 1).fill({ sku: "A", quantity: 1, unit_price: 0 }) },
      { field: "line_items", reason: "has 1001 lines, more than 1000" },
    ],
    [
      "a line that is not an object",
      "order",
      { ...order, line_items: [order.line_items[0], "SKU-200 x1"] },
      { field: "line_items[1]", reason: 'must be an object {sku, quantity, unit_price}, got "SKU-200 x1"' },
    ],
    [
      "a line without sku",
      "order",
      { ...order, line_items: [order.line_items[0], { quantity: 1, unit_price: 21.99 }] },
      { field: "line_items[1].sku", reason: "is missing" },
    ],
    [
      "an empty sku",
      "order",
      { ...order, line_items: [{ sku: "", quantity: 1, unit_price: 1 }] },
      { field: "line_items[0].sku", reason: 'must be a non-empty string, got ""' },
    ],
    [
      "a negative quantity",
      "order",
      { ...order, line_items: [{ sku: "A", quantity: -2, unit_price: 1 }] },
      { field: "line_items[0].quantity", reason: "must be a positive integer, got -2" },
    ],
    [
      "a zero quantity",
      "order",
      { ...order, line_items: [{ sku: "A", quantity: 0, unit_price: 1 }] },
      { field: "line_items[0].quantity", reason: "must be a positive integer, got 0" },
    ],
    [
      "a fractional quantity",
      "order",
      { ...order, line_items: [{ sku: "A", quantity: 1.5, unit_price: 1 }] },
      { field: "line_items[0].quantity", reason: "must be a positive integer, got 1.5" },
    ],
    [
      "a quantity as text",
      "order",
      { ...order, line_items: [{ sku: "A", quantity: "2", unit_price: 1 }] },
      { field: "line_items[0].quantity", reason: 'must be a positive integer, got "2"' },
    ],
    [
      "a negative price",
      "order",
      { ...order, line_items: [{ sku: "A", quantity: 1, unit_price: -0.01 }] },
      { field: "line_items[0].unit_price", reason: "must be a non-negative number, got -0.01" },
    ],
    [
      "a total that is not the sum",
      "order",
      { ...order, amount: 60 },
      { field: "amount", reason: "is 60, but the line items sum to 61.97 (quantity x unit_price)" },
    ],
    [
      "items that are not the quantities' sum",
      "order",
      { ...order, items: 2 },
      { field: "items", reason: "is 2, but the line items' quantities sum to 3" },
    ],
    ["inventory without sku", "inventory", { ...inventory, sku: undefined }, { field: "sku", reason: "is missing" }],
    [
      "inventory without warehouse",
      "inventory",
      { ...inventory, warehouse: undefined },
      { field: "warehouse", reason: "is missing" },
    ],
    [
      "a fractional delta",
      "inventory",
      { ...inventory, delta: 0.5 },
      { field: "delta", reason: "must be an integer, got 0.5" },
    ],
    [
      "a negative stock on hand",
      "inventory",
      { ...inventory, on_hand: -1 },
      { field: "on_hand", reason: "must be a non-negative integer, got -1" },
    ],
    [
      "no stock on hand",
      "inventory",
      { ...inventory, on_hand: undefined },
      { field: "on_hand", reason: "must be a non-negative integer, got nothing" },
    ],
    ["activity without action", "user_activity", { actor_id: 1 }, { field: "action", reason: "is missing" }],
    [
      "an actor id as text",
      "user_activity",
      { action: "search", actor_id: "100017" },
      { field: "actor_id", reason: 'must be a non-negative integer, got "100017"' },
    ],
  ])("refuses %s", (_, type, payload, error) => {
    expect(eventDetail(type, payload)).toEqual(error);
  });
});

describe("parseEvent: typed fields are checked after the common ones, and carried as the event's detail", () => {
  const common = {
    event_id: "e1",
    user_id: "u1",
    tenant_id: "acme",
    event_time: "2026-01-05T08:00:00Z",
    platform: "web",
    schema_version: 1,
  };

  it("an order's detail is on the event; a wrong line is the message's error", () => {
    const parsed = parseEvent(JSON.stringify({ ...common, event_type: "order", ...order }));
    expect(parsed).toMatchObject({
      ok: true,
      event: { event_type: "order", amount: 61.97, currency: "EUR", detail: { kind: "order", order_id: "ord_1" } },
    });
    const bad = { ...common, event_type: "order", ...order, line_items: [{ sku: "A", quantity: -1, unit_price: 1 }] };
    expect(parseEvent(JSON.stringify(bad))).toEqual({
      ok: false,
      error: { field: "line_items[0].quantity", reason: "must be a positive integer, got -1" },
    });
    // A common field at fault is reported first.
    expect(parseEvent(JSON.stringify({ ...bad, platform: "tv" }))).toMatchObject({
      ok: false,
      error: { field: "platform" },
    });
  });

  it("events of other types have no detail", () => {
    const parsed = parseEvent(JSON.stringify({ ...common, event_type: "page_view", ...inventory }));
    expect(parsed.ok && parsed.event.detail).toBeUndefined();
    expect(parsed.ok).toBe(true);
  });
});
