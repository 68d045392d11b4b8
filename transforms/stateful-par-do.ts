import { PipelineBuildError } from "../core/errors.ts";
import type { KV } from "../core/kv.ts";
import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import type { StatefulDoFn, StateSpec, TimerSpec } from "../core/state.ts";
import { isMerging } from "../core/windows/window-fn.ts";

/**
 * Applies a stateful DoFn to key-value elements: state and timers are per key and window (Beam's stateful ParDo).
 * Every declared timer needs an `onTimer` handler of the same name; that is checked when the pipeline is built.
 */
export function statefulParDo<
  K,
  V,
  O,
  S extends Record<string, StateSpec> = Record<never, never>,
  T extends Record<string, TimerSpec> = Record<never, never>,
>(fn: StatefulDoFn<K, V, O, S, T>, name = "StatefulParDo"): PTransform<PCollection<KV<K, V>>, PCollection<O>> {
  return {
    name,
    expand: (input) => {
      const p = input.pipeline;
      if (isMerging(input.windowing.windowFn)) {
        throw new PipelineBuildError(
          p.currentName(),
          "a stateful DoFn cannot run on merging windows (sessions): state is per window and merging windows change " +
            "under it; group first (its output windows do not merge), or keep session state yourself in the global window",
        );
      }
      for (const timer of Object.keys(fn.timers ?? {})) {
        if (typeof fn.onTimer?.[timer] !== "function") {
          throw new PipelineBuildError(p.currentName(), `timer "${timer}" has no onTimer.${timer} handler`);
        }
      }
      for (const [cell, spec] of Object.entries(fn.state ?? {})) {
        if (
          !["value", "bag", "combining", "map", "orderedList", "set", "multimap"].includes((spec as StateSpec).kind)
        ) {
          throw new PipelineBuildError(p.currentName(), `state "${cell}" has an unknown kind`);
        }
      }
      const out = p.applyPrimitive(
        {
          kind: "statefulParDo",
          doFn: fn as unknown as StatefulDoFn<
            unknown,
            unknown,
            unknown,
            Record<string, StateSpec>,
            Record<string, TimerSpec>
          >,
        },
        [input as PCollection<unknown>],
        { main: { windowing: input.windowing, bounded: input.bounded } },
      );
      return out.main as PCollection<O>;
    },
  };
}
