import { PipelineBuildError } from "../core/errors.ts";
import type { KV } from "../core/kv.ts";
import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import type { PCollectionView, ViewId, ViewKind } from "../core/view.ts";
import { sideInputMappingProblem } from "../core/windows/window-mapping.ts";
import { map } from "./element-wise.ts";
import { groupByKey } from "./group-by-key.ts";

const VIEW_KEY = "\u0000view";

/**
 * A view is materialized as Beam does it: the elements are grouped under one key with the side input's own
 * windowing and trigger, and each pane of that grouping becomes the view's contents for its window.
 */
function asView<T, V>(
  kind: ViewKind,
  name: string,
  defaultValue?: { value: unknown },
): PTransform<PCollection<T>, PCollectionView<V>> {
  return {
    name,
    expand: (input) => {
      const p = input.pipeline;
      const problem = sideInputMappingProblem(input.windowing.windowFn);
      if (problem) throw new PipelineBuildError(p.currentName(), problem);
      const w = input.windowing;
      if (!input.bounded && w.windowFn.kind === "global" && w.trigger.type === "default") {
        throw new PipelineBuildError(
          p.currentName(),
          "a side input of an unbounded PCollection in the global window needs a trigger (it would never be ready); " +
            'e.g. window(globalWindows(), { trigger: repeatedly(afterCount(1)), accumulation: "accumulating" })',
        );
      }
      const view: PCollectionView<V> = {
        id: p.currentName() as ViewId,
        kind,
        pcollection: input.id,
        windowing: input.windowing,
        ...(defaultValue ? { defaultValue } : {}),
      };
      const grouped = input
        .apply(map((v: T) => [VIEW_KEY, v] as KV<string, T>, "KeyForView"))
        .apply(groupByKey<string, T>(), "Materialize");
      return grouped.apply({
        name: "CreateView",
        expand: (g: PCollection<KV<string, T[]>>) => {
          p.applyPrimitive(
            { kind: "createView", view: view as PCollectionView<unknown> },
            [g as PCollection<unknown>],
            {},
          );
          return view;
        },
      });
    },
  };
}

/**
 * One value per window (the latest pane's; more than one element in a pane is an error when read). A window that
 * completes empty reads `defaultValue`, if given.
 */
export function asSingleton<T>(
  opts: { defaultValue?: T } = {},
  name = "AsSingleton",
): PTransform<PCollection<T>, PCollectionView<T>> {
  return asView<T, T>("singleton", name, "defaultValue" in opts ? { value: opts.defaultValue } : undefined);
}

/** All the elements of the window (of its latest pane, when the side input is triggered). */
export function asIterable<T>(name = "AsIterable"): PTransform<PCollection<T>, PCollectionView<Iterable<T>>> {
  return asView<T, Iterable<T>>("iterable", name);
}

export function asList<T>(name = "AsList"): PTransform<PCollection<T>, PCollectionView<readonly T[]>> {
  return asView<T, readonly T[]>("list", name);
}

/** A lookup table from key-value elements (a later value for a key replaces an earlier one). */
export function asMap<K, V>(name = "AsMap"): PTransform<PCollection<KV<K, V>>, PCollectionView<ReadonlyMap<K, V>>> {
  return asView<KV<K, V>, ReadonlyMap<K, V>>("map", name);
}

/** A lookup table from key-value elements, with every value of a key (Beam's View.asMultimap). */
export function asMultimap<K, V>(
  name = "AsMultimap",
): PTransform<PCollection<KV<K, V>>, PCollectionView<ReadonlyMap<K, readonly V[]>>> {
  return asView<KV<K, V>, ReadonlyMap<K, readonly V[]>>("multimap", name);
}
