import type { CombineFn } from "../core/combine-fn.ts";
import type { KV } from "../core/kv.ts";
import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import type { Instant } from "../core/time/instant.ts";
import { map } from "./element-wise.ts";
import { combinePerKeyPrimitive } from "./group-by-key.ts";
import { parDo } from "./par-do.ts";

/** Combines the values of each key and window with a CombineFn; the runner combines eagerly, never buffering values. */
export function combinePerKey<K, V, A, O>(
  fn: CombineFn<V, A, O>,
  name = "CombinePerKey",
): PTransform<PCollection<KV<K, V>>, PCollection<KV<K, O>>> {
  return combinePerKeyPrimitive<K, V, A, O>(fn, name);
}

/** Combines all the elements of each window into one value per pane. */
export function combineGlobally<V, A, O>(
  fn: CombineFn<V, A, O>,
  name = "CombineGlobally",
): PTransform<PCollection<V>, PCollection<O>> {
  return {
    name,
    expand: (input) =>
      input
        .apply(map((v: V) => [null, v] as KV<null, V>, "KeyByNull"))
        .apply(combinePerKey<null, V, A, O>(fn))
        .apply(map((kv: KV<null, O>) => kv[1], "DropKey")),
  };
}

/** A pair of transforms for one CombineFn: over all elements of a window, or per key. */
export interface Combiner<V, O> {
  globally(name?: string): PTransform<PCollection<V>, PCollection<O>>;
  perKey<K>(name?: string): PTransform<PCollection<KV<K, V>>, PCollection<KV<K, O>>>;
  readonly fn: CombineFn<V, unknown, O>;
}

function combiner<V, A, O>(label: string, fn: CombineFn<V, A, O>): Combiner<V, O> {
  return {
    fn: fn as CombineFn<V, unknown, O>,
    globally: (name = `${label}.Globally`) => combineGlobally(fn, name),
    perKey: <K>(name = `${label}.PerKey`) => combinePerKey<K, V, A, O>(fn, name),
  };
}

export const countFn: CombineFn<unknown, number, number> = {
  createAccumulator: () => 0,
  addInput: (a) => a + 1,
  mergeAccumulators: (as) => as.reduce((x, y) => x + y, 0),
  extractOutput: (a) => a,
};

export const sumFn: CombineFn<number, number, number> = {
  createAccumulator: () => 0,
  addInput: (a, v) => a + v,
  mergeAccumulators: (as) => as.reduce((x, y) => x + y, 0),
  extractOutput: (a) => a,
};

/** Smallest by `compare`; an empty pane yields undefined. */
export function minFn<V>(
  compare: (a: V, b: V) => number,
): CombineFn<V, { has: boolean; v: V | undefined }, V | undefined> {
  return extremeFn((a, b) => compare(a, b) < 0);
}
export function maxFn<V>(
  compare: (a: V, b: V) => number,
): CombineFn<V, { has: boolean; v: V | undefined }, V | undefined> {
  return extremeFn((a, b) => compare(a, b) > 0);
}
function extremeFn<V>(
  better: (a: V, b: V) => boolean,
): CombineFn<V, { has: boolean; v: V | undefined }, V | undefined> {
  return {
    createAccumulator: () => ({ has: false, v: undefined }),
    addInput: (acc, v) => {
      if (!acc.has || better(v, acc.v as V)) {
        acc.has = true;
        acc.v = v;
      }
      return acc;
    },
    mergeAccumulators: (accs) => {
      const out = { has: false, v: undefined as V | undefined };
      for (const a of accs) if (a.has && (!out.has || better(a.v as V, out.v as V))) Object.assign(out, a);
      return out;
    },
    extractOutput: (acc) => acc.v,
  };
}

export const meanFn: CombineFn<number, { sum: number; n: number }, number> = {
  createAccumulator: () => ({ sum: 0, n: 0 }),
  addInput: (a, v) => {
    a.sum += v;
    a.n += 1;
    return a;
  },
  mergeAccumulators: (as) => {
    const out = { sum: 0, n: 0 };
    for (const a of as) {
      out.sum += a.sum;
      out.n += a.n;
    }
    return out;
  },
  extractOutput: (a) => (a.n === 0 ? Number.NaN : a.sum / a.n),
};

/** The `n` largest elements by `compare`, largest first. */
export function topFn<V>(n: number, compare: (a: V, b: V) => number): CombineFn<V, V[], V[]> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`top(n): n must be a whole number of at least 1, got ${n}`);
  const insert = (acc: V[], v: V): V[] => {
    if (acc.length === n && compare(v, acc[n - 1] as V) <= 0) return acc;
    let i = acc.length;
    while (i > 0 && compare(v, acc[i - 1] as V) > 0) i--;
    acc.splice(i, 0, v);
    if (acc.length > n) acc.pop();
    return acc;
  };
  return {
    createAccumulator: () => [],
    addInput: insert,
    mergeAccumulators: (accs) => {
      const out: V[] = [];
      for (const a of accs) for (const v of a) insert(out, v);
      return out;
    },
    extractOutput: (acc) => [...acc],
  };
}

const numeric = (a: number, b: number) => a - b;

export const count = {
  ...combiner<unknown, number, number>("Count", countFn),
  /** Counts each distinct element: `KV<element, count>`. */
  perElement<T>(name = "Count.PerElement"): PTransform<PCollection<T>, PCollection<KV<T, number>>> {
    return {
      name,
      expand: (input) =>
        input
          .apply(map((v: T) => [v, null] as KV<T, null>, "PairWithNull"))
          .apply(combinePerKey<T, null, number, number>(countFn)),
    };
  },
};
export const sum = combiner("Sum", sumFn);
export const min = combiner("Min", minFn<number>(numeric));
export const max = combiner("Max", maxFn<number>(numeric));
export const mean = combiner("Mean", meanFn);
export const top = {
  largest: (n: number) => combiner("Top", topFn<number>(n, numeric)),
  smallest: (n: number) =>
    combiner(
      "Top",
      topFn<number>(n, (a, b) => b - a),
    ),
  of: <V>(n: number, compare: (a: V, b: V) => number) => combiner("Top", topFn<V>(n, compare)),
};

interface Stamped<V> {
  readonly value: V;
  readonly timestamp: Instant;
}

/** Keeps the value with the latest event time (ties: the first one seen). */
export function latestFn<V>(): CombineFn<Stamped<V>, Stamped<V> | undefined, V | undefined> {
  return {
    createAccumulator: () => undefined,
    addInput: (acc, v) => (acc === undefined || v.timestamp > acc.timestamp ? v : acc),
    mergeAccumulators: (accs) => {
      let out: Stamped<V> | undefined;
      for (const a of accs) if (a !== undefined && (out === undefined || a.timestamp > out.timestamp)) out = a;
      return out;
    },
    extractOutput: (acc) => acc?.value,
  };
}

/** The element with the latest event time, per window (`globally`) or per key and window (`perKey`). */
export const latest = {
  globally<V>(name = "Latest.Globally"): PTransform<PCollection<V>, PCollection<V | undefined>> {
    return {
      name,
      expand: (input) =>
        input
          .apply(
            parDo<V, Stamped<V>>(
              {
                process(value, ctx) {
                  ctx.output({ value, timestamp: ctx.timestamp });
                },
              },
              "ReifyTimestamp",
            ),
          )
          .apply(combineGlobally(latestFn<V>())),
    };
  },
  perKey<K, V>(name = "Latest.PerKey"): PTransform<PCollection<KV<K, V>>, PCollection<KV<K, V | undefined>>> {
    return {
      name,
      expand: (input) =>
        input
          .apply(
            parDo<KV<K, V>, KV<K, Stamped<V>>>(
              {
                process(kv, ctx) {
                  ctx.output([kv[0], { value: kv[1], timestamp: ctx.timestamp }]);
                },
              },
              "ReifyTimestamp",
            ),
          )
          .apply(combinePerKey<K, Stamped<V>, Stamped<V> | undefined, V | undefined>(latestFn<V>())),
    };
  },
};
