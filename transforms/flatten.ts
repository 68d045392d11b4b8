import { PipelineBuildError } from "../core/errors.ts";
import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import { canonicalJson } from "../core/kv.ts";

/** Merges PCollections of one element type and compatible windowing into one. */
export function flatten<T>(name = "Flatten"): PTransform<readonly PCollection<T>[], PCollection<T>> {
  return {
    name,
    expand: (inputs) => {
      const first = inputs[0];
      if (!first) throw new PipelineBuildError(name, "flatten needs at least one PCollection");
      const p = first.pipeline;
      const fn0 = canonicalJson(first.windowing.windowFn);
      for (const i of inputs) {
        if (canonicalJson(i.windowing.windowFn) !== fn0) {
          throw new PipelineBuildError(
            p.currentName(),
            "flattened PCollections must have the same window function; window them alike first",
          );
        }
      }
      const out = p.applyPrimitive({ kind: "flatten" }, inputs as readonly PCollection<unknown>[], {
        main: { windowing: first.windowing, bounded: inputs.every((i) => i.bounded) },
      });
      return out.main as PCollection<T>;
    },
  };
}

/** Flattens a list of PCollections: `flattenAll([a, b])`. */
export function flattenAll<T>(inputs: readonly PCollection<T>[], name = "Flatten"): PCollection<T> {
  const first = inputs[0];
  if (!first) throw new PipelineBuildError(name, "flatten needs at least one PCollection");
  return first.pipeline.applyTransform(flatten<T>(name), inputs);
}
