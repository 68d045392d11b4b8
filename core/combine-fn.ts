/**
 * An associative, commutative combination: values are added to accumulators, accumulators merge, and the output is
 * extracted at the end. Because it is associative, the runner combines eagerly (before the grouping, per window),
 * and never buffers the values themselves.
 */
export interface CombineFn<I, A, O> {
  createAccumulator(): A;
  /** Adds one input; may mutate and return `acc`. */
  addInput(acc: A, input: I): A;
  /** Merges accumulators; may mutate and return the first. */
  mergeAccumulators(accs: readonly A[]): A;
  extractOutput(acc: A): O;
}
