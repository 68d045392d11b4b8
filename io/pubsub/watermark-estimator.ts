/** Options of {@link WatermarkEstimator}. */
export interface WatermarkEstimatorOptions {
  /**
   * How far behind the latest timestamp seen a later message may still be and not be late: the watermark trails the
   * maximum timestamp seen by this much.
   */
  readonly maxOutOfOrdernessMs: number;
  /**
   * After this long (wall time) without a message, the subscription is taken to be drained and the watermark moves
   * to the wall clock minus `maxOutOfOrdernessMs`, so an idle subscription does not hold windows open forever.
   * `Infinity` turns this off (the watermark then only moves with data).
   */
  readonly idleMs: number;
}

/**
 * The watermark of an unbounded source that sees messages only as they are delivered (Pub/Sub shows no backlog to
 * a subscriber):
 * - bounded out-of-orderness: `max timestamp seen - maxOutOfOrdernessMs`;
 * - idle: after `idleMs` of wall time without a message, at least `now - maxOutOfOrdernessMs` (Dataflow's Pub/Sub
 *   watermark also advances to about the wall clock once the backlog is empty);
 * - never backwards.
 * A message behind the watermark is late (the pipeline's allowed lateness decides what becomes of it), never lost.
 * Pure: the caller gives wall time.
 */
export class WatermarkEstimator {
  private maxSeen = Number.NEGATIVE_INFINITY;
  private lastArrival: number;
  private watermark = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly options: WatermarkEstimatorOptions,
    startedAt: number,
  ) {
    this.lastArrival = startedAt;
  }

  /** A message with event time `timestamp` arrived at wall time `now`. */
  observe(timestamp: number, now: number): void {
    if (timestamp > this.maxSeen) this.maxSeen = timestamp;
    this.lastArrival = now;
  }

  /** What a checkpoint keeps: the newest timestamp seen and the watermark reached. */
  snapshot(): { maxSeen: number; watermark: number } {
    return { maxSeen: this.maxSeen, watermark: this.watermark };
  }

  /** Goes on from a checkpoint (the idle clock starts again now). */
  restore(s: { maxSeen: number; watermark: number }): void {
    this.maxSeen = s.maxSeen;
    this.watermark = s.watermark;
  }

  /** The watermark at wall time `now`. */
  current(now: number): number {
    const { maxOutOfOrdernessMs, idleMs } = this.options;
    let w = this.maxSeen - maxOutOfOrdernessMs;
    if (now - this.lastArrival >= idleMs) w = Math.max(w, now - maxOutOfOrdernessMs);
    if (w > this.watermark) this.watermark = w;
    return this.watermark;
  }
}
