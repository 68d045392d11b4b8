import { type MergeParts, type TriggerEnv, TriggerMachine, type TriggerState } from "./machine.ts";

/** Fires once every sub-trigger has fired or is ready, then finishes. */
export class AfterAllMachine extends TriggerMachine {
  onElement(w: TriggerState, env: TriggerEnv): void {
    for (const s of this.subs) if (!s.isFinished(w)) s.onElement(w, env);
  }
  onMerge(w: TriggerState, parts: MergeParts, env: TriggerEnv): void {
    for (const s of this.subs) s.onMerge(w, parts, env);
    let all = true;
    for (const s of this.subs) all = all && s.isFinished(w);
    this.setFinished(w, all);
  }
  shouldFire(w: TriggerState, env: TriggerEnv): boolean {
    for (const s of this.subs) if (!s.isFinished(w) && !s.shouldFire(w, env)) return false;
    return true;
  }
  onFire(w: TriggerState, env: TriggerEnv): void {
    for (const s of this.subs) s.onFire(w, env);
    this.setFinished(w, true);
  }
  describe(): string {
    return `afterAll(${this.subs.map((s) => s.describe()).join(", ")})`;
  }
}
