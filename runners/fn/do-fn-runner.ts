import type { DoFn, FinishBundleContext, ProcessContext } from "../../core/do-fn.ts";
import { enterMetricsContainer, MetricsContainer } from "../../core/metrics.ts";
import type { AnyView, PCollectionView } from "../../core/view.ts";
import { NO_FIRING, type PaneInfo } from "../../core/pane.ts";
import { formatInstant, MAX_TIMESTAMP, MIN_TIMESTAMP } from "../../core/time/instant.ts";
import type { BoundedWindow } from "../../core/windows/window.ts";
import { GLOBAL_WINDOW } from "../../core/windows/window.ts";
import { type AsyncWork, isThenable } from "./async-work.ts";
import { ElementMeta, type Receiver } from "./receiver.ts";
import { StepError } from "./step-error.ts";

/** Reads side inputs for a main-input window; the runner only processes an element once they are ready. */
export interface SideInputReader {
  declares(view: AnyView): boolean;
  read(view: AnyView, mainWindow: BoundedWindow): unknown;
}

/** Per-step element counts. */
export interface DoFnCounters {
  elementsIn: number;
  elementsOut: number;
}

/**
 * Runs one DoFn: its lifecycle (setup, startBundle, process, finishBundle, teardown), its context, and its outputs.
 * Shared by the direct runner and the portable worker. An element in several windows is processed once per window.
 * The context object is reused for every element; user code must not keep it.
 */
export class DoFnRunner implements Receiver {
  readonly counters: DoFnCounters = { elementsIn: 0, elementsOut: 0 };
  /** The step's user metrics (`Metrics.counter(...)` in its code), this process's since it started. */
  readonly metrics: MetricsContainer;
  /** Where processing time comes from; the runner sets its clock. */
  clock: { now(): number } = { now: () => Number.NaN };
  /**
   * Where the promises the DoFn returns are counted (the runner sets it). Without it, a DoFn that returns a promise
   * fails the step: nothing would wait for its work.
   */
  asyncWork: AsyncWork | undefined;
  /** When the current bundle started (the runner's wall-clock ms), for runners that bound a bundle's age. */
  bundleStartedMs = 0;
  private inBundle = false;
  /** True during a `finishBundle` call: outputs are accepted only then. */
  private finishing = false;
  private isSetUp = false;
  private readonly skewMs: number;
  private readonly ctx: Ctx;
  private readonly finishCtx: FinishBundleContext<unknown, Record<string, unknown>>;
  private readonly finishMeta = new ElementMeta();

  constructor(
    readonly stepName: string,
    private readonly fn: DoFn<unknown, unknown, Record<string, unknown>>,
    main: Receiver,
    tagged: ReadonlyMap<string, Receiver>,
    /** Called when a bundle starts, so the runner can finish it later. */
    private readonly onBundleStart: (r: DoFnRunner) => void,
    /** Reads the declared side inputs (absent when the ParDo declares none). */
    sideInputs?: SideInputReader,
  ) {
    this.skewMs = fn.allowedTimestampSkewMs ?? 0;
    this.metrics = new MetricsContainer(stepName);
    this.ctx = new Ctx(this, main, tagged, sideInputs);
    const self = this;
    this.finishCtx = {
      output(value, timestamp, window) {
        self.checkFinishing();
        self.checkTimestamp(timestamp);
        self.counters.elementsOut++;
        main.receive(value, self.finishMeta.set(timestamp, [window], NO_FIRING));
      },
      outputTo(tag, value, timestamp, window) {
        self.checkFinishing();
        self.checkTimestamp(timestamp);
        self.counters.elementsOut++;
        self.ctx.taggedReceiver(tag).receive(value, self.finishMeta.set(timestamp, [window], NO_FIRING));
      },
    };
  }

  setup(): void {
    if (this.isSetUp) return;
    this.isSetUp = true;
    if (this.fn.setup) this.guard(() => this.fn.setup?.(), "in setup");
  }

  receive(value: unknown, meta: ElementMeta): void {
    if (!this.inBundle) this.startBundle();
    this.counters.elementsIn++;
    // The step's metrics while its code runs (a fused step downstream enters its own, then gives this one back).
    const outer = enterMetricsContainer(this.metrics);
    try {
      this.process(value, meta);
    } finally {
      enterMetricsContainer(outer);
    }
  }

  private process(value: unknown, meta: ElementMeta): void {
    const ctx = this.ctx;
    const windows = meta.windows;
    const timestamp = meta.timestamp;
    ctx.element = value;
    ctx.timestamp = timestamp;
    ctx.pane = meta.pane;
    const fn = this.fn;
    if (windows.length === 1) {
      ctx.window = windows[0] as BoundedWindow;
      ctx.windows = windows;
      let r: void | Promise<void>;
      ctx.open = true;
      try {
        r = fn.process(value, ctx);
      } catch (e) {
        throw this.wrap(e, timestamp, ctx.window, value);
      }
      ctx.open = false;
      if (r !== undefined) this.track(r, timestamp, ctx.window, value);
      return;
    }
    for (let i = 0; i < windows.length; i++) {
      const w = windows[i] as BoundedWindow;
      ctx.window = w;
      ctx.windows = [w];
      let r: void | Promise<void>;
      ctx.open = true;
      try {
        r = fn.process(value, ctx);
      } catch (e) {
        throw this.wrap(e, timestamp, w, value);
      }
      ctx.open = false;
      if (r !== undefined) this.track(r, timestamp, w, value);
    }
  }

  /** Counts a promise `process` returned as the step's work in flight. */
  private track(r: unknown, timestamp: number, window: BoundedWindow, element: unknown): void {
    if (!isThenable(r)) return;
    this.work("process", timestamp, window).track(
      this.stepName,
      Promise.resolve(r).catch((e: unknown) => {
        throw this.wrap(e, timestamp, window, element);
      }),
      "processing an element",
    );
  }

  /** Where a returned promise is counted; a runner that set none does not run asynchronous DoFns. */
  private work(call: string, timestamp?: number, window?: BoundedWindow): AsyncWork {
    if (this.asyncWork !== undefined) return this.asyncWork;
    throw new StepError(
      this.stepName,
      timestamp,
      window,
      new Error(`${call} returned a promise, but this runner does not run asynchronous DoFns`),
      call === "process" ? undefined : `in ${call}`,
    );
  }

  private startBundle(): void {
    this.inBundle = true;
    this.onBundleStart(this);
    if (this.fn.startBundle) this.guard(() => this.fn.startBundle?.(), "in startBundle");
  }

  finishBundle(): void {
    if (!this.inBundle) return;
    this.inBundle = false;
    const finish = this.fn.finishBundle;
    if (finish === undefined) return;
    let r: unknown = null;
    this.finishing = true;
    try {
      this.guard(() => {
        r = finish.call(this.fn, this.finishCtx);
      }, "in finishBundle");
    } finally {
      this.finishing = false;
    }
    if (!isThenable(r)) return;
    this.work("finishBundle").track(this.stepName, r, "in finishBundle");
  }

  /** Forgets a bundle that failed (the runner abandons it): the next element starts a new one. */
  abandonBundle(): void {
    this.inBundle = false;
    this.finishing = false;
  }

  private checkFinishing(): void {
    if (!this.finishing) throw asyncOutputError(this.stepName, "finishBundle");
  }

  teardown(): void {
    if (!this.isSetUp) return;
    this.isSetUp = false;
    if (this.fn.teardown) this.guard(() => this.fn.teardown?.(), "in teardown");
  }

  /** Refuses an output timestamp that moves back past the allowed skew, or leaves the representable range. */
  checkOutputTimestamp(inputTs: number, outTs: number): void {
    if (!Number.isInteger(outTs) || outTs < MIN_TIMESTAMP || outTs > MAX_TIMESTAMP) {
      throw new RangeError(`output timestamp ${outTs} is not a whole number of epoch milliseconds in range`);
    }
    if (outTs < inputTs - this.skewMs) {
      throw new RangeError(
        `cannot output with timestamp ${formatInstant(outTs)}: it is ${inputTs - outTs} ms before the input's ` +
          `timestamp ${formatInstant(inputTs)}, more than the allowed skew of ${this.skewMs} ms ` +
          "(set allowedTimestampSkewMs on the DoFn to allow it)",
      );
    }
  }

  private checkTimestamp(t: number): void {
    if (!Number.isInteger(t) || t < MIN_TIMESTAMP || t > MAX_TIMESTAMP) {
      throw new StepError(this.stepName, undefined, undefined, new RangeError(`output timestamp ${t} is out of range`));
    }
  }

  private guard(f: () => void, phase: string): void {
    const outer = enterMetricsContainer(this.metrics);
    try {
      f();
    } catch (e) {
      if (e instanceof StepError) throw e;
      throw new StepError(this.stepName, undefined, undefined, e, phase);
    } finally {
      enterMetricsContainer(outer);
    }
  }

  private wrap(e: unknown, timestamp: number, window: BoundedWindow, element: unknown): Error {
    if (e instanceof StepError) return e;
    return new StepError(this.stepName, timestamp, window, e, undefined, element);
  }
}

/** The error for an output made after the call that owned the context returned (after an `await`). */
function asyncOutputError(step: string, call: string): StepError {
  return new StepError(
    step,
    undefined,
    undefined,
    new Error(
      `an output was made after ${call} returned (after an await?): a DoFn outputs during the call, before its ` +
        "promise's first await; the context is not valid afterwards",
    ),
  );
}

class Ctx implements ProcessContext<unknown, unknown, Record<string, unknown>> {
  element: unknown = undefined;
  /** True during the `process` call that owns this context: outputs are accepted only then. */
  open = false;
  timestamp = Number.NEGATIVE_INFINITY;
  window: BoundedWindow = GLOBAL_WINDOW;
  windows: readonly BoundedWindow[] = [GLOBAL_WINDOW];
  pane: PaneInfo = NO_FIRING;
  /** The metadata this step hands downstream, rewritten per output. */
  private readonly out = new ElementMeta();
  private readonly counters: DoFnCounters;

  constructor(
    private readonly runner: DoFnRunner,
    private readonly main: Receiver,
    private readonly tagged: ReadonlyMap<string, Receiver>,
    private readonly sideInputs: SideInputReader | undefined,
  ) {
    this.counters = runner.counters;
  }

  get processingTime(): number {
    return this.runner.clock.now();
  }

  sideInput<T>(view: PCollectionView<T>): T {
    const reader = this.sideInputs;
    if (reader === undefined || !reader.declares(view as AnyView)) {
      throw new Error(`side input ${view.id} was not declared; declare it with parDo(fn).withSideInputs(view)`);
    }
    return reader.read(view as AnyView, this.window) as T;
  }

  output(value: unknown): void {
    if (!this.open) throw asyncOutputError(this.runner.stepName, "process");
    this.counters.elementsOut++;
    const m = this.out;
    m.timestamp = this.timestamp;
    m.windows = this.windows;
    m.pane = this.pane;
    this.main.receive(value, m);
  }

  outputWithTimestamp(value: unknown, timestamp: number): void {
    if (!this.open) throw asyncOutputError(this.runner.stepName, "process");
    this.runner.checkOutputTimestamp(this.timestamp, timestamp);
    this.counters.elementsOut++;
    const m = this.out;
    m.timestamp = timestamp;
    m.windows = this.windows;
    m.pane = this.pane;
    this.main.receive(value, m);
  }

  outputTo(tag: string, value: unknown, timestamp?: number): void {
    if (!this.open) throw asyncOutputError(this.runner.stepName, "process");
    const r = this.taggedReceiver(tag);
    if (timestamp !== undefined) this.runner.checkOutputTimestamp(this.timestamp, timestamp);
    this.counters.elementsOut++;
    r.receive(value, this.out.set(timestamp ?? this.timestamp, this.windows, this.pane));
  }

  taggedReceiver(tag: string): Receiver {
    const r = this.tagged.get(tag);
    if (r === undefined) {
      throw new Error(`output tag "${tag}" was not declared; declare it with parDo(fn).withOutputs("${tag}", ...)`);
    }
    return r;
  }
}
