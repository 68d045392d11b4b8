/**
 * Query 11, 'User sessions' (not in the original suite): the number of bids of each bidder's session (a gap of
 * `windowSizeSec`), firing early every `maxLogEvents` bids of a session.
 *
 * Beam Java's definition: `Sessions` windows triggered `Repeatedly.forever(AfterPane.elementCountAtLeast(maxLogEvents))`,
 * discarding, allowed lateness `occasionalDelaySec / 2` seconds (integer division), then a count per bidder; a session
 * with fewer bids fires once, when it expires. (Beam Python triggers `AfterWatermark(early=AfterCount(maxLogEvents))`:
 * the same panes when no session reaches `maxLogEvents` bids.)
 */
import type { KV } from "../../../core/kv.ts";
import { afterCount, repeatedly } from "../../../core/triggers/trigger.ts";
import { sessions } from "../../../core/windows/window-fn.ts";
import { combinePerKey, countFn } from "../../../transforms/combine.ts";
import { map } from "../../../transforms/element-wise.ts";
import { window } from "../../../transforms/window-into.ts";
import type { Bid } from "../model.ts";
import type { QueryConfig } from "./query-config.ts";
import { justBids, type NexmarkQuery, seconds } from "./query-util.ts";

/** Beam's `BidsPerSession`. */
export interface BidsPerSession {
  readonly personId: number;
  readonly bidsPerSession: number;
}

export function query11(config: QueryConfig): NexmarkQuery<BidsPerSession> {
  return {
    name: "Query11",
    expand: (events) =>
      events
        .apply(justBids())
        .apply(map((b: Bid): KV<number, null> => [b.bidder, null], "Bidder"))
        .apply(
          window<KV<number, null>>(sessions(seconds(config.windowSizeSec)), {
            trigger: repeatedly(afterCount(config.maxLogEvents)),
            accumulation: "discarding",
            allowedLatenessMs: seconds(Math.floor(config.occasionalDelaySec / 2)),
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
