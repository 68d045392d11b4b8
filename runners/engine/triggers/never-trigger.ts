import { type MergeParts, OnceTriggerMachine, type TriggerEnv, type TriggerState } from "./machine.ts";

/** Never fires; the window's data comes out only in its expiry pane. */
export class NeverTriggerMachine extends OnceTriggerMachine {
  onElement(): void {}
  onMerge(_w: TriggerState, _parts: MergeParts, _env: TriggerEnv): void {}
  shouldFire(): boolean {
    return false;
  }
  describe(): string {
    return "never()";
  }
}
