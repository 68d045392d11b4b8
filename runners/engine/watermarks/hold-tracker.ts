import { TimeHeap } from "../timers/time-heap.ts";

/**
 * Watermark holds as counts per timestamp: `add(t, n)` and `drop(t, n)` change how many holds sit at `t`, and
 * `min()` is the earliest timestamp still held. A negative count is a bug and throws.
 *
 * Counts live in a map; the minimum comes from a heap of timestamps with lazy removal (a timestamp whose count
 * fell to zero is skipped when it reaches the top), so add and drop are O(1) amortised plus one heap push for a
 * timestamp not held before.
 */
export class HoldTracker {
  private readonly counts = new Map<number, number>();
  private readonly heap = new TimeHeap<null>();

  add(t: number, n = 1): void {
    if (n <= 0) {
      if (n === 0) return;
      throw new RangeError(`HoldTracker.add: count must be positive, got ${n}`);
    }
    const c = this.counts.get(t);
    if (c === undefined) {
      this.counts.set(t, n);
      this.heap.push(t, null);
    } else {
      this.counts.set(t, c + n);
    }
  }

  drop(t: number, n = 1): void {
    const c = this.counts.get(t);
    if (c === undefined || c < n) {
      throw new RangeError(`HoldTracker.drop: would make the count at ${t} negative (held ${c ?? 0}, dropping ${n})`);
    }
    if (c === n) this.counts.delete(t);
    else this.counts.set(t, c - n);
  }

  /** The earliest held timestamp, or +Infinity when nothing is held. */
  min(): number {
    const heap = this.heap;
    while (heap.size > 0) {
      const t = heap.peekTime();
      if (this.counts.has(t)) return t;
      heap.pop();
    }
    return Number.POSITIVE_INFINITY;
  }

  /** How many holds sit at `t`. */
  count(t: number): number {
    return this.counts.get(t) ?? 0;
  }

  /** How many distinct timestamps are held. */
  get distinct(): number {
    return this.counts.size;
  }

  isEmpty(): boolean {
    return this.counts.size === 0;
  }
}
