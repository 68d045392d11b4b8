/**
 * Query 1, 'Currency conversion': every bid with its price converted from dollars to euros,
 * `SELECT Istream(auction, DOLTOEUR(price), bidder, datetime) FROM bid [ROWS UNBOUNDED]`.
 *
 * Beam Java's definition, where prices are whole cents: `price * 89 / 100` (integer division). Beam Python
 * multiplies by 0.89 and leaves a float; its output is that value before the truncation.
 */
import { map } from "../../../transforms/element-wise.ts";
import type { Bid } from "../model.ts";
import { justBids, type NexmarkQuery } from "./query-util.ts";

export const toEuros = (price: number): number => Math.floor((price * 89) / 100);

export function query1(): NexmarkQuery<Bid> {
  return {
    name: "Query1",
    expand: (events) =>
      events.apply(justBids()).apply(map((b: Bid): Bid => ({ ...b, price: toEuros(b.price) }), "ToEuros")),
  };
}
