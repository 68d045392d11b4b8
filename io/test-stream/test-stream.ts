import type { Source, SourceEvent } from "../../core/source.ts";
import { instant, MAX_TIMESTAMP } from "../../core/time/instant.ts";

export interface TimestampedValue<T> {
  readonly value: T;
  readonly timestamp: number;
}

/**
 * A fixture stream: a scripted sequence of element bundles, watermark advances and processing-time advances,
 * replayed identically on every run (Beam's TestStream). Each `addElements` call is one bundle. Processing time is
 * virtual and moves only with `advanceProcessingTime*`. At the end the watermark goes to +infinity.
 */
export class TestStream<T> implements Source<T> {
  readonly bounded = true;
  readonly drivesProcessingTime = true;
  /**
   * Versions share one append-only array (like a slice): appending to the newest version pushes in place, so
   * building a stream of n events is O(n); appending to an older version copies its prefix first.
   */
  private constructor(
    readonly name: string,
    private readonly store: SourceEvent<T>[],
    private readonly length: number,
    private readonly watermark: number,
    private readonly processingTime: number,
  ) {}

  static create<T>(name = "TestStream"): TestStream<T> {
    return new TestStream<T>(name, [], 0, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY);
  }

  /** The scripted events of this version, in order. */
  get events(): readonly SourceEvent<T>[] {
    return this.store.length === this.length ? this.store : this.store.slice(0, this.length);
  }

  /** One bundle of elements, each with its event time. */
  addElements(...elements: TimestampedValue<T>[]): TestStream<T> {
    const values = elements.map((e) => e.value);
    const timestamps = elements.map((e, i) => {
      try {
        return instant(e.timestamp);
      } catch (err) {
        throw new RangeError(`${this.name}: element ${i} of bundle ${this.length}: ${(err as Error).message}`);
      }
    });
    return this.with({ kind: "elements", values, timestamps });
  }

  advanceWatermarkTo(t: number): TestStream<T> {
    if (t < this.watermark) {
      throw new RangeError(`${this.name}: the watermark cannot go backwards (from ${this.watermark} to ${t})`);
    }
    return this.with({ kind: "watermark", watermark: t }, t, this.processingTime);
  }

  advanceWatermarkToInfinity(): TestStream<T> {
    return this.advanceWatermarkTo(MAX_TIMESTAMP);
  }

  /** Sets processing time to `t` (absolute). */
  advanceProcessingTimeTo(t: number): TestStream<T> {
    if (t < this.processingTime) {
      throw new RangeError(`${this.name}: processing time cannot go backwards (from ${this.processingTime} to ${t})`);
    }
    return this.with({ kind: "processingTime", time: t }, this.watermark, t);
  }

  /** Moves processing time forward by `deltaMs` (from 0 if it was never set). */
  advanceProcessingTime(deltaMs: number): TestStream<T> {
    const from = Number.isFinite(this.processingTime) ? this.processingTime : 0;
    return this.advanceProcessingTimeTo(from + deltaMs);
  }

  /** A reader from the start, or from the event after the last one a checkpointed reader gave (`restored`). */
  open(restored?: unknown) {
    let i = typeof restored === "number" ? restored : 0;
    const store = this.store;
    const length = this.length;
    return {
      next: (): SourceEvent<T> | undefined => (i < length ? store[i++] : undefined),
      snapshot: (): number => i,
    };
  }

  private with(ev: SourceEvent<T>, watermark = this.watermark, processingTime = this.processingTime): TestStream<T> {
    const store = this.store.length === this.length ? this.store : this.store.slice(0, this.length);
    store.push(ev);
    return new TestStream(this.name, store, this.length + 1, watermark, processingTime);
  }
}
