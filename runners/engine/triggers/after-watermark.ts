import {
  endOfWindowReached,
  type MergeParts,
  OnceTriggerMachine,
  type TriggerEnv,
  TriggerMachine,
  type TriggerState,
} from "./machine.ts";

/** Fires once when the watermark passes the end of the window, then finishes (Beam's FromEndOfWindow). */
export class AfterEndOfWindowMachine extends OnceTriggerMachine {
  onElement(_w: TriggerState, env: TriggerEnv): void {
    if (!endOfWindowReached(env)) env.setEndOfWindowTimer();
  }
  onMerge(w: TriggerState, parts: MergeParts, env: TriggerEnv): void {
    // Still active in some part: pending elements have not fired yet. Otherwise active again if the merged
    // window's end has not been reached.
    if (!this.finishedInAllMergingWindows(parts)) this.setFinished(w, false);
    else if (!endOfWindowReached(env)) this.setFinished(w, false);
    else this.setFinished(w, true);
  }
  shouldFire(_w: TriggerState, env: TriggerEnv): boolean {
    return endOfWindowReached(env);
  }
  describe(): string {
    return "afterWatermark()";
  }
}

/**
 * The watermark trigger with early and/or late firings (Beam's AfterWatermarkEarlyAndLate). Before the end of the
 * window it fires whenever `early` fires (restarting it); at the end it fires the on-time pane; after it, whenever
 * `late` fires (restarting it). Without `late` it finishes with the on-time pane. Sub-trigger 0 is `early`
 * (finished = past the end of window), 1 is `late`.
 */
export class AfterWatermarkEarlyLateMachine extends TriggerMachine {
  constructor(
    readonly early: TriggerMachine,
    readonly late: TriggerMachine | undefined,
  ) {
    super(late ? [early, late] : [early]);
  }
  onElement(w: TriggerState, env: TriggerEnv): void {
    if (!endOfWindowReached(env)) env.setEndOfWindowTimer();
    if (!env.isMerging) {
      this.firstUnfinished(w)?.onElement(w, env);
    } else {
      for (const s of this.subs) s.onElement(w, env);
    }
  }
  onMerge(w: TriggerState, parts: MergeParts, env: TriggerEnv): void {
    const early = this.early;
    if (!early.finishedInAllMergingWindows(parts) || !endOfWindowReached(env)) {
      // The early trigger is live again in the merged window.
      early.onMerge(w, parts, env);
      early.setFinished(w, false);
      if (this.late) {
        this.late.setFinished(w, false);
        this.late.clear(w);
      }
    } else {
      // The early phase and the end-of-window firing are done for good.
      early.setFinished(w, true);
      this.late?.onMerge(w, parts, env);
    }
  }
  shouldFire(w: TriggerState, env: TriggerEnv): boolean {
    if (!this.early.isFinished(w)) return this.early.shouldFire(w, env) || endOfWindowReached(env);
    if (!this.late) return false;
    return this.late.shouldFire(w, env);
  }
  onFire(w: TriggerState, env: TriggerEnv): void {
    const early = this.early;
    if (!early.isFinished(w)) {
      if (!endOfWindowReached(env)) {
        // An early firing: the early trigger repeats implicitly.
        early.onFire(w, env);
        early.clear(w);
        early.setFinished(w, false);
      } else {
        // The on-time firing: end the early phase, start the late one from scratch.
        if (early.shouldFire(w, env)) early.onFire(w, env);
        early.setFinished(w, true);
        early.clear(w);
        if (!this.late) this.setFinished(w, true);
        else this.late.clear(w);
      }
    } else if (this.late) {
      // A late firing, repeating implicitly.
      this.late.onFire(w, env);
      this.late.clear(w);
      this.late.setFinished(w, false);
    } else {
      this.setFinished(w, true);
    }
  }
  describe(): string {
    return `afterWatermark(early: ${this.early.describe()}${this.late ? `, late: ${this.late.describe()}` : ""})`;
  }
}
