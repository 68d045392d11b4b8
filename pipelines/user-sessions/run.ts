import { Pipeline } from "../../core/pipeline.ts";
import type { TestStream } from "../../io/test-stream/test-stream.ts";
import type { Warehouse } from "../../io/warehouse.ts";
import { DirectRunner, type RunningPipeline } from "../../runners/direct/direct-runner.ts";
import type { RawMessage } from "../../schemas/event.ts";
import { collectInto, newSinkBuffer, type UserSessionsOptions, userSessions } from "./pipeline.ts";
import { WarehouseWriter } from "./warehouse-writer.ts";

/** Rows buffered before a write, and the longest a row waits (wall time) before it is written. */
export const FLUSH_ROWS = 10_000;
export const FLUSH_INTERVAL_MS = 1_000;

export interface MedallionRun {
  readonly metrics: Awaited<ReturnType<RunningPipeline["waitUntilFinish"]>>;
  readonly written: WarehouseWriter["written"];
  /** Wall time from the start of the run until the last write is committed. */
  readonly elapsedMs: number;
}

/**
 * Runs the medallion pipeline over a stream on the direct runner and writes its outputs into an open warehouse, in
 * batches (every FLUSH_ROWS rows or FLUSH_INTERVAL_MS of wall time, each batch one transaction per table).
 * `onStep` sees the running pipeline after each runner step (for a progress line).
 */
export async function runMedallion(
  stream: TestStream<RawMessage>,
  warehouse: Warehouse,
  options: UserSessionsOptions,
  onStep?: (running: RunningPipeline, index: number, startedMs: number) => void,
): Promise<MedallionRun> {
  const p = Pipeline.create();
  const buffer = newSinkBuffer();
  collectInto(userSessions(p, stream, options), buffer);
  const writer = new WarehouseWriter(warehouse, buffer);
  const started = performance.now();
  let lastFlush = started;
  const running: RunningPipeline = new DirectRunner().start(p, {
    onStep: ({ index }) => {
      const now = performance.now();
      if (writer.pendingRows() >= FLUSH_ROWS || now - lastFlush > FLUSH_INTERVAL_MS) {
        writer.flush();
        lastFlush = now;
      }
      onStep?.(running, index, started);
    },
  });
  const metrics = await running.waitUntilFinish();
  await writer.done();
  return { metrics, written: writer.written, elapsedMs: performance.now() - started };
}
