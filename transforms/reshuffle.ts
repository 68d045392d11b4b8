import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import { parDo } from "./par-do.ts";

/**
 * A redistribution point: elements keep their values, timestamps, windows and panes. On a distributed runner it
 * breaks fusion and rebalances work; the in-process direct runner passes elements through unchanged.
 */
export function reshuffle<T>(name = "Reshuffle"): PTransform<PCollection<T>, PCollection<T>> {
  return parDo<T, T>(
    {
      process(element, ctx) {
        ctx.output(element);
      },
    },
    name,
  );
}
