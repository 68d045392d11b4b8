import { groupingKey } from "../../../core/kv.ts";
import { NO_FIRING, type PaneInfo } from "../../../core/pane.ts";
import type { StatefulDoFn, StateSpec, TimeDomain, TimerSpec } from "../../../core/state.ts";
import { END_OF_GLOBAL_WINDOW, formatInstant } from "../../../core/time/instant.ts";
import type { WindowingStrategy } from "../../../core/windowing-strategy.ts";
import { type BoundedWindow, GlobalWindow, IntervalWindow } from "../../../core/windows/window.ts";
import { OrderedTimeHeap } from "../timers/ordered-time-heap.ts";
import { TimeHeap } from "../timers/time-heap.ts";
import {
  checkedTimerHold,
  type TimerFamilyHandle,
  type TimerHandle,
  timerHandles,
  type TimerOwner,
} from "./timer-handles.ts";
import { decodeWindow, type EncodedWindow, encodeWindow } from "../window-codec.ts";
import { StatefulCallContext } from "./call-context.ts";
import { type Cell, newCell } from "./state-cells.ts";
import { WindowHolds, type WindowHoldsSnapshot } from "./window-holds.ts";

/** Where a stateful DoFn's outputs go. */
export interface StatefulSink {
  /** `tag` is undefined for the main output. */
  output(value: unknown, timestamp: number, window: BoundedWindow, pane: PaneInfo, tag: string | undefined): void;
  /**
   * Takes a promise the DoFn returned from `process`, an `onTimer` handler or `onWindowExpiration` (its asynchronous
   * I/O): the runner counts it as the step's work in flight. Without it, a returned promise is an error.
   */
  async?(promise: PromiseLike<unknown>, phase: string): void;
}

type AnyStatefulDoFn = StatefulDoFn<unknown, unknown, unknown, Record<string, StateSpec>, Record<string, TimerSpec>>;

/**
 * The state of one key in one window.
 *
 * State: lazily made cells, the timers set, their watermark holds. Lifetime: made by the first element of the key
 * and window; released as soon as a call on it (an element, a timer) leaves every cell empty, no timer set and no
 * element waiting for time-sorted delivery, unless the DoFn has `onWindowExpiration` (which Beam calls for every
 * key and window that had an element); otherwise cleared, with its timers, when the input watermark passes the
 * window's expiry (`onWindowExpiration` runs first). A released key that comes back gets a new, empty slot: what it
 * reads is what it would have read from the old one. The window's watermark hold is not the slot's (see
 * `WindowHolds`), so releasing a slot moves no watermark.
 */
class Slot {
  /**
   * The `state` and `timers` records handed to the DoFn, built on the slot's first call and reused after. The state
   * record is also where the slot's cells live (a slot is kept lean: a de-duplication step holds millions of them).
   */
  stateView: Record<string, Cell> | undefined = undefined;
  timerView: Record<string, TimerHandle<Slot> | TimerFamilyHandle<Slot>> | undefined = undefined;
  /** Timer records by name and id, made when a timer is first set. */
  timers: Map<string, TimerRecord> | undefined = undefined;
  /** Timers set and not fired or cleared, plus elements waiting for time-sorted delivery: while > 0, kept. */
  pending = 0;
  /** False once expired or released: entries of the runner's heaps that still name it are skipped. */
  alive = true;
  constructor(
    /** Creation order: slots expiring at the same time expire in this order. */
    readonly seq: number,
    readonly key: unknown,
    /** The slot's key in the runner's map of global-window slots (the grouping key) or of windowed slots. */
    readonly mapKey: string | number | boolean,
    readonly window: BoundedWindow,
    readonly gcTime: number,
  ) {}
}

/**
 * Drops the record of a timer family's timer that is no longer set (fired, or cleared): a family's ids are often
 * one-off (a timer per session), and a key that lives long (a user) would otherwise keep a record for every id it
 * ever set. Heap entries that still name the record are skipped (it is inactive); setting the id again makes a new
 * record. A plain timer (no id) keeps its one record.
 */
function forgetFamilyTimer(r: TimerRecord): void {
  if (r.id === "" || r.active) return;
  // Only if the map still names this record: a handler that clears its own timer and sets it again has put a new
  // record under the same key, which must stay.
  if (r.slot.timers?.get(r.key) === r) r.slot.timers.delete(r.key);
}

/** A timer's key in its slot's map of records: the name alone for a plain timer, name and id for a family's. */
function timerKey(name: string, id: string): string {
  return id === "" ? name : `${name}\u0000${id}`;
}

/** One set timer. `gen` changes when it is moved or cleared, so heap entries of its old settings are ignored. */
class TimerRecord {
  gen = 0;
  /** When it was last set (the runner's sequence): timers due at the same time fire in this order. */
  seq = 0;
  active = false;
  time = Number.NEGATIVE_INFINITY;
  holdTs = Number.NEGATIVE_INFINITY;
  /** Its key in the slot's map of timer records (`timerKey`). */
  readonly key: string;
  constructor(
    readonly slot: Slot,
    readonly name: string,
    readonly id: string,
    readonly domain: TimeDomain,
  ) {
    this.key = timerKey(name, id);
  }
}

interface Buffered {
  readonly seq: number;
  readonly slot: Slot;
  readonly key: unknown;
  readonly value: unknown;
  readonly timestamp: number;
  readonly pane: PaneInfo;
}

/** A StatefulRunner's state as plain data (see `snapshot`). */
export interface StatefulSnapshot {
  /** The runner's sequence counter (orders slots, timers and buffered elements). */
  readonly seq: number;
  readonly inputWatermark: number;
  readonly outputWatermark: number;
  readonly processingTime: number;
  readonly counters: StatefulRunner["counters"];
  readonly slots: readonly {
    readonly seq: number;
    readonly key: unknown;
    readonly window: EncodedWindow;
    readonly gcTime: number;
    /** Contents of the non-empty cells, by state name. */
    readonly cells: Readonly<Record<string, unknown>>;
    readonly timers: readonly {
      readonly name: string;
      readonly id: string;
      readonly domain: TimeDomain;
      readonly time: number;
      readonly holdTs: number;
      readonly seq: number;
    }[];
  }[];
  /**
   * The windows' watermark holds (each window seen and not expired). Absent in checkpoints of earlier versions,
   * which kept a slot for every key and window until expiry: the slots' windows are held then.
   */
  readonly windows?: WindowHoldsSnapshot;
  /** Elements held for time-sorted delivery, with the index of their slot. */
  readonly sorted: readonly {
    readonly seq: number;
    readonly slot: number;
    readonly value: unknown;
    readonly timestamp: number;
    readonly pane: PaneInfo;
  }[];
}

/** What the runner needs of its heaps to skip stale entries. */
interface Peekable<T> {
  peekTime(): number;
  peekItem(): T | undefined;
  pop(): T | undefined;
}

interface HeapEntry {
  readonly rec: TimerRecord;
  readonly gen: number;
}

/**
 * Runs a stateful DoFn (Beam's StatefulDoFnRunner with its timer internals): per key and window state cells,
 * event- and processing-time timers that fire in time order once their clock is strictly past them, watermark holds
 * at the timers' output timestamps, dropping of expired data, and state cleanup at window expiry. A key whose state
 * is empty, with no timer set, takes no memory (see `Slot`): a global-window step's memory follows the keys with
 * state, not every key ever seen.
 * Output watermark: `Out' = max(Out, min(In, earliest timer hold, earliest window hold))`.
 */
export class StatefulRunner implements TimerOwner<Slot> {
  inputWatermark = Number.NEGATIVE_INFINITY;
  outputWatermark = Number.NEGATIVE_INFINITY;
  processingTime = Number.NEGATIVE_INFINITY;
  readonly counters = { elements: 0, droppedExpired: 0, timersFired: 0, outputs: 0 };
  /** Slots in the global window by grouping key, and in other windows by window and grouping key. */
  private readonly globalSlots = new Map<string | number | boolean, Slot>();
  private readonly windowSlots = new Map<string | number | boolean, Slot>();
  private readonly eventTimers = new OrderedTimeHeap<HeapEntry>();
  private readonly procTimers = new OrderedTimeHeap<HeapEntry>();
  private readonly holds = new TimeHeap<HeapEntry>();
  /** Slots by expiry (and creation order); released slots' entries stay until `compactExpiries` drops them. */
  private readonly expiries = new OrderedTimeHeap<Slot>();
  /** Entries of released slots in `expiries` (an upper bound: some are dropped on the way). */
  private releasedInExpiries = 0;
  /** The windows seen, each holding the output watermark at its max timestamp until it expires. */
  private readonly windowHolds = new WindowHolds();
  /** Timers set and not yet fired, cleared or expired. */
  private liveTimers = 0;
  /** Elements held for time-sorted delivery, by timestamp + allowed lateness. */
  private readonly sorted = new OrderedTimeHeap<Buffered>();
  /** Orders slots, timer settings and buffered elements (ties at equal times), and survives checkpoints. */
  private seq = 0;
  private readonly latenessMs: number;
  private readonly skewMs: number;
  /** Whether an empty slot may be released: not when the DoFn has `onWindowExpiration` (see `Slot`). */
  private readonly releasesEmpty: boolean;
  private readonly stateNames: readonly string[];
  /** The element or timer being handled: its timestamp, for default output timestamps and skew checks. */
  private currentTs = Number.NEGATIVE_INFINITY;

  constructor(
    strategy: WindowingStrategy,
    private readonly fn: AnyStatefulDoFn,
    private readonly sink: StatefulSink,
  ) {
    this.latenessMs = strategy.allowedLatenessMs;
    this.skewMs = fn.allowedTimestampSkewMs ?? 0;
    this.releasesEmpty = fn.onWindowExpiration === undefined;
    this.stateNames = Object.keys(fn.state ?? {});
  }

  processElement(
    key: unknown,
    value: unknown,
    timestamp: number,
    windows: readonly BoundedWindow[],
    pane: PaneInfo,
  ): void {
    this.counters.elements++;
    for (const w of windows) {
      const gcTime = Math.min(w.maxTimestamp + this.latenessMs, END_OF_GLOBAL_WINDOW);
      if (gcTime < this.inputWatermark) {
        this.counters.droppedExpired++;
        continue;
      }
      const slot = this.slotFor(key, w, gcTime);
      if (this.fn.requiresTimeSortedInput) {
        if (timestamp + this.latenessMs < this.inputWatermark) {
          this.counters.droppedExpired++;
          this.releaseIfEmpty(slot);
          continue;
        }
        const seq = this.seq++;
        slot.pending++;
        this.sorted.push(timestamp + this.latenessMs, seq, { seq, slot, key, value, timestamp, pane });
        continue;
      }
      this.deliver(slot, key, value, timestamp, pane);
    }
  }

  private deliver(slot: Slot, key: unknown, value: unknown, timestamp: number, pane: PaneInfo): void {
    this.currentTs = timestamp;
    const ctx = this.context(slot, timestamp, pane);
    const r: unknown = this.fn.process([key, value], ctx as never);
    ctx.open = false;
    if (r !== undefined) this.async(r, "processing an element");
    this.releaseIfEmpty(slot);
  }

  /** Hands a promise a DoFn call returned to the runner (see `StatefulSink.async`). */
  private async(r: unknown, phase: string): void {
    if (typeof (r as { then?: unknown } | null)?.then !== "function") return;
    if (this.sink.async === undefined)
      throw new Error(`${phase} returned a promise, but this runner does not await it`);
    this.sink.async(r as PromiseLike<unknown>, phase);
  }

  /** Fires every event timer strictly before the new watermark and expires windows, in time order. */
  advanceInputWatermark(watermark: number): void {
    if (watermark > this.inputWatermark) {
      this.inputWatermark = watermark;
      for (;;) {
        const e = this.nextSorted();
        const t = this.nextValid(this.eventTimers);
        const g = this.nextExpiry();
        if (!(e < watermark) && !(t < watermark) && !(g < watermark)) break;
        // In time order; at equal times buffered elements go first, then timers, then expiry.
        if (e <= t && e <= g) {
          const b = this.sorted.pop() as Buffered;
          b.slot.pending--;
          this.deliver(b.slot, b.key, b.value, b.timestamp, b.pane);
        } else if (t <= g) this.fire(this.eventTimers.pop() as HeapEntry);
        else this.expire(this.expiries.pop() as Slot);
      }
      this.windowHolds.expireBefore(watermark);
    }
    this.refreshOutputWatermark();
  }

  advanceProcessingTime(now: number): void {
    if (now <= this.processingTime) return;
    this.processingTime = now;
    while (this.nextValid(this.procTimers) < now) this.fire(this.procTimers.pop() as HeapEntry);
    this.refreshOutputWatermark();
  }

  /**
   * `Out' = max(Out, min(In, earliest hold))`, after each bundle and each timer firing (timers set, cleared or fired
   * move holds, as Beam's direct runner recomputes after every bundle).
   */
  refreshOutputWatermark(): void {
    const o = Math.min(this.inputWatermark, this.earliestHold());
    if (o > this.outputWatermark) this.outputWatermark = o;
  }

  /**
   * The runner's whole state as plain data, for a checkpoint: watermarks, processing time, counters, the windows'
   * holds, and per live key and window its non-empty cells and set timers, plus elements waiting for time-sorted
   * delivery. Take it
   * between bundles. User values (keys, cell contents, elements) are kept as they are: the checkpoint store clones
   * them (plain data, Map, Set, typed arrays).
   */
  snapshot(): StatefulSnapshot {
    const index = new Map<Slot, number>();
    const slots: StatefulSnapshot["slots"][number][] = [];
    for (const map of [this.globalSlots, this.windowSlots]) {
      for (const slot of map.values()) {
        index.set(slot, slots.length);
        const cells: Record<string, unknown> = {};
        for (const [name, cell] of Object.entries(slot.stateView ?? {})) {
          if (!cell.isEmptyCell()) cells[name] = cell.snapshot();
        }
        const timers = [...(slot.timers?.values() ?? [])]
          .filter((r) => r.active)
          .map((r) => ({ name: r.name, id: r.id, domain: r.domain, time: r.time, holdTs: r.holdTs, seq: r.seq }));
        slots.push({
          seq: slot.seq,
          key: slot.key,
          window: encodeWindow(slot.window),
          gcTime: slot.gcTime,
          cells,
          timers,
        });
      }
    }
    const sorted: StatefulSnapshot["sorted"][number][] = [];
    for (const b of this.sorted.values()) {
      const i = index.get(b.slot);
      if (i !== undefined && b.slot.alive) {
        sorted.push({ seq: b.seq, slot: i, value: b.value, timestamp: b.timestamp, pane: b.pane });
      }
    }
    return {
      seq: this.seq,
      inputWatermark: this.inputWatermark,
      outputWatermark: this.outputWatermark,
      processingTime: this.processingTime,
      counters: { ...this.counters },
      slots,
      windows: this.windowHolds.snapshot(),
      sorted,
    };
  }

  /** Takes the state of `snapshot` (from a runner of the same DoFn and windowing), on a runner that has none. */
  restore(snap: StatefulSnapshot): void {
    if (this.slotCount() > 0 || this.inputWatermark !== Number.NEGATIVE_INFINITY) {
      throw new Error("restore() needs a fresh StatefulRunner");
    }
    this.inputWatermark = snap.inputWatermark;
    this.outputWatermark = snap.outputWatermark;
    this.processingTime = snap.processingTime;
    Object.assign(this.counters, snap.counters);
    this.seq = snap.seq;
    if (snap.windows !== undefined) this.windowHolds.restore(snap.windows, windowMapKey);
    const slots = snap.slots.map((d) => {
      const slot = this.slotFor(d.key, decodeWindow(d.window), d.gcTime, d.seq);
      const cells = this.cells(slot);
      for (const [name, data] of Object.entries(d.cells)) {
        const cell = cells[name];
        if (cell === undefined) throw new Error(`checkpoint has state "${name}" that the DoFn does not declare`);
        cell.restore(data);
      }
      for (const t of d.timers) {
        slot.timers ??= new Map();
        const r = new TimerRecord(slot, t.name, t.id, t.domain);
        slot.timers.set(r.key, r);
        r.gen = 1;
        r.seq = t.seq;
        r.active = true;
        r.time = t.time;
        r.holdTs = t.holdTs;
        this.liveTimers++;
        slot.pending++;
        const entry = { rec: r, gen: r.gen };
        (t.domain === "event" ? this.eventTimers : this.procTimers).push(t.time, t.seq, entry);
        this.holds.push(t.holdTs, entry);
      }
      return slot;
    });
    for (const b of snap.sorted) {
      const slot = slots[b.slot] as Slot;
      slot.pending++;
      this.sorted.push(b.timestamp + this.latenessMs, b.seq, {
        seq: b.seq,
        slot,
        key: slot.key,
        value: b.value,
        timestamp: b.timestamp,
        pane: b.pane,
      });
    }
    // An earlier version's checkpoint keeps empty slots: this one lets them go.
    for (const slot of slots) this.releaseIfEmpty(slot);
  }

  /** Key-and-window slots alive (for metrics and memory checks). */
  slotCount(): number {
    return this.globalSlots.size + this.windowSlots.size;
  }

  /** What the runner keeps per key and window, and per window, as entry counts (for memory checks). */
  footprint(): {
    slots: number;
    windowHolds: number;
    expiryEntries: number;
    timerEntries: number;
    timerRecords: number;
  } {
    let timerRecords = 0;
    for (const map of [this.globalSlots, this.windowSlots]) {
      for (const slot of map.values()) timerRecords += slot.timers?.size ?? 0;
    }
    return {
      timerRecords,
      slots: this.slotCount(),
      windowHolds: this.windowHolds.size,
      expiryEntries: this.expiries.size,
      timerEntries: this.eventTimers.size + this.procTimers.size + this.holds.size,
    };
  }

  /**
   * The earliest hold: of the set timers' output timestamps, of elements waiting to be delivered in order, and of
   * every window seen until it expires (at its max timestamp, as Beam's cleanup timer holds: see `WindowHolds`).
   */
  earliestHold(): number {
    const buffered = this.sorted.peekItem();
    const b = buffered === undefined ? Number.POSITIVE_INFINITY : buffered.timestamp;
    return Math.min(this.nextValid(this.holds, true), b, this.windowHolds.earliest());
  }

  /** Rebuilds the timer heaps from the live timers when stale entries (moved or cleared timers) outnumber them. */
  private compactIfStale(): void {
    const size = this.eventTimers.size + this.procTimers.size;
    if (size < 4096 || size < 4 * this.liveTimers) return;
    this.eventTimers.clear();
    this.procTimers.clear();
    this.holds.clear();
    let live = 0;
    for (const slots of [this.globalSlots, this.windowSlots]) {
      for (const slot of slots.values()) {
        if (slot.timers === undefined) continue;
        for (const r of slot.timers.values()) {
          if (!r.active) continue;
          const entry = { rec: r, gen: r.gen };
          (r.domain === "event" ? this.eventTimers : this.procTimers).push(r.time, r.seq, entry);
          this.holds.push(r.holdTs, entry);
          live++;
        }
      }
    }
    this.liveTimers = live;
  }

  private nextSorted(): number {
    for (;;) {
      const t = this.sorted.peekTime();
      if (t === Number.POSITIVE_INFINITY) return t;
      if ((this.sorted.peekItem() as Buffered).slot.alive) return t;
      this.sorted.pop();
    }
  }

  // ---- internals ---------------------------------------------------------------------------------------------

  private slotFor(key: unknown, w: BoundedWindow, gcTime: number, seq?: number): Slot {
    const gk = groupingKey(key);
    const global = w === GlobalWindow.INSTANCE;
    const slots = global ? this.globalSlots : this.windowSlots;
    // The window first: a grouping key is a string, number or boolean, and its type is kept in the map key.
    const windowKey = windowMapKey(w);
    const mapKey = global ? gk : `${windowKey}\u0001${typeof gk}\u0001${gk}`;
    let slot = slots.get(mapKey);
    if (slot === undefined) {
      slot = new Slot(seq ?? this.seq++, key, mapKey, w, gcTime);
      slots.set(mapKey, slot);
      this.expiries.push(gcTime, slot.seq, slot);
      this.windowHolds.add(windowKey, w, gcTime);
    }
    return slot;
  }

  /**
   * Releases `slot` if it holds nothing: every cell empty, no timer set, no element waiting for it, and the DoFn has
   * no `onWindowExpiration` (see `Slot`). Called after each call on the slot. A cell kept by the DoFn past its call
   * (across an `await`, which `CallContext` forbids for outputs, state and timers) belongs to the released slot: a
   * write to it is lost at once (before slots were released it lasted until the window expired or a checkpoint).
   */
  private releaseIfEmpty(slot: Slot): void {
    if (!this.releasesEmpty || slot.pending > 0 || !slot.alive) return;
    const cells = slot.stateView;
    if (cells !== undefined) {
      for (const name of this.stateNames) if (!(cells[name] as Cell).isEmptyCell()) return;
    }
    slot.alive = false;
    slot.stateView = undefined;
    slot.timers = undefined;
    slot.timerView = undefined;
    (slot.window === GlobalWindow.INSTANCE ? this.globalSlots : this.windowSlots).delete(slot.mapKey);
    this.releasedInExpiries++;
    if (this.releasedInExpiries >= 4096 && this.releasedInExpiries >= 2 * this.slotCount()) this.compactExpiries();
  }

  /** Rebuilds the expiry heap from the live slots, dropping released slots' entries. */
  private compactExpiries(): void {
    this.expiries.clear();
    for (const slots of [this.globalSlots, this.windowSlots]) {
      for (const slot of slots.values()) this.expiries.push(slot.gcTime, slot.seq, slot);
    }
    this.releasedInExpiries = 0;
  }

  /** The expiry time of the first live slot (dropping released slots' entries on the way), or +Infinity. */
  private nextExpiry(): number {
    const heap = this.expiries;
    for (;;) {
      const t = heap.peekTime();
      if (t === Number.POSITIVE_INFINITY) return t;
      if ((heap.peekItem() as Slot).alive) return t;
      heap.pop();
      if (this.releasedInExpiries > 0) this.releasedInExpiries--;
    }
  }

  /** The time of the first live entry of a timer heap (dropping stale ones), or +Infinity. */
  private nextValid(heap: Peekable<HeapEntry>, holds = false): number {
    for (;;) {
      const t = heap.peekTime();
      if (t === Number.POSITIVE_INFINITY) return t;
      const e = heap.peekItem() as HeapEntry;
      const r = e.rec;
      if (r.active && r.gen === e.gen && r.slot.alive && (holds ? r.holdTs === t : r.time === t)) return t;
      heap.pop();
    }
  }

  private fire(entry: HeapEntry): void {
    const rec = entry.rec;
    rec.active = false;
    rec.gen++;
    this.liveTimers--;
    rec.slot.pending--;
    this.counters.timersFired++;
    const handler = this.fn.onTimer?.[rec.name];
    if (handler === undefined) {
      throw new Error(`timer "${rec.name}" fired but the DoFn has no onTimer.${rec.name} handler`);
    }
    this.currentTs = rec.holdTs;
    const ctx = this.timerContext(rec.slot, rec.holdTs, rec.time, rec.id, rec.domain);
    const r: unknown = handler(ctx as never);
    ctx.open = false;
    if (r !== undefined) this.async(r, `in onTimer.${rec.name}`);
    if (!rec.active) forgetFamilyTimer(rec);
    this.releaseIfEmpty(rec.slot);
  }

  private expire(slot: Slot): void {
    if (this.fn.onWindowExpiration) {
      this.currentTs = slot.window.maxTimestamp;
      const ctx = this.timerContext(slot, slot.window.maxTimestamp, slot.gcTime, "", "event");
      const r: unknown = this.fn.onWindowExpiration(ctx as never);
      ctx.open = false;
      if (r !== undefined) this.async(r, "in onWindowExpiration");
    }
    slot.alive = false;
    if (slot.stateView !== undefined) for (const c of Object.values(slot.stateView)) c.clear();
    slot.stateView = undefined;
    if (slot.timers !== undefined) {
      for (const r of slot.timers.values()) {
        if (r.active) this.liveTimers--;
        r.active = false;
        r.gen++;
      }
    }
    slot.timers = undefined;
    slot.timerView = undefined;
    (slot.window === GlobalWindow.INSTANCE ? this.globalSlots : this.windowSlots).delete(slot.mapKey);
  }

  /** Outputs a value of `slot` (for the contexts the DoFn is called with). */
  emit(slot: Slot, value: unknown, timestamp: number, pane: PaneInfo, tag?: string): void {
    if (timestamp < this.currentTs - this.skewMs) {
      throw new RangeError(
        `cannot output with timestamp ${formatInstant(timestamp)}: it is ${this.currentTs - timestamp} ms before ` +
          `${formatInstant(this.currentTs)}, more than the allowed skew of ${this.skewMs} ms`,
      );
    }
    this.counters.outputs++;
    this.sink.output(value, timestamp, slot.window, pane, tag);
  }

  private cells(slot: Slot): Record<string, Cell> {
    if (slot.stateView !== undefined) return slot.stateView;
    const specs = this.fn.state ?? {};
    const out: Record<string, Cell> = {};
    for (const name of Object.keys(specs)) out[name] = newCell(specs[name] as StateSpec);
    slot.stateView = out;
    return out;
  }

  private timerCells(slot: Slot): Record<string, TimerHandle<Slot> | TimerFamilyHandle<Slot>> {
    slot.timerView ??= timerHandles<Slot>(this, slot, this.fn.timers ?? {});
    return slot.timerView;
  }

  /** Sets the timer `name`/`id` of `slot` (Beam's checks first: see TimerHandle.set). */
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
    slot.timers ??= new Map();
    const recKey = timerKey(name, id);
    let r = slot.timers.get(recKey);
    if (r === undefined) {
      r = new TimerRecord(slot, name, id, domain);
      slot.timers.set(recKey, r);
    }
    if (!r.active) {
      this.liveTimers++;
      slot.pending++;
    }
    r.gen++;
    r.active = true;
    r.time = time;
    r.holdTs = hold;
    const entry = { rec: r, gen: r.gen };
    r.seq = this.seq++;
    (domain === "event" ? this.eventTimers : this.procTimers).push(time, r.seq, entry);
    this.holds.push(hold, entry);
    this.compactIfStale();
  }

  /** The time the clock of `domain` reads now, for relative timers: processing time, or the current element's. */
  relativeBase(domain: TimeDomain): number {
    return domain === "processing" ? this.processingTime : this.currentTs;
  }

  clearTimer(slot: Slot, name: string, id: string): void {
    const r = slot.timers?.get(timerKey(name, id));
    if (r?.active) {
      r.active = false;
      r.gen++;
      this.liveTimers--;
      slot.pending--;
    }
    if (r !== undefined) forgetFamilyTimer(r);
  }

  timerTime(slot: Slot, name: string, id: string): number | undefined {
    const r = slot.timers?.get(timerKey(name, id));
    return r?.active ? r.time : undefined;
  }

  private context(slot: Slot, timestamp: number, pane: PaneInfo): StatefulCallContext<Slot> {
    return new StatefulCallContext(
      this,
      slot,
      timestamp,
      pane,
      this.cells(slot) as never,
      this.timerCells(slot) as never,
      this.processingTime,
      this.inputWatermark,
    );
  }

  private timerContext(slot: Slot, timestamp: number, firingTime: number, id: string, domain: TimeDomain) {
    const ctx = new StatefulCallContext(
      this,
      slot,
      timestamp,
      NO_FIRING,
      this.cells(slot) as never,
      this.timerCells(slot) as never,
      this.processingTime,
      this.inputWatermark,
    );
    ctx.firingTime = firingTime;
    ctx.timerId = id;
    ctx.domain = domain;
    return ctx;
  }
}

/** A window's part of a slot's map key, and its hold's key. */
function windowMapKey(w: BoundedWindow): string {
  if (w === GlobalWindow.INSTANCE) return "";
  return w instanceof IntervalWindow ? `${w.start}:${w.end}` : w.toString();
}
