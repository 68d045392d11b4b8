import { enterMetricsContainer, MetricsContainer } from "../../../core/metrics.ts";
import { NO_FIRING, type PaneInfo } from "../../../core/pane.ts";
import type { StatefulDoFn, StateSpec, TimeDomain, TimerSpec } from "../../../core/state.ts";
import { formatInstant } from "../../../core/time/instant.ts";
import type { WindowingStrategy } from "../../../core/windowing-strategy.ts";
import type { BoundedWindow } from "../../../core/windows/window.ts";
import { StatefulCallContext } from "../../engine/state/call-context.ts";
import { type Cell, newCell } from "../../engine/state/state-cells.ts";
import {
  checkedTimerHold,
  type TimerFamilyHandle,
  type TimerHandle,
  timerHandles,
  type TimerOwner,
} from "../../engine/state/timer-handles.ts";
import type { AsyncWork } from "../../fn/async-work.ts";
import { ElementMeta, type Receiver } from "../../fn/receiver.ts";
import { StepError } from "../../fn/step-error.ts";
import { ByteReader, ByteWriter } from "../coders/bytes.ts";
import {
  type Coder,
  encodeToBytes,
  keyString,
  lengthPrefixCoder,
  type TimerValue,
  VALUE,
} from "../coders/standard-coders.ts";
import type { StateChannel } from "./state-channel.ts";

type AnyStatefulDoFn = StatefulDoFn<unknown, unknown, unknown, Record<string, StateSpec>, Record<string, TimerSpec>>;

/** The timer family the worker sets per key and window for `onWindowExpiration` (the translation declares it). */
export const EXPIRATION_FAMILY = "__onWindowExpiration";

/** How a cell's contents are stored in the runner: one bag element, its snapshot in Tidemark's value coder. */
const CELL = lengthPrefixCoder(VALUE);

/** A set or cleared timer of one key and window, sent to the runner when the bundle ends (the last setting wins). */
interface TimerSetting {
  readonly family: string;
  readonly id: string;
  readonly clear: boolean;
  readonly time: number;
  readonly hold: number;
}

/** One key and window in the current bundle: its cells (loaded from the runner), the timers set. */
class Slot {
  cells: Record<string, Cell> = {};
  /** Each cell's bytes as loaded (undefined: empty in the runner). */
  loaded: Record<string, Uint8Array | undefined> = {};
  ready = false;
  loading: Promise<void> | undefined;
  readonly timers = new Map<string, TimerSetting>();
  timerView: Record<string, TimerHandle<Slot> | TimerFamilyHandle<Slot>> | undefined;
  expirationSet = false;
  constructor(
    readonly key: unknown,
    readonly keyBytes: Uint8Array,
    readonly window: BoundedWindow,
    readonly windowBytes: Uint8Array,
    readonly gcTime: number,
  ) {}
}

/**
 * A stateful DoFn in the Fn API worker (Beam's FnApiDoFnRunner for state and timers): per key and window, the
 * declared cells are read from the runner's bag user state before the bundle's elements (or timers) of that key and
 * window are processed, kept for the rest of the bundle (the per-bundle cache), and written back when the bundle ends,
 * only where they changed. Timers set during the bundle are sent to the runner on the transform's timer families when
 * it ends; the runner delivers them back when they fire, and the step calls `onTimer`.
 *
 * What the Fn API does not give an SDK, and so the contexts cannot either: the input watermark (`inputWatermark` is
 * -Infinity) and timers set in earlier bundles (`Timer.time()` knows only those set in this bundle). Processing time
 * is the worker's wall clock, or a processing-time timer's firing time in its callback if later (see `now`). Dropping
 * expired input is the runner's.
 */
export class FnStatefulStep implements Receiver, TimerOwner<Slot> {
  private readonly slots = new Map<string, Slot>();
  private readonly scratch = new ByteWriter();
  private readonly skewMs: number;
  /** The current call's timestamp (outputs may not move before it by more than the skew). */
  private currentTs = 0;
  instructionId = "";
  /** Where the promises the DoFn returns are counted (the bundle processor sets it per bundle). */
  asyncWork: AsyncWork | undefined;
  readonly counters = { elements: 0, timersFired: 0, outputs: 0 };
  /** The step's user metrics (`Metrics` in `process` and in timers), reported per bundle. */
  readonly metrics: MetricsContainer;
  /** During a processing-time timer's callback, its firing time: the runner's clock is there (see `now`). */
  private clockFloor = Number.NEGATIVE_INFINITY;

  constructor(
    readonly stepName: string,
    readonly transformId: string,
    private readonly fn: AnyStatefulDoFn,
    private readonly strategy: WindowingStrategy,
    private readonly keyCoder: Coder<unknown>,
    private readonly windowCoder: Coder<BoundedWindow>,
    private readonly timerCoders: ReadonlyMap<string, Coder<TimerValue<unknown>>>,
    private readonly state: StateChannel,
    private readonly outputs: {
      readonly main: Receiver;
      readonly tagged: ReadonlyMap<string, Receiver>;
    },
    private readonly sendTimers: (family: string, bytes: Uint8Array) => void,
  ) {
    this.metrics = new MetricsContainer(stepName);
    this.skewMs = fn.allowedTimestampSkewMs ?? 0;
  }

  /** The timer families the runner sends this step (each ends with `is_last`). */
  get timerFamilies(): readonly string[] {
    return [...this.timerCoders.keys()];
  }

  /** The slot of a key and window (by their encodings, through a reused writer; bytes copied only for a new slot). */
  private slotFor(key: unknown, window: BoundedWindow): Slot {
    const k = `${keyString(this.keyCoder, key, this.scratch)}\u0000${keyString(this.windowCoder, window, this.scratch)}`;
    let s = this.slots.get(k);
    if (s === undefined) {
      const keyBytes = encodeToBytes(this.keyCoder, key);
      const windowBytes = encodeToBytes(this.windowCoder, window);
      s = new Slot(key, keyBytes, window, windowBytes, gcTimeOf(window, this.strategy.allowedLatenessMs));
      this.slots.set(k, s);
    }
    return s;
  }

  private stateKey(slot: Slot, name: string) {
    return {
      type: {
        case: "bagUserState" as const,
        value: { transformId: this.transformId, userStateId: name, window: slot.windowBytes, key: slot.keyBytes },
      },
    };
  }

  /** Reads the cells of every key and window of `items` not yet read in this bundle (all requests at once). */
  async prefetch(
    items: readonly { readonly key: unknown; readonly windows: readonly BoundedWindow[] }[],
  ): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const it of items) {
      for (const w of it.windows) {
        const slot = this.slotFor(it.key, w);
        if (slot.ready) continue;
        slot.loading ??= this.load(slot);
        waits.push(slot.loading);
      }
    }
    await Promise.all(waits);
  }

  private async load(slot: Slot): Promise<void> {
    const specs = this.fn.state ?? {};
    await Promise.all(
      Object.entries(specs).map(async ([name, spec]) => {
        const cell = newCell(spec);
        const bytes = await this.state.get(this.instructionId, this.stateKey(slot, name));
        if (bytes.length > 0) {
          // One element; a runner that kept several (appends without a clear) gives them in order: the last wins.
          const r = new ByteReader(bytes);
          let data: unknown;
          while (r.remaining > 0) data = CELL.decode(r);
          cell.restore(data);
          slot.loaded[name] = bytes;
        }
        slot.cells[name] = cell;
      }),
    );
    slot.ready = true;
  }

  private readySlot(key: unknown, window: BoundedWindow): Slot {
    const slot = this.slotFor(key, window);
    if (!slot.ready) {
      throw new StepError(
        this.stepName,
        undefined,
        window,
        new Error("the state of a key was not read before its element: the runner fused other steps before this one"),
      );
    }
    return slot;
  }

  receive(value: unknown, meta: ElementMeta): void {
    const kv = value as readonly [unknown, unknown];
    if (!Array.isArray(kv) || kv.length !== 2) {
      throw new StepError(
        this.stepName,
        meta.timestamp,
        meta.windows[0],
        new TypeError("a stateful DoFn needs KV input"),
      );
    }
    for (const w of meta.windows) {
      const slot = this.readySlot(kv[0], w);
      this.counters.elements++;
      this.currentTs = meta.timestamp;
      if (this.fn.onWindowExpiration !== undefined && !slot.expirationSet) this.setExpiration(slot);
      const ctx = this.context(slot, meta.timestamp, meta.pane);
      let r: unknown;
      const outer = enterMetricsContainer(this.metrics);
      try {
        r = this.fn.process(kv as never, ctx as never);
      } catch (e) {
        throw e instanceof StepError ? e : new StepError(this.stepName, meta.timestamp, w, e);
      } finally {
        enterMetricsContainer(outer);
        ctx.open = false;
      }
      this.track(r, "processing an element");
    }
  }

  private context(slot: Slot, timestamp: number, pane: PaneInfo): StatefulCallContext<Slot> {
    const timers = this.timerView(slot) as never;
    return new StatefulCallContext(this, slot, timestamp, pane, slot.cells as never, timers, this.now(), -Infinity);
  }

  /** Fires one timer the runner delivered (its key and window's state already read). */
  fire(family: string, t: TimerValue<unknown>): void {
    if (t.clearBit) return;
    for (const w of t.windows) {
      const slot = this.readySlot(t.userKey, w);
      // Set or cleared again in this bundle (by an element, or an earlier callback) after the runner took this firing:
      // the firing is stale, and the newer setting stands.
      if (slot.timers.has(`${family}\u0000${t.dynamicTimerTag}`)) continue;
      const hold = t.holdTimestamp ?? w.maxTimestamp;
      this.currentTs = hold;
      this.counters.timersFired++;
      const expiring = family === EXPIRATION_FAMILY;
      const handler = expiring ? this.fn.onWindowExpiration?.bind(this.fn) : this.fn.onTimer?.[family];
      if (handler === undefined) {
        throw new StepError(
          this.stepName,
          hold,
          w,
          new Error(`timer "${family}" fired but the DoFn has no onTimer.${family} handler`),
        );
      }
      const spec = this.fn.timers?.[family];
      this.clockFloor =
        spec?.domain === "processing" && t.fireTimestamp !== undefined ? t.fireTimestamp : Number.NEGATIVE_INFINITY;
      const ctx = this.context(slot, hold, NO_FIRING);
      ctx.firingTime = t.fireTimestamp ?? hold;
      ctx.timerId = t.dynamicTimerTag;
      ctx.domain = spec?.domain ?? "event";
      let r: unknown;
      const outer = enterMetricsContainer(this.metrics);
      try {
        r = handler(ctx as never);
      } catch (e) {
        throw e instanceof StepError ? e : new StepError(this.stepName, hold, w, e, `in onTimer.${family}`);
      } finally {
        enterMetricsContainer(outer);
        ctx.open = false;
        this.clockFloor = Number.NEGATIVE_INFINITY;
      }
      this.track(r, expiring ? "in onWindowExpiration" : `in onTimer.${family}`);
      if (expiring) {
        // The window has expired: its state goes (written back as cleared when the bundle ends).
        for (const c of Object.values(slot.cells)) c.clear();
      }
    }
  }

  private track(r: unknown, phase: string): void {
    if (r === undefined || typeof (r as { then?: unknown } | null)?.then !== "function") return;
    if (this.asyncWork === undefined) throw new Error(`${phase} returned a promise, but nothing awaits it`);
    this.asyncWork.track(this.stepName, r as PromiseLike<unknown>, phase);
  }

  private setExpiration(slot: Slot): void {
    slot.expirationSet = true;
    slot.timers.set(`${EXPIRATION_FAMILY}\u0000`, {
      family: EXPIRATION_FAMILY,
      id: "",
      clear: false,
      time: slot.gcTime,
      hold: slot.window.maxTimestamp,
    });
  }

  emit(slot: Slot, value: unknown, timestamp: number, pane: PaneInfo, tag: string | undefined): void {
    if (timestamp < this.currentTs - this.skewMs) {
      throw new RangeError(
        `cannot output with timestamp ${formatInstant(timestamp)}: it is ${this.currentTs - timestamp} ms before ` +
          `${formatInstant(this.currentTs)}, more than the allowed skew of ${this.skewMs} ms`,
      );
    }
    const target = tag === undefined || tag === "main" ? this.outputs.main : this.outputs.tagged.get(tag);
    if (target === undefined) {
      throw new Error(`output tag "${tag}" was not declared; declare it with statefulParDo(fn).withOutputs("${tag}")`);
    }
    this.counters.outputs++;
    target.receive(value, this.meta.set(timestamp, [slot.window], pane));
  }

  private readonly meta = new ElementMeta();

  setTimer(slot: Slot, name: string, id: string, domain: TimeDomain, time: number, outputTimestamp?: number): void {
    const hold = checkedTimerHold(
      name,
      slot.window,
      slot.gcTime,
      domain,
      time,
      outputTimestamp,
      this.currentTs,
      this.skewMs,
    );
    slot.timers.set(`${name}\u0000${id}`, { family: name, id, clear: false, time, hold });
  }

  clearTimer(slot: Slot, name: string, id: string): void {
    slot.timers.set(`${name}\u0000${id}`, { family: name, id, clear: true, time: 0, hold: 0 });
  }

  timerTime(slot: Slot, name: string, id: string): number | undefined {
    const t = slot.timers.get(`${name}\u0000${id}`);
    return t === undefined || t.clear ? undefined : t.time;
  }

  /**
   * Processing time: the worker's clock; in a processing-time timer's callback, not before the timer's firing time
   * (the runner's clock, which a runner replaying a TestStream moves itself: Prism v2.77.0 fires the remaining
   * processing-time timers at the end of time when its input ends, and a callback that sets its timer again relative
   * to the worker's clock would be fired again at once, for ever).
   */
  now(): number {
    return Math.max(Date.now(), this.clockFloor);
  }

  relativeBase(domain: TimeDomain): number {
    return domain === "processing" ? this.now() : this.currentTs;
  }

  timerView(slot: Slot): Record<string, TimerHandle<Slot> | TimerFamilyHandle<Slot>> {
    slot.timerView ??= timerHandles<Slot>(this, slot, this.fn.timers ?? {});
    return slot.timerView;
  }

  /**
   * Ends the bundle: writes back each cell that changed (clear, then its new contents), sends the timers set or
   * cleared, and forgets the bundle's cache. Resolves when the runner has taken every state write.
   */
  async finishBundle(): Promise<void> {
    const writes: Promise<void>[] = [];
    const timerBuffers = new Map<string, ByteWriter>();
    for (const slot of this.slots.values()) {
      if (!slot.ready) continue;
      for (const [name, cell] of Object.entries(slot.cells)) {
        const before = slot.loaded[name];
        const after = cell.isEmptyCell() ? undefined : encodeToBytes(CELL, cell.snapshot());
        if (before === undefined && after === undefined) continue;
        if (before !== undefined && after !== undefined && Buffer.compare(before, after) === 0) continue;
        const key = this.stateKey(slot, name);
        writes.push(
          (async () => {
            if (before !== undefined) await this.state.clear(this.instructionId, key);
            if (after !== undefined) await this.state.append(this.instructionId, key, after);
          })(),
        );
      }
      for (const t of slot.timers.values()) {
        const coder = this.timerCoders.get(t.family);
        if (coder === undefined) throw new Error(`timer family "${t.family}" is not declared on ${this.transformId}`);
        let w = timerBuffers.get(t.family);
        if (w === undefined) {
          w = new ByteWriter();
          timerBuffers.set(t.family, w);
        }
        coder.encode(
          t.clear
            ? { userKey: slot.key, dynamicTimerTag: t.id, windows: [slot.window], clearBit: true }
            : {
                userKey: slot.key,
                dynamicTimerTag: t.id,
                windows: [slot.window],
                clearBit: false,
                fireTimestamp: t.time,
                holdTimestamp: t.hold,
                pane: NO_FIRING,
              },
          w,
        );
      }
    }
    this.slots.clear();
    for (const [family, w] of timerBuffers) this.sendTimers(family, w.finish());
    await Promise.all(writes);
  }

  /** Forgets a failed bundle's cache. */
  reset(): void {
    this.slots.clear();
  }
}

/** When a window's state expires: the end of the window plus the allowed lateness (the global window's never). */
function gcTimeOf(window: BoundedWindow, latenessMs: number): number {
  return window.maxTimestamp + latenessMs;
}
