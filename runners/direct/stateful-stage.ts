import { enterMetricsContainer, MetricsContainer } from "../../core/metrics.ts";
import type { StatefulDoFn, StateSpec, TimerSpec } from "../../core/state.ts";
import type { WindowingStrategy } from "../../core/windowing-strategy.ts";
import { StatefulRunner, type StatefulSnapshot } from "../engine/state/stateful-runner.ts";
import type { AsyncWork } from "../fn/async-work.ts";
import type { ElementMeta, Receiver } from "../fn/receiver.ts";
import { StepError } from "../fn/step-error.ts";
import { requireKv } from "./group-stage.ts";
import type { KeyedStage } from "./keyed-stage.ts";
import { OutputQueue } from "./output-queue.ts";

/**
 * A stateful DoFn step in the direct runner: receives KV elements, hands them to the engine's `StatefulRunner`, and
 * queues its outputs (from elements and timers) as the next bundle downstream. Its timers' output timestamps hold
 * its output watermark.
 */
export class StatefulStage implements KeyedStage {
  readonly runner: StatefulRunner;
  readonly queue = new OutputQueue();
  inBundle = false;
  /** Where the promises the DoFn returns are counted (the runner sets it). */
  asyncWork: AsyncWork | undefined;
  /** The step's user metrics (its DoFn's `Metrics` calls, in `process` and in timers). */
  readonly metrics: MetricsContainer;

  constructor(
    readonly stepName: string,
    strategy: WindowingStrategy,
    fn: StatefulDoFn<unknown, unknown, unknown, Record<string, StateSpec>, Record<string, TimerSpec>>,
    private readonly onBundleStart: (s: KeyedStage) => void,
    /** Tagged outputs; when there are any, every output is queued as a `Tagged` envelope for the `TagRouter`. */
    tags: readonly string[] = [],
  ) {
    this.metrics = new MetricsContainer(stepName);
    const queue = this.queue;
    const declared = new Set(tags);
    const enveloped = tags.length > 0;
    this.runner = new StatefulRunner(strategy, fn, {
      output(value, timestamp, window, pane, tag) {
        if (tag !== undefined && !declared.has(tag)) {
          throw new Error(
            `output tag "${tag}" was not declared; declare it with statefulParDo(fn).withOutputs("${tag}")`,
          );
        }
        queue.push(enveloped ? new Tagged(tag ?? "main", value) : value, timestamp, window, pane);
      },
      async: (promise, phase) => {
        if (this.asyncWork === undefined) throw new Error(`${phase} returned a promise, but nothing awaits it`);
        this.asyncWork.track(stepName, promise, phase);
      },
    });
  }

  receive(value: unknown, meta: ElementMeta): void {
    if (!this.inBundle) {
      this.inBundle = true;
      this.onBundleStart(this);
    }
    const kv = requireKv(this.stepName, "a stateful DoFn", value, meta);
    const outer = enterMetricsContainer(this.metrics);
    try {
      this.runner.processElement(kv[0], kv[1], meta.timestamp, meta.windows, meta.pane);
    } catch (e) {
      throw e instanceof StepError ? e : new StepError(this.stepName, meta.timestamp, meta.windows[0], e);
    } finally {
      enterMetricsContainer(outer);
    }
  }

  finishBundle(): void {
    this.inBundle = false;
    this.runner.refreshOutputWatermark();
  }

  get inputWatermark(): number {
    return this.runner.inputWatermark;
  }

  get outputWatermark(): number {
    return this.runner.outputWatermark;
  }

  advanceInputWatermark(watermark: number): void {
    this.guard(() => this.runner.advanceInputWatermark(watermark));
  }

  advanceProcessingTime(now: number): void {
    this.guard(() => this.runner.advanceProcessingTime(now));
  }

  stateCount(): number {
    return this.runner.slotCount();
  }

  counts() {
    const c = this.runner.counters;
    return { elementsIn: c.elements, elementsOut: c.outputs, droppedLate: c.droppedExpired, droppedClosed: 0 };
  }

  snapshot(): unknown {
    return this.runner.snapshot();
  }

  restore(state: unknown): void {
    this.runner.restore(state as StatefulSnapshot);
  }

  private guard(f: () => void): void {
    const outer = enterMetricsContainer(this.metrics);
    try {
      f();
    } catch (e) {
      throw e instanceof StepError ? e : new StepError(this.stepName, undefined, undefined, e, "firing a timer");
    } finally {
      enterMetricsContainer(outer);
    }
  }
}

/** An output of a multi-output stateful DoFn on its way to the `TagRouter`. */
export class Tagged {
  constructor(
    readonly tag: string,
    readonly value: unknown,
  ) {}
}

/** Sends each `Tagged` output to the receiver of its tag. */
export class TagRouter implements Receiver {
  constructor(private readonly targets: ReadonlyMap<string, Receiver>) {}
  receive(value: unknown, meta: ElementMeta): void {
    const t = value as Tagged;
    this.targets.get(t.tag)?.receive(t.value, meta);
  }
}
