/** Query 9, 'Winning bids': each closed auction with its winning bid (Beam's `WinningBids`, see winning-bids.ts). */
import type { QueryConfig } from "./query-config.ts";
import type { NexmarkQuery } from "./query-util.ts";
import { type AuctionBid, winningBids } from "./winning-bids.ts";

export function query9(config: QueryConfig): NexmarkQuery<AuctionBid> {
  return winningBids(config.expectedAuctionDurationMs);
}
