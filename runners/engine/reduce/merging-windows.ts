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
 * a proto-session equal to a closed window that merges with nothing, or a merge result equal to a closed window,
 * is that closed window, and the element is dropped. Because Beam merges all of a bundle's proto-windows before
 * processing any element, the runner defers an element that would be dropped this way to the end of its bundle
 * and retries it then (see `ReduceRunner.finishBundle`).
 *
 * Merging, per Beam's OnMergeCallback: values and accumulators are merged, element counts summed, holds combined,
 * the trigger merges its state (`MergeParts`), timers are recomputed, and pane numbering starts again at 0 unless
 * the result is an existing window (an element inside an open session), which keeps its panes.
 * The first overlapping part's state object becomes the merged window, the others die.
 */
export class MergingWindows<K, A> {
  /**
   * Set by the last `windowForInterval` call that returned a closed window because the proto-window itself equals
   * it (and merged with nothing): such an element may still merge with a later element of its bundle.
   */
  protoWasClosed = false;
  /** Reused for the common one-part merge: the part's trigger state and the proto-window's empty one. */
  private readonly pairTrig: TriggerState[] = [EMPTY_TRIGGER_STATE, EMPTY_TRIGGER_STATE];
  private readonly oneHold: number[] = [Number.NaN];

  constructor(private readonly runner: ReduceRunner<K, unknown, A, unknown>) {}

  /** The window state the element goes into, or a closed one (the caller drops the element). */
  windowFor(ks: KeyState<K, A>, w: BoundedWindow): WindowState<K, A> | undefined {
    if (!(w instanceof IntervalWindow)) {
      throw new Error(`merging windows must be interval windows, got ${w.toString()}`);
    }
    return this.windowForInterval(ks, w.start, w.end, w);
  }

  /**
   * The same for the proto-window `[protoStart, protoEnd)`; `proto` is its object if the caller has one (otherwise
   * it is made only when the window becomes a window of its own).
   */
  windowForInterval(
    ks: KeyState<K, A>,
    protoStart: number,
    protoEnd: number,
    proto?: IntervalWindow,
  ): WindowState<K, A> | undefined {
    this.protoWasClosed = false;
    // Open windows never overlap each other, so the union of the proto-window with the ones it overlaps is one
    // interval and nothing else can overlap it: one pass finds the whole merge.
    let first: WindowState<K, A> | undefined;
    let more: WindowState<K, A>[] | undefined;
    let start = protoStart;
    let end = protoEnd;
    const active = ks.active;
    for (let i = 0; i < active.length; i++) {
      const a = active[i] as WindowState<K, A>;
      if (a.start < protoEnd && protoStart < a.end) {
        if (first === undefined) first = a;
        else if (more === undefined) more = [a];
        else more.push(a);
        if (a.start < start) start = a.start;
        if (a.end > end) end = a.end;
      }
    }
    if (first === undefined) {
      // A proto-window equal to a closed window, merging with nothing, stays that closed window.
      if (ks.closed.length > 0) {
        for (const c of ks.closed) {
          if (c.start === protoStart && c.end === protoEnd) {
            this.protoWasClosed = true;
            return c;
          }
        }
      }
      const ws = this.runner.newWindowState(ks, proto ?? new IntervalWindow(protoStart, protoEnd));
      ks.active.push(ws);
      return ws;
    }
    if (more === undefined && first.start === start && first.end === end) return first;
    for (const c of ks.closed) {
      if (c.start === start && c.end === end) {
        // The merge result is a window whose trigger already finished: its parts are dropped with it.
        this.remove(ks, first);
        if (more) for (const p of more) this.remove(ks, p);
        return c;
      }
    }
    return this.merge(ks, first, more, start, end);
  }

  /** Merges `into` (and `more`, if any) with the proto-window into `[start, end)`, in `into`'s state object. */
  private merge(
    ks: KeyState<K, A>,
    into: WindowState<K, A>,
    more: WindowState<K, A>[] | undefined,
    start: number,
    end: number,
  ): WindowState<K, A> {
    const runner = this.runner;
    let trigStates: TriggerState[];
    let holds: number[];
    if (more === undefined) {
      // The common case: an element extends one session. No lists are built.
      trigStates = this.pairTrig;
      trigStates[0] = into.trig;
      holds = this.oneHold;
      holds[0] = into.elementHold;
      runner.releaseHolds(into);
    } else {
      const parts = [into, ...more];
      trigStates = [];
      holds = [];
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
      for (const p of more) this.remove(ks, p);
      into.acc = runner.mergeAccumulators(accs);
      into.nonEmpty = nonEmpty;
    }
    into.rewindow(start, end, runner.strategy.allowedLatenessMs, runner.gcCap);
    into.gen++;
    into.prevPane = null;
    into.timerAtMax = false;
    into.timerAtGc = false;
    runner.mergeHolds(into, holds);
    // A trigger without state (the default trigger) merges in place; others build the merged state afresh.
    into.trig = runner.triggerHasState ? runner.newTriggerState() : into.trig;
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
