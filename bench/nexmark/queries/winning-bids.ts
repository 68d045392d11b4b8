/**
 * Beam's `WinningBids` (queries 4, 6 and 9): for each auction, once it expires, its winning bid: the highest price at
 * or above the reserve, the earliest on a tie, among the bids on it made before it expires,
 *
 *   SELECT Rstream(A.*, B.auction, B.bidder, MAX(B.price), B.dateTime) FROM Auction A [ROWS UNBOUNDED],
 *   Bid B [ROWS UNBOUNDED] WHERE A.id = B.auction AND B.datetime < A.expires AND A.expires < CURRENT_TIME GROUP BY A.id
 *
 * output at the auction window's max timestamp (`expires - 1`).
 *
 * Beam does this with a custom merging window function (`AuctionOrBidWindowFn`): an auction gets the window
 * `[dateTime, expires)`, a bid `[dateTime, dateTime + 2 * expectedAuctionDurationMs)`, and a bid window merges into its
 * auction's window when it starts before the auction ends; a CoGroupByKey by auction id then fires when the watermark
 * passes `expires`. Tidemark's custom window functions assign by timestamp only (`CustomWindowFn.assign(timestamp)`:
 * the element, its kind and its auction are not seen), so the same semantics are kept by hand in a stateful DoFn in
 * the global window, keyed by auction id:
 * - a bid before its auction waits in `pending` (Beam's unmerged bid window) until the auction comes, or until the
 *   watermark passes its window's end (`dateTime + 2 * expected`), when it is dropped as Beam's window expires;
 * - with the auction known, a bid counts if it is before `expires` and at or above the reserve (`best` keeps the
 *   winner so far); a bid at or after `expires` never merges, and is dropped;
 * - a timer at `expires` (output timestamp `expires - 1`) emits the winner, if any, and clears the key but for a
 *   `closed` mark, kept while a bid window could still be open (`expires + 2 * expected`): a bid that comes after
 *   the close can never merge (Beam's auction window is gone), so it is dropped at once instead of waiting.
 */
import type { KV } from "../../../core/kv.ts";
import {
  type BagStateSpec,
  bagState,
  eventTimer,
  type TimerSpec,
  type ValueStateSpec,
  valueState,
} from "../../../core/state.ts";
import type { PCollection } from "../../../core/pcollection.ts";
import type { PTransform } from "../../../core/ptransform.ts";
import { filter, map } from "../../../transforms/element-wise.ts";
import { statefulParDo } from "../../../transforms/stateful-par-do.ts";
import type { Auction, Bid, NexmarkEvent } from "../model.ts";

/** Beam's `AuctionBid`. */
export interface AuctionBid {
  readonly auction: Auction;
  readonly bid: Bid;
}

/** Beam's `Bid.PRICE_THEN_DESCENDING_TIME`: a higher price wins, then an earlier time; a full tie keeps the first. */
export const isBetterBid = (bid: Bid, than: Bid | undefined): boolean =>
  than === undefined || bid.price > than.price || (bid.price === than.price && bid.dateTime < than.dateTime);

export function winningBids(
  expectedAuctionDurationMs: number,
): PTransform<PCollection<NexmarkEvent>, PCollection<AuctionBid>> {
  const bidWindowMs = 2 * expectedAuctionDurationMs;
  return {
    name: "WinningBids",
    expand: (events) =>
      events
        .apply(filter((e: NexmarkEvent): e is Auction | Bid => e.kind !== "person", "AuctionsAndBids"))
        .apply(
          map((e: Auction | Bid): KV<number, Auction | Bid> => [e.kind === "bid" ? e.auction : e.id, e], "ByAuction"),
        )
        .apply(
          statefulParDo<
            number,
            Auction | Bid,
            AuctionBid,
            {
              auction: ValueStateSpec<Auction>;
              best: ValueStateSpec<Bid>;
              pending: BagStateSpec<Bid>;
              closed: ValueStateSpec<boolean>;
            },
            { close: TimerSpec; expirePending: TimerSpec }
          >(
            {
              state: {
                auction: valueState<Auction>(),
                best: valueState<Bid>(),
                pending: bagState<Bid>(),
                closed: valueState<boolean>(),
              },
              timers: { close: eventTimer(), expirePending: eventTimer() },
              process([, e], ctx) {
                const s = ctx.state;
                if (e.kind === "auction") {
                  if (s.auction.read() !== undefined) return; // one auction per id
                  s.auction.write(e);
                  ctx.timers.close.set(e.expires, { outputTimestamp: e.expires - 1 });
                  let best: Bid | undefined;
                  for (const b of s.pending.read()) {
                    const open = b.dateTime + bidWindowMs > ctx.inputWatermark;
                    if (open && b.dateTime < e.expires && b.price >= e.reserve && isBetterBid(b, best)) best = b;
                  }
                  if (best !== undefined) s.best.write(best);
                  s.pending.clear();
                  ctx.timers.expirePending.clear();
                  return;
                }
                if (s.closed.read() === true) return;
                const auction = s.auction.read();
                if (auction === undefined) {
                  s.pending.add(e);
                  const until = e.dateTime + bidWindowMs;
                  const t = ctx.timers.expirePending.time();
                  if (t === undefined || until > t) ctx.timers.expirePending.set(until);
                } else if (
                  e.dateTime < auction.expires &&
                  e.price >= auction.reserve &&
                  isBetterBid(e, s.best.read())
                ) {
                  s.best.write(e);
                }
              },
              onTimer: {
                close(ctx) {
                  const auction = ctx.state.auction.read();
                  const bid = ctx.state.best.read();
                  if (auction !== undefined && bid !== undefined) ctx.output({ auction, bid });
                  ctx.state.auction.clear();
                  ctx.state.best.clear();
                  if (auction !== undefined) {
                    ctx.state.closed.write(true);
                    ctx.timers.expirePending.set(auction.expires + bidWindowMs);
                  }
                },
                expirePending(ctx) {
                  ctx.state.pending.clear();
                  ctx.state.closed.clear();
                },
              },
            },
            "Join",
          ),
        ),
  };
}
