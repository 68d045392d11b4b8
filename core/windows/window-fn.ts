import type { Duration } from "../time/duration.ts";
import { assertNever } from "../util/assert-never.ts";
import type { Instant } from "../time/instant.ts";
import { type BoundedWindow, GLOBAL_WINDOW, IntervalWindow } from "./window.ts";

/**
 * A user-defined window function: `assign` gives the windows of an element; a merging one also says how the
 * active windows of one key merge (`merge` returns groups of windows to be replaced by one result window).
 */
export interface CustomWindowFn {
  readonly name: string;
  assign(timestamp: Instant): readonly BoundedWindow[];
  /** Present only for merging window functions. */
  merge?(
    windows: readonly BoundedWindow[],
  ): readonly { readonly from: readonly BoundedWindow[]; readonly into: BoundedWindow }[];
}

/**
 * The user's window function, as data. The tags match the conformance transcript format (`windowing.kind`).
 * `merged` marks the output of a grouping over a merging window function: elements keep the windows they have.
 */
export type WindowFn =
  | { readonly kind: "global" }
  | { readonly kind: "fixed"; readonly sizeMs: Duration; readonly offsetMs: Duration }
  | { readonly kind: "sliding"; readonly sizeMs: Duration; readonly periodMs: Duration; readonly offsetMs: Duration }
  | { readonly kind: "sessions"; readonly gapMs: Duration }
  | { readonly kind: "merged"; readonly from: WindowFn }
  | { readonly kind: "custom"; readonly fn: CustomWindowFn };

export const globalWindows = (): WindowFn => ({ kind: "global" });
export const fixed = (sizeMs: Duration, offsetMs: Duration = 0): WindowFn => ({ kind: "fixed", sizeMs, offsetMs });
export const sliding = (sizeMs: Duration, periodMs: Duration, offsetMs: Duration = 0): WindowFn => ({
  kind: "sliding",
  sizeMs,
  periodMs,
  offsetMs,
});
export const sessions = (gapMs: Duration): WindowFn => ({ kind: "sessions", gapMs });
export const customWindows = (fn: CustomWindowFn): WindowFn => ({ kind: "custom", fn });

/** Whether windows of this function merge (sessions, or a custom function with `merge`). */
export function isMerging(fn: WindowFn): boolean {
  switch (fn.kind) {
    case "sessions":
      return true;
    case "custom":
      return fn.fn.merge !== undefined;
    case "global":
    case "fixed":
    case "sliding":
    case "merged":
      return false;
    default:
      return assertNever(fn);
  }
}

/** Returns a description of what is wrong with the window function, or undefined when it is valid. */
export function windowFnProblem(fn: WindowFn): string | undefined {
  const positiveInt = (v: number) => Number.isInteger(v) && v > 0;
  switch (fn.kind) {
    case "global":
    case "merged":
    case "custom":
      return undefined;
    case "fixed":
      if (!positiveInt(fn.sizeMs)) return `fixed window size must be a positive whole number of ms, got ${fn.sizeMs}`;
      if (!Number.isInteger(fn.offsetMs)) return `fixed window offset must be a whole number of ms, got ${fn.offsetMs}`;
      return undefined;
    case "sliding":
      if (!positiveInt(fn.sizeMs)) return `sliding window size must be a positive whole number of ms, got ${fn.sizeMs}`;
      if (!positiveInt(fn.periodMs))
        return `sliding window period must be a positive whole number of ms, got ${fn.periodMs}`;
      if (!Number.isInteger(fn.offsetMs))
        return `sliding window offset must be a whole number of ms, got ${fn.offsetMs}`;
      return undefined;
    case "sessions":
      if (!positiveInt(fn.gapMs)) return `session gap must be a positive whole number of ms, got ${fn.gapMs}`;
      return undefined;
    default:
      return assertNever(fn);
  }
}

const floorMod = (a: number, n: number): number => ((a % n) + n) % n;

/**
 * The windows an element at `t` belongs to.
 * - fixed: `start = t - floorMod(t - offset, size)`;
 * - sliding: starts `lastStart, lastStart - period, ...` while `start > t - size`, `lastStart = t - floorMod(t - offset, period)`;
 * - sessions: the proto-session `[t, t + gap)`, merged later by the grouping.
 */
export function assignWindows(fn: WindowFn, t: Instant, current: readonly BoundedWindow[]): readonly BoundedWindow[] {
  switch (fn.kind) {
    case "global":
      return GLOBAL_WINDOWS;
    case "fixed": {
      const start = t - floorMod(t - fn.offsetMs, fn.sizeMs);
      return [new IntervalWindow(start, start + fn.sizeMs)];
    }
    case "sliding": {
      const out: BoundedWindow[] = [];
      const lastStart = t - floorMod(t - fn.offsetMs, fn.periodMs);
      for (let s = lastStart; s > t - fn.sizeMs; s -= fn.periodMs) out.push(new IntervalWindow(s, s + fn.sizeMs));
      return out;
    }
    case "sessions":
      return [new IntervalWindow(t, t + fn.gapMs)];
    case "merged":
      return current;
    case "custom":
      return fn.fn.assign(t);
    default:
      return assertNever(fn);
  }
}

export const GLOBAL_WINDOWS: readonly BoundedWindow[] = Object.freeze([GLOBAL_WINDOW]);

export function describeWindowFn(fn: WindowFn): string {
  switch (fn.kind) {
    case "global":
      return "global()";
    case "fixed":
      return `fixed(${fn.sizeMs}ms${fn.offsetMs ? `, offset ${fn.offsetMs}ms` : ""})`;
    case "sliding":
      return `sliding(${fn.sizeMs}ms every ${fn.periodMs}ms${fn.offsetMs ? `, offset ${fn.offsetMs}ms` : ""})`;
    case "sessions":
      return `sessions(gap ${fn.gapMs}ms)`;
    case "merged":
      return `merged(${describeWindowFn(fn.from)})`;
    case "custom":
      return `custom(${fn.fn.name})`;
    default:
      return assertNever(fn);
  }
}
