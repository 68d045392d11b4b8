import { Pipeline } from "../../core/pipeline.ts";
import type { Source } from "../../core/source.ts";
import type { Warehouse } from "../../io/warehouse.ts";
import { CheckpointStore, type EncodedCheckpoint } from "../../runners/direct/checkpoint-store.ts";
import { DirectRunner, type ExecutionSnapshot, type RunningPipeline } from "../../runners/direct/direct-runner.ts";
import type { RawMessage } from "../../schemas/event.ts";
import { collectInto, newSinkBuffer, type UserSessionsOptions, userSessions } from "./pipeline.ts";
import { type SessionChanges, WarehouseWriter } from "./warehouse-writer.ts";

/** Rows buffered before a write, and the longest a row waits (wall time) before it is written. */
export const FLUSH_ROWS = 50_000;
export const FLUSH_INTERVAL_MS = 1_000;
/**
 * Batches written at once: one being written while the pipeline fills the next. When the warehouse falls further
 * behind, the pipeline waits (backpressure), so memory stays bounded whatever the stream's length.
 */
export const MAX_BATCHES_IN_FLIGHT = 1;
/** While a batch is being written, the runner yields to the event loop at least this often (wall time). */
const YIELD_INTERVAL_MS = 2;

export interface MedallionRun {
  readonly metrics: Awaited<ReturnType<RunningPipeline["waitUntilFinish"]>>;
  readonly written: WarehouseWriter["written"];
  /** Wall time from the start of the run until the last write is committed. */
  readonly elapsedMs: number;
  /** The checkpoint the run resumed from (its sequence number), if any. */
  readonly resumedFrom: number | undefined;
  readonly checkpoints: number;
}

/** How `runMedallion` runs, beside the pipeline's own options. */
export interface MedallionRunOptions {
  /** Sees the running pipeline after each runner step (for a progress line). */
  readonly onStep?: (running: RunningPipeline, index: number, startedMs: number) => void;
  /** Rows buffered before a write. Default FLUSH_ROWS. */
  readonly flushRows?: number;
  /**
   * Checkpoints: the runner's whole state is written to this folder (atomically) every `checkpointIntervalMs`, after
   * the warehouse has committed every row it covers, and only then are the sources' messages acknowledged. A run
   * started on a folder with a checkpoint resumes from it. After a clean end (input exhausted or drained) the
   * checkpoints are removed: the next run starts afresh.
   */
  readonly checkpointDir?: string;
  /** Default 5 s. */
  readonly checkpointIntervalMs?: number;
}

/** The checkpoint `runMedallion` writes: the runner's state and the Gold changes it produced since the last one. */
interface MedallionCheckpoint {
  readonly runner: ExecutionSnapshot;
  /** Written to Gold right after the checkpoint (and again on resume, in case the run died in between). */
  readonly sessions: SessionChanges;
}

/**
 * Runs the medallion pipeline over a stream on the direct runner and writes its outputs into an open warehouse, in
 * batches (every `flushRows` rows or FLUSH_INTERVAL_MS of wall time, each batch one transaction per table), with
 * at most MAX_BATCHES_IN_FLIGHT batches queued before the runner waits for the warehouse.
 *
 * Acknowledgement: without checkpoints, a source's elements are acknowledged once the batch holding their Bronze and
 * Silver rows is committed (after a crash, Bronze and Silver are complete, Gold windows open at the crash are lost
 * with the process). With `checkpointDir`, the order is: rows committed, then the checkpoint of the state that
 * produced them written, then the elements acknowledged. After a crash the run resumes from the last checkpoint and
 * the source delivers again what was not acknowledged. Bronze, Silver and hourly rows written after that checkpoint
 * are written again under the same keys; Gold session changes are written only after the checkpoint that produced
 * them (which carries them, and they are written again on resume), because a replay may see messages in another
 * order and produce other intermediate sessions: Gold never holds a row the restored state does not know.
 * Re-delivered elements whose effects are in the checkpoint are dropped by the source's de-duplication (its seen ids
 * are in the checkpoint).
 */
export async function runMedallion(
  stream: Source<RawMessage>,
  warehouse: Warehouse,
  options: UserSessionsOptions,
  run: MedallionRunOptions = {},
): Promise<MedallionRun> {
  const flushRows = run.flushRows ?? FLUSH_ROWS;
  const store =
    run.checkpointDir === undefined ? undefined : new CheckpointStore<MedallionCheckpoint>(run.checkpointDir);
  const resumed = store?.latest();
  let seq = resumed?.seq ?? 0;
  let checkpoints = 0;
  const p = Pipeline.create();
  const buffer = newSinkBuffer();
  collectInto(userSessions(p, stream, options), buffer);
  const writer = new WarehouseWriter(warehouse, buffer);
  // The Gold changes of the checkpoint resumed from may not have been written before the run died.
  if (resumed !== undefined) {
    if (resumed.state.sessions === undefined) {
      throw new Error(`${run.checkpointDir} holds a checkpoint that is not the medallion pipeline's`);
    }
    await writer.replaySessions(resumed.state.sessions);
  }
  const started = performance.now();
  let lastFlush = started;
  let lastYield = started;
  let lastCheckpoint = started;
  /** Writes what is buffered; with checkpoints, and when one is due (or `force`), checkpoints and acknowledges too. */
  const flush = (now: number, force: boolean) => {
    lastFlush = now;
    if (store === undefined) {
      writer.flush({ marks: running.checkpointMarks() });
      return;
    }
    if (!force && now - lastCheckpoint < (run.checkpointIntervalMs ?? 5_000)) {
      // Bronze, Silver and hourly rows have keys a replay reproduces; Gold changes wait for their checkpoint.
      writer.flush({ holdSessions: true });
      return;
    }
    lastCheckpoint = now;
    // The state is encoded now, while it is the one that produced exactly what is flushed so far; the file is written
    // once those rows are committed, then the Gold changes, then the messages are acknowledged.
    let encoded: EncodedCheckpoint | undefined;
    const runner = running.snapshot();
    const sessions = writer.flush({
      marks: running.checkpointMarks(),
      beforeSessions: () => {
        store.writeEncoded(encoded as EncodedCheckpoint);
        checkpoints++;
      },
    });
    encoded = store.encode(++seq, { runner, sessions });
  };
  const running: RunningPipeline = new DirectRunner().start(p, {
    ...(resumed === undefined ? {} : { restore: resumed.state.runner }),
    onStep: ({ index, event }) => {
      const now = performance.now();
      run.onStep?.(running, index, started);
      if (event === "end") {
        // The source is exhausted (or drained) and every window has fired: write the rest and acknowledge it before
        // the runner closes the source.
        flush(now, true);
        return writer.waitUntilAtMost(0);
      }
      if (writer.pendingRows() >= flushRows || now - lastFlush > FLUSH_INTERVAL_MS) {
        // Everything the sources gave so far has been processed: its rows are in this batch.
        flush(now, false);
        if (writer.inFlight() > MAX_BATCHES_IN_FLIGHT) return writer.waitUntilAtMost(MAX_BATCHES_IN_FLIGHT);
      }
      // The warehouse works on its own threads, but each of its statements completes through this thread's event
      // loop: give it a turn now and then, or a batch would wait until the pipeline blocks on it.
      if (writer.inFlight() > 0 && now - lastYield > YIELD_INTERVAL_MS) {
        lastYield = now;
        return new Promise<void>((resolve) => setImmediate(resolve));
      }
      return undefined;
    },
  });
  const metrics = await running.waitUntilFinish();
  await writer.done();
  // A clean end: the next run starts afresh.
  store?.clear();
  return {
    metrics,
    written: writer.written,
    elapsedMs: performance.now() - started,
    resumedFrom: resumed?.seq,
    checkpoints,
  };
}
