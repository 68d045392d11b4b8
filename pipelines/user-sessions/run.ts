import { Pipeline } from "../../core/pipeline.ts";
import type { Source } from "../../core/source.ts";
import type { Warehouse } from "../../io/warehouse.ts";
import { DirectRunner, type RunningPipeline } from "../../runners/direct/direct-runner.ts";
import type { RawMessage } from "../../schemas/event.ts";
import { collectInto, newSinkBuffer, type UserSessionsOptions, userSessions } from "./pipeline.ts";
import { WarehouseWriter } from "./warehouse-writer.ts";

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
}

/**
 * Runs the medallion pipeline over a stream on the direct runner and writes its outputs into an open warehouse, in
 * batches (every `flushRows` rows or FLUSH_INTERVAL_MS of wall time, each batch one transaction per table), with
 * at most MAX_BATCHES_IN_FLIGHT batches queued before the runner waits for the warehouse. A source's elements are
 * acknowledged (its checkpoint marks finalized) once the batch holding their Bronze and Silver rows is committed.
 * Until the runner checkpoints its state (issue 5), their share of open Gold windows lives only in memory: after a
 * crash, Bronze and Silver are complete (at-least-once delivery, idempotent writes) and Gold may miss it.
 * `onStep` sees the running pipeline after each runner step (for a progress line).
 */
export async function runMedallion(
  stream: Source<RawMessage>,
  warehouse: Warehouse,
  options: UserSessionsOptions,
  onStep?: (running: RunningPipeline, index: number, startedMs: number) => void,
  flushRows = FLUSH_ROWS,
): Promise<MedallionRun> {
  const p = Pipeline.create();
  const buffer = newSinkBuffer();
  collectInto(userSessions(p, stream, options), buffer);
  const writer = new WarehouseWriter(warehouse, buffer);
  const started = performance.now();
  let lastFlush = started;
  let lastYield = started;
  const running: RunningPipeline = new DirectRunner().start(p, {
    onStep: ({ index, event }) => {
      const now = performance.now();
      onStep?.(running, index, started);
      if (event === "end") {
        // The source is exhausted (or drained) and every window has fired: write the rest and acknowledge it before
        // the runner closes the source.
        writer.flush(running.checkpointMarks());
        return writer.waitUntilAtMost(0);
      }
      if (writer.pendingRows() >= flushRows || now - lastFlush > FLUSH_INTERVAL_MS) {
        // Everything the sources gave so far has been processed: its rows are in this batch, and the marks taken
        // now are finalized (messages acknowledged) once the batch is committed.
        writer.flush(running.checkpointMarks());
        lastFlush = now;
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
  return { metrics, written: writer.written, elapsedMs: performance.now() - started };
}
