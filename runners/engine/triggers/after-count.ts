import {
  leafGet,
  leafSet,
  type MergeParts,
  OnceTriggerMachine,
  type TriggerEnv,
  type TriggerState,
} from "./machine.ts";

/** Fires once `count` elements have arrived since it (re)started, then finishes. Counts add up on merge. */
export class AfterCountMachine extends OnceTriggerMachine {
  constructor(readonly count: number) {
    super();
  }
  override hasLeafState(): boolean {
    return true;
  }
  onElement(w: TriggerState): void {
    const c = leafGet(w, this.index);
    leafSet(w, this.index, Number.isNaN(c) ? 1 : c + 1);
  }
  onMerge(w: TriggerState, parts: MergeParts, _env: TriggerEnv): void {
    if (this.finishedInAnyMergingWindow(parts)) {
      this.setFinished(w, true);
      this.clear(w);
      return;
    }
    let sum = 0;
    for (const p of parts) {
      const c = leafGet(p, this.index);
      if (!Number.isNaN(c)) sum += c;
    }
    leafSet(w, this.index, sum);
  }
  shouldFire(w: TriggerState): boolean {
    const c = leafGet(w, this.index);
    return !Number.isNaN(c) && c >= this.count;
  }
  override clear(w: TriggerState): void {
    if (w.leaf !== null) w.leaf[this.index] = Number.NaN;
  }
  describe(): string {
    return `afterCount(${this.count})`;
  }
}
