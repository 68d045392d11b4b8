import type { Pipeline } from "./pipeline.ts";
import type { PCollectionId } from "./primitives.ts";
import type { PTransform } from "./ptransform.ts";
import type { WindowingStrategy } from "./windowing-strategy.ts";

/**
 * A typed handle on a collection of elements in the pipeline graph. `T` is the element type and flows through every
 * transform; timestamps, windows and panes are not part of `T` (a DoFn reads them from its context).
 */
export interface PCollection<T> {
  readonly id: PCollectionId;
  readonly pipeline: Pipeline;
  readonly windowing: WindowingStrategy;
  readonly bounded: boolean;
  /** Applies a transform. `name` overrides the transform's own name; a name used twice at one level is an error. */
  apply<O>(transform: PTransform<PCollection<T>, O>, name?: string): O;
  /** Type-level only: makes `PCollection<T>` covariant in `T`. Never present at run time. */
  readonly __elementType?: T;
}
