/**
 * Trigger state machines: the engine's side of a `Trigger` spec (Beam's `TriggerStateMachine`s).
 *
 * A machine tree is immutable and shared by all windows. Each window owns a `TriggerState` that the machines
 * update in place: one "finished" bit per node of the tree (numbered depth-first, the root is 0) and one number of
 * leaf state per node (an element count, a processing-time deadline; NaN when unset).
 *
 * State / Merging / Lifetime of `TriggerState`:
 * - State: finished bits and leaf numbers of one window.
 * - Merging: `onMerge` builds the merged window's state from the parts' states (`MergeParts`); which bits survive is
 *   each machine's rule (Beam's `onMerge`); merging never makes the root finished.
 * - Lifetime: created with the window; leaf state is cleared on firing as each machine says; the finished bits are
 *   kept until the window expires, so a closed window keeps refusing data until then.
 */
export interface TriggerState {
  finished: number;
  leaf: Float64Array | null;
}

/** The merging windows' trigger states, for `finishedInAny/AllMergingWindows` and leaf-state merging. */
export type MergeParts = readonly TriggerState[];

/** What a machine can see and do: the clocks, and timers for the window being evaluated. */
export interface TriggerEnv {
  /** The input watermark (Beam's currentEventTime); -Infinity before any is known. */
  inputWatermark: number;
  processingTime: number;
  /** The window's max timestamp. */
  maxTimestamp: number;
  /** Whether the window function merges windows (machines then keep every sub-trigger's state up to date). */
  readonly isMerging: boolean;
  /** Asks to be evaluated when the watermark passes the window's max timestamp (the only event-time timer). */
  setEndOfWindowTimer(): void;
  /** Asks to be evaluated once processing time is past `t`. */
  setProcessingTimer(t: number): void;
}

export abstract class TriggerMachine {
  /** This node's index in the depth-first numbering; its subtree spans `[index, end)`. */
  index = 0;
  end = 1;
  constructor(readonly subs: readonly TriggerMachine[] = []) {}

  /** Numbers the tree from `start`; returns the next free index. */
  number(start: number): number {
    this.index = start;
    let next = start + 1;
    for (const s of this.subs) next = s.number(next);
    this.end = next;
    return next;
  }

  /** Whether any node of this subtree keeps leaf state. */
  hasLeafState(): boolean {
    return this.subs.some((s) => s.hasLeafState());
  }

  abstract onElement(w: TriggerState, env: TriggerEnv): void;
  abstract onMerge(w: TriggerState, parts: MergeParts, env: TriggerEnv): void;
  abstract shouldFire(w: TriggerState, env: TriggerEnv): boolean;
  abstract onFire(w: TriggerState, env: TriggerEnv): void;

  /** Clears the leaf state of this subtree (not the finished bits). */
  clear(w: TriggerState): void {
    for (const s of this.subs) s.clear(w);
  }

  isFinished(w: TriggerState): boolean {
    return (w.finished & (1 << this.index)) !== 0;
  }

  setFinished(w: TriggerState, finished: boolean): void {
    if (finished) w.finished |= 1 << this.index;
    else w.finished &= ~(1 << this.index);
  }

  /** Clears the subtree's state and its finished bits (Beam's resetTree). */
  resetTree(w: TriggerState): void {
    this.clear(w);
    for (let i = this.index; i < this.end; i++) w.finished &= ~(1 << i);
  }

  finishedInAnyMergingWindow(parts: MergeParts): boolean {
    const bit = 1 << this.index;
    for (const p of parts) if ((p.finished & bit) !== 0) return true;
    return false;
  }

  finishedInAllMergingWindows(parts: MergeParts): boolean {
    const bit = 1 << this.index;
    for (const p of parts) if ((p.finished & bit) === 0) return false;
    return true;
  }

  firstUnfinished(w: TriggerState): TriggerMachine | undefined {
    for (const s of this.subs) if (!s.isFinished(w)) return s;
    return undefined;
  }

  abstract describe(): string;
}

/** Reads a leaf number; NaN means unset. */
export function leafGet(w: TriggerState, index: number): number {
  return w.leaf === null ? Number.NaN : (w.leaf[index] as number);
}

export function leafSet(w: TriggerState, index: number, v: number): void {
  if (w.leaf === null) throw new Error("trigger leaf state was not allocated for a machine that needs it");
  w.leaf[index] = v;
}

/** A trigger that fires at most once, then finishes (Beam's OnceTriggerStateMachine). */
export abstract class OnceTriggerMachine extends TriggerMachine {
  onFire(w: TriggerState, _env: TriggerEnv): void {
    this.clear(w);
    this.setFinished(w, true);
  }
}

export function endOfWindowReached(env: TriggerEnv): boolean {
  return env.inputWatermark > env.maxTimestamp;
}
