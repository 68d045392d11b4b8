/**
 * What the queries take from Beam's configuration: the values Beam Python's launcher passes its queries
 * (`nexmark_launcher.NexmarkLauncher.run`), which are Beam Java's `NexmarkConfiguration` defaults.
 */
export interface QueryConfig {
  /** Query 2 selects the bids of every `auctionSkip`-th auction. */
  readonly auctionSkip: number;
  /** Window size (queries 3, 5, 7, 8, 11's session gap, 12) and sliding period (query 5), in seconds. */
  readonly windowSizeSec: number;
  readonly windowPeriodSec: number;
  /** Query 11 fires a session early every `maxLogEvents` bids; query 10's shard size. */
  readonly maxLogEvents: number;
  /** Query 11's allowed lateness is half of it (whole seconds). */
  readonly occasionalDelaySec: number;
  /** Query 3 forgets a person this long after their event time, in seconds. */
  readonly maxAuctionWaitingTimeSec: number;
  /**
   * WinningBids' expected auction length: a bid waits for its auction twice as long. Beam Java derives it from the
   * generator's slowest rate (`numInFlightAuctions` auctions' worth of events); Beam Python fixes it at its value for
   * Beam's default configuration, 16,667 ms.
   */
  readonly expectedAuctionDurationMs: number;
  /** Query 10 writes its log and index files here (a local directory); without it, it names none and writes none. */
  readonly logOutputDir?: string;
}

export const DEFAULT_QUERY_CONFIG: QueryConfig = Object.freeze({
  auctionSkip: 123,
  windowSizeSec: 10,
  windowPeriodSec: 5,
  maxLogEvents: 100_000,
  occasionalDelaySec: 3,
  maxAuctionWaitingTimeSec: 600,
  expectedAuctionDurationMs: 16_667,
});
