import type { DoFn } from "../core/do-fn.ts";
import { currentMetricsContainer, type MetricsContainer, runInMetricsContainer } from "../core/metrics.ts";
import type { PCollection } from "../core/pcollection.ts";
import type { PTransform } from "../core/ptransform.ts";
import { parDo } from "../transforms/par-do.ts";

export interface BatchedWriteOptions<T> {
  /**
   * Writes one batch (one transaction, one request) and resolves with the rows it wrote (a write that folds the batch
   * first writes fewer; default the batch's size). Rejecting fails the run, naming the step. It runs after the step's
   * call has returned (after the previous batch's write), in the step's metrics container up to its first `await`:
   * that part's `Metrics` and processing time are the step's. What it does after an `await` runs in no step; `metrics`
   * is the step's container, to count in and to enter again around heavy work there
   * (`runInMetricsContainer(metrics, ...)`).
   */
  readonly write: (batch: T[], metrics: MetricsContainer) => Promise<number | undefined> | Promise<void>;
  /** Rows per batch: a batch is written as soon as it holds this many, and at the end of every bundle. */
  readonly maxRows: number;
  /**
   * Beam's `@RequiresStableInput`: set it when a replay of the input in another order could leave other rows (the
   * Gold session writes: a replay may make other intermediate sessions). Not needed when the writes are idempotent by
   * key whatever the replay gives (Bronze and Silver: one row per message or event id, whatever the order).
   */
  readonly requiresStableInput?: boolean;
  /**
   * The sink's name in its metrics (label `sink`): `tidemark/sink_rows_written` (rows written, as `write` says),
   * `tidemark/sink_batch_ms` (each batch's write in milliseconds, a distribution) and `tidemark/sink_write_errors` (batches that
   * failed). Default no metrics.
   */
  readonly metricsName?: string;
}

/**
 * A sink: writes a PCollection in batches, as Beam's sinks do. Rows are batched within a bundle and a batch is
 * written when it is full (`maxRows`) and in `finishBundle`; the runner decides how long a bundle is (the direct
 * runner keeps a sink's bundle open up to its `maxBundleMs`). Batches are written one after another in order (a later
 * batch never overtakes an earlier one, so the last write of a key wins); each write is a promise the runner counts
 * as the step's work in flight, so it commits (checkpoints, acknowledges) only what is written, and stops reading
 * while the step has too many writes pending. Where a batch must span bundles that a runner keeps small, put a
 * `GroupIntoBatches` before it.
 */
export function batchedWrite<T>(options: BatchedWriteOptions<T>): PTransform<PCollection<T>, PCollection<never>> {
  const { write, maxRows, metricsName } = options;
  if (!(Number.isInteger(maxRows) && maxRows > 0)) {
    throw new RangeError(`batchedWrite: maxRows must be a positive whole number, got ${maxRows}`);
  }
  let batch: T[] = [];
  let chain: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> | undefined => {
    if (batch.length === 0) return undefined;
    const rows = batch;
    batch = [];
    // Taken here, while the step runs: the write completes later, and counts for this step.
    const metrics = currentMetricsContainer();
    // The write's synchronous part (building the batch's request or statement) in the step's container: its time is
    // the step's, not "other" (the chain runs it after the step's call has returned).
    const writeInStep = () => runInMetricsContainer(metrics, () => write(rows, metrics));
    if (metricsName === undefined) {
      chain = chain.then(async () => {
        await writeInStep();
      });
      return chain;
    }
    const labels = { sink: metricsName };
    const written = metrics.counter("tidemark", "sink_rows_written", labels);
    const millis = metrics.distribution("tidemark", "sink_batch_ms", labels);
    const errors = metrics.counter("tidemark", "sink_write_errors", labels);
    chain = chain.then(async () => {
      const started = performance.now();
      let n: unknown;
      try {
        n = await writeInStep();
      } catch (e) {
        errors.inc();
        throw e;
      }
      millis.update(Math.round(performance.now() - started));
      written.inc(typeof n === "number" ? n : rows.length);
    });
    return chain;
  };
  const fn: DoFn<T, never> = {
    requiresStableInput: options.requiresStableInput === true,
    setup() {
      // A new run of the same pipeline starts clean (a failed run may have left rows and a rejected chain).
      batch = [];
      chain = Promise.resolve();
    },
    process(row) {
      batch.push(row);
      if (batch.length >= maxRows) return flush();
      return undefined;
    },
    finishBundle() {
      return flush();
    },
  };
  return parDo(fn);
}
