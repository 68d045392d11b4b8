import { PipelineBuildError } from "../core/errors.ts";
import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import type { Duration } from "../core/time/duration.ts";
import { type Trigger, triggerProblems } from "../core/triggers/trigger.ts";
import type { AccumulationMode, TimestampCombiner, WindowingStrategy } from "../core/windowing-strategy.ts";
import { type WindowFn, windowFnProblem } from "../core/windows/window-fn.ts";

export interface WindowOptions {
  readonly trigger?: Trigger;
  readonly allowedLatenessMs?: Duration;
  readonly accumulation?: AccumulationMode;
  readonly timestampCombiner?: TimestampCombiner;
  readonly closingBehavior?: WindowingStrategy["closingBehavior"];
  readonly onTimeBehavior?: WindowingStrategy["onTimeBehavior"];
}

/** Checks a windowing strategy; throws a `PipelineBuildError` naming the transform and every problem. */
export function validateWindowing(transform: string, s: WindowingStrategy): void {
  const problems: string[] = [];
  const wp = windowFnProblem(s.windowFn);
  if (wp) problems.push(wp);
  problems.push(...triggerProblems(s.trigger));
  if (!Number.isInteger(s.allowedLatenessMs) || s.allowedLatenessMs < 0) {
    problems.push(`allowed lateness must be a whole number of ms, 0 or more, got ${s.allowedLatenessMs}`);
  }
  if (problems.length > 0) throw new PipelineBuildError(transform, problems.join("; "));
}

/**
 * Assigns elements to windows and sets how panes fire. Options not given keep the input's settings (Beam's
 * Window.into): e.g. `window(sessions(minutes(30)), { trigger: afterWatermark({ early: afterCount(10) }) })`.
 */
export function window<T>(
  windowFn: WindowFn,
  opts: WindowOptions = {},
  name = "Window",
): PTransform<PCollection<T>, PCollection<T>> {
  return {
    name,
    expand: (input) => {
      const prev = input.windowing;
      const strategy: WindowingStrategy = {
        windowFn,
        trigger: opts.trigger ?? prev.trigger,
        accumulation: opts.accumulation ?? prev.accumulation,
        allowedLatenessMs: opts.allowedLatenessMs ?? prev.allowedLatenessMs,
        timestampCombiner: opts.timestampCombiner ?? prev.timestampCombiner,
        closingBehavior: opts.closingBehavior ?? prev.closingBehavior,
        onTimeBehavior: opts.onTimeBehavior ?? prev.onTimeBehavior,
      };
      validateWindowing(input.pipeline.currentName(), strategy);
      const out = input.pipeline.applyPrimitive({ kind: "windowInto", strategy }, [input as PCollection<unknown>], {
        main: { windowing: strategy, bounded: input.bounded },
      });
      return out.main as PCollection<T>;
    },
  };
}

/**
 * Keeps each element's (already merged) window but makes the next grouping merge windows again with the original
 * merging window function (Beam's Window.remerge): e.g. sessions grouped per user, re-keyed, then merged again.
 * To put elements in new windows instead, apply `window(...)` after the grouping: it reassigns by timestamp.
 */
export function remerge<T>(name = "Remerge"): PTransform<PCollection<T>, PCollection<T>> {
  return {
    name,
    expand: (input) => {
      const fn = input.windowing.windowFn;
      const strategy: WindowingStrategy = { ...input.windowing, windowFn: fn.kind === "merged" ? fn.from : fn };
      const out = input.pipeline.applyPrimitive(
        { kind: "windowInto", strategy, keepWindows: true },
        [input as PCollection<unknown>],
        {
          main: { windowing: strategy, bounded: input.bounded },
        },
      );
      return out.main as PCollection<T>;
    },
  };
}
