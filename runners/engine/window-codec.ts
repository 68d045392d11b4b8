import { type BoundedWindow, GlobalWindow, IntervalWindow } from "../../core/windows/window.ts";

/** A window as plain data (for checkpoints): the global window, or an interval's bounds. */
export type EncodedWindow = { readonly global: true } | { readonly start: number; readonly end: number };

/** Plain data for a window. Windows of other kinds (from `customWindows`) cannot be checkpointed yet. */
export function encodeWindow(w: BoundedWindow): EncodedWindow {
  if (w === GlobalWindow.INSTANCE) return { global: true };
  if (w instanceof IntervalWindow) return { start: w.start, end: w.end };
  throw new Error(`cannot checkpoint a window of type ${w.constructor.name} (${w.toString()})`);
}

export function decodeWindow(d: EncodedWindow): BoundedWindow {
  return "global" in d ? GlobalWindow.INSTANCE : new IntervalWindow(d.start, d.end);
}
