/**
 * Query 5, 'Hot items': in each sliding window (`windowSizeSec` every `windowPeriodSec`), the auctions with the most
 * bids, and that count (every auction tied for the most is output):
 *
 *   SELECT Rstream(auction) FROM (SELECT B1.auction, count(*) AS num FROM Bid [RANGE 60 MINUTE SLIDE 1 MINUTE] B1
 *   GROUP BY B1.auction) WHERE num >= ALL (SELECT count(*) FROM Bid [RANGE 60 MINUTE SLIDE 1 MINUTE] B2 GROUP BY B2.auction)
 *
 * As Beam: count the bids per auction and window, then combine the window's counts globally into the auctions with
 * the highest count (without a default for empty windows).
 */
import type { CombineFn } from "../../../core/combine-fn.ts";
import type { KV } from "../../../core/kv.ts";
import { sliding } from "../../../core/windows/window-fn.ts";
import { combineGlobally, combinePerKey, countFn } from "../../../transforms/combine.ts";
import { flatMap, map } from "../../../transforms/element-wise.ts";
import { window } from "../../../transforms/window-into.ts";
import type { Bid } from "../model.ts";
import type { QueryConfig } from "./query-config.ts";
import { justBids, type NexmarkQuery, seconds } from "./query-util.ts";

/** Beam's `AuctionCount`. */
export interface AuctionCount {
  readonly auction: number;
  readonly num: number;
}

interface MostBids {
  auctions: number[];
  count: number;
}

/** The auctions with the highest bid count (all of them on a tie). */
const mostBidsFn: CombineFn<KV<number, number>, MostBids, MostBids> = {
  createAccumulator: () => ({ auctions: [], count: 0 }),
  addInput(acc, [auction, count]) {
    if (count > acc.count) {
      acc.auctions = [auction];
      acc.count = count;
    } else if (count === acc.count) {
      acc.auctions.push(auction);
    }
    return acc;
  },
  mergeAccumulators(accs) {
    const out: MostBids = { auctions: [], count: 0 };
    for (const a of accs) {
      if (a.count > out.count) {
        out.auctions = [...a.auctions];
        out.count = a.count;
      } else if (a.count === out.count) {
        out.auctions.push(...a.auctions);
      }
    }
    return out;
  },
  extractOutput: (acc) => acc,
};

export function query5(config: QueryConfig): NexmarkQuery<AuctionCount> {
  return {
    name: "Query5",
    expand: (events) =>
      events
        .apply(justBids())
        .apply(window<Bid>(sliding(seconds(config.windowSizeSec), seconds(config.windowPeriodSec))))
        .apply(map((b: Bid): KV<number, null> => [b.auction, null], "AuctionOfBid"))
        .apply(combinePerKey<number, null, number, number>(countFn, "BidsPerAuction"))
        .apply(combineGlobally(mostBidsFn, "MostBids"))
        .apply(flatMap((m: MostBids) => m.auctions.map((auction) => ({ auction, num: m.count })), "ToAuctionCounts")),
  };
}
