import type { Duration } from "./time/duration.ts";
import { defaultTrigger, type Trigger } from "./triggers/trigger.ts";
import { globalWindows, type WindowFn } from "./windows/window-fn.ts";

/** discarding: a pane holds only what arrived since the previous pane; accumulating: everything so far. */
export type AccumulationMode = "discarding" | "accumulating";

/** Which timestamp a pane gets: the window's max timestamp, or the earliest/latest of its held elements. */
export type TimestampCombiner = "endOfWindow" | "earliest" | "latest";

/** Whether the final pane at window expiry is emitted when it has no new data (Beam's ClosingBehavior). */
export type ClosingBehavior = "fireIfNonEmpty" | "fireAlways";
/** Whether the on-time pane is emitted when it has no new data (Beam's OnTimeBehavior). */
export type OnTimeBehavior = "fireAlways" | "fireIfNonEmpty";

/** Everything that decides how a PCollection's elements are grouped in event time and when panes fire. */
export interface WindowingStrategy {
  readonly windowFn: WindowFn;
  readonly trigger: Trigger;
  readonly accumulation: AccumulationMode;
  readonly allowedLatenessMs: Duration;
  readonly timestampCombiner: TimestampCombiner;
  readonly closingBehavior: ClosingBehavior;
  readonly onTimeBehavior: OnTimeBehavior;
}

export const DEFAULT_WINDOWING: WindowingStrategy = Object.freeze({
  windowFn: globalWindows(),
  trigger: defaultTrigger(),
  accumulation: "discarding",
  allowedLatenessMs: 0,
  timestampCombiner: "endOfWindow",
  closingBehavior: "fireIfNonEmpty",
  onTimeBehavior: "fireAlways",
});
