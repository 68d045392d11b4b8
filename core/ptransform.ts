import type { Pipeline } from "./pipeline.ts";
import type { PCollection } from "./pcollection.ts";

/** The input of a root transform (a read). */
export interface PBegin {
  readonly kind: "begin";
  readonly pipeline: Pipeline;
}

/** The output of a transform that writes and produces nothing to consume. */
export interface PDone {
  readonly kind: "done";
  readonly pipeline: Pipeline;
}

/**
 * A step of a pipeline, from an input to an output. Composite transforms expand into others by applying them to
 * their input; primitives are created with `Pipeline.applyPrimitive`. `expand` is a function-typed property so that
 * the input type is checked contravariantly: a transform on `PCollection<KV<K, V>>` does not accept `PCollection<string>`.
 */
export interface PTransform<I, O> {
  readonly name: string;
  readonly expand: (input: I) => O;
}

/** Makes a composite transform from a name and an expansion. */
export function ptransform<I, O>(name: string, expand: (input: I) => O): PTransform<I, O> {
  return { name, expand };
}

export type AnyPCollection = PCollection<unknown>;
