import type { Instant } from "../core/time/instant.ts";
import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import { parDo } from "./par-do.ts";

/** One output per element. */
export function map<I, O>(fn: (value: I) => O, name = "Map"): PTransform<PCollection<I>, PCollection<O>> {
  return parDo<I, O>(
    {
      process(element, ctx) {
        ctx.output(fn(element));
      },
    },
    name,
  );
}

/** Zero or more outputs per element. */
export function flatMap<I, O>(
  fn: (value: I) => Iterable<O>,
  name = "FlatMap",
): PTransform<PCollection<I>, PCollection<O>> {
  return parDo<I, O>(
    {
      process(element, ctx) {
        for (const o of fn(element)) ctx.output(o);
      },
    },
    name,
  );
}

/** Keeps the elements for which the predicate holds. A type guard narrows the element type. */
export function filter<I, S extends I>(
  pred: (value: I) => value is S,
  name?: string,
): PTransform<PCollection<I>, PCollection<S>>;
export function filter<I>(pred: (value: I) => boolean, name?: string): PTransform<PCollection<I>, PCollection<I>>;
export function filter<I>(pred: (value: I) => boolean, name = "Filter"): PTransform<PCollection<I>, PCollection<I>> {
  return parDo<I, I>(
    {
      process(element, ctx) {
        if (pred(element)) ctx.output(element);
      },
    },
    name,
  );
}

/**
 * Sets each element's event time from the element itself (e.g. the event's own time field). Moving a timestamp
 * backwards is what this transform is for, so by default any skew is allowed; pass `allowedSkewMs` to bound it.
 * A function returning a non-integer or out-of-range time fails the run, naming the element's position.
 */
export function withTimestamps<T>(
  fn: (value: T) => Instant,
  opts: { allowedSkewMs?: number; name?: string } = {},
): PTransform<PCollection<T>, PCollection<T>> {
  return parDo<T, T>(
    {
      allowedTimestampSkewMs: opts.allowedSkewMs ?? Number.POSITIVE_INFINITY,
      process(element, ctx) {
        ctx.outputWithTimestamp(element, fn(element));
      },
    },
    opts.name ?? "WithTimestamps",
  );
}

/** Pairs each element with a key computed from it. */
export function withKeys<K, V>(
  fn: (value: V) => K,
  name = "WithKeys",
): PTransform<PCollection<V>, PCollection<readonly [K, V]>> {
  return map((v: V) => [fn(v), v] as const, name);
}
