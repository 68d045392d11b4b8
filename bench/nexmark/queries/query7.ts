/**
 * Query 7, 'Highest bid': in each fixed window of `windowSizeSec`, the bids with the highest price,
 * `SELECT Rstream(B.auction, B.price, B.bidder) FROM Bid [RANGE 1 MINUTE SLIDE 1 MINUTE] B
 *  WHERE B.price = (SELECT MAX(B1.price) FROM BID [RANGE 1 MINUTE SLIDE 1 MINUTE] B1)`.
 *
 * As Beam, through a side input: the window's maximum price (a global combine, no default) read as a singleton by
 * the step that keeps the bids at that price.
 */
import { fixed } from "../../../core/windows/window-fn.ts";
import { combineGlobally, maxFn } from "../../../transforms/combine.ts";
import { map } from "../../../transforms/element-wise.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { asSingleton } from "../../../transforms/side-inputs.ts";
import { window } from "../../../transforms/window-into.ts";
import type { Bid } from "../model.ts";
import type { QueryConfig } from "./query-config.ts";
import { justBids, type NexmarkQuery, seconds } from "./query-util.ts";

export function query7(config: QueryConfig): NexmarkQuery<Bid> {
  return {
    name: "Query7",
    expand: (events) => {
      const bids = events.apply(justBids()).apply(window<Bid>(fixed(seconds(config.windowSizeSec))));
      const maxPrice = bids
        .apply(map((b: Bid) => b.price, "BidToPrice"))
        .apply(
          combineGlobally(
            maxFn<number>((a, b) => a - b),
            "MaxPrice",
          ),
        )
        .apply(asSingleton<number | undefined>(), "MaxPriceView");
      return bids.apply(
        parDo<Bid, Bid>(
          {
            process(b, ctx) {
              if (b.price === ctx.sideInput(maxPrice)) ctx.output(b);
            },
          },
          "SelectHighest",
        ).withSideInputs(maxPrice),
      );
    },
  };
}
