import { type MergeParts, type TriggerEnv, TriggerMachine, type TriggerState } from "./machine.ts";

/** Runs its sub-triggers in sequence: fires whenever the current one fires; finishes after the last. */
export class AfterEachMachine extends TriggerMachine {
  onElement(w: TriggerState, env: TriggerEnv): void {
    if (!env.isMerging) {
      this.firstUnfinished(w)?.onElement(w, env);
    } else {
      // With merging, every sub-trigger keeps state: a finished one may be revived by a merge.
      for (const s of this.subs) s.onElement(w, env);
    }
  }
  onMerge(w: TriggerState, parts: MergeParts, env: TriggerEnv): void {
    let priorAllFinished = true;
    for (const s of this.subs) {
      if (priorAllFinished) {
        s.onMerge(w, parts, env);
        priorAllFinished = priorAllFinished && s.isFinished(w);
      } else {
        s.clear(w);
      }
    }
    this.setFinished(w, this.firstUnfinished(w) === undefined);
  }
  shouldFire(w: TriggerState, env: TriggerEnv): boolean {
    return this.firstUnfinished(w)?.shouldFire(w, env) ?? false;
  }
  onFire(w: TriggerState, env: TriggerEnv): void {
    this.firstUnfinished(w)?.onFire(w, env);
    if (env.isMerging) for (const s of this.subs) s.clear(w);
    this.setFinished(w, this.firstUnfinished(w) === undefined);
  }
  describe(): string {
    return `afterEach(${this.subs.map((s) => s.describe()).join(", ")})`;
  }
}
