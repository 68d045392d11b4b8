import {
  leafGet,
  leafSet,
  type MergeParts,
  OnceTriggerMachine,
  type TriggerEnv,
  type TriggerState,
} from "./machine.ts";

/**
 * Fires once processing time is past a deadline set by the first element since it (re)started:
 * `deadline = align(arrival + delay)`, fires when `now > deadline`, then finishes. On merge the earliest deadline wins.
 * With `synchronized` it reads the synchronized processing time (Beam's AfterSynchronizedProcessingTime), which the
 * in-process runner equates with its processing-time clock.
 */
export class AfterProcessingTimeMachine extends OnceTriggerMachine {
  constructor(
    readonly delayMs: number,
    readonly alignToMs: number | undefined,
    readonly alignOffsetMs: number,
    readonly synchronized: boolean,
  ) {
    super();
  }
  override hasLeafState(): boolean {
    return true;
  }
  private target(now: number): number {
    let t = now + this.delayMs;
    if (this.alignToMs !== undefined) {
      const since = (((t - this.alignOffsetMs) % this.alignToMs) + this.alignToMs) % this.alignToMs;
      if (since !== 0) t = t + this.alignToMs - since;
    }
    return t;
  }
  onElement(w: TriggerState, env: TriggerEnv): void {
    if (!Number.isNaN(leafGet(w, this.index))) return;
    const t = this.target(env.processingTime);
    leafSet(w, this.index, t);
    env.setProcessingTimer(t);
  }
  onMerge(w: TriggerState, parts: MergeParts, env: TriggerEnv): void {
    if (this.isFinished(w)) {
      this.clear(w);
      return;
    }
    let earliest = Number.NaN;
    for (const p of parts) {
      const d = leafGet(p, this.index);
      if (!Number.isNaN(d) && (Number.isNaN(earliest) || d < earliest)) earliest = d;
    }
    leafSet(w, this.index, earliest);
    if (!Number.isNaN(earliest)) env.setProcessingTimer(earliest);
  }
  shouldFire(w: TriggerState, env: TriggerEnv): boolean {
    const d = leafGet(w, this.index);
    return !Number.isNaN(d) && env.processingTime > d;
  }
  override clear(w: TriggerState): void {
    if (w.leaf !== null) w.leaf[this.index] = Number.NaN;
  }
  describe(): string {
    return this.synchronized ? "afterSynchronizedProcessingTime()" : `afterProcessingTime(${this.delayMs}ms)`;
  }
}
