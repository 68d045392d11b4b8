import type { TimestampCombiner, WindowingStrategy } from "../../../core/windowing-strategy.ts";
import { TimeHeap } from "../timers/time-heap.ts";
import type { WindowState } from "./window-state.ts";

/**
 * The watermark holds of one grouping stage (Beam's WatermarkHold). Each window holds at most two timestamps:
 * - the element hold: the combiner's timestamp of the elements since the last pane (endOfWindow: the window's max
 *   timestamp; earliest/latest: min/max of their timestamps), placed only if not before the output watermark and
 *   the input watermark has not passed the window's max timestamp;
 * - the extra (garbage-collection) hold at `gcTime`, placed for data that could not hold, when lateness is allowed.
 * The stage's output watermark is `min(input watermark, earliest hold)`.
 *
 * The earliest hold comes from a heap of windows keyed by their earliest hold, kept lazily: a window's entry is
 * pushed only when its hold moves earlier than its entry (a session that grows moves its hold later, which costs
 * nothing); `min()` re-files entries whose window now holds later, and drops those of windows that hold nothing.
 */
export class WatermarkHolds {
  private readonly heap = new TimeHeap<WindowState<unknown, unknown>>();
  private readonly combiner: TimestampCombiner;
  private readonly latenessMs: number;
  private readonly closingFiresAlways: boolean;

  constructor(
    strategy: WindowingStrategy,
    /** The stage's watermarks, read in place (passing them as arguments would box them on every call). */
    private readonly wm: { readonly inputWatermark: number; readonly outputWatermark: number },
  ) {
    this.combiner = strategy.timestampCombiner;
    this.latenessMs = strategy.allowedLatenessMs;
    this.closingFiresAlways = strategy.closingBehavior === "fireAlways";
  }

  /** Holds for an element at `t` added to `ws` (Beam's addHolds). */
  addElementHold(ws: WindowState<unknown, unknown>, t: number): void {
    const hold = this.combiner === "endOfWindow" ? ws.maxTs : t;
    const tooLate = hold < this.wm.outputWatermark || this.wm.inputWatermark > ws.maxTs;
    if (tooLate) {
      this.addGcHold(ws, false);
      return;
    }
    const old = ws.elementHold;
    if (Number.isNaN(old)) {
      ws.elementHold = hold;
    } else if (this.combiner === "earliest") {
      if (hold < old) ws.elementHold = hold;
    } else if (this.combiner === "latest") {
      if (hold > old) ws.elementHold = hold;
    }
    this.index(ws);
  }

  /** The garbage-collection hold (Beam's addGarbageCollectionHold): only with allowed lateness. */
  addGcHold(ws: WindowState<unknown, unknown>, paneIsEmpty: boolean): void {
    if (!(this.latenessMs > 0)) return;
    if (paneIsEmpty && !this.closingFiresAlways) return;
    if (this.wm.inputWatermark > ws.gcTime) return;
    if (ws.extraHold === ws.gcTime) return;
    ws.extraHold = ws.gcTime;
    this.index(ws);
  }

  /**
   * Releases the window's holds and returns the pane's timestamp: the earliest of them, or the window's max
   * timestamp when there is none or the hold was for garbage collection (Beam's extractAndRelease).
   */
  extractAndRelease(ws: WindowState<unknown, unknown>): number {
    const e = ws.elementHold;
    const x = ws.extraHold;
    let out = Number.isNaN(e) ? x : Number.isNaN(x) ? e : Math.min(e, x);
    if (Number.isNaN(out) || out > ws.maxTs) out = ws.maxTs;
    this.release(ws);
    return out;
  }

  release(ws: WindowState<unknown, unknown>): void {
    ws.elementHold = Number.NaN;
    ws.extraHold = Number.NaN;
  }

  /**
   * Combines the element holds of merging windows into the merged window `into` (endOfWindow: its max timestamp;
   * earliest/latest: min/max), drops their extra holds and places a fresh garbage-collection hold.
   * `into` must not hold anything yet (its old holds are among `parts`' released values).
   */
  onMerge(into: WindowState<unknown, unknown>, partHolds: readonly number[]): void {
    let merged = Number.NaN;
    for (let i = 0; i < partHolds.length; i++) {
      const h = partHolds[i] as number;
      if (Number.isNaN(h)) continue;
      if (Number.isNaN(merged)) merged = h;
      else if (this.combiner === "latest") merged = Math.max(merged, h);
      else merged = Math.min(merged, h);
    }
    if (!Number.isNaN(merged)) {
      if (this.combiner === "endOfWindow") merged = into.maxTs;
      into.elementHold = merged;
      this.index(into);
    }
    this.addGcHold(into, false);
  }

  /** Files the window under its earliest hold if that is earlier than its current entry. */
  private index(ws: WindowState<unknown, unknown>): void {
    const h = earliestHold(ws);
    if (h < ws.holdHeapAt) {
      ws.holdHeapAt = h;
      this.heap.push(h, ws);
    }
  }

  /** The earliest hold of any window, or +Infinity. */
  min(): number {
    const heap = this.heap;
    for (;;) {
      const t = heap.peekTime();
      if (t === Number.POSITIVE_INFINITY) return t;
      const ws = heap.peekItem() as WindowState<unknown, unknown>;
      if (ws.alive && ws.holdHeapAt === t) {
        const actual = earliestHold(ws);
        if (actual === t) return t;
        heap.pop();
        ws.holdHeapAt = Number.POSITIVE_INFINITY;
        if (actual !== Number.POSITIVE_INFINITY) {
          ws.holdHeapAt = actual;
          heap.push(actual, ws);
        }
      } else {
        heap.pop();
      }
    }
  }
}

/** A window's earliest hold, +Infinity when it holds nothing. */
function earliestHold(ws: WindowState<unknown, unknown>): number {
  const e = ws.elementHold;
  const x = ws.extraHold;
  if (Number.isNaN(e)) return Number.isNaN(x) ? Number.POSITIVE_INFINITY : x;
  return Number.isNaN(x) || e < x ? e : x;
}
