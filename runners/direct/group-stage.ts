import type { CombineFn } from "../../core/combine-fn.ts";
import { enterMetricsContainer, MetricsContainer } from "../../core/metrics.ts";
import type { PaneInfo } from "../../core/pane.ts";
import type { WindowingStrategy } from "../../core/windowing-strategy.ts";
import type { BoundedWindow } from "../../core/windows/window.ts";
import { ReduceFnError } from "../engine/reduce/reduce-fn-error.ts";
import { bufferingReduceFn, combiningReduceFn, type ReduceFn } from "../engine/reduce/reduce-fn.ts";
import { type PaneSink, ReduceRunner, type ReduceSnapshot } from "../engine/reduce/reduce-runner.ts";
import type { ElementMeta } from "../fn/receiver.ts";
import type { KeyedStage } from "./keyed-stage.ts";
import { StepError } from "../fn/step-error.ts";
import { OutputQueue } from "./output-queue.ts";

/**
 * A grouping step in the direct runner: receives KV elements, hands them to the engine's `ReduceRunner`, and queues
 * the panes it emits as the next bundle for the steps downstream (a pending bundle holds their watermark back). The
 * engine's work for it (its CombineFn, windows and triggers) runs in the step's metrics container: the `Metrics` a
 * CombineFn asks for, and the processing time, are this step's.
 */
export class GroupStage implements KeyedStage, PaneSink<unknown, unknown> {
  readonly reduce: ReduceRunner<unknown, unknown, unknown, unknown>;
  readonly queue = new OutputQueue();
  /** Set while the stage has elements in the current bundle. */
  inBundle = false;
  readonly metrics: MetricsContainer;

  constructor(
    readonly stepName: string,
    strategy: WindowingStrategy,
    combineFn: CombineFn<unknown, unknown, unknown> | undefined,
    private readonly onBundleStart: (s: GroupStage) => void,
  ) {
    const reduceFn = (combineFn ? combiningReduceFn(combineFn) : bufferingReduceFn()) as ReduceFn<
      unknown,
      unknown,
      unknown
    >;
    this.reduce = new ReduceRunner(strategy, reduceFn, this);
    this.metrics = new MetricsContainer(stepName);
  }

  receive(value: unknown, meta: ElementMeta): void {
    const kv = this.accept(value, meta);
    const outer = enterMetricsContainer(this.metrics);
    try {
      this.reduce.processElement(kv[0], kv[1], meta.timestamp, meta.windows);
    } catch (e) {
      throw this.wrap(e);
    } finally {
      enterMetricsContainer(outer);
    }
  }

  /** Receives an element whose session window is assigned here (see `FusedSessionAssign`). */
  receiveInSession(value: unknown, meta: ElementMeta, gapMs: number): void {
    const kv = this.accept(value, meta);
    const outer = enterMetricsContainer(this.metrics);
    try {
      this.reduce.processElementInSession(kv[0], kv[1], meta.timestamp, gapMs);
    } catch (e) {
      throw this.wrap(e);
    } finally {
      enterMetricsContainer(outer);
    }
  }

  /** Starts the bundle if needed and checks the element is a key-value pair. */
  private accept(value: unknown, meta: ElementMeta): readonly [unknown, unknown] {
    if (!this.inBundle) {
      this.inBundle = true;
      this.onBundleStart(this);
    }
    return requireKv(this.stepName, "grouping", value, meta);
  }

  /** Ends the bundle: the engine asks the triggers of the windows it touched. */
  finishBundle(): void {
    this.inBundle = false;
    this.run(() => this.reduce.finishBundle());
  }

  get inputWatermark(): number {
    return this.reduce.inputWatermark;
  }

  get outputWatermark(): number {
    return this.reduce.outputWatermark;
  }

  stateCount(): number {
    return this.reduce.windowCount();
  }

  counts() {
    const c = this.reduce.counters;
    return {
      elementsIn: c.elements,
      elementsOut: c.panes,
      droppedLate: c.droppedExpired,
      droppedClosed: c.droppedClosed,
    };
  }

  /** Advances the input watermark, firing due timers (see `ReduceRunner.advanceInputWatermark`). */
  advanceInputWatermark(watermark: number): void {
    this.run(() => this.reduce.advanceInputWatermark(watermark));
  }

  advanceProcessingTime(now: number): void {
    this.run(() => this.reduce.advanceProcessingTime(now));
  }

  /** Runs the engine's work for this step in its metrics container, its failures as this step's. */
  private run(f: () => void): void {
    const outer = enterMetricsContainer(this.metrics);
    try {
      f();
    } catch (e) {
      throw this.wrap(e);
    } finally {
      enterMetricsContainer(outer);
    }
  }

  /** Reports a failure of the user's CombineFn as a failure of this step, with the window and time involved. */
  private wrap(e: unknown): unknown {
    if (e instanceof ReduceFnError) return new StepError(this.stepName, e.timestamp, e.window, e.cause, e.phase);
    return e;
  }

  snapshot(): unknown {
    return this.reduce.snapshot();
  }

  restore(state: unknown): void {
    this.reduce.restore(state as ReduceSnapshot);
  }

  emitPane(key: unknown, value: unknown, timestamp: number, window: BoundedWindow, pane: PaneInfo): void {
    this.queue.push([key, value], timestamp, window, pane);
  }
}

/** The element as a key-value pair, or a StepError naming the step, the element's time and window, and the value. */
export function requireKv(step: string, what: string, value: unknown, meta: ElementMeta): readonly [unknown, unknown] {
  if (!Array.isArray(value) || value.length !== 2) {
    throw new StepError(
      step,
      meta.timestamp,
      meta.windows[0],
      new TypeError(`${what} needs key-value pairs [key, value], got ${preview(value)}`),
    );
  }
  return value as unknown as readonly [unknown, unknown];
}

function preview(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}
