import { type MetricsContainer, UNATTRIBUTED, type UserMetric } from "../../core/metrics.ts";
import { NO_FIRING } from "../../core/pane.ts";
import type { Pipeline } from "../../core/pipeline.ts";
import type { CheckpointMark, SourceEvent } from "../../core/source.ts";
import { formatInstant, MAX_TIMESTAMP, MIN_TIMESTAMP } from "../../core/time/instant.ts";
import { GLOBAL_WINDOWS } from "../../core/windows/window-fn.ts";
import { AsyncWork } from "../fn/async-work.ts";
import { DoFnRunner } from "../fn/do-fn-runner.ts";
import { StepError } from "../fn/step-error.ts";
import { CheckpointLock } from "./checkpoint-lock.ts";
import { CheckpointStore, type EncodedCheckpoint } from "./checkpoint-store.ts";
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
import { StatefulStage } from "./stateful-stage.ts";
import { type EncodedHeldElement, type HeldElement, StableInputBuffer } from "./stable-input.ts";
import { ViewStore } from "../fn/view-store.ts";

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
   * are reopened from their readers' snapshots; every stage takes back its state. (With `checkpoint`, the runner
   * resumes from its folder by itself.)
   */
  readonly restore?: ExecutionSnapshot;
  /**
   * Checkpoints: the runner writes its whole state to `dir` every `intervalMs` (default 5 s), resumes from the
   * latest one when started on a folder that has one, and removes them after a clean end. See `Execution.commit`
   * for what a checkpoint covers. One process at a time may use a folder (`CheckpointLock`).
   */
  readonly checkpoint?: { readonly dir: string; readonly intervalMs?: number };
  /**
   * The job's name: kept in each checkpoint and in the folder's lock, so that a run of another job on the folder is
   * refused, naming both.
   */
  readonly jobName?: string;
  /** Without checkpoints, how often (wall ms) the runner commits: finishes sinks' bundles and finalizes sources. Default 1 s. */
  readonly commitIntervalMs?: number;
  /**
   * How long (wall ms) a sink's bundle may stay open across source events before the runner finishes it (a sink
   * writes its batch in `finishBundle`), as the Flink runner's `maxBundleTimeMills`. Only sinks (DoFns whose outputs
   * reach no grouping) keep a bundle open: nothing waits on them, so no watermark is held. Default 0: every source
   * event, and every batch of panes, is a bundle of its own.
   */
  readonly maxBundleMs?: number;
  /**
   * Backpressure: how many promises one step may have pending (asynchronous writes) before the runner stops reading
   * until the oldest settles. Default 1: one write in flight while the step fills its next batch.
   */
  readonly maxPendingPerStep?: number;
  /**
   * Called at each phase of every commit, in order (for progress, and for tests that crash the run at a phase). A
   * returned promise is awaited before the commit goes on.
   */
  readonly onCommit?: (phase: CommitPhase, commit: CommitInfo) => unknown;
}

/**
 * The phases of a commit, in order: `writes-started` (every open sink bundle finished, the state snapshot taken),
 * `writes-done` (every write the covered bundles started has settled), `checkpoint-written` (the snapshot is durable;
 * checkpointed runs only), `stable-input-written` (the held input of steps requiring stable input has been handed
 * to them and their writes have settled; checkpointed runs only), `finalized` (the sources' checkpoint marks are
 * finalized: a message queue has acknowledged what they cover).
 */
export type CommitPhase =
  | "writes-started"
  | "writes-done"
  | "checkpoint-written"
  | "stable-input-written"
  | "finalized";

export interface CommitInfo {
  /** The checkpoint's sequence number (checkpointed runs), or the commit's number. */
  readonly seq: number;
  /** Source elements the commit's marks cover. */
  readonly marked: number;
  /** Whether this is the commit at the end of the run. */
  readonly final: boolean;
}

/** What the runner committed, for the run's summary. */
export interface CommitStats {
  /** Checkpoints written by this run. */
  readonly checkpoints: number;
  /** The checkpoint this run resumed from (its sequence number), if any. */
  readonly resumedFrom: number | undefined;
  /** Source elements whose checkpoint marks were finalized (acknowledged). */
  readonly finalized: number;
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
  /**
   * Input held for steps that require stable input, by step name: taken with this snapshot, handed to the step once
   * the checkpoint is written, and again when a run resumes from it.
   */
  readonly stableInputs?: readonly (readonly [string, readonly EncodedHeldElement[]])[];
}

/** What a checkpoint file holds: the runner's snapshot (an envelope, so later versions can add beside it). */
interface StoredRun {
  readonly runner: ExecutionSnapshot;
  readonly jobName?: string;
}

/** A run in progress: its metrics can be read at any time. */
export interface RunningPipeline {
  metrics(): MetricsSnapshot;
  /**
   * The checkpoint marks of every source that gives them, covering all it has given so far and no earlier mark (see
   * `SourceReader.checkpointMark`). The runner takes and finalizes marks itself at each commit; a caller that takes
   * marks takes those elements out of the runner's commits and must finalize them itself (for tests of sources).
   */
  checkpointMarks(): CheckpointMark[];
  /**
   * The run's whole state (sources' positions, watermarks, every window, trigger, state cell and timer, counters), as
   * plain data for a checkpoint. Take it between steps (in `onStep`), with `checkpointMarks`.
   */
  snapshot(): ExecutionSnapshot;
  /** What the runner has committed so far: checkpoints written, the one resumed from, elements finalized. */
  commitStats(): CommitStats;
  /**
   * The metrics containers of this job's steps (one per step whose code the runner runs in one: their user metrics
   * and, with a sampler, their processing time, `runners/observe/step-time.ts`). A runner whose steps run in other
   * processes has none here.
   */
  metricsContainers?(): readonly MetricsContainer[];
  /**
   * The job's state as the runner that runs it elsewhere reports it (Prism, through the Job API), for readiness; a
   * runner in this process has none (its job runs while the process does).
   */
  jobState?(): RunnerJobState;
  /** Resolves with the final metrics when all input is processed; rejects with the first step error. */
  waitUntilFinish(): Promise<MetricsSnapshot>;
}

/** A job's state in the runner that runs it (Beam's JobState name: `STARTING`, `RUNNING`, `DONE`, `FAILED`, ...). */
export interface RunnerJobState {
  readonly state: string;
  /** The runner's id of the job ("" before it has one). */
  readonly jobId: string;
  /** Why the job failed (or was cancelled), once it has. */
  readonly failure?: string;
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
        metrics: () => ({ steps: [], user: [], processingTime: Number.NEGATIVE_INFINITY, sourceEvents: 0 }),
        checkpointMarks: () => [],
        snapshot: () => {
          throw e;
        },
        commitStats: () => ({ checkpoints: 0, resumedFrom: undefined, finalized: 0 }),
        metricsContainers: () => [],
        waitUntilFinish: () => failed,
      };
    }
    const done = exec.run();
    done.catch(() => {});
    return {
      metrics: () => exec.metrics(),
      checkpointMarks: () => exec.checkpointMarks(),
      snapshot: () => exec.snapshot(),
      commitStats: () => exec.commitStats(),
      metricsContainers: () => exec.containers,
      waitUntilFinish: () => done,
    };
  }
}

/** Between two yields to the event loop while asynchronous work is pending (wall ms): I/O completes on this thread. */
const YIELD_INTERVAL_MS = 2;

class Execution {
  private readonly plan: Plan;
  /** The steps' metrics containers (`Plan.metricsContainers`), released when the run ends. */
  readonly containers: readonly MetricsContainer[];
  private readonly clock: Clock;
  private readonly startedDoFns: DoFnRunner[] = [];
  private readonly startedGroups: KeyedStage[] = [];
  /** Sinks (terminal DoFns) with an open bundle: finished by age, at a commit, or at the end. */
  private readonly openSinks: DoFnRunner[] = [];
  private readonly asyncWork = new AsyncWork();
  private readonly store: CheckpointStore<StoredRun> | undefined;
  private readonly commitIntervalMs: number;
  private readonly maxBundleMs: number;
  private readonly maxPending: number;
  private sourceEvents = 0;
  private seq = 0;
  private checkpoints = 0;
  private resumedFrom: number | undefined;
  private finalized = 0;
  /** The commit in progress (at most one at a time). */
  private committing: Promise<void> | undefined;
  private commitFailure: unknown;
  /** Set when the run fails: a commit in progress writes no checkpoint and finalizes nothing after that. */
  private failed = false;
  private lastCommitMs = 0;
  private commitStartedMs = 0;
  private lastYieldMs = 0;
  /** Source elements read, and the last asynchronous work started, as of the last commit. */
  private readAtCommit = 0;
  /** The steps' counts as restored from the checkpoint this run resumed from. */
  private resumedWith: readonly StepMetrics[] | undefined;
  private asyncAtCommit = 0;
  /** Input a commit has taken from the stable-input buffers and not yet handed over (for `snapshot()` meanwhile). */
  private heldInCommit: HeldElement[][] = [];
  /** Input held for stable-input steps in the checkpoint resumed from, handed to them as the run starts. */
  private restoredHeld: HeldElement[][] = [];

  constructor(
    pipeline: Pipeline,
    private readonly options: RunOptions,
  ) {
    this.plan = new Plan(
      pipeline.graph(),
      (r) => {
        if (this.maxBundleMs > 0 && this.plan.terminal.has(r)) {
          r.bundleStartedMs = performance.now();
          this.openSinks.push(r);
        } else {
          this.startedDoFns.push(r);
        }
      },
      (g) => this.startedGroups.push(g),
      { holdStableInput: options.checkpoint !== undefined },
    );
    this.containers = this.plan.metricsContainers();
    const virtual = this.plan.sources.every((s) => s.source.bounded || s.source.drivesProcessingTime === true);
    this.clock = options.clock ?? (virtual ? new VirtualClock(MIN_TIMESTAMP) : new SystemClock());
    for (const r of this.plan.doFns) {
      r.clock = this.clock;
      r.asyncWork = this.asyncWork;
    }
    for (const g of this.plan.groups) if (g instanceof StatefulStage) g.asyncWork = this.asyncWork;
    const cp = options.checkpoint;
    this.store = cp === undefined ? undefined : new CheckpointStore<StoredRun>(cp.dir);
    this.commitIntervalMs = cp === undefined ? (options.commitIntervalMs ?? 1_000) : (cp.intervalMs ?? 5_000);
    this.maxBundleMs = options.maxBundleMs ?? 0;
    this.maxPending = options.maxPendingPerStep ?? 1;
    if (!(this.maxPending >= 1)) throw new RangeError(`maxPendingPerStep must be at least 1, got ${this.maxPending}`);
  }

  async run(): Promise<MetricsSnapshot> {
    const plan = this.plan;
    let lock: CheckpointLock | undefined;
    try {
      if (this.store !== undefined) lock = CheckpointLock.acquire(this.store.dir, this.options.jobName);
      for (const r of plan.doFns) r.setup();
      const stored = this.store?.latest();
      if (stored !== undefined && (typeof stored.state !== "object" || stored.state?.runner === undefined)) {
        throw new Error(`${this.store?.dir} holds a checkpoint that is not a Tidemark runner's; give another folder`);
      }
      const job = this.options.jobName;
      if (stored?.state.jobName !== undefined && job !== undefined && stored.state.jobName !== job) {
        throw new Error(
          `${this.store?.dir} holds the checkpoints of job "${stored.state.jobName}", not of "${job}": give this job ` +
            "its own --checkpoint-dir",
        );
      }
      const restore = stored?.state.runner ?? this.options.restore;
      if (stored !== undefined) {
        this.resumedFrom = stored.seq;
        this.seq = stored.seq;
      }
      if (restore !== undefined) {
        this.restore(restore);
        this.resumedWith = this.metrics().steps;
      } else for (const s of plan.sources) s.reader = s.source.open();
      this.syncProcessingTime();
      this.settle();
      if (this.restoredHeld.some((h) => h.length > 0)) this.releaseHeld(this.restoredHeld);
      this.restoredHeld = [];
      this.lastCommitMs = performance.now();
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
        await this.afterStep();
      }
      this.checkFinished();
      // The end: every window has fired. Commit what is left (the last checkpoint, the held input, the last marks).
      await this.committing;
      this.throwIfFailed();
      await this.commit(true);
      // A clean end: the next run on this folder starts afresh.
      this.store?.clear();
      return this.metrics();
    } catch (e) {
      this.failed = true;
      throw e;
    } finally {
      // Let the work in flight settle (it may not be abandoned mid-write), then close and tear down.
      await this.committing?.catch(() => {});
      await this.asyncWork.idle();
      for (const s of plan.sources) await s.reader?.close?.();
      for (const r of plan.doFns) {
        try {
          r.teardown();
        } catch {
          // A teardown failure must not hide the error that ended the run.
        }
      }
      // The steps' processing-time slots go back (their metrics stay readable).
      for (const c of this.containers) c.release();
      lock?.release();
    }
  }

  /**
   * Between source events: finishes sinks' bundles that are old enough, starts a commit when one is due, waits while
   * a step has too much asynchronous work pending (backpressure), and lets the event loop turn now and then.
   */
  private async afterStep(): Promise<void> {
    this.throwIfFailed();
    const now = performance.now();
    // Sinks open their bundles in order: only when the oldest is due is there anything to finish.
    const first = this.openSinks[0];
    if (first !== undefined && now - first.bundleStartedMs >= this.maxBundleMs) {
      this.finishSinks(this.openSinks.filter((r) => now - r.bundleStartedMs >= this.maxBundleMs));
    }
    const due = now - this.lastCommitMs >= this.commitIntervalMs;
    if (due && this.committing !== undefined && now - this.commitStartedMs > Math.max(this.commitIntervalMs, 1_000)) {
      // At most one commit at a time; one that has run past the next due time (and at least a second) makes the
      // runner wait: this bounds what is read and not yet committed (unacknowledged) when the sinks fall behind.
      await this.committing;
      this.throwIfFailed();
    }
    if (due && this.committing === undefined && this.hasUncommitted()) {
      this.lastCommitMs = this.commitStartedMs = performance.now();
      const c = this.commit(false).then(
        () => {
          this.committing = undefined;
        },
        (e: unknown) => {
          this.committing = undefined;
          this.commitFailure ??= e;
        },
      );
      this.committing = c;
    }
    for (let over = this.asyncWork.stepOver(this.maxPending); over !== undefined; ) {
      await this.asyncWork.oldestOf(over);
      this.throwIfFailed();
      over = this.asyncWork.stepOver(this.maxPending);
    }
    // Writes complete through this thread's event loop: give it a turn now and then while any is pending, and at
    // every step while a commit is due (so it completes within a few steps).
    const overdue = this.committing !== undefined && performance.now() - this.lastCommitMs >= this.commitIntervalMs;
    if (overdue || (this.asyncWork.size > 0 && now - this.lastYieldMs > YIELD_INTERVAL_MS)) {
      this.lastYieldMs = now;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.throwIfFailed();
  }

  /**
   * Whether a commit would do anything: elements were read since the last one (their marks to finalize, their state
   * to checkpoint), a sink has a bundle open or wrote since, or input is held for a stable-input step. A checkpoint
   * of state changes alone (watermarks, timers that output nothing) is left to the next commit: nothing outside
   * depends on it, and a replay from the previous checkpoint computes it again.
   */
  private hasUncommitted(): boolean {
    return (
      this.elementsRead() !== this.readAtCommit ||
      this.openSinks.length > 0 ||
      this.asyncWork.lastSeq !== this.asyncAtCommit ||
      this.plan.stableInputs.some((b) => b.size > 0)
    );
  }

  /** Elements the sources have given so far. */
  private elementsRead(): number {
    let read = 0;
    for (const s of this.plan.sources) read += s.elementsOut;
    return read;
  }

  private throwIfFailed(): void {
    if (this.asyncWork.failure !== undefined) throw this.asyncWork.failure;
    if (this.commitFailure !== undefined) throw this.commitFailure;
  }

  /**
   * Finishes the open bundles of `sinks` (their batches are written). Without `sinks`, finishes every open sink
   * bundle, including those opened meanwhile by what a finishing bundle output (a commit needs all of them).
   */
  private finishSinks(sinks?: readonly DoFnRunner[]): void {
    const open = this.openSinks;
    if (sinks !== undefined) {
      for (const r of sinks) {
        const i = open.indexOf(r);
        if (i >= 0) open.splice(i, 1);
        r.finishBundle();
      }
      this.finishBundles();
      return;
    }
    while (open.length > 0) {
      (open.shift() as DoFnRunner).finishBundle();
      // A finishBundle may output to other steps, which start bundles: finish those too.
      this.finishBundles();
    }
  }

  /**
   * A commit, at a point between source events where everything read has been processed:
   * 1. every open sink bundle is finished (its batch written), the sources' checkpoint marks are taken (they cover
   *    all that was read) and, with checkpoints, the state is snapshotted, taking the input held for steps that
   *    require stable input with it;
   * 2. every asynchronous write started so far settles (so every row the snapshot's state has produced is written);
   * 3. with checkpoints, the snapshot is written durably; then the held input is handed to its steps and their
   *    writes settle (they see only input that a replay from this checkpoint gives them again);
   * 4. the marks are finalized: the sources acknowledge what they cover.
   * The runner goes on reading while 2 to 4 are under way; at most one commit runs at a time. After a crash, a run
   * resumes from the last checkpoint written: what its state produced is in the warehouse, and the sources deliver
   * again what was not acknowledged.
   */
  private async commit(final: boolean): Promise<void> {
    this.finishSinks();
    this.readAtCommit = this.elementsRead();
    const marks = this.checkpointMarks();
    const marked = marks.reduce((n, m) => n + m.size, 0);
    const seq = ++this.seq;
    const info: CommitInfo = { seq, marked, final };
    let held: HeldElement[][] = [];
    let encoded: EncodedCheckpoint | undefined;
    if (this.store !== undefined) {
      held = this.plan.stableInputs.map((b) => b.take());
      this.heldInCommit = held;
      const jobName = this.options.jobName;
      encoded = this.store.encode(seq, { runner: this.snapshot(held), ...(jobName === undefined ? {} : { jobName }) });
    }
    this.asyncAtCommit = this.asyncWork.lastSeq;
    await this.options.onCommit?.("writes-started", info);
    await this.asyncWork.settledUpTo(this.asyncAtCommit);
    await this.options.onCommit?.("writes-done", info);
    if (this.failed) return;
    if (this.store !== undefined && encoded !== undefined) {
      try {
        this.store.writeEncoded(encoded);
      } catch (e) {
        throw new Error(`could not write checkpoint ${seq} to ${this.store.dir}: ${(e as Error).message}`, {
          cause: e,
        });
      }
      this.checkpoints++;
      await this.options.onCommit?.("checkpoint-written", info);
      if (this.failed) return;
      this.releaseHeld(held);
      this.heldInCommit = [];
      await this.asyncWork.settledUpTo(this.asyncWork.lastSeq);
      await this.options.onCommit?.("stable-input-written", info);
    }
    if (this.failed) return;
    for (const m of marks) {
      try {
        await m.finalize();
      } catch (e) {
        throw new Error(
          `could not finalize the checkpoint mark of ${m.size} source elements (commit ${seq}; they will be delivered ` +
            `again): ${(e as Error).message}`,
          { cause: e },
        );
      }
    }
    this.finalized += marked;
    await this.options.onCommit?.("finalized", info);
  }

  /** Hands held input to the steps that require stable input (its checkpoint is durable) and writes their batches. */
  private releaseHeld(held: readonly (readonly HeldElement[])[]): void {
    this.plan.stableInputs.forEach((b, i) => {
      const elements = held[i] ?? [];
      if (elements.length > 0) b.release(elements);
    });
    this.finishBundles();
    this.finishSinks();
    this.settle();
  }

  commitStats(): CommitStats {
    return { checkpoints: this.checkpoints, resumedFrom: this.resumedFrom, finalized: this.finalized };
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

  /**
   * The run's state as plain data. `held`: the input taken from the stable-input buffers for this snapshot (a
   * commit's); without it, what the buffers hold now and what a commit in progress has taken and not handed over.
   */
  snapshot(held?: readonly (readonly HeldElement[])[]): ExecutionSnapshot {
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
      stableInputs: plan.stableInputs.map(
        (b, i) =>
          [
            b.stepName,
            StableInputBuffer.encode(held?.[i] ?? [...(this.heldInCommit[i] ?? []), ...b.contents()]),
          ] as const,
      ),
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
    // Input held for stable-input steps at that checkpoint: durable now, handed to its steps as the run starts.
    const held = new Map((snap.stableInputs ?? []).filter(([, elements]) => elements.length > 0));
    for (const [step] of held) {
      if (!plan.stableInputs.some((b) => b.stepName === step)) {
        throw new Error(
          `the checkpoint holds input for step "${step}", which does not require stable input in this pipeline ` +
            "(or the run does not checkpoint); start it from a checkpoint taken with the same settings",
        );
      }
    }
    this.restoredHeld = plan.stableInputs.map((b) => StableInputBuffer.decode(held.get(b.stepName) ?? []));
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
    const user: UserMetric[] = UNATTRIBUTED.values();
    for (const c of this.containers) user.push(...c.values());
    return {
      steps,
      ...(this.resumedWith === undefined ? {} : { resumedWith: this.resumedWith }),
      user,
      processingTime: this.clock.now(),
      sourceEvents: this.sourceEvents,
    };
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
