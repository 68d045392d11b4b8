import { type MergeParts, type TriggerEnv, TriggerMachine, type TriggerState } from "./machine.ts";

/** Fires when any sub-trigger fires, then finishes (Beam's AfterFirst). */
export class AfterAnyMachine extends TriggerMachine {
  onElement(w: TriggerState, env: TriggerEnv): void {
    for (const s of this.subs) s.onElement(w, env);
  }
  onMerge(w: TriggerState, parts: MergeParts, env: TriggerEnv): void {
    for (const s of this.subs) s.onMerge(w, parts, env);
    let any = false;
    for (const s of this.subs) any = any || s.isFinished(w);
    this.setFinished(w, any);
  }
  shouldFire(w: TriggerState, env: TriggerEnv): boolean {
    for (const s of this.subs) if (s.isFinished(w) || s.shouldFire(w, env)) return true;
    return false;
  }
  onFire(w: TriggerState, env: TriggerEnv): void {
    for (const s of this.subs) {
      if (s.shouldFire(w, env)) s.onFire(w, env);
      else s.clear(w);
    }
    this.setFinished(w, true);
  }
  describe(): string {
    return `afterAny(${this.subs.map((s) => s.describe()).join(", ")})`;
  }
}
