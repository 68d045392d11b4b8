import { groupingKey } from "../../../core/kv.ts";
import type { PaneInfo } from "../../../core/pane.ts";
import { END_OF_GLOBAL_WINDOW, MAX_TIMESTAMP } from "../../../core/time/instant.ts";
import type { WindowingStrategy } from "../../../core/windowing-strategy.ts";
import { isMerging } from "../../../core/windows/window-fn.ts";
import type { BoundedWindow } from "../../../core/windows/window.ts";
import { OrderedTimeHeap } from "../timers/ordered-time-heap.ts";
import { machineFromSpec } from "../triggers/from-spec.ts";
import type { TriggerEnv, TriggerMachine, TriggerState } from "../triggers/machine.ts";
import { decodeWindow, type EncodedWindow, encodeWindow } from "../window-codec.ts";
import { MergingWindows } from "./merging-windows.ts";
import { describePane } from "./pane-tracker.ts";
import { ReduceFnError } from "./reduce-fn-error.ts";
import type { ReduceFn } from "./reduce-fn.ts";
import { WatermarkHolds } from "./watermark-holds.ts";
import { KeyState, WindowState } from "./window-state.ts";

/** Where panes go: one call per emitted pane. */
export interface PaneSink<K, O> {
  emitPane(key: K, value: O, timestamp: number, window: BoundedWindow, pane: PaneInfo): void;
}

/** Counts kept by a grouping stage. */
export interface ReduceCounters {
  elements: number;
  droppedExpired: number;
  droppedClosed: number;
  panes: number;
  merges: number;
}

/** One window of one key in a `ReduceSnapshot`: everything `WindowState` keeps, as plain data. */
export interface WindowSnapshot {
  /** The window's id (its creation number: see `WindowState.id`); other parts of the snapshot refer to it. */
  readonly id: number;
  readonly window: EncodedWindow;
  /** The accumulator (combining) or the buffered values (grouping), as the reduce function keeps them. */
  readonly acc: unknown;
  /** Elements since the last pane. */
  readonly nonEmpty: number;
  /** NaN when not held. */
  readonly elementHold: number;
  readonly extraHold: number;
  readonly prevPane: PaneInfo | null;
  readonly closed: boolean;
  readonly timerAtMax: boolean;
  readonly timerAtGc: boolean;
  /** The time of its entry in the window index (+Infinity when none): a lower bound of its next timer or hold. */
  readonly heapAt: number;
  /** Whether it was already listed as touched in the current bundle (so it is not listed twice). */
  readonly touchedInBundle: boolean;
  readonly trigger: { readonly finished: number; readonly leaf: readonly number[] | null };
}

/**
 * A ReduceRunner's whole state as plain data (see `ReduceRunner.snapshot`). Windows are referred to by id, keys by
 * their position in `keys`.
 */
export interface ReduceSnapshot {
  readonly inputWatermark: number;
  readonly outputWatermark: number;
  readonly processingTime: number;
  readonly counters: ReduceCounters;
  /** The next window id. */
  readonly windowSeq: number;
  /** Key sweeps so far (keys' `emptySince` counts them). */
  readonly sweeps: number;
  /** In the order of the runner's key map; each key's open windows oldest first, then its closed ones in order. */
  readonly keys: readonly {
    readonly key: unknown;
    readonly groupKey: string | number | boolean;
    readonly emptySince: number;
    /** False for a key already swept that an element of the current bundle still waits on (see `deferred`). */
    readonly inMap: boolean;
    readonly windows: readonly WindowSnapshot[];
  }[];
  /** Keys waiting for the sweep, in order (positions in `keys`). */
  readonly emptied: readonly number[];
  /** Live processing-time timers: the time and the window's id. */
  readonly procTimers: readonly { readonly time: number; readonly window: number }[];
  /** Windows touched in the current bundle, in order (ids; taken between bundles, this is empty). */
  readonly touched: readonly number[];
  /** Elements of the current bundle waiting to be retried at its end (taken between bundles, none). */
  readonly deferred: readonly {
    readonly key: number;
    readonly value: unknown;
    readonly timestamp: number;
    readonly start: number;
    readonly end: number;
    readonly window?: EncodedWindow;
  }[];
}

type KS<K, A> = KeyState<K, A>;
/**
 * A key with more windows than this (open and closed, non-merging) finds an element's window through an index by
 * the window's end (`KeyState.findByWindow`) instead of a scan: a scan per element is quadratic in a key's windows.
 */
const INDEX_WINDOWS_AT = 8;
/** At most this many expired window states are kept for reuse. */
const MAX_POOLED_WINDOWS = 65_536;
const STATELESS_TRIGGER: TriggerState = Object.freeze({ finished: 0, leaf: null }) as TriggerState;
interface ProcTimer<K, A> {
  readonly ws: WindowState<K, A>;
  readonly gen: number;
  readonly time: number;
}
type WS<K, A> = WindowState<K, A>;

/**
 * The grouping machine of one stage (Beam's ReduceFnRunner): per key and window it buffers or combines values, asks
 * the trigger when to fire, numbers panes, places watermark holds and expires windows. It is pure and synchronous:
 * the runner feeds it elements, bundle ends, watermark and processing-time advances, and receives panes.
 *
 * Collaborators: `machineFromSpec` (trigger), `MergingWindows` (session merging), `WatermarkHolds`, `describePane`.
 */
export class ReduceRunner<K, V, A, O> {
  inputWatermark = Number.NEGATIVE_INFINITY;
  /** -Infinity until the first watermark advance ("unknown"). */
  outputWatermark = Number.NEGATIVE_INFINITY;
  processingTime = Number.NEGATIVE_INFINITY;
  readonly counters: ReduceCounters = { elements: 0, droppedExpired: 0, droppedClosed: 0, panes: 0, merges: 0 };

  /** Expiry times are capped at the end of the global window, as Beam caps garbage-collection time. */
  readonly gcCap = END_OF_GLOBAL_WINDOW;
  readonly keys = new Map<string | number | boolean, KS<K, A>>();
  private readonly trigger: TriggerMachine;
  private readonly holds: WatermarkHolds;
  private readonly merging: MergingWindows<K, A> | undefined;
  /**
   * Windows by their earliest event timer or hold (lazily: entries are lower bounds), and at equal times by window
   * id, so windows due together are evaluated in creation order whatever the heap's history (and after a restore).
   */
  private readonly index = new OrderedTimeHeap<WS<K, A>>();
  private readonly parked: WS<K, A>[] = [];
  /** Expired window states and swept key states kept for reuse. */
  private readonly pool: WS<K, A>[] = [];
  private readonly keyPool: KS<K, A>[] = [];
  /** Processing-time timers by time, then window id (as the index). */
  private readonly procTimers = new OrderedTimeHeap<ProcTimer<K, A>>();
  /** The next window id (see `WindowState.id`); survives checkpoints. */
  private windowSeq = 0;
  /** Windows touched in this bundle: `touched[0..touchedCount)`; the array is reused, never shrunk. */
  private readonly touched: (WS<K, A> | undefined)[] = [];
  private touchedCount = 0;
  /** Keys that became empty, waiting for `sweepKeys`. */
  private readonly emptied: KS<K, A>[] = [];
  private sweeps = 0;
  private readonly deferred: {
    ks: KS<K, A>;
    value: V;
    timestamp: number;
    start: number;
    end: number;
    window?: BoundedWindow;
  }[] = [];
  private epoch = 0;
  readonly latenessMs: number;
  private readonly discarding: boolean;
  private readonly emitEmptyOnTime: boolean;
  private readonly emitEmptyFinal: boolean;
  private readonly needsLeaf: boolean;
  private readonly needsFinishedBits: boolean;
  private current: WS<K, A> | undefined;
  /** The trigger's view of the window being evaluated; reused, never reallocated. */
  private readonly env: TriggerEnv;

  constructor(
    readonly strategy: WindowingStrategy,
    private readonly reduceFn: ReduceFn<V, A, O>,
    private readonly sink: PaneSink<K, O>,
  ) {
    this.trigger = machineFromSpec(strategy.trigger);
    this.holds = new WatermarkHolds(strategy, this, (ws) => this.scheduleEvent(ws as WS<K, A>));
    this.latenessMs = strategy.allowedLatenessMs;
    this.discarding = strategy.accumulation === "discarding";
    this.emitEmptyOnTime = strategy.onTimeBehavior === "fireAlways";
    this.emitEmptyFinal = strategy.closingBehavior === "fireAlways";
    this.needsLeaf = this.trigger.hasLeafState();
    this.needsFinishedBits = strategy.trigger.type !== "default";
    const merging = isMerging(strategy.windowFn);
    const fn = strategy.windowFn;
    this.merging = merging
      ? new MergingWindows<K, A>(this, fn.kind === "custom" ? fn.fn.merge?.bind(fn.fn) : undefined)
      : undefined;
    const self = this;
    this.env = {
      inputWatermark: Number.NEGATIVE_INFINITY,
      processingTime: Number.NEGATIVE_INFINITY,
      maxTimestamp: Number.NEGATIVE_INFINITY,
      isMerging: merging,
      setEndOfWindowTimer() {
        const ws = self.current;
        if (!ws) throw new Error("trigger set a timer outside a window evaluation");
        if (!ws.timerAtMax) {
          ws.timerAtMax = true;
          self.scheduleEvent(ws);
        }
      },
      setProcessingTimer(t) {
        const ws = self.current;
        if (!ws) throw new Error("trigger set a timer outside a window evaluation");
        self.procTimers.push(t, ws.id, { ws, gen: ws.gen, time: t });
      },
    };
  }

  // ---- elements -------------------------------------------------------------------------------------------

  /** Adds one element in each of its windows. Triggers are asked at `finishBundle`. */
  processElement(key: K, value: V, timestamp: number, windows: readonly BoundedWindow[]): void {
    this.counters.elements++;
    const gk = groupingKey(key);
    let ks = this.keys.get(gk);
    if (ks === undefined) {
      ks = this.newKeyState(key, gk);
      this.keys.set(gk, ks);
    }
    for (let i = 0; i < windows.length; i++) {
      const w = windows[i] as BoundedWindow;
      if (Math.min(w.maxTimestamp + this.latenessMs, END_OF_GLOBAL_WINDOW) < this.inputWatermark) {
        this.counters.droppedExpired++;
        continue;
      }
      const ws = this.merging ? this.merging.windowFor(ks, w) : this.nonMergingWindowFor(ks, w);
      if (ws === undefined || ws.closed) {
        if (this.merging?.protoWasClosed) {
          this.deferred.push({ ks, value, timestamp, start: Number.NaN, end: Number.NaN, window: w });
          continue;
        }
        this.counters.droppedClosed++;
        continue;
      }
      this.addToWindow(ws, value, timestamp);
    }
    if (ks.isEmpty()) this.releaseKey(ks);
  }

  /**
   * Adds one element to its proto-session `[timestamp, timestamp + gapMs)`, assigning the window here (window
   * assignment fused into the grouping, as a runner fuses Window.into with the GroupByKey after it): no window
   * object is made unless the element starts a session of its own.
   */
  processElementInSession(key: K, value: V, timestamp: number, gapMs: number): void {
    this.counters.elements++;
    const merging = this.merging;
    if (merging === undefined) throw new Error("processElementInSession needs a merging window function");
    const end = timestamp + gapMs;
    if (Math.min(end - 1 + this.latenessMs, END_OF_GLOBAL_WINDOW) < this.inputWatermark) {
      this.counters.droppedExpired++;
      return;
    }
    const gk = groupingKey(key);
    let ks = this.keys.get(gk);
    if (ks === undefined) {
      ks = this.newKeyState(key, gk);
      this.keys.set(gk, ks);
    }
    merging.protoStart = timestamp;
    merging.protoEnd = end;
    const ws = merging.windowForInterval(ks);
    if (ws === undefined || ws.closed) {
      if (merging.protoWasClosed) {
        this.deferred.push({ ks, value, timestamp, start: timestamp, end });
      } else {
        this.counters.droppedClosed++;
        if (ks.isEmpty()) this.releaseKey(ks);
      }
      return;
    }
    this.addToWindow(ws, value, timestamp);
  }

  /**
   * Retries the bundle's elements that met a closed window: one may now merge with a session another element of the
   * same bundle opened (Beam merges all of a bundle's windows before processing its elements); the rest are dropped.
   */
  private retryDeferred(): void {
    const merging = this.merging as MergingWindows<K, A>;
    const deferred = this.deferred.splice(0);
    for (const d of deferred) {
      let ws: WS<K, A> | undefined;
      if (d.window) {
        ws = merging.windowFor(d.ks, d.window);
      } else {
        merging.protoStart = d.start;
        merging.protoEnd = d.end;
        ws = merging.windowForInterval(d.ks);
      }
      if (ws === undefined || ws.closed) {
        this.counters.droppedClosed++;
        if (d.ks.isEmpty()) this.releaseKey(d.ks);
      } else {
        this.addToWindow(ws, d.value, d.timestamp);
      }
    }
  }

  /** Asks the trigger of every window touched since the last bundle end, and emits the panes that fire. */
  finishBundle(): void {
    if (this.deferred.length > 0) this.retryDeferred();
    const touched = this.touched;
    const n = this.touchedCount;
    for (let i = 0; i < n; i++) {
      const ws = touched[i] as WS<K, A>;
      touched[i] = undefined;
      if (ws.alive && !ws.closed && this.shouldFire(ws)) this.emit(ws);
    }
    this.touchedCount = 0;
    this.epoch++;
  }

  private nonMergingWindowFor(ks: KS<K, A>, w: BoundedWindow): WS<K, A> {
    const maxTs = w.maxTimestamp;
    const first = ks.first;
    if (first !== undefined && (first.window === w || (first.maxTs === maxTs && first.window.equals(w)))) return first;
    if (ks.activeCount + ks.closedCount > INDEX_WINDOWS_AT) {
      const found = ks.findByWindow(w, maxTs);
      if (found !== undefined) return found;
    } else if (ks.activeCount > 1) {
      const rest = ks.rest;
      for (let i = 0; i < rest.length; i++) {
        const ws = rest[i] as WS<K, A>;
        if (ws.window === w || (ws.maxTs === maxTs && ws.window.equals(w))) return ws;
      }
    }
    if (ks.closedCount > 0 && ks.activeCount + ks.closedCount <= INDEX_WINDOWS_AT) {
      for (const ws of ks.closed) if (ws.window.equals(w)) return ws;
    }
    const ws = this.newWindowState(ks, w);
    ks.addActive(ws);
    return ws;
  }

  /** An empty key state (a swept one reused when there is one). */
  private newKeyState(key: K, gk: string | number | boolean): KS<K, A> {
    const reused = this.keyPool.pop();
    if (reused === undefined) return new KeyState<K, A>(key, gk);
    reused.reuse(key, gk);
    return reused;
  }

  /** A fresh, empty state for window `w` of key `ks` (not yet in any list). */
  newWindowState(ks: KS<K, A>, w: BoundedWindow | undefined): WS<K, A> {
    let ws = this.pool.pop();
    if (ws !== undefined) ws.reuse(ks, w, this.newTriggerState(), this.latenessMs, END_OF_GLOBAL_WINDOW);
    else ws = new WindowState<K, A>(ks, w, this.newTriggerState(), this.latenessMs, END_OF_GLOBAL_WINDOW);
    ws.id = this.windowSeq++;
    return ws;
  }

  /** A fresh trigger state; triggers that keep none (the default trigger) share one frozen empty state. */
  newTriggerState(): TriggerState {
    if (!this.triggerHasState) return STATELESS_TRIGGER;
    return { finished: 0, leaf: this.needsLeaf ? new Float64Array(this.trigger.end).fill(Number.NaN) : null };
  }

  private addToWindow(ws: WS<K, A>, value: V, timestamp: number): void {
    ws.nonEmpty++;
    if (!ws.timerAtGc) {
      ws.timerAtGc = true;
      this.scheduleEvent(ws);
    }
    this.holds.addElementHold(ws as WS<unknown, unknown>, timestamp);
    try {
      ws.acc = this.reduceFn.add(ws.acc === undefined ? this.reduceFn.create() : ws.acc, value);
    } catch (e) {
      throw new ReduceFnError(ws.window, timestamp, "processing an element", e);
    }
    this.withWindow(ws);
    this.trigger.onElement(ws.trig, this.env);
    this.current = undefined;
    if (ws.epoch !== this.epoch) {
      ws.epoch = this.epoch;
      this.touched[this.touchedCount++] = ws;
    }
  }

  // ---- merging support (used by MergingWindows) --------------------------------------------------------------

  /** Sets the window's expiry timer. */
  scheduleGc(ws: WS<K, A>): void {
    if (!ws.timerAtGc) {
      ws.timerAtGc = true;
      this.scheduleEvent(ws);
    }
  }

  /** Runs the trigger's merge for `into`, whose parts had the given trigger states. */
  mergeTrigger(into: WS<K, A>, parts: readonly TriggerState[]): void {
    this.withWindow(into);
    this.trigger.onMerge(into.trig, parts, this.env);
    this.current = undefined;
    this.counters.merges++;
  }

  mergeHolds(into: WS<K, A>, partHolds: readonly number[]): void {
    this.holds.onMerge(into as WS<unknown, unknown>, partHolds);
  }

  releaseHolds(ws: WS<K, A>): void {
    this.holds.release(ws as WS<unknown, unknown>);
  }

  mergeAccumulators(accs: A[], into: WS<K, A>): A | undefined {
    if (accs.length === 0) return undefined;
    if (accs.length === 1) return accs[0];
    try {
      return this.reduceFn.merge(accs);
    } catch (e) {
      throw new ReduceFnError(into.window, into.maxTs, "merging windows", e);
    }
  }

  /** Whether the trigger keeps any per-window state (finished bits or leaf numbers) that a merge must rebuild. */
  get triggerHasState(): boolean {
    return this.needsFinishedBits || this.needsLeaf;
  }

  get isDiscarding(): boolean {
    return this.discarding;
  }

  // ---- firing ----------------------------------------------------------------------------------------------------

  private withWindow(ws: WS<K, A>): void {
    this.current = ws;
    const env = this.env;
    env.inputWatermark = this.inputWatermark;
    env.processingTime = this.processingTime;
    env.maxTimestamp = ws.maxTs;
  }

  private shouldFire(ws: WS<K, A>): boolean {
    this.withWindow(ws);
    const r = this.trigger.shouldFire(ws.trig, this.env);
    this.current = undefined;
    return r;
  }

  /** Fires the window's trigger and emits its pane (Beam's emit). */
  private emit(ws: WS<K, A>): void {
    this.withWindow(ws);
    this.trigger.onFire(ws.trig, this.env);
    this.current = undefined;
    const isFinished = this.trigger.isFinished(ws.trig);
    this.onTrigger(ws, isFinished);
    ws.nonEmpty = 0;
    if (isFinished || this.discarding) ws.acc = undefined;
    if (isFinished) {
      this.trigger.clear(ws.trig);
      ws.prevPane = null;
      ws.closed = true;
      const ks = ws.key;
      ks.removeActive(ws);
      ks.addClosed(ws);
    }
  }

  /** Produces the pane's contents and releases holds (Beam's onTrigger). */
  private onTrigger(ws: WS<K, A>, isFinished: boolean): void {
    const timestamp = this.holds.extractAndRelease(ws as WS<unknown, unknown>);
    if (!isFinished) this.holds.addGcHold(ws as WS<unknown, unknown>, true);
    const isEmpty = ws.nonEmpty === 0;
    if (isEmpty && !this.emitEmptyFinal && !this.emitEmptyOnTime) return;
    const pane = describePane(ws.prevPane, isFinished, ws.maxTs, this.inputWatermark, this.outputWatermark);
    const emit = !isEmpty || (pane.timing === "ON_TIME" && this.emitEmptyOnTime) || (isFinished && this.emitEmptyFinal);
    if (!emit) return;
    const keep = !isFinished && !this.discarding;
    let value: O;
    try {
      value = this.reduceFn.extract(ws.acc === undefined ? this.reduceFn.create() : ws.acc, keep);
    } catch (e) {
      throw new ReduceFnError(ws.window, timestamp, "emitting a pane", e);
    }
    if (!isFinished) ws.prevPane = pane;
    this.counters.panes++;
    this.sink.emitPane(ws.key.key, value, timestamp, ws.window, pane);
  }

  // ---- timers ------------------------------------------------------------------------------------------------------

  /**
   * Files the window in the window index under `indexKey()` (its earliest event timer or hold) if that is earlier
   * than its current entry. Keys that move later cost nothing: a stale entry is re-checked when it is reached.
   */
  scheduleEvent(ws: WS<K, A>): void {
    const k = ws.indexKey();
    if (k < ws.heapAt) {
      ws.heapAt = k;
      this.index.push(k, ws.id, ws);
    }
  }

  /**
   * Advances the input watermark: fires, in batches, every event-time timer strictly before it, then recomputes
   * `Out' = max(Out, min(In', earliest hold))`.
   *
   * One index serves timers and holds (Beam's end-of-window hold sits where the end-of-window timer is): every
   * window is filed under the earlier of its next event timer and its earliest hold. Entries below the watermark are
   * taken out; windows with a due timer are activated, the others (held below the watermark) are filed again after
   * the round.
   */
  advanceInputWatermark(watermark: number): void {
    if (watermark > this.inputWatermark) {
      this.inputWatermark = watermark;
      const batch: WS<K, A>[] = [];
      const parked = this.parked;
      for (;;) {
        this.epoch++;
        const heap = this.index;
        while (heap.peekTime() < watermark) {
          const t = heap.peekTime();
          const id = heap.peekSeq();
          const ws = heap.pop() as WS<K, A>;
          if (!ws.alive || ws.heapAt !== t || ws.id !== id) continue;
          ws.heapAt = Number.POSITIVE_INFINITY;
          parked.push(ws);
          if (ws.nextEventTimer() >= watermark) continue;
          if (ws.maxTs < watermark) ws.timerAtMax = false;
          if (ws.gcTime < watermark) ws.timerAtGc = false;
          if (ws.epoch !== this.epoch) {
            ws.epoch = this.epoch;
            batch.push(ws);
          }
        }
        for (let i = 0; i < batch.length; i++) this.activate(batch[i] as WS<K, A>, false);
        const done = batch.length === 0;
        batch.length = 0;
        // Refile what was taken out (held windows, and windows with timers left) once the round is over.
        for (let i = 0; i < parked.length; i++) {
          const ws = parked[i] as WS<K, A>;
          if (ws.alive) this.scheduleEvent(ws);
        }
        parked.length = 0;
        if (done) break;
      }
      this.epoch++;
      this.sweepKeys(watermark >= MAX_TIMESTAMP);
    }
    this.refreshOutputWatermark();
  }

  /**
   * `Out' = max(Out, min(In, earliest hold))`. After an advance no event timer below the input watermark is left, so
   * an index entry below it, once checked, is a hold.
   */
  refreshOutputWatermark(): void {
    const o = Math.min(this.inputWatermark, this.earliestHoldBelow(this.inputWatermark));
    if (o > this.outputWatermark) this.outputWatermark = o;
  }

  /** The earliest hold if it is below `bound` (checking and refiling stale index entries on the way), else +Infinity. */
  private earliestHoldBelow(bound: number): number {
    const heap = this.index;
    for (;;) {
      const t = heap.peekTime();
      if (!(t < bound)) return Number.POSITIVE_INFINITY;
      const ws = heap.peekItem() as WS<K, A>;
      if (!ws.alive || ws.heapAt !== t || ws.id !== heap.peekSeq()) {
        heap.pop();
        continue;
      }
      if (ws.indexKey() === t) {
        // An exact entry below the input watermark: a hold (no timer below it is left after an advance).
        return ws.earliestHold() === t ? t : Number.POSITIVE_INFINITY;
      }
      heap.pop();
      ws.heapAt = Number.POSITIVE_INFINITY;
      this.scheduleEvent(ws);
    }
  }

  /** Advances the processing-time clock and fires every processing-time timer strictly before it. */
  advanceProcessingTime(now: number): void {
    if (now <= this.processingTime) return;
    this.processingTime = now;
    const heap = this.procTimers;
    const batch: WS<K, A>[] = [];
    this.epoch++;
    while (heap.peekTime() < now) {
      const { ws, gen } = heap.pop() as ProcTimer<K, A>;
      if (ws.alive && ws.gen === gen && ws.epoch !== this.epoch) {
        ws.epoch = this.epoch;
        batch.push(ws);
      }
    }
    for (const ws of batch) this.activate(ws, true);
    this.epoch++;
  }

  /** The earliest processing-time timer, or +Infinity. */
  nextProcessingTimer(): number {
    return this.procTimers.peekTime();
  }

  /** Evaluates a window whose timer fired (Beam's onTimers with WindowActivation). */
  private activate(ws: WS<K, A>, isProcessing: boolean): void {
    const inWm = this.inputWatermark;
    const isGc = inWm > ws.gcTime;
    if (isProcessing && isGc) return; // processing-time timers of expired windows are ignored
    const open = !ws.closed;
    if (isGc) {
      if (open) this.onTrigger(ws, true);
      this.expire(ws);
      return;
    }
    if (open && this.shouldFire(ws)) this.emit(ws);
    const isEndOfWindow = inWm > ws.maxTs && !(this.outputWatermark > ws.maxTs);
    if (isEndOfWindow && ws.alive && !ws.timerAtGc) {
      ws.timerAtGc = true;
      this.scheduleEvent(ws);
    }
  }

  /** Drops every piece of the window's state; the state object goes back to the pool. */
  private expire(ws: WS<K, A>): void {
    this.holds.release(ws as WS<unknown, unknown>);
    ws.alive = false;
    ws.acc = undefined;
    ws.prevPane = null;
    const ks = ws.key;
    if (ws.closed) ks.removeClosed(ws);
    else ks.removeActive(ws);
    if (ks.isEmpty()) this.releaseKey(ks);
    // Reused only by later elements, never within the activation round that expired it.
    if (this.pool.length < MAX_POOLED_WINDOWS) this.pool.push(ws);
  }

  /**
   * Forgets a key that has no windows left. Keys are swept lazily: one emptied now is deleted at the watermark
   * advance after next if it is still empty, so a user who comes back within that time finds its entry (no map
   * churn), while memory still follows the keys with live windows.
   */
  private releaseKey(ks: KS<K, A>): void {
    if (ks.emptySince === -1) {
      ks.emptySince = this.sweeps;
      this.emptied.push(ks);
    }
  }

  /** Deletes keys that have stayed empty since before the previous sweep; at the end of input, all empty keys. */
  private sweepKeys(all: boolean): void {
    this.sweeps++;
    const emptied = this.emptied;
    let kept = 0;
    for (let i = 0; i < emptied.length; i++) {
      const ks = emptied[i] as KS<K, A>;
      if (!ks.isEmpty()) {
        ks.emptySince = -1;
      } else if (all || ks.emptySince < this.sweeps - 1) {
        ks.emptySince = -1;
        this.keys.delete(ks.groupKey);
        if (this.keyPool.length < MAX_POOLED_WINDOWS) this.keyPool.push(ks);
      } else {
        emptied[kept++] = ks;
      }
    }
    emptied.length = kept;
  }

  /** Removes a window merged into another: its holds are released by the caller, its timers go stale. */
  kill(ws: WS<K, A>): void {
    ws.alive = false;
    ws.acc = undefined;
  }

  // ---- checkpoints -------------------------------------------------------------------------------------------------

  /**
   * The runner's whole logical state as plain data, for a checkpoint: watermarks, processing time, counters, and per
   * key (in map order) its windows with their accumulators, holds, panes, trigger state and timers, plus the live
   * processing-time timers, the keys waiting for the sweep, and a bundle's pending work if taken within one. Caches
   * (state pools, stale heap entries) are left out. User values (keys, accumulators, buffered values) are kept as they
   * are: the checkpoint store clones them. Take it between calls.
   */
  snapshot(): ReduceSnapshot {
    const keyIndex = new Map<KS<K, A>, number>();
    const keys: ReduceSnapshot["keys"][number][] = [];
    const addKey = (ks: KS<K, A>, inMap: boolean): number => {
      const windows: WindowSnapshot[] = [];
      for (const ws of ks.active) windows.push(this.windowSnapshot(ws));
      for (const ws of ks.closed) windows.push(this.windowSnapshot(ws));
      keyIndex.set(ks, keys.length);
      keys.push({ key: ks.key, groupKey: ks.groupKey, emptySince: ks.emptySince, inMap, windows });
      return keys.length - 1;
    };
    for (const ks of this.keys.values()) addKey(ks, true);
    const procTimers: { time: number; window: number }[] = [];
    for (const p of this.procTimers.values()) {
      if (p.ws.alive && p.ws.gen === p.gen) procTimers.push({ time: p.time, window: p.ws.id });
    }
    const touched: number[] = [];
    for (let i = 0; i < this.touchedCount; i++) {
      const ws = this.touched[i] as WS<K, A>;
      if (ws.alive) touched.push(ws.id);
    }
    const deferred = this.deferred.map((d) => ({
      key: keyIndex.get(d.ks) ?? addKey(d.ks, false),
      value: d.value,
      timestamp: d.timestamp,
      start: d.start,
      end: d.end,
      ...(d.window === undefined ? {} : { window: encodeWindow(d.window) }),
    }));
    return {
      inputWatermark: this.inputWatermark,
      outputWatermark: this.outputWatermark,
      processingTime: this.processingTime,
      counters: { ...this.counters },
      windowSeq: this.windowSeq,
      sweeps: this.sweeps,
      keys,
      emptied: this.emptied.map((ks) => keyIndex.get(ks) as number),
      procTimers,
      touched,
      deferred,
    };
  }

  private windowSnapshot(ws: WS<K, A>): WindowSnapshot {
    const leaf = ws.trig.leaf;
    return {
      id: ws.id,
      // Session windows keep their bounds and make the window object only on demand.
      window: Number.isNaN(ws.start) ? encodeWindow(ws.window) : { start: ws.start, end: ws.end },
      acc: ws.acc,
      nonEmpty: ws.nonEmpty,
      elementHold: ws.elementHold,
      extraHold: ws.extraHold,
      prevPane: ws.prevPane,
      closed: ws.closed,
      timerAtMax: ws.timerAtMax,
      timerAtGc: ws.timerAtGc,
      heapAt: ws.heapAt,
      touchedInBundle: ws.epoch === this.epoch,
      trigger: { finished: ws.trig.finished, leaf: leaf === null ? null : Array.from(leaf) },
    };
  }

  /**
   * Takes the state of `snapshot` (from a runner of the same windowing strategy and reduce function), on a runner that
   * has none; rebuilds the key and window states, the window index and the processing-time timers. The runner takes
   * over the snapshot's values (accumulators are then updated in place): restore a decoded snapshot only once.
   */
  restore(snap: ReduceSnapshot): void {
    if (
      this.keys.size > 0 ||
      this.counters.elements > 0 ||
      this.inputWatermark !== Number.NEGATIVE_INFINITY ||
      this.processingTime !== Number.NEGATIVE_INFINITY
    ) {
      throw new Error("restore() needs a fresh ReduceRunner");
    }
    this.inputWatermark = snap.inputWatermark;
    this.outputWatermark = snap.outputWatermark;
    this.processingTime = snap.processingTime;
    Object.assign(this.counters, snap.counters);
    this.windowSeq = snap.windowSeq;
    this.sweeps = snap.sweeps;
    const byId = new Map<number, WS<K, A>>();
    const keys = snap.keys.map((d) => {
      const ks = new KeyState<K, A>(d.key as K, d.groupKey);
      ks.emptySince = d.emptySince;
      if (d.inMap) this.keys.set(d.groupKey, ks);
      for (const w of d.windows) {
        const ws = this.restoreWindow(ks, w);
        if (ws.closed) ks.addClosed(ws);
        else ks.addActive(ws);
        byId.set(ws.id, ws);
      }
      return ks;
    });
    for (const i of snap.emptied) this.emptied.push(keys[i] as KS<K, A>);
    const windowOf = (id: number): WS<K, A> => {
      const ws = byId.get(id);
      if (ws === undefined) throw new Error(`checkpoint refers to window ${id}, which it does not have`);
      return ws;
    };
    for (const p of snap.procTimers) {
      const ws = windowOf(p.window);
      this.procTimers.push(p.time, ws.id, { ws, gen: ws.gen, time: p.time });
    }
    for (const id of snap.touched) this.touched[this.touchedCount++] = windowOf(id);
    for (const d of snap.deferred) {
      const ks = keys[d.key] as KS<K, A>;
      const { value, timestamp, start, end } = d;
      if (d.window === undefined) this.deferred.push({ ks, value: value as V, timestamp, start, end });
      else this.deferred.push({ ks, value: value as V, timestamp, start, end, window: decodeWindow(d.window) });
    }
  }

  /** A window state from its snapshot, filed in the window index (not yet in its key's lists). */
  private restoreWindow(ks: KS<K, A>, w: WindowSnapshot): WS<K, A> {
    const trig = this.newTriggerState();
    if (trig !== STATELESS_TRIGGER) {
      trig.finished = w.trigger.finished;
      if (trig.leaf !== null && w.trigger.leaf !== null) trig.leaf.set(w.trigger.leaf);
    }
    const ws = new WindowState<K, A>(ks, decodeWindow(w.window), trig, this.latenessMs, END_OF_GLOBAL_WINDOW);
    ws.id = w.id;
    ws.acc = w.acc as A | undefined;
    ws.nonEmpty = w.nonEmpty;
    ws.elementHold = w.elementHold;
    ws.extraHold = w.extraHold;
    ws.prevPane = w.prevPane;
    ws.closed = w.closed;
    ws.timerAtMax = w.timerAtMax;
    ws.timerAtGc = w.timerAtGc;
    if (w.touchedInBundle) ws.epoch = this.epoch;
    if (w.heapAt < Number.POSITIVE_INFINITY) {
      ws.heapAt = w.heapAt;
      this.index.push(w.heapAt, ws.id, ws);
    }
    return ws;
  }

  // ---- introspection -----------------------------------------------------------------------------------------------

  /** How many windows are open or waiting to expire (for metrics and memory checks). */
  windowCount(): number {
    let n = 0;
    for (const ks of this.keys.values()) n += ks.activeCount + ks.closedCount;
    return n;
  }

  /** The keys that have windows (open or closed); empty keys may wait a little for the sweep. */
  liveKeys(): K[] {
    const out: K[] = [];
    for (const ks of this.keys.values()) if (!ks.isEmpty()) out.push(ks.key);
    return out;
  }

  /** The earliest watermark hold of any window, or +Infinity (a scan: for tests and diagnostics). */
  earliestHold(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const ks of this.keys.values()) {
      for (const ws of ks.active) min = Math.min(min, ws.earliestHold());
      for (const ws of ks.closed) min = Math.min(min, ws.earliestHold());
    }
    return min;
  }
}
