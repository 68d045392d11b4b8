import type { TimestampCombiner, WindowingStrategy } from "../../../core/windowing-strategy.ts";
import type { WindowState } from "./window-state.ts";

/**
 * The watermark holds of one grouping stage (Beam's WatermarkHold). Each window holds at most two timestamps:
 * - the element hold: the combiner's timestamp of the elements since the last pane (endOfWindow: the window's max
 *   timestamp; earliest/latest: min/max of their timestamps), placed only if not before the output watermark and
 *   the input watermark has not passed the window's max timestamp;
 * - the extra (garbage-collection) hold at `gcTime`, placed for data that could not hold, when lateness is allowed.
 * The stage's output watermark is `min(input watermark, earliest hold)`; the runner finds the earliest hold through
 * its window index, which this class keeps informed (`refile`) whenever a window's holds may have moved earlier.
 */
export class WatermarkHolds {
  private readonly combiner: TimestampCombiner;
  private readonly latenessMs: number;
  private readonly closingFiresAlways: boolean;

  constructor(
    strategy: WindowingStrategy,
    /** The stage's watermarks, read in place (passing them as arguments would box them on every call). */
    private readonly wm: { readonly inputWatermark: number; readonly outputWatermark: number },
    /** Refiles a window in the stage's window index after its holds changed. */
    private readonly refile: (ws: WindowState<unknown, unknown>) => void,
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
    if (Number.isNaN(old) || (this.combiner === "earliest" && hold < old)) {
      ws.elementHold = hold;
      this.refile(ws); // the hold may now be earlier than the window's index entry
    } else if (this.combiner === "latest" && hold > old) {
      ws.elementHold = hold; // later: the index entry stays a valid lower bound
    }
  }

  /** The garbage-collection hold (Beam's addGarbageCollectionHold): only with allowed lateness. */
  addGcHold(ws: WindowState<unknown, unknown>, paneIsEmpty: boolean): void {
    if (!(this.latenessMs > 0)) return;
    if (paneIsEmpty && !this.closingFiresAlways) return;
    if (this.wm.inputWatermark > ws.gcTime) return;
    if (ws.extraHold === ws.gcTime) return;
    ws.extraHold = ws.gcTime;
    this.refile(ws);
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
      this.refile(into);
    }
    this.addGcHold(into, false);
  }
}
