import type { CombineFn } from "./combine-fn.ts";
import type { DoFn } from "./do-fn.ts";
import type { Source } from "./source.ts";
import type { StatefulDoFn, StateSpec, TimerSpec } from "./state.ts";
import type { AnyView } from "./view.ts";
import type { WindowingStrategy } from "./windowing-strategy.ts";

/**
 * The primitive transforms a runner executes. Every user transform expands into these.
 * - `read`: elements from a source;
 * - `parDo`: a DoFn, with a main output and tagged outputs;
 * - `windowInto`: assigns windows and sets the windowing strategy;
 * - `groupByKey`: groups KV elements per key and window, firing panes by the trigger;
 * - `combinePerKey`: a grouping whose values are combined eagerly by a CombineFn (the lifted combine);
 * - `statefulParDo`: a DoFn with per-key-and-window state and timers, on KV elements;
 * - `flatten`: merges several PCollections of one type;
 * - `createView`: materializes a PCollection as a side input.
 */
export type Primitive =
  | { readonly kind: "read"; readonly source: Source<unknown> }
  | {
      readonly kind: "parDo";
      readonly doFn: DoFn<unknown, unknown, Record<string, unknown>>;
      readonly mainTag: string;
      readonly tags: readonly string[];
      /** Side inputs the DoFn reads (it waits until each is ready for the element's window). */
      readonly sideInputs?: readonly AnyView[];
    }
  | { readonly kind: "createView"; readonly view: AnyView }
  | {
      readonly kind: "windowInto";
      readonly strategy: WindowingStrategy;
      /** Keep the elements' windows and only change the strategy (Beam's Window.remerge). */
      readonly keepWindows?: boolean;
    }
  | { readonly kind: "groupByKey" }
  | { readonly kind: "combinePerKey"; readonly combineFn: CombineFn<unknown, unknown, unknown> }
  | {
      readonly kind: "statefulParDo";
      readonly doFn: StatefulDoFn<unknown, unknown, unknown, Record<string, StateSpec>, Record<string, TimerSpec>>;
      readonly tags: readonly string[];
    }
  | { readonly kind: "flatten" };

export type PrimitiveKind = Primitive["kind"];

export type PCollectionId = string & { readonly __brand: "PCollectionId" };
export type TransformId = string & { readonly __brand: "TransformId" };

/** A node of the frozen graph: one applied transform, composite or primitive. */
export interface TransformNode {
  readonly id: TransformId;
  /** The unique, stable name: the path of names from the root, joined by "/". */
  readonly fullName: string;
  readonly primitive: Primitive | undefined;
  readonly inputs: readonly PCollectionId[];
  /** Output tag to PCollection. Primitives with one output use the tag "main". */
  readonly outputs: Readonly<Record<string, PCollectionId>>;
  readonly parent: TransformId | undefined;
  readonly children: TransformId[];
}

export interface PCollectionNode {
  readonly id: PCollectionId;
  readonly producer: TransformId;
  readonly windowing: WindowingStrategy;
  readonly bounded: boolean;
  readonly name: string;
}
