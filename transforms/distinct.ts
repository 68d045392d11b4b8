import { canonicalJson, type KV } from "../core/kv.ts";
import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import { combinePerKey } from "./combine.ts";
import { map } from "./element-wise.ts";

/**
 * The distinct elements of each window (compared by value). With a trigger that fires more than once per window,
 * each pane holds the distinct elements of that pane.
 */
export function distinct<T>(name = "Distinct"): PTransform<PCollection<T>, PCollection<T>> {
  return {
    name,
    expand: (input) =>
      input
        .apply(map((v: T) => [canonicalJson(v), v] as KV<string, T>, "KeyByValue"))
        .apply(
          combinePerKey<string, T, { v: T | undefined }, T>(
            {
              createAccumulator: () => ({ v: undefined }),
              addInput: (a, v) => (a.v === undefined ? { v } : a),
              mergeAccumulators: (as) => as.find((a) => a.v !== undefined) ?? { v: undefined },
              extractOutput: (a) => a.v as T,
            },
            "First",
          ),
        )
        .apply(map((kv: KV<string, T>) => kv[1], "Values")),
  };
}
