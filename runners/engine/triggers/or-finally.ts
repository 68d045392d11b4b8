import { type MergeParts, type TriggerEnv, TriggerMachine, type TriggerState } from "./machine.ts";

/** Fires whenever `main` fires; finishes when `until` fires (firing one last time) or `main` finishes. */
export class OrFinallyMachine extends TriggerMachine {
  constructor(
    readonly main: TriggerMachine,
    readonly until: TriggerMachine,
  ) {
    super([main, until]);
  }
  onElement(w: TriggerState, env: TriggerEnv): void {
    this.main.onElement(w, env);
    this.until.onElement(w, env);
  }
  onMerge(w: TriggerState, parts: MergeParts, env: TriggerEnv): void {
    this.main.onMerge(w, parts, env);
    this.until.onMerge(w, parts, env);
    this.setFinished(w, this.main.isFinished(w) || this.until.isFinished(w));
  }
  shouldFire(w: TriggerState, env: TriggerEnv): boolean {
    return this.main.shouldFire(w, env) || this.until.shouldFire(w, env);
  }
  onFire(w: TriggerState, env: TriggerEnv): void {
    if (this.until.shouldFire(w, env)) {
      this.until.onFire(w, env);
      this.main.clear(w);
    } else {
      // `until` keeps its state across firings of `main`.
      this.main.onFire(w, env);
    }
    this.setFinished(w, this.main.isFinished(w) || this.until.isFinished(w));
  }
  describe(): string {
    return `orFinally(${this.main.describe()}, ${this.until.describe()})`;
  }
}
