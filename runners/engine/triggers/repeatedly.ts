import type { MergeParts, TriggerEnv, TriggerMachine, TriggerState } from "./machine.ts";
import { TriggerMachine as Base } from "./machine.ts";

/** Fires whenever its sub-trigger fires, restarting it; never finishes. */
export class RepeatedlyMachine extends Base {
  constructor(readonly repeated: TriggerMachine) {
    super([repeated]);
  }
  onElement(w: TriggerState, env: TriggerEnv): void {
    this.repeated.onElement(w, env);
  }
  onMerge(w: TriggerState, parts: MergeParts, env: TriggerEnv): void {
    this.repeated.onMerge(w, parts, env);
  }
  shouldFire(w: TriggerState, env: TriggerEnv): boolean {
    return this.repeated.shouldFire(w, env);
  }
  onFire(w: TriggerState, env: TriggerEnv): void {
    this.repeated.onFire(w, env);
    if (this.repeated.isFinished(w)) this.repeated.resetTree(w);
  }
  describe(): string {
    return `repeatedly(${this.repeated.describe()})`;
  }
}
