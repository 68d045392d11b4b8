import { endOfWindowReached, type MergeParts, type TriggerEnv, TriggerMachine, type TriggerState } from "./machine.ts";

/** Fires whenever the watermark is past the end of the window: on time, then for every late bundle. Never finishes. */
export class DefaultTriggerMachine extends TriggerMachine {
  onElement(_w: TriggerState, env: TriggerEnv): void {
    if (!endOfWindowReached(env)) env.setEndOfWindowTimer();
  }
  onMerge(_w: TriggerState, _parts: MergeParts, env: TriggerEnv): void {
    if (!endOfWindowReached(env)) env.setEndOfWindowTimer();
  }
  shouldFire(_w: TriggerState, env: TriggerEnv): boolean {
    return endOfWindowReached(env);
  }
  onFire(): void {}
  describe(): string {
    return "default()";
  }
}
