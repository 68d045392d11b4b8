import type { CustomWindowFn } from "../../../core/windows/window-fn.ts";
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
  /** The proto-window of the element being placed, and the span it merges into (fields, not arguments: see above). */
  protoStart = Number.NEGATIVE_INFINITY;
  protoEnd = Number.NEGATIVE_INFINITY;
  private spanStart = Number.NEGATIVE_INFINITY;
  private spanEnd = Number.NEGATIVE_INFINITY;
  /** Reused for the common one-part merge: the part's trigger state and the proto-window's empty one. */
  private readonly pairTrig: TriggerState[] = [EMPTY_TRIGGER_STATE, EMPTY_TRIGGER_STATE];
  private readonly oneHold: number[] = [Number.NaN];

  constructor(
    private readonly runner: ReduceRunner<K, unknown, A, unknown>,
    /** A custom window function's merge; sessions (overlapping intervals) when absent. */
    private readonly customMerge?: CustomWindowFn["merge"],
  ) {}

  /** The window state the element goes into, or a closed one (the caller drops the element). */
  windowFor(ks: KeyState<K, A>, w: BoundedWindow): WindowState<K, A> | undefined {
    if (this.customMerge) return this.windowForCustom(ks, w, this.customMerge);
    if (!(w instanceof IntervalWindow)) {
      throw new Error(`merging windows must be interval windows, got ${w.toString()}`);
    }
    this.protoStart = w.start;
    this.protoEnd = w.end;
    return this.windowForInterval(ks, w);
  }

  /**
   * The same for the proto-window `[protoStart, protoEnd)` (set in the fields first: times passed as arguments would
   * be boxed on every call); `proto` is its object if the caller has one (otherwise it is made only when the window
   * becomes a window of its own).
   */
  windowForInterval(ks: KeyState<K, A>, proto?: IntervalWindow): WindowState<K, A> | undefined {
    this.protoWasClosed = false;
    const protoStart = this.protoStart;
    const protoEnd = this.protoEnd;
    // Open windows never overlap each other, so the union of the proto-window with the ones it overlaps is one
    // interval and nothing else can overlap it: one pass finds the whole merge.
    let first: WindowState<K, A> | undefined;
    let more: WindowState<K, A>[] | undefined;
    let start = protoStart;
    let end = protoEnd;
    if (ks.activeCount === 1) {
      const a = ks.first as WindowState<K, A>;
      if (a.start < protoEnd && protoStart < a.end) {
        first = a;
        if (a.start < start) start = a.start;
        if (a.end > end) end = a.end;
      }
    } else {
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
    }
    if (first === undefined) {
      // A proto-window equal to a closed window, merging with nothing, stays that closed window.
      if (ks.closedCount > 0) {
        for (const c of ks.closed) {
          if (c.start === protoStart && c.end === protoEnd) {
            this.protoWasClosed = true;
            return c;
          }
        }
      }
      const ws = this.runner.newWindowState(ks, proto);
      if (proto === undefined) ws.rewindow(protoStart, protoEnd, this.runner.latenessMs, this.runner.gcCap);
      ks.addActive(ws);
      return ws;
    }
    if (more === undefined && first.start === start && first.end === end) return first;
    if (ks.closedCount > 0)
      for (const c of ks.closed) {
        if (c.start === start && c.end === end) {
          // The merge result is a window whose trigger already finished: its parts are dropped with it, and their
          // pending elements are counted as dropped (nothing vanishes uncounted).
          let lost = first.nonEmpty;
          this.remove(ks, first);
          if (more) {
            for (const p of more) {
              lost += p.nonEmpty;
              this.remove(ks, p);
            }
          }
          this.runner.counters.droppedClosed += lost;
          return c;
        }
      }
    this.spanStart = start;
    this.spanEnd = end;
    return this.merge(ks, first, more);
  }

  /** Merges `into` (and `more`, if any) with the proto-window into the span, in `into`'s state object. */
  private merge(ks: KeyState<K, A>, into: WindowState<K, A>, more: WindowState<K, A>[] | undefined): WindowState<K, A> {
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
      const gathered = this.gather([into, ...more], into, true);
      trigStates = gathered.trigStates;
      holds = gathered.holds;
      for (const p of more) this.remove(ks, p);
    }
    into.rewindow(this.spanStart, this.spanEnd, runner.latenessMs, runner.gcCap);
    into.gen++;
    into.prevPane = null;
    into.timerAtMax = false;
    into.timerAtGc = false;
    runner.mergeHolds(into, holds);
    // A trigger without state (the default trigger) merges in place; others build the merged state afresh.
    into.trig = runner.newTriggerState();
    runner.mergeTrigger(into, trigStates);
    return into;
  }

  /**
   * The merging of a custom window function: its `merge` sees the key's open windows plus the element's window and
   * says which groups become which window. A result equal to one of its parts keeps that window's panes; a new result
   * starts at pane 0. The element goes to the result of the group holding its window, or to its own window.
   */
  private windowForCustom(
    ks: KeyState<K, A>,
    w: BoundedWindow,
    merge: NonNullable<CustomWindowFn["merge"]>,
  ): WindowState<K, A> | undefined {
    this.protoWasClosed = false;
    for (const a of ks.active) if (a.window.equals(w)) return a;
    const windows: BoundedWindow[] = ks.active.map((a) => a.window);
    windows.push(w);
    let target: WindowState<K, A> | undefined;
    let merged = false;
    for (const group of merge(windows)) {
      const parts: WindowState<K, A>[] = [];
      let hasProto = false;
      for (const f of group.from) {
        if (f === w) {
          hasProto = true;
          continue;
        }
        const i = windows.indexOf(f);
        const part = i >= 0 && i < ks.active.length ? ks.active[i] : undefined;
        if (part === undefined)
          throw new Error(`${describeMerge(group)}: merge returned a window that was not given to it`);
        if (!parts.includes(part)) parts.push(part);
      }
      if (parts.length + (hasProto ? 1 : 0) < 2 && !(hasProto && !group.into.equals(w))) continue;
      merged = true;
      const result = this.mergeGroup(ks, parts, hasProto, group.into);
      if (hasProto) target = result;
    }
    if (merged && target === undefined) {
      // Merges among the open windows only: the element's window stands alone; look again.
      for (const a of ks.active) if (a.window.equals(w)) return a;
    }
    if (target !== undefined) return target;
    for (const c of ks.closed) {
      if (c.window.equals(w)) {
        this.protoWasClosed = true;
        return c;
      }
    }
    const ws = this.runner.newWindowState(ks, w);
    ks.addActive(ws);
    return ws;
  }

  private mergeGroup(
    ks: KeyState<K, A>,
    parts: WindowState<K, A>[],
    hasProto: boolean,
    into: BoundedWindow,
  ): WindowState<K, A> {
    const runner = this.runner;
    for (const c of ks.closed) {
      if (c.window.equals(into)) {
        let lost = 0;
        for (const p of parts) {
          lost += p.nonEmpty;
          this.remove(ks, p);
        }
        runner.counters.droppedClosed += lost;
        return c;
      }
    }
    const existing = parts.find((p) => p.window.equals(into));
    const target = existing ?? parts[0] ?? runner.newWindowState(ks, into);
    if (parts.length === 0) ks.addActive(target);
    const { trigStates, holds } = this.gather(parts, target, hasProto);
    for (const p of parts) if (p !== target) this.remove(ks, p);
    if (existing === undefined) {
      target.setWindow(into, runner.strategy.allowedLatenessMs, runner.gcCap);
      target.gen++;
      target.prevPane = null;
    }
    target.timerAtMax = false;
    target.timerAtGc = false;
    runner.mergeHolds(target, holds);
    const own = existing ? existing.trig.finished : 0;
    target.trig = runner.newTriggerState();
    if (runner.triggerHasState) target.trig.finished = own;
    runner.mergeTrigger(target, trigStates);
    // Expiry is still needed for a merge that no element of this bundle lands in.
    runner.scheduleGc(target);
    return target;
  }

  /**
   * Collects the merging parts' trigger states and element holds (releasing the holds), and gives `target` their
   * merged accumulator and element count. `withProto` adds the new element's empty proto-window state.
   */
  private gather(
    parts: readonly WindowState<K, A>[],
    target: WindowState<K, A>,
    withProto: boolean,
  ): { trigStates: TriggerState[]; holds: number[] } {
    const runner = this.runner;
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
    if (withProto) trigStates.push(EMPTY_TRIGGER_STATE);
    target.acc = runner.mergeAccumulators(accs, target);
    target.nonEmpty = nonEmpty;
    return { trigStates, holds };
  }

  private remove(ks: KeyState<K, A>, ws: WindowState<K, A>): void {
    this.runner.releaseHolds(ws);
    ks.removeActive(ws);
    this.runner.kill(ws);
  }
}

function describeMerge(group: { readonly from: readonly BoundedWindow[]; readonly into: BoundedWindow }): string {
  return `merging ${group.from.map(String).join(", ")} into ${group.into.toString()}`;
}
