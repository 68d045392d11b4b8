import { PipelineBuildError } from "../core/errors.ts";
import type { KV } from "../core/kv.ts";
import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import type { PCollectionView, ViewId, ViewKind } from "../core/view.ts";
import { sideInputMappingProblem } from "../core/windows/window-mapping.ts";

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
      const view: PCollectionView<V> = {
        id: p.currentName() as ViewId,
        kind,
        pcollection: input.id,
        windowing: input.windowing,
        ...(defaultValue ? { defaultValue } : {}),
      };
      p.applyPrimitive(
        { kind: "createView", view: view as PCollectionView<unknown> },
        [input as PCollection<unknown>],
        {},
      );
      return view;
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
