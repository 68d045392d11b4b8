import { NO_FIRING } from "../../core/pane.ts";
import type { Pipeline } from "../../core/pipeline.ts";
import type { CheckpointMark, SourceEvent } from "../../core/source.ts";
import { formatInstant, MAX_TIMESTAMP, MIN_TIMESTAMP } from "../../core/time/instant.ts";
import { GLOBAL_WINDOWS } from "../../core/windows/window-fn.ts";
import { DoFnRunner } from "../fn/do-fn-runner.ts";
import { StepError } from "../fn/step-error.ts";
import { type Clock, SystemClock, VirtualClock } from "./clock.ts";
import type { KeyedStage } from "./keyed-stage.ts";
import type { MetricsSnapshot, StepMetrics } from "./metrics.ts";
import {
  FlattenNode,
  FusedSessionAssign,
  Plan,
  type Producer,
  producerWatermark,
  SourceNode,
  WindowIntoNode,
} from "./plan.ts";
import { SideInputStage } from "./side-input-stage.ts";
import { ViewStore } from "./view-store.ts";

export interface RunOptions {
  /** Processing time. Default: a virtual clock when every source is bounded or drives processing time, else the wall clock. */
  readonly clock?: Clock;
  /**
   * Called after each source event has been fully processed (elements, watermarks and timers settled). When it
   * returns a promise, the runner reads nothing more until it settles: that is how a sink applies backpressure (a
   * rejection ends the run with that error).
   */
  readonly onStep?: (step: { readonly index: number; readonly event: SourceEvent<unknown>["kind"] | "end" }) => unknown;
  /**
   * Resume from a checkpoint: the snapshot a run of the same pipeline took (`RunningPipeline.snapshot`). Sources
   * are reopened from their readers' snapshots; every stage takes back its state.
   */
  readonly restore?: ExecutionSnapshot;
}

/** The direct runner's whole state between two steps, as plain data (see `RunningPipeline.snapshot`). */
export interface ExecutionSnapshot {
  readonly version: 1;
  /** The plan's step names, to refuse a checkpoint of another pipeline. */
  readonly steps: readonly string[];
  readonly sourceEvents: number;
  /** Processing time of a virtual clock (the wall clock needs none). */
  readonly processingTime: number;
  readonly sources: readonly {
    readonly watermark: number;
    readonly done: boolean;
    readonly elementsOut: number;
    readonly reader: unknown;
  }[];
  /** Each keyed stage's state, in plan order. */
  readonly stages: readonly unknown[];
  /** Each side input's contents, by view id. */
  readonly views: readonly (readonly [string, unknown])[];
  /** Element counters of the other steps, in plan order (null where a step has none or they live in its stage). */
  readonly counters: readonly (number | { elementsIn: number; elementsOut: number } | null)[];
}

/** A run in progress: its metrics can be read at any time. */
export interface RunningPipeline {
  metrics(): MetricsSnapshot;
  /**
   * The checkpoint marks of every source that gives them, covering all it has given so far (see
   * `SourceReader.checkpointMark`). Take them between steps (in `onStep`), when everything read has been processed.
   */
  checkpointMarks(): CheckpointMark[];
  /**
   * The run's whole state (sources' positions, watermarks, every window, trigger, state cell and timer, counters), as
   * plain data for a checkpoint. Take it between steps (in `onStep`), with `checkpointMarks`.
   */
  snapshot(): ExecutionSnapshot;
  /** Resolves with the final metrics when all input is processed; rejects with the first step error. */
  waitUntilFinish(): Promise<MetricsSnapshot>;
}

/**
 * The in-process streaming runner. It reads sources bundle by bundle, pushes elements through fused element-wise
 * steps into groupings, settles watermarks and timers after every source event, and, when bounded input ends, moves
 * the watermark to +infinity so every window fires its final pane.
 *
 * Watermarks: a grouping's input watermark is `In' = max(In, min over upstream producers (their output watermark,
 * their pending bundle))`; its output is `Out' = max(Out, min(In', earliest hold))`.
 */
export class DirectRunner {
  run(pipeline: Pipeline, options: RunOptions = {}): Promise<MetricsSnapshot> {
    return this.start(pipeline, options).waitUntilFinish();
  }

  start(pipeline: Pipeline, options: RunOptions = {}): RunningPipeline {
    let exec: Execution;
    try {
      exec = new Execution(pipeline, options);
    } catch (e) {
      // A pipeline the runner cannot execute is reported through the run's promise, like any other failure.
      const failed = Promise.reject(e);
      failed.catch(() => {});
      return {
        metrics: () => ({ steps: [], processingTime: Number.NEGATIVE_INFINITY, sourceEvents: 0 }),
        checkpointMarks: () => [],
        snapshot: () => {
          throw e;
        },
        waitUntilFinish: () => failed,
      };
    }
    const done = exec.run();
    done.catch(() => {});
    return {
      metrics: () => exec.metrics(),
      checkpointMarks: () => exec.checkpointMarks(),
      snapshot: () => exec.snapshot(),
      waitUntilFinish: () => done,
    };
  }
}

class Execution {
  private readonly plan: Plan;
  private readonly clock: Clock;
  private readonly startedDoFns: DoFnRunner[] = [];
  private readonly startedGroups: KeyedStage[] = [];
  private sourceEvents = 0;

  constructor(
    pipeline: Pipeline,
    private readonly options: RunOptions,
  ) {
    this.plan = new Plan(
      pipeline.graph(),
      (r) => this.startedDoFns.push(r),
      (g) => this.startedGroups.push(g),
    );
    const virtual = this.plan.sources.every((s) => s.source.bounded || s.source.drivesProcessingTime === true);
    this.clock = options.clock ?? (virtual ? new VirtualClock(MIN_TIMESTAMP) : new SystemClock());
    for (const r of this.plan.doFns) r.clock = this.clock;
  }

  async run(): Promise<MetricsSnapshot> {
    const plan = this.plan;
    try {
      for (const r of plan.doFns) r.setup();
      const restore = this.options.restore;
      if (restore !== undefined) this.restore(restore);
      else for (const s of plan.sources) s.reader = s.source.open();
      this.syncProcessingTime();
      this.settle();
      let next = 0;
      for (;;) {
        const live = plan.sources.filter((s) => !s.done);
        if (live.length === 0) break;
        const s = live[next++ % live.length] as SourceNode;
        const ev = await (s.reader as NonNullable<SourceNode["reader"]>).next();
        this.sourceEvents++;
        this.handle(s, ev);
        this.settle();
        const pause = this.options.onStep?.({ index: this.sourceEvents - 1, event: ev?.kind ?? "end" });
        if (pause instanceof Promise) await pause;
      }
      this.checkFinished();
      return this.metrics();
    } finally {
      for (const s of plan.sources) await s.reader?.close?.();
      for (const r of plan.doFns) {
        try {
          r.teardown();
        } catch {
          // A teardown failure must not hide the error that ended the run.
        }
      }
    }
  }

  private handle(s: SourceNode, ev: SourceEvent<unknown> | undefined): void {
    if (ev === undefined) {
      s.done = true;
      s.watermark = MAX_TIMESTAMP;
      return;
    }
    switch (ev.kind) {
      case "elements": {
        this.syncProcessingTime();
        const { values, timestamps } = ev;
        if (timestamps.length !== values.length) {
          throw new StepError(
            s.stepName,
            undefined,
            undefined,
            new Error("a bundle's values and timestamps differ in length"),
          );
        }
        const out = s.downstream;
        const meta = s.meta.set(MIN_TIMESTAMP, GLOBAL_WINDOWS, NO_FIRING);
        for (let i = 0; i < values.length; i++) {
          const t = timestamps[i] as number;
          if (!Number.isInteger(t) || t < MIN_TIMESTAMP || t > MAX_TIMESTAMP) {
            throw new StepError(
              s.stepName,
              undefined,
              undefined,
              new RangeError(`element ${i} of a bundle has an invalid timestamp ${t}`),
            );
          }
          meta.timestamp = t;
          out.receive(values[i], meta);
        }
        s.elementsOut += values.length;
        this.finishBundles();
        return;
      }
      case "watermark":
        if (ev.watermark > s.watermark) s.watermark = Math.min(ev.watermark, MAX_TIMESTAMP);
        // On the wall clock a source's watermark events are also its heartbeat: processing-time timers fire on time
        // while it waits for data.
        if (!(this.clock instanceof VirtualClock)) this.syncProcessingTime();
        return;
      case "processingTime": {
        const c = this.clock;
        if (!(c instanceof VirtualClock)) {
          throw new StepError(
            s.stepName,
            undefined,
            undefined,
            new Error("a source moved processing time, but the run uses the wall clock"),
          );
        }
        c.advanceTo(ev.time);
        this.syncProcessingTime();
        return;
      }
    }
  }

  /** Moves every grouping's processing time to the clock, firing due processing-time timers. */
  private syncProcessingTime(): void {
    const now = this.clock.now();
    for (const g of this.plan.groups) g.advanceProcessingTime(now);
  }

  /** Ends the bundle in every step that started one, until no step has an open bundle. */
  private finishBundles(): void {
    while (this.startedDoFns.length > 0 || this.startedGroups.length > 0) {
      const doFns = this.startedDoFns.splice(0);
      for (const r of doFns) r.finishBundle();
      const groups = this.startedGroups.splice(0);
      for (const g of groups) g.finishBundle();
    }
  }

  /** Delivers pending bundles and advances watermarks until nothing more happens. */
  private settle(): void {
    for (let rounds = 0; ; rounds++) {
      let moved = false;
      for (const g of this.plan.groups) {
        if (g.queue.size > 0) {
          g.queue.drainTo(this.plan.groupOutputs.get(g) as NonNullable<ReturnType<Plan["groupOutputs"]["get"]>>);
          this.finishBundles();
          moved = true;
        }
      }
      for (const g of this.plan.groups) {
        const upstream = this.plan.groupUpstream.get(g) ?? [];
        const w = minWatermark(upstream);
        if (w > g.inputWatermark) g.advanceInputWatermark(w);
        if (g.queue.size > 0) moved = true;
        // Elements waiting for a side input go on once it is ready (new data, or its watermark passed the window).
        if (g instanceof SideInputStage && g.retry()) {
          this.finishBundles();
          moved = true;
        }
      }
      if (!moved) return;
      if (rounds > 1_000_000) throw new Error("the runner made no progress in a million rounds; this is a bug");
    }
  }

  private checkFinished(): void {
    for (const g of this.plan.groups) {
      if (g.inputWatermark < MAX_TIMESTAMP || g.queue.size > 0 || (g instanceof SideInputStage && g.stateCount() > 0)) {
        throw new Error(
          `input ended, but step "${g.stepName}" did not finish: input watermark ${formatInstant(g.inputWatermark)}, ` +
            `${g.queue.size} pending, ${g.stateCount()} windows.\n${this.dump()}`,
        );
      }
    }
  }

  private dump(): string {
    return this.metrics()
      .steps.map(
        (s) => `  ${s.step} (${s.kind}): in ${formatInstant(s.inputWatermark)} out ${formatInstant(s.outputWatermark)}`,
      )
      .join("\n");
  }

  snapshot(): ExecutionSnapshot {
    const plan = this.plan;
    return {
      version: 1,
      steps: plan.steps.map((st) => st.name),
      sourceEvents: this.sourceEvents,
      processingTime: this.clock.isVirtual ? this.clock.now() : Number.NaN,
      sources: plan.sources.map((s) => ({
        watermark: s.watermark,
        done: s.done,
        elementsOut: s.elementsOut,
        reader: s.reader?.snapshot?.(),
      })),
      stages: plan.groups.map((g) => g.snapshot()),
      views: [...plan.stores].map(([id, store]) => [id, store.snapshot()] as const),
      counters: plan.steps.map((st) => {
        const n = st.node;
        if (n instanceof DoFnRunner) return { ...n.counters };
        if (n instanceof WindowIntoNode || n instanceof FlattenNode || n instanceof FusedSessionAssign)
          return n.elements;
        return null;
      }),
    };
  }

  /** Takes back a snapshot of the same pipeline (before anything is read): sources reopen where they were. */
  private restore(snap: ExecutionSnapshot): void {
    const plan = this.plan;
    const steps = plan.steps.map((st) => st.name);
    if (snap.version !== 1 || steps.join("\u0000") !== snap.steps.join("\u0000")) {
      throw new Error(
        `the checkpoint was taken from another pipeline (its steps: ${snap.steps.join(", ")}; this pipeline's: ` +
          `${steps.join(", ")}); start without it, or from a checkpoint of this pipeline`,
      );
    }
    this.sourceEvents = snap.sourceEvents;
    if (this.clock instanceof VirtualClock && Number.isFinite(snap.processingTime)) {
      this.clock.advanceTo(snap.processingTime);
    }
    plan.sources.forEach((s, i) => {
      const saved = snap.sources[i] as ExecutionSnapshot["sources"][number];
      s.watermark = saved.watermark;
      s.done = saved.done;
      s.elementsOut = saved.elementsOut;
      s.reader = s.source.open(saved.reader);
    });
    plan.groups.forEach((g, i) => {
      g.restore(snap.stages[i]);
    });
    for (const [id, state] of snap.views) plan.stores.get(id)?.restore(state);
    plan.steps.forEach((st, i) => {
      const c = snap.counters[i];
      const n = st.node;
      if (n instanceof DoFnRunner && typeof c === "object" && c !== null) Object.assign(n.counters, c);
      else if (
        (n instanceof WindowIntoNode || n instanceof FlattenNode || n instanceof FusedSessionAssign) &&
        typeof c === "number"
      ) {
        n.elements = c;
      }
    });
  }

  checkpointMarks(): CheckpointMark[] {
    const marks: CheckpointMark[] = [];
    for (const s of this.plan.sources) {
      const mark = s.reader?.checkpointMark?.();
      if (mark !== undefined) marks.push(mark);
    }
    return marks;
  }

  metrics(): MetricsSnapshot {
    const steps: StepMetrics[] = this.plan.steps.map((st) => {
      const n = st.node;
      const inWm = minWatermark(st.upstream);
      if (n instanceof SourceNode) {
        return base(st.name, st.kind, 0, n.elementsOut, n.watermark, n.watermark);
      }
      if (n instanceof WindowIntoNode || n instanceof FlattenNode || n instanceof FusedSessionAssign) {
        return base(st.name, st.kind, n.elements, n.elements, inWm, inWm);
      }
      if (n instanceof ViewStore) {
        return { ...base(st.name, st.kind, n.elements, 0, inWm, inWm), windows: n.windowCount() };
      }
      if (!(n instanceof DoFnRunner)) {
        const c = n.counts();
        return {
          ...base(st.name, st.kind, c.elementsIn, c.elementsOut, n.inputWatermark, producerWatermark(n)),
          droppedLate: c.droppedLate,
          droppedClosed: c.droppedClosed,
          windows: n.stateCount(),
        };
      }
      return base(st.name, st.kind, n.counters.elementsIn, n.counters.elementsOut, inWm, inWm);
    });
    return { steps, processingTime: this.clock.now(), sourceEvents: this.sourceEvents };
  }
}

function base(
  step: string,
  kind: string,
  elementsIn: number,
  elementsOut: number,
  inWm: number,
  outWm: number,
): StepMetrics {
  return {
    step,
    kind,
    elementsIn,
    elementsOut,
    droppedLate: 0,
    droppedClosed: 0,
    inputWatermark: inWm,
    outputWatermark: outWm,
  };
}

function minWatermark(producers: readonly Producer[]): number {
  let w = Number.POSITIVE_INFINITY;
  for (const p of producers) w = Math.min(w, producerWatermark(p));
  return producers.length === 0 ? MAX_TIMESTAMP : w;
}
