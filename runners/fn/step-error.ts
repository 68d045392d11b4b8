import { formatInstant } from "../../core/time/instant.ts";
import type { BoundedWindow } from "../../core/windows/window.ts";

/**
 * A failure inside a step while processing an element: names the step, the element's timestamp and window, and
 * keeps the original error as `cause`.
 */
export class StepError extends Error {
  constructor(
    readonly step: string,
    readonly timestamp: number | undefined,
    readonly window: BoundedWindow | undefined,
    cause: unknown,
    phase = "processing an element",
    /** The element being processed, when there is one (for logs: which message or event). */
    readonly element?: unknown,
  ) {
    const where =
      timestamp === undefined
        ? ""
        : ` at timestamp ${formatInstant(timestamp)}${window ? ` in window ${window.toString()}` : ""}`;
    const msg = cause instanceof Error ? cause.message : String(cause);
    super(`step "${step}" failed ${phase}${where}: ${msg}`, { cause });
    this.name = "StepError";
  }
}
