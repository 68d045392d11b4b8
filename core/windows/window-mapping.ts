import { assertNever } from "../util/assert-never.ts";
import { assignWindows, type WindowFn } from "./window-fn.ts";
import { type BoundedWindow, GLOBAL_WINDOW, type IntervalWindow } from "./window.ts";

/**
 * The side-input window a main-input window reads (Beam's default WindowMappingFn): the global window for a global
 * side input; otherwise the side input's window that holds the main window's max timestamp (for sliding windows,
 * the earliest such window). Merging window functions cannot be side inputs; `sideInputMappingProblem` says so.
 */
export function sideInputWindow(sideFn: WindowFn, mainWindow: BoundedWindow): BoundedWindow {
  const t = mainWindow.maxTimestamp;
  switch (sideFn.kind) {
    case "global":
      return GLOBAL_WINDOW;
    case "fixed":
    case "custom":
      return assignWindows(sideFn, t, []).at(0) ?? GLOBAL_WINDOW;
    case "sliding": {
      let earliest: BoundedWindow | undefined;
      for (const w of assignWindows(sideFn, t, [])) {
        if (earliest === undefined || (w as IntervalWindow).start < (earliest as IntervalWindow).start) earliest = w;
      }
      return earliest ?? GLOBAL_WINDOW;
    }
    case "sessions":
    case "merged":
      throw new Error(`a ${sideFn.kind} side input has no window mapping`);
    default:
      return assertNever(sideFn);
  }
}

/** Why a window function cannot be a side input's, or undefined when it can. */
export function sideInputMappingProblem(sideFn: WindowFn): string | undefined {
  if (sideFn.kind === "sessions" || sideFn.kind === "merged") {
    return "session windows cannot be a side input (a main window has no session to map to); window the side input into fixed, sliding or global windows";
  }
  if (sideFn.kind === "custom" && sideFn.fn.merge !== undefined) {
    return `the merging window function ${sideFn.fn.name} cannot be a side input`;
  }
  return undefined;
}
