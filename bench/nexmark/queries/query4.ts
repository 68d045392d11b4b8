/**
 * Query 4, 'Average price for a category': the mean winning price of the auctions closed in each sliding window
 * (`windowSizeSec` every `windowPeriodSec`), per category,
 *
 *   SELECT Istream(AVG(Q.final)) FROM Category C, (SELECT Rstream(MAX(B.price) AS final, A.category)
 *   FROM Auction A [ROWS UNBOUNDED], Bid B [ROWS UNBOUNDED] WHERE A.id=B.auction AND B.datetime < A.expires
 *   AND A.expires < CURRENT_TIME GROUP BY A.id, A.category) Q WHERE Q.category = C.id GROUP BY C.id
 *
 * Beam Java's definition: winning bids keyed by category, re-windowed by their time (`expires - 1`), a mean per key,
 * output as `CategoryPrice(category, Math.round(mean), pane.isLast)`. (Beam Python keeps the mean as a float.)
 */
import type { KV } from "../../../core/kv.ts";
import { sliding } from "../../../core/windows/window-fn.ts";
import { combinePerKey, meanFn } from "../../../transforms/combine.ts";
import { map } from "../../../transforms/element-wise.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { window } from "../../../transforms/window-into.ts";
import type { QueryConfig } from "./query-config.ts";
import { type NexmarkQuery, seconds } from "./query-util.ts";
import { type AuctionBid, winningBids } from "./winning-bids.ts";

/** Beam's `CategoryPrice`. */
export interface CategoryPrice {
  readonly category: number;
  readonly price: number;
  readonly isLast: boolean;
}

/** Java's `Math.round`: half up (towards positive infinity), as JavaScript's. */
const javaRound = Math.round;

export function query4(config: QueryConfig): NexmarkQuery<CategoryPrice> {
  return {
    name: "Query4",
    expand: (events) =>
      events
        .apply(winningBids(config.expectedAuctionDurationMs))
        .apply(map((w: AuctionBid): KV<number, number> => [w.auction.category, w.bid.price], "Rekey"))
        .apply(window<KV<number, number>>(sliding(seconds(config.windowSizeSec), seconds(config.windowPeriodSec))))
        .apply(combinePerKey<number, number, { sum: number; n: number }, number>(meanFn, "MeanPerCategory"))
        .apply(
          parDo<KV<number, number>, CategoryPrice>(
            {
              process([category, mean], ctx) {
                ctx.output({ category, price: javaRound(mean), isLast: ctx.pane.isLast });
              },
            },
            "Project",
          ),
        ),
  };
}
