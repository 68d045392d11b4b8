import type { CombineFn } from "../../../core/combine-fn.ts";

/**
 * How a grouping keeps the values of one window between panes (Beam's SystemReduceFn):
 * buffering (GroupByKey: the values themselves) or combining (a CombineFn's accumulator, added to as values arrive).
 */
export interface ReduceFn<V, A, O> {
  create(): A;
  add(acc: A, value: V): A;
  merge(accs: A[]): A;
  /** The pane's value. `keep` is true when the accumulator lives on (accumulating mode), so it must not be handed out. */
  extract(acc: A, keep: boolean): O;
}

/** Buffers values in arrival order; a pane is the list of them. */
export function bufferingReduceFn<V>(): ReduceFn<V, V[], V[]> {
  return {
    create: () => [],
    add: (acc, v) => {
      acc.push(v);
      return acc;
    },
    merge: (accs) => {
      const out: V[] = [];
      for (const a of accs) for (const v of a) out.push(v);
      return out;
    },
    extract: (acc, keep) => (keep ? acc.slice() : acc),
  };
}

/** Combines values as they arrive; a pane is the CombineFn's output. */
export function combiningReduceFn<V, A, O>(fn: CombineFn<V, A, O>): ReduceFn<V, A, O> {
  return {
    create: () => fn.createAccumulator(),
    add: (acc, v) => fn.addInput(acc, v),
    merge: (accs) => fn.mergeAccumulators(accs),
    extract: (acc) => fn.extractOutput(acc),
  };
}
