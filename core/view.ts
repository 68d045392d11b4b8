import type { PCollectionId } from "./primitives.ts";
import type { WindowingStrategy } from "./windowing-strategy.ts";

/** How a side input presents a PCollection's contents in one window. */
export type ViewKind = "singleton" | "iterable" | "list" | "map" | "multimap";

export type ViewId = string & { readonly __brand: "ViewId" };

/**
 * A PCollection seen as a side input (Beam's PCollectionView): for each main-input window, the contents of the
 * matching side-input window, as one value, an iterable, a list or a map.
 */
export interface PCollectionView<T> {
  readonly id: ViewId;
  readonly kind: ViewKind;
  readonly pcollection: PCollectionId;
  readonly windowing: WindowingStrategy;
  /** For singletons: the value of a window that is complete but empty (otherwise reading it is an error). */
  readonly defaultValue?: { readonly value: unknown };
  /** Type-level only. */
  readonly __viewType?: T;
}

export type AnyView = PCollectionView<unknown>;
