import type { PaneInfo } from "../../../core/pane.ts";
import { type BoundedWindow, IntervalWindow } from "../../../core/windows/window.ts";
import type { TriggerState } from "../triggers/machine.ts";

/**
 * Everything the grouping keeps for one window of one key.
 *
 * State: the reduce accumulator (`acc`), elements since the last pane (`nonEmpty`), the element and extra
 * (garbage-collection) watermark holds, the previous pane, the trigger state, and which timers are set.
 * Merging: when sessions merge, one part's object becomes the merged window (see `MergingWindows`); the others die.
 * Lifetime: created by the first element of the window; closed (kept only to refuse data) when its trigger
 * finishes; removed when the input watermark passes `gcTime` (max timestamp + allowed lateness).
 */
export class WindowState<K, A> {
  acc: A | undefined = undefined;
  nonEmpty = 0;
  /** NaN when not held. */
  elementHold = Number.NaN;
  extraHold = Number.NaN;
  prevPane: PaneInfo | null = null;
  closed = false;
  alive = true;
  /** Event-time timers: at the max timestamp (asked by the trigger) and at gcTime (expiry). */
  timerAtMax = false;
  timerAtGc = false;
  /**
   * Time of this window's live entry in the stage's window index (+Infinity when none). The entry is a lower bound of
   * `indexKey()`: it is refiled when the key moves earlier and re-checked lazily when it is reached.
   */
  heapAt = Number.POSITIVE_INFINITY;
  /** Bundle/batch epoch in which the window was last touched, so it is evaluated once. */
  epoch = -1;
  /** Bumped when the state takes on a new window (a merge), so timers set for the old window are ignored. */
  gen = 0;
  /**
   * The stage's creation number of this window (a reused state object gets a new one): windows due at the same time
   * are evaluated in this order, which is kept by checkpoints. Index entries carry it, so entries left from the
   * object's earlier window are told apart from its live one.
   */
  id = 0;
  // Number fields start as numbers: a field first defined as undefined would box every time value stored in it.
  maxTs = Number.NEGATIVE_INFINITY;
  gcTime = Number.NEGATIVE_INFINITY;
  /** Bounds of an interval window (NaN for other windows); the window object is made from them on demand. */
  start = Number.NaN;
  end = Number.NaN;
  private windowObject: BoundedWindow | undefined;

  /** `window` undefined: the caller gives the state its interval with `rewindow` right away. */
  constructor(
    public key: KeyState<K, A>,
    window: BoundedWindow | undefined,
    public trig: TriggerState,
    allowedLatenessMs: number,
    gcCap: number,
  ) {
    this.setUp(window, allowedLatenessMs, gcCap);
  }

  /**
   * Makes a state expired earlier the state of a new window (the runner reuses expired states, so a long stream
   * does not keep promoting short-lived window states into the old generation). Timers set for its previous window
   * are ignored through `gen`; index entries of it are re-checked like any stale entry.
   */
  reuse(
    key: KeyState<K, A>,
    window: BoundedWindow | undefined,
    trig: TriggerState,
    latenessMs: number,
    gcCap: number,
  ): void {
    this.key = key;
    this.trig = trig;
    this.acc = undefined;
    this.nonEmpty = 0;
    this.elementHold = Number.NaN;
    this.extraHold = Number.NaN;
    this.prevPane = null;
    this.closed = false;
    this.alive = true;
    this.timerAtMax = false;
    this.timerAtGc = false;
    this.heapAt = Number.POSITIVE_INFINITY;
    this.epoch = -1;
    this.gen++;
    this.start = Number.NaN;
    this.end = Number.NaN;
    this.setUp(window, latenessMs, gcCap);
  }

  private setUp(window: BoundedWindow | undefined, allowedLatenessMs: number, gcCap: number): void {
    this.windowObject = window;
    if (window !== undefined) {
      this.maxTs = window.maxTimestamp;
      this.gcTime = Math.min(this.maxTs + allowedLatenessMs, gcCap);
      const interval = window instanceof IntervalWindow;
      this.start = interval ? window.start : Number.NaN;
      this.end = interval ? window.end : Number.NaN;
    }
  }

  get window(): BoundedWindow {
    let w = this.windowObject;
    if (w === undefined) {
      w = new IntervalWindow(this.start, this.end);
      this.windowObject = w;
    }
    return w;
  }

  /** Gives the state the interval window `[start, end)` (after a merge), recomputing its times. */
  rewindow(start: number, end: number, allowedLatenessMs: number, gcCap: number): void {
    this.windowObject = undefined;
    this.start = start;
    this.end = end;
    this.maxTs = end - 1;
    this.gcTime = Math.min(this.maxTs + allowedLatenessMs, gcCap);
  }

  /** Gives the state any window (after a merge by a custom window function), recomputing its times. */
  setWindow(window: BoundedWindow, allowedLatenessMs: number, gcCap: number): void {
    this.windowObject = window;
    const interval = window instanceof IntervalWindow;
    this.start = interval ? window.start : Number.NaN;
    this.end = interval ? window.end : Number.NaN;
    this.maxTs = window.maxTimestamp;
    this.gcTime = Math.min(this.maxTs + allowedLatenessMs, gcCap);
  }

  /** The earliest event-time timer set, or +Infinity. */
  nextEventTimer(): number {
    if (this.timerAtMax) return this.maxTs;
    return this.timerAtGc ? this.gcTime : Number.POSITIVE_INFINITY;
  }

  /** The earliest watermark hold, or +Infinity. */
  earliestHold(): number {
    const e = this.elementHold;
    const x = this.extraHold;
    if (Number.isNaN(e)) return Number.isNaN(x) ? Number.POSITIVE_INFINITY : x;
    return Number.isNaN(x) || e < x ? e : x;
  }

  /** What the window is filed under in the window index: its earliest event timer or hold. */
  indexKey(): number {
    const t = this.nextEventTimer();
    const h = this.earliestHold();
    return Math.min(t, h);
  }
}

/**
 * The windows of one key: open ones (`active`) and closed ones waiting to expire (`closed`). The first open window
 * and the counts are fields, and the lists behind them are made only when a key has more than one open window or
 * any closed one, so the common case (one open session per key) allocates and reads no array.
 */
export class KeyState<K, A> {
  /** The oldest open window, or undefined. */
  first: WindowState<K, A> | undefined = undefined;
  /** Open windows after `first`, oldest first. */
  private others: WindowState<K, A>[] | undefined = undefined;
  private closedList: WindowState<K, A>[] | undefined = undefined;
  activeCount = 0;
  closedCount = 0;
  /** The sweep count when the key last became empty; -1 while it has windows or is not waiting to be swept. */
  emptySince = -1;
  /**
   * Open and closed windows by their `maxTs`, for a key with many windows of a non-merging window function (see
   * `findByWindow`); undefined until then, so the common key keeps none. Maintained by the add/remove methods.
   */
  private byMaxTs: Map<number, WindowState<K, A> | WindowState<K, A>[]> | undefined = undefined;
  constructor(
    public key: K,
    public groupKey: string | number | boolean,
  ) {}

  /** Makes a swept (empty) key state the state of another key. */
  reuse(key: K, groupKey: string | number | boolean): void {
    this.key = key;
    this.groupKey = groupKey;
    this.emptySince = -1;
    this.byMaxTs = undefined;
  }

  /**
   * The open or closed window equal to `w` (whose `maxTimestamp` is `maxTs`), found through an index by `maxTs`
   * made on the first call: a key with many windows (fixed windows under a long allowed lateness, sliding windows,
   * a global key) is then looked up in constant time per element, not by a scan of its windows. Only for window
   * states whose window never changes (non-merging window functions: a merge changes a window's bounds).
   */
  findByWindow(w: BoundedWindow, maxTs: number): WindowState<K, A> | undefined {
    let index = this.byMaxTs;
    if (index === undefined) {
      index = new Map();
      this.byMaxTs = index;
      if (this.first !== undefined) this.indexAdd(this.first);
      for (const ws of this.rest) this.indexAdd(ws);
      for (const ws of this.closed) this.indexAdd(ws);
    }
    const hit = index.get(maxTs);
    if (hit === undefined) return undefined;
    if (!Array.isArray(hit)) return hit.window === w || (hit.window as BoundedWindow).equals(w) ? hit : undefined;
    for (const ws of hit) if (ws.window === w || (ws.window as BoundedWindow).equals(w)) return ws;
    return undefined;
  }

  private indexAdd(ws: WindowState<K, A>): void {
    const index = this.byMaxTs;
    if (index === undefined) return;
    const hit = index.get(ws.maxTs);
    if (hit === undefined) index.set(ws.maxTs, ws);
    else if (Array.isArray(hit)) hit.push(ws);
    else index.set(ws.maxTs, [hit, ws]);
  }

  private indexRemove(ws: WindowState<K, A>): void {
    const index = this.byMaxTs;
    if (index === undefined) return;
    const hit = index.get(ws.maxTs);
    if (hit === ws) index.delete(ws.maxTs);
    else if (Array.isArray(hit)) {
      const i = hit.indexOf(ws);
      if (i >= 0) hit.splice(i, 1);
      if (hit.length === 1) index.set(ws.maxTs, hit[0] as WindowState<K, A>);
    }
  }

  /** The open windows, oldest first (a new list when there are several: not for the per-element path). */
  get active(): readonly WindowState<K, A>[] {
    const first = this.first;
    if (first === undefined) return NONE;
    const others = this.others;
    return others === undefined || others.length === 0 ? [first] : [first, ...others];
  }

  /** Open windows after the first (empty for the common single-window key). */
  get rest(): readonly WindowState<K, A>[] {
    return this.others ?? NONE;
  }

  get closed(): readonly WindowState<K, A>[] {
    return this.closedList ?? NONE;
  }

  isEmpty(): boolean {
    return this.activeCount === 0 && this.closedCount === 0;
  }

  addActive(ws: WindowState<K, A>): void {
    if (this.first === undefined) this.first = ws;
    else if (this.others === undefined) this.others = [ws];
    else this.others.push(ws);
    this.activeCount++;
    this.indexAdd(ws);
  }

  removeActive(ws: WindowState<K, A>): void {
    const others = this.others;
    if (this.first === ws) {
      this.first = others !== undefined && others.length > 0 ? others.shift() : undefined;
      this.activeCount--;
      this.indexRemove(ws);
      return;
    }
    if (others === undefined) return;
    const i = others.indexOf(ws);
    if (i < 0) return;
    others.splice(i, 1);
    this.activeCount--;
    this.indexRemove(ws);
  }

  addClosed(ws: WindowState<K, A>): void {
    if (this.closedList === undefined) this.closedList = [ws];
    else this.closedList.push(ws);
    this.closedCount++;
    this.indexAdd(ws);
  }

  removeClosed(ws: WindowState<K, A>): void {
    const list = this.closedList;
    if (list === undefined) return;
    const i = list.indexOf(ws);
    if (i < 0) return;
    list.splice(i, 1);
    this.closedCount--;
    this.indexRemove(ws);
  }
}

const NONE: readonly never[] = Object.freeze([]);
