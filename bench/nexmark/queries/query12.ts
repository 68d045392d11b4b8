/**
 * Query 12, 'Processing-time windows' (not in the original suite): each bidder's bid count per pane of processing
 * time: in the global window, a pane fires `windowSizeSec` of processing time after its first bid
 * (`Repeatedly.forever(AfterProcessingTime.pastFirstElementInPane().plusDelayOf(windowSize))`), discarding; what is
 * left fires at the end of input. Its panes depend on the clock, not only on the events: the tests check what is
 * fixed (every bid counted once per bidder). Beam Python's query 12 fails in batch.
 */
import type { KV } from "../../../core/kv.ts";
import { afterProcessingTime, repeatedly } from "../../../core/triggers/trigger.ts";
import { globalWindows } from "../../../core/windows/window-fn.ts";
import { combinePerKey, countFn } from "../../../transforms/combine.ts";
import { map } from "../../../transforms/element-wise.ts";
import { window } from "../../../transforms/window-into.ts";
import type { Bid } from "../model.ts";
import type { QueryConfig } from "./query-config.ts";
import { justBids, type NexmarkQuery, seconds } from "./query-util.ts";
import type { BidsPerSession } from "./query11.ts";

export function query12(config: QueryConfig): NexmarkQuery<BidsPerSession> {
  return {
    name: "Query12",
    expand: (events) =>
      events
        .apply(justBids())
        .apply(map((b: Bid): KV<number, null> => [b.bidder, null], "Bidder"))
        .apply(
          window<KV<number, null>>(globalWindows(), {
            trigger: repeatedly(afterProcessingTime(seconds(config.windowSizeSec))),
            accumulation: "discarding",
            allowedLatenessMs: 0,
          }),
        )
        .apply(combinePerKey<number, null, number, number>(countFn, "BidsPerBidder"))
        .apply(
          map(
            ([personId, bidsPerSession]: KV<number, number>): BidsPerSession => ({ personId, bidsPerSession }),
            "ToResult",
          ),
        ),
  };
}
