import type { NativeSink } from "./source.ts";
import type { PaneInfo } from "./pane.ts";
import type { Instant } from "./time/instant.ts";
import type { PCollectionView } from "./view.ts";
import type { BoundedWindow } from "./windows/window.ts";

/** The extra, tagged outputs of a DoFn: tag name to element type. */
// biome-ignore lint/complexity/noBannedTypes: the empty record is the natural "no extra outputs".
export type OutputTags = {};

/** What a DoFn sees of the element it processes, and how it outputs. */
export interface ProcessContext<I, O, Tags extends object = OutputTags> {
  readonly element: I;
  /** The element's event time. */
  readonly timestamp: Instant;
  /** The window the element is being processed in (an element in several windows is processed once per window). */
  readonly window: BoundedWindow;
  readonly pane: PaneInfo;
  /** The runner's processing time (virtual when a fixture stream drives it, so runs stay deterministic). */
  readonly processingTime: Instant;
  /** Outputs to the main output, at the input's timestamp and window. */
  output(value: O): void;
  /**
   * Outputs at a new timestamp. Moving backwards more than the DoFn's `allowedTimestampSkewMs` is refused with an
   * error, as it could make data late that was not.
   */
  outputWithTimestamp(value: O, timestamp: Instant): void;
  /** Outputs to a tagged output. */
  outputTo<K extends keyof Tags & string>(tag: K, value: Tags[K], timestamp?: Instant): void;
  /**
   * The side input's contents for this element's window (the ParDo must declare it with `withSideInputs`). The runner
   * calls `process` only once every declared side input is ready for the window.
   */
  sideInput<T>(view: PCollectionView<T>): T;
}

/** What `finishBundle` may do: output with an explicit timestamp and window. */
export interface FinishBundleContext<O, Tags extends object = OutputTags> {
  output(value: O, timestamp: Instant, window: BoundedWindow): void;
  outputTo<K extends keyof Tags & string>(tag: K, value: Tags[K], timestamp: Instant, window: BoundedWindow): void;
}

/**
 * A user function applied element by element, with Beam's lifecycle: `setup` once per instance, `startBundle` and
 * `finishBundle` around each bundle, `process` per element and window, `teardown` at the end.
 *
 * Asynchronous I/O: `process` and `finishBundle` may return a promise (a write to a warehouse, a publish). The runner
 * does not wait for it before the next element; it counts it as the step's work in flight: the bundle is committed
 * (checkpointed, its source messages acknowledged) only once every promise it made has settled, a step with too many
 * promises pending stops the runner reading (backpressure), and a rejected promise fails the run with a `StepError`
 * naming the step. What a DoFn outputs it outputs before its promise's first `await`: the context is valid during
 * the call only, and an output made later is refused with an error. A DoFn whose writes must happen in order chains
 * them itself (the runner does not order the promises of one step).
 */
export interface DoFn<I, O, Tags extends object = OutputTags> {
  setup?(): void;
  startBundle?(): void;
  process(element: I, ctx: ProcessContext<I, O, Tags>): void | Promise<void>;
  finishBundle?(ctx: FinishBundleContext<O, Tags>): void | Promise<void>;
  teardown?(): void;
  /** How far back `outputWithTimestamp` may move an element's timestamp. Default 0. */
  readonly allowedTimestampSkewMs?: number;
  /**
   * Beam's `@RequiresStableInput`: the DoFn sees an element only once the state that produced it is durable, so a
   * replay after a crash gives it the same elements again (never other ones, computed from messages replayed in
   * another order). For a sink whose writes are not idempotent under any replay order. A runner with checkpoints
   * holds such a step's input until the checkpoint that covers it is written, and delivers it again on resume; the
   * step's writes must be idempotent under a replay of the same input.
   */
  readonly requiresStableInput?: boolean;
  /** The connector a runner may run in this DoFn's place (a sink: see `NativeSink`); absent for most DoFns. */
  readonly native?: NativeSink;
}
