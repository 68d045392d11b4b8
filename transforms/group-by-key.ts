import type { CombineFn } from "../core/combine-fn.ts";
import { PipelineBuildError } from "../core/errors.ts";
import type { KV } from "../core/kv.ts";
import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import { continuationTrigger } from "../core/triggers/trigger.ts";
import type { WindowingStrategy } from "../core/windowing-strategy.ts";
import { isMerging } from "../core/windows/window-fn.ts";

/**
 * The windowing of a grouping's output: merged windows stay as they are (a later grouping does not re-merge them),
 * and the trigger becomes its continuation.
 */
export function groupedWindowing(input: WindowingStrategy): WindowingStrategy {
  return {
    ...input,
    windowFn: isMerging(input.windowFn) ? { kind: "merged", from: input.windowFn } : input.windowFn,
    trigger: continuationTrigger(input.trigger),
  };
}

/** Refuses a grouping that could never emit: an unbounded input in the global window with the default trigger. */
export function checkGroupable(transform: string, input: PCollection<unknown>): void {
  const w = input.windowing;
  if (!input.bounded && w.windowFn.kind === "global" && w.trigger.type === "default") {
    throw new PipelineBuildError(
      transform,
      "grouping an unbounded PCollection in the global window with the default trigger would never emit; " +
        "set a window function (fixed, sliding, sessions) or a trigger with window(...) first",
    );
  }
}

/** Groups values by key and window; each pane emits a key with the values of that pane. */
export function groupByKey<K, V>(name = "GroupByKey"): PTransform<PCollection<KV<K, V>>, PCollection<KV<K, V[]>>> {
  return {
    name,
    expand: (input) => {
      const p = input.pipeline;
      checkGroupable(p.currentName(), input as PCollection<unknown>);
      const out = p.applyPrimitive({ kind: "groupByKey" }, [input as PCollection<unknown>], {
        main: { windowing: groupedWindowing(input.windowing), bounded: input.bounded },
      });
      return out.main as PCollection<KV<K, V[]>>;
    },
  };
}

/** A grouping whose values are combined as they arrive (the combine is lifted before the shuffle). */
export function combinePerKeyPrimitive<K, V, A, O>(
  combineFn: CombineFn<V, A, O>,
  name: string,
): PTransform<PCollection<KV<K, V>>, PCollection<KV<K, O>>> {
  return {
    name,
    expand: (input) => {
      const p = input.pipeline;
      checkGroupable(p.currentName(), input as PCollection<unknown>);
      for (const m of ["createAccumulator", "addInput", "mergeAccumulators", "extractOutput"] as const) {
        if (typeof combineFn[m] !== "function") {
          throw new PipelineBuildError(p.currentName(), `the CombineFn has no ${m} method`);
        }
      }
      const out = p.applyPrimitive(
        { kind: "combinePerKey", combineFn: combineFn as CombineFn<unknown, unknown, unknown> },
        [input as PCollection<unknown>],
        { main: { windowing: groupedWindowing(input.windowing), bounded: input.bounded } },
      );
      return out.main as PCollection<KV<K, O>>;
    },
  };
}
