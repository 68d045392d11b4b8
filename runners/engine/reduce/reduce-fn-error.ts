import type { BoundedWindow } from "../../../core/windows/window.ts";

/**
 * A user CombineFn (or the buffering reduce) failed inside the grouping machine. Carries the window and the time
 * involved so the runner can report the step, the element's timestamp and window, and the original error.
 */
export class ReduceFnError extends Error {
  constructor(
    readonly window: BoundedWindow,
    readonly timestamp: number,
    readonly phase: string,
    cause: unknown,
  ) {
    super(`${phase}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "ReduceFnError";
  }
}
