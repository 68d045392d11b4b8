import { type BoundedWindow, IntervalWindow } from "../../../core/windows/window.ts";
import type { TriggerState } from "../triggers/machine.ts";
import type { ReduceRunner } from "./reduce-runner.ts";
import type { KeyState, WindowState } from "./window-state.ts";

const EMPTY_TRIGGER_STATE: TriggerState = Object.freeze({ finished: 0, leaf: null }) as TriggerState;

/**
 * Session merging for one grouping stage (Beam's MergingActiveWindowSet with MergeOverlappingIntervalWindows).
 *
 * An element's proto-session `[t, t + gap)` merges with every open window of its key that it strictly overlaps
 * (touching windows do not merge), transitively, into their span. Closed windows (finished trigger) take no part:
 * an element whose proto-session equals a closed window, or whose merge result equals one, is dropped.
 *
 * Merging, per Beam's OnMergeCallback: values and accumulators are merged, element counts summed, holds combined,
 * the trigger merges its state (`MergeParts`), timers are recomputed, and pane numbering starts again at 0 unless
 * the result is an existing window (an element inside an open session), which keeps its panes.
 * The first overlapping part's state object becomes the merged window, the others die.
 */
export class MergingWindows<K, A> {
  private readonly overlaps: WindowState<K, A>[] = [];

  constructor(private readonly runner: ReduceRunner<K, unknown, A, unknown>) {}

  /** The window state the element goes into, or a closed one (the caller drops the element). */
  windowFor(ks: KeyState<K, A>, w: BoundedWindow): WindowState<K, A> | undefined {
    if (!(w instanceof IntervalWindow)) {
      throw new Error(`merging windows must be interval windows, got ${w.toString()}`);
    }
    for (const c of ks.closed) if (c.window.equals(w)) return c;
    const overlaps = this.overlaps;
    overlaps.length = 0;
    let start = w.start;
    let end = w.end;
    // Transitive closure: the span grows as overlaps are found; active windows never overlap each other, so one
    // pass that re-checks against the growing span after each hit suffices when repeated until stable.
    let grew = true;
    while (grew) {
      grew = false;
      for (const a of ks.active) {
        const aw = a.window as IntervalWindow;
        if (aw.start < end && start < aw.end && !overlaps.includes(a)) {
          overlaps.push(a);
          if (aw.start < start) {
            start = aw.start;
            grew = true;
          }
          if (aw.end > end) {
            end = aw.end;
            grew = true;
          }
        }
      }
    }
    if (overlaps.length === 0) {
      const ws = this.runner.newWindowState(ks, w);
      ks.active.push(ws);
      return ws;
    }
    const first = overlaps[0] as WindowState<K, A>;
    const fw = first.window as IntervalWindow;
    if (overlaps.length === 1 && fw.start === start && fw.end === end) return first;
    for (const c of ks.closed) {
      const cw = c.window as IntervalWindow;
      if (cw.start === start && cw.end === end) {
        // The merge result is a window whose trigger already finished: its parts are dropped with it.
        for (const p of overlaps) this.remove(ks, p);
        return c;
      }
    }
    return this.merge(ks, overlaps, new IntervalWindow(start, end));
  }

  private merge(ks: KeyState<K, A>, parts: WindowState<K, A>[], span: IntervalWindow): WindowState<K, A> {
    const runner = this.runner;
    const into = parts[0] as WindowState<K, A>;
    const trigStates: TriggerState[] = [];
    const holds: number[] = [];
    const accs: A[] = [];
    let nonEmpty = 0;
    for (const p of parts) {
      trigStates.push(p.trig);
      holds.push(p.elementHold);
      if (p.acc !== undefined) accs.push(p.acc);
      nonEmpty += p.nonEmpty;
      runner.releaseHolds(p);
    }
    trigStates.push(EMPTY_TRIGGER_STATE); // the new element's proto-window
    for (let i = 1; i < parts.length; i++) this.remove(ks, parts[i] as WindowState<K, A>);
    into.acc = runner.mergeAccumulators(accs);
    into.nonEmpty = nonEmpty;
    into.rewindow(span, runner.strategy.allowedLatenessMs, Number.POSITIVE_INFINITY);
    into.gcTime = Math.min(into.gcTime, runner.gcCap);
    into.gen++;
    into.prevPane = null;
    into.timerAtMax = false;
    into.timerAtGc = false;
    runner.mergeHolds(into, holds);
    into.trig = runner.newTriggerState();
    runner.mergeTrigger(into, trigStates);
    return into;
  }

  private remove(ks: KeyState<K, A>, ws: WindowState<K, A>): void {
    this.runner.releaseHolds(ws);
    const i = ks.active.indexOf(ws);
    if (i >= 0) ks.active.splice(i, 1);
    this.runner.kill(ws);
  }
}
