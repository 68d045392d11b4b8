/** Tidemark's public API: named exports only. */
export type { CombineFn } from "./core/combine-fn.ts";
export type { DoFn, FinishBundleContext, ProcessContext } from "./core/do-fn.ts";
export { PipelineBuildError } from "./core/errors.ts";
export { canonicalJson, type KV, kv } from "./core/kv.ts";
export { NO_FIRING, type PaneInfo, type PaneTiming } from "./core/pane.ts";
export type { PCollection } from "./core/pcollection.ts";
export { Pipeline } from "./core/pipeline.ts";
export type { PBegin, PDone, PTransform } from "./core/ptransform.ts";
export { ptransform } from "./core/ptransform.ts";
export type { Source, SourceEvent, SourceReader } from "./core/source.ts";
export * from "./core/state.ts";
export type { PCollectionView, ViewKind } from "./core/view.ts";
export * from "./core/time/index.ts";
export * from "./core/triggers/trigger.ts";
export * from "./core/windowing-strategy.ts";
export { customWindows, fixed, globalWindows, sessions, sliding, type WindowFn } from "./core/windows/window-fn.ts";
export { type BoundedWindow, GLOBAL_WINDOW, GlobalWindow, IntervalWindow } from "./core/windows/window.ts";
export { type BatchedWriteOptions, batchedWrite } from "./io/batched-write.ts";
export { TestStream, type TimestampedValue } from "./io/test-stream/test-stream.ts";
export { type Clock, SystemClock, VirtualClock } from "./runners/direct/clock.ts";
export {
  type CommitInfo,
  type CommitPhase,
  type CommitStats,
  DirectRunner,
  type RunningPipeline,
  type RunOptions,
} from "./runners/direct/direct-runner.ts";
export { type PipelineRunner, RUNNER_OPTIONS, type RunnerOptions, RUNNERS, runnerNamed } from "./runners/runner.ts";
export { describeOptions, type OptionSpecs, type OptionValues, OptionsError, parseOptions } from "./core/options.ts";
export { type MetricsSnapshot, type StepMetrics, stepMetrics } from "./runners/direct/metrics.ts";
export { StepError } from "./runners/fn/step-error.ts";
export * from "./transforms/combine.ts";
export { distinct } from "./transforms/distinct.ts";
export { filter, flatMap, map, withKeys, withTimestamps } from "./transforms/element-wise.ts";
export { flatten, flattenAll } from "./transforms/flatten.ts";
export { groupByKey } from "./transforms/group-by-key.ts";
export { type GroupIntoBatchesOptions, groupIntoBatches } from "./transforms/group-into-batches.ts";
export { type ParDo, type ParDoOutputs, parDo } from "./transforms/par-do.ts";
export { partition } from "./transforms/partition.ts";
export { assertThat, type CapturedElement, PAssertError, PAssertion, PaneSelection } from "./transforms/passert.ts";
export { create, read } from "./transforms/read.ts";
export { reshuffle } from "./transforms/reshuffle.ts";
export { asIterable, asList, asMap, asMultimap, asSingleton } from "./transforms/side-inputs.ts";
export { statefulParDo } from "./transforms/stateful-par-do.ts";
export { remerge, validateWindowing, window, type WindowOptions } from "./transforms/window-into.ts";
