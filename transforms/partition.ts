import { PipelineBuildError } from "../core/errors.ts";
import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import { parDo } from "./par-do.ts";

/**
 * Splits a PCollection into `n` by a function giving each element's partition index. An index outside `[0, n)`
 * fails the run with the index and the element.
 */
export function partition<T>(
  n: number,
  fn: (value: T, n: number) => number,
  name = "Partition",
): PTransform<PCollection<T>, PCollection<T>[]> {
  return {
    name,
    expand: (input) => {
      if (!Number.isInteger(n) || n < 1) {
        throw new PipelineBuildError(
          input.pipeline.currentName(),
          `partition count must be a whole number of at least 1, got ${n}`,
        );
      }
      const tags = Array.from({ length: n }, (_, i) => `p${i}`);
      const outs = input.apply(
        parDo<T, never, Record<string, T>>({
          process(element, ctx) {
            const i = fn(element, n);
            if (!Number.isInteger(i) || i < 0 || i >= n) {
              throw new RangeError(`partition function returned ${i}, expected a whole number in [0, ${n})`);
            }
            ctx.outputTo(`p${i}`, element);
          },
        }).withOutputs(...tags),
      );
      return tags.map((t) => (outs as unknown as Record<string, PCollection<T>>)[t] as PCollection<T>);
    },
  };
}
