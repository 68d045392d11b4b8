/**
 * Query 6, 'Average selling price by seller': for each seller, the mean price of their last 10 winning bids, updated
 * with every auction of theirs that closes,
 *
 *   SELECT Istream(AVG(Q.final), Q.seller) FROM (SELECT Rstream(MAX(B.price) AS final, A.seller)
 *   FROM Auction A [ROWS UNBOUNDED], Bid B [ROWS UNBOUNDED] WHERE A.id=B.auction AND B.datetime < A.expires
 *   AND A.expires < CURRENT_TIME GROUP BY A.id, A.seller) [PARTITION BY A.seller ROWS 10] Q GROUP BY Q.seller
 *
 * Beam Java's definition: winning bids keyed by seller in the global window, triggered
 * `Repeatedly.forever(AfterPane.elementCountAtLeast(1))`, accumulating, combined by `MovingMeanSellingPrice(10)` (the
 * 10 latest bids by time then price; `Math.round(sum / n)`). Beam Python's query 6 crashes as shipped (it negates a
 * `Timestamp` to sort), so there is no Beam Python output to compare; the tests check each seller's last pane against
 * Beam Python's winning bids (query 9) instead.
 */
import type { CombineFn } from "../../../core/combine-fn.ts";
import type { KV } from "../../../core/kv.ts";
import { afterCount, repeatedly } from "../../../core/triggers/trigger.ts";
import { globalWindows } from "../../../core/windows/window-fn.ts";
import { combinePerKey } from "../../../transforms/combine.ts";
import { map } from "../../../transforms/element-wise.ts";
import { window } from "../../../transforms/window-into.ts";
import type { Bid } from "../model.ts";
import type { QueryConfig } from "./query-config.ts";
import type { NexmarkQuery } from "./query-util.ts";
import { type AuctionBid, winningBids } from "./winning-bids.ts";

/** Beam's `SellerPrice`. */
export interface SellerPrice {
  readonly seller: number;
  readonly price: number;
}

/** Beam's `Bid.ASCENDING_TIME_THEN_PRICE`. */
const byTimeThenPrice = (a: Bid, b: Bid): number => a.dateTime - b.dateTime || a.price - b.price;

/** The mean price of the `maxNumBids` latest bids (Beam's `MovingMeanSellingPrice`). */
export function movingMeanSellingPrice(maxNumBids: number): CombineFn<Bid, Bid[], number> {
  const keepLatest = (bids: Bid[]): Bid[] => {
    bids.sort(byTimeThenPrice);
    return bids.length > maxNumBids ? bids.slice(bids.length - maxNumBids) : bids;
  };
  return {
    createAccumulator: () => [],
    addInput: (acc, bid) => keepLatest([...acc, bid]),
    mergeAccumulators: (accs) => keepLatest(accs.flat()),
    extractOutput(acc) {
      if (acc.length === 0) return 0;
      let sum = 0;
      for (const b of acc) sum += b.price;
      return Math.round(sum / acc.length);
    },
  };
}

export function query6(config: QueryConfig): NexmarkQuery<SellerPrice> {
  return {
    name: "Query6",
    expand: (events) =>
      events
        .apply(winningBids(config.expectedAuctionDurationMs))
        .apply(map((w: AuctionBid): KV<number, Bid> => [w.auction.seller, w.bid], "Rekey"))
        .apply(
          window<KV<number, Bid>>(globalWindows(), {
            trigger: repeatedly(afterCount(1)),
            accumulation: "accumulating",
            allowedLatenessMs: 0,
          }),
        )
        .apply(combinePerKey<number, Bid, Bid[], number>(movingMeanSellingPrice(10), "MovingMeanSellingPrice"))
        .apply(map(([seller, price]: KV<number, number>): SellerPrice => ({ seller, price }), "Select")),
  };
}
