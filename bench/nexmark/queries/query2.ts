/**
 * Query 2, 'Selection': the auction and price of the bids on every `auctionSkip`-th auction,
 * `SELECT Istream(auction, price) FROM Bid [NOW] WHERE auction % 123 = 0`.
 */
import { filter, map } from "../../../transforms/element-wise.ts";
import type { Bid } from "../model.ts";
import type { QueryConfig } from "./query-config.ts";
import { justBids, type NexmarkQuery } from "./query-util.ts";

/** Beam's `AuctionPrice`. */
export interface AuctionPrice {
  readonly auction: number;
  readonly price: number;
}

export function query2(config: QueryConfig): NexmarkQuery<AuctionPrice> {
  const skip = config.auctionSkip;
  return {
    name: "Query2",
    expand: (events) =>
      events
        .apply(justBids())
        .apply(filter((b: Bid) => b.auction % skip === 0, "SkipAuctions"))
        .apply(map((b: Bid): AuctionPrice => ({ auction: b.auction, price: b.price }), "Project")),
  };
}
