import { PipelineBuildError } from "../core/errors.ts";
import type { KV } from "../core/kv.ts";
import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import type { StatefulDoFn, StateSpec, TimerSpec } from "../core/state.ts";
import { isMerging } from "../core/windows/window-fn.ts";
import type { ParDoOutputs } from "./par-do.ts";

type AnyStateful = StatefulDoFn<unknown, unknown, unknown, Record<string, StateSpec>, Record<string, TimerSpec>>;

/** A stateful ParDo; `withOutputs` exposes its tagged outputs too. */
export interface StatefulParDo<K, V, O, Tags extends object> extends PTransform<PCollection<KV<K, V>>, PCollection<O>> {
  withOutputs<const Ks extends keyof Tags & string>(
    ...tags: Ks[]
  ): PTransform<PCollection<KV<K, V>>, ParDoOutputs<O, Pick<Tags, Ks>>>;
}

function expand<K, V>(
  input: PCollection<KV<K, V>>,
  fn: AnyStateful,
  tags: readonly string[],
): Record<string, PCollection<unknown>> {
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
    if (!["value", "bag", "combining", "map", "orderedList", "set", "multimap"].includes((spec as StateSpec).kind)) {
      throw new PipelineBuildError(p.currentName(), `state "${cell}" has an unknown kind`);
    }
  }
  if (tags.includes("main") || new Set(tags).size !== tags.length) {
    throw new PipelineBuildError(
      p.currentName(),
      `output tags must be distinct and not "main", got ${tags.join(", ")}`,
    );
  }
  const outputs: Record<string, { windowing: typeof input.windowing; bounded: boolean }> = {
    main: { windowing: input.windowing, bounded: input.bounded },
  };
  for (const t of tags) outputs[t] = { windowing: input.windowing, bounded: input.bounded };
  return p.applyPrimitive({ kind: "statefulParDo", doFn: fn, tags }, [input as PCollection<unknown>], outputs);
}

/**
 * Applies a stateful DoFn to key-value elements: state and timers are per key and window (Beam's stateful ParDo).
 * Checked when the pipeline is built: every declared timer has an `onTimer` handler of the same name, and the
 * windows do not merge.
 */
export function statefulParDo<
  K,
  V,
  O,
  S extends Record<string, StateSpec> = Record<never, never>,
  T extends Record<string, TimerSpec> = Record<never, never>,
  // biome-ignore lint/complexity/noBannedTypes: the empty record is the natural "no extra outputs".
  Tags extends object = {},
>(fn: StatefulDoFn<K, V, O, S, T, Tags>, name = "StatefulParDo"): StatefulParDo<K, V, O, Tags> {
  const anyFn = fn as unknown as AnyStateful;
  return {
    name,
    expand: (input) => expand(input, anyFn, []).main as PCollection<O>,
    withOutputs<const Ks extends keyof Tags & string>(...tags: Ks[]) {
      return {
        name,
        expand: (input: PCollection<KV<K, V>>) =>
          expand(input, anyFn, tags) as unknown as ParDoOutputs<O, Pick<Tags, Ks>>,
      };
    },
  };
}
