import type { Receiver } from "../fn/receiver.ts";
import type { OutputQueue } from "./output-queue.ts";

/**
 * A step that ends a fused chain and keeps keyed state: a grouping or a stateful DoFn. It has watermarks of its own,
 * fires timers as they advance, and queues what it emits as the next bundle for the steps downstream.
 */
export interface KeyedStage extends Receiver {
  readonly stepName: string;
  readonly queue: OutputQueue;
  readonly inputWatermark: number;
  readonly outputWatermark: number;
  finishBundle(): void;
  advanceInputWatermark(watermark: number): void;
  advanceProcessingTime(now: number): void;
  /** Keys-and-windows held (for metrics and the end-of-input check). */
  stateCount(): number;
  counts(): { elementsIn: number; elementsOut: number; droppedLate: number; droppedClosed: number };
  /** Its state as plain data, between steps (its queue is then empty), for a checkpoint. */
  snapshot(): unknown;
  /** Takes a `snapshot` back, on a stage that has not started. */
  restore(state: unknown): void;
}
