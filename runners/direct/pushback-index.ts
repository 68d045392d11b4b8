import type { PaneInfo } from "../../core/pane.ts";
import type { AnyView } from "../../core/view.ts";
import { type BoundedWindow, IntervalWindow } from "../../core/windows/window.ts";
import { TimeHeap } from "../engine/timers/time-heap.ts";
import { sideWindowKey, type ViewStore } from "../fn/view-store.ts";

/** An element pushed back, in one main-input window. */
export interface Pushed {
  /** Arrival order: elements that become ready together are processed in it. */
  readonly seq: number;
  readonly value: unknown;
  readonly timestamp: number;
  readonly window: BoundedWindow;
  readonly pane: PaneInfo;
}

/** What a main-input window reads: per side input, its side-input window (and that window's key in the store). */
interface Resolved {
  readonly sideWindows: readonly BoundedWindow[];
  readonly sideKeys: readonly string[];
  /** The key of the group of elements that wait on exactly these side-input windows. */
  readonly groupKey: string;
}

/** The elements waiting on the same side-input windows (one per side input), in arrival order. */
class Waiting {
  /** Emptied when the group is released (a released group may still be named by stale heap entries). */
  items: Pushed[] = [];
  minTimestamp = Number.POSITIVE_INFINITY;
  released = false;
  /** Per side input: whether the group is listed among the side-input window's waiters (`SideInputWaits`). */
  readonly listed: boolean[];
  constructor(
    readonly key: string,
    readonly at: Resolved,
    sideInputs: number,
  ) {
    this.listed = new Array<boolean>(sideInputs).fill(false);
  }
}

/** The groups waiting on each window of one side input, and those windows by max timestamp. */
class SideInputWaits {
  readonly byWindow = new Map<string, Waiting[]>();
  /** Side-input window keys by max timestamp; an entry whose window is no longer waited on is skipped. */
  readonly byEnd = new TimeHeap<string>();
}

/**
 * The elements of a ParDo with side inputs that are pushed back until their side inputs are ready (Beam's
 * PushbackSideInputDoFnRunner), indexed by the side-input windows they wait on, so that a bundle or a watermark
 * change looks only at the windows that became ready, not at every waiting element.
 *
 * Ready (Beam's rule): for every side input, something arrived for the side-input window the main window reads, or
 * the side input's watermark passed that window's max timestamp.
 *
 * State: the waiting elements in groups by their side-input windows; per side input, which groups wait on each of
 * its windows, by window and by max timestamp; the groups touched since the last `takeReady` (a side-input window
 * got data). A heap of the groups' earliest timestamps gives the step's output watermark hold.
 * Lifetime: a group is made by the first element pushed back on its side-input windows and released, whole, once
 * they are ready; a side input's listing of a window goes when the window gets data or the watermark passes it.
 */
export class PushbackIndex {
  private readonly groups = new Map<string, Waiting>();
  private readonly waits: SideInputWaits[];
  /** Groups to check at the next `takeReady`: one of their side-input windows became ready (or after a restore). */
  private readonly touched = new Set<Waiting>();
  /**
   * The groups by earliest timestamp (an entry is stale once its group is released or has an earlier one). Stale
   * entries go when they reach the top, or when they outnumber the groups (`add`): the output watermark may never be
   * asked for (a step with no grouping downstream).
   */
  private readonly holds = new TimeHeap<Waiting>();
  private seq = 0;
  private waitingCount = 0;
  /** The last main window resolved (consecutive elements are mostly in the same window). */
  private lastWindow: BoundedWindow | undefined = undefined;
  private lastResolved: Resolved | undefined = undefined;

  constructor(
    private readonly stores: readonly ViewStore[],
    /** The watermark of a side input. */
    private readonly viewWatermark: (view: AnyView) => number,
  ) {
    this.waits = stores.map(() => new SideInputWaits());
    stores.forEach((store, i) => {
      store.onWindowData((key) => this.dataArrived(i, key));
    });
  }

  /** Elements waiting. */
  get size(): number {
    return this.waitingCount;
  }

  /** What the index keeps, as entry counts (for memory checks). */
  footprint(): { groups: number; holdEntries: number; listedWindows: number; windowEntries: number } {
    let listed = 0;
    let entries = 0;
    for (const w of this.waits) {
      listed += w.byWindow.size;
      entries += w.byEnd.size;
    }
    return { groups: this.groups.size, holdEntries: this.holds.size, listedWindows: listed, windowEntries: entries };
  }

  /** Whether every side input is ready for `mainWindow`. */
  isReady(mainWindow: BoundedWindow): boolean {
    return this.isResolvedReady(this.resolve(mainWindow));
  }

  /** Pushes back an element of `window` (whose side inputs are not ready). */
  push(value: unknown, timestamp: number, window: BoundedWindow, pane: PaneInfo): void {
    this.add({ seq: this.seq++, value, timestamp, window, pane });
  }

  /**
   * Takes the elements whose side inputs are ready now, in arrival order: the groups whose side-input windows got
   * data (told by the stores as it arrives) or were passed by their side input's watermark (checked here, from the
   * earliest window).
   */
  takeReady(): Pushed[] {
    for (let i = 0; i < this.stores.length; i++) {
      const w = this.waits[i] as SideInputWaits;
      if (w.byEnd.size === 0) continue;
      const wm = this.viewWatermark((this.stores[i] as ViewStore).view);
      while (w.byEnd.peekTime() < wm) this.windowReady(i, w.byEnd.pop() as string);
    }
    if (this.touched.size === 0) return [];
    let out: Pushed[] = [];
    let groups = 0;
    for (const g of this.touched) {
      if (g.released) continue;
      if (this.isResolvedReady(g.at)) {
        g.released = true;
        this.groups.delete(g.key);
        this.waitingCount -= g.items.length;
        // Appended, not concatenated: a watermark passing many waiting windows at once releases many groups, and a
        // concat per group would copy everything gathered so far each time (quadratic).
        if (groups++ === 0) out = g.items;
        else {
          if (groups === 2) out = out.slice();
          for (const p of g.items) out.push(p);
        }
        g.items = [];
      } else this.list(g);
    }
    this.touched.clear();
    return groups > 1 ? out.sort((a, b) => a.seq - b.seq) : out;
  }

  /** The earliest timestamp of the waiting elements, or +Infinity. */
  minTimestamp(): number {
    const h = this.holds;
    for (;;) {
      const g = h.peekItem();
      if (g === undefined) return Number.POSITIVE_INFINITY;
      const t = h.peekTime();
      if (!g.released && t === g.minTimestamp) return t;
      h.pop();
    }
  }

  /** The waiting elements, in arrival order (for a checkpoint). */
  contents(): Pushed[] {
    return [...this.groups.values()].flatMap((g) => g.items).sort((a, b) => a.seq - b.seq);
  }

  /** Takes back `contents()` (in arrival order); each group is checked at the next `takeReady`. */
  restore(items: readonly Omit<Pushed, "seq">[]): void {
    for (const p of items) {
      const g = this.add({ ...p, seq: this.seq++ });
      this.touched.add(g);
    }
  }

  private add(p: Pushed): Waiting {
    const at = this.resolve(p.window);
    let g = this.groups.get(at.groupKey);
    if (g === undefined) {
      g = new Waiting(at.groupKey, at, this.stores.length);
      this.groups.set(at.groupKey, g);
      this.list(g);
    }
    g.items.push(p);
    this.waitingCount++;
    if (p.timestamp < g.minTimestamp) {
      g.minTimestamp = p.timestamp;
      this.holds.push(p.timestamp, g);
      if (this.holds.size > 64 + 4 * this.groups.size) this.rebuildHolds();
    }
    return g;
  }

  /** The holds heap from the live groups only. */
  private rebuildHolds(): void {
    this.holds.clear();
    for (const g of this.groups.values()) this.holds.push(g.minTimestamp, g);
  }

  /** Lists `g` among the waiters of each side-input window it waits on that is not ready. */
  private list(g: Waiting): void {
    for (let i = 0; i < this.stores.length; i++) {
      if (g.listed[i] || this.isSideReady(i, g.at)) continue;
      const w = this.waits[i] as SideInputWaits;
      const key = g.at.sideKeys[i] as string;
      let waiters = w.byWindow.get(key);
      if (waiters === undefined) {
        waiters = [];
        w.byWindow.set(key, waiters);
        w.byEnd.push((g.at.sideWindows[i] as BoundedWindow).maxTimestamp, key);
      }
      waiters.push(g);
      g.listed[i] = true;
    }
  }

  /** A store got data for its window `key`. Called during the bundle that delivers it: only marks the groups. */
  private dataArrived(i: number, key: string): void {
    if (this.waitingCount > 0) this.windowReady(i, key);
  }

  private windowReady(i: number, key: string): void {
    const w = this.waits[i] as SideInputWaits;
    const waiters = w.byWindow.get(key);
    if (waiters === undefined) return;
    w.byWindow.delete(key);
    for (const g of waiters) {
      g.listed[i] = false;
      if (!g.released) this.touched.add(g);
    }
  }

  private isResolvedReady(at: Resolved): boolean {
    for (let i = 0; i < this.stores.length; i++) if (!this.isSideReady(i, at)) return false;
    return true;
  }

  private isSideReady(i: number, at: Resolved): boolean {
    const store = this.stores[i] as ViewStore;
    return (
      store.hasWindowKey(at.sideKeys[i] as string) ||
      this.viewWatermark(store.view) > (at.sideWindows[i] as BoundedWindow).maxTimestamp
    );
  }

  private resolve(mainWindow: BoundedWindow): Resolved {
    const last = this.lastWindow;
    if (
      last !== undefined &&
      (last === mainWindow ||
        (mainWindow instanceof IntervalWindow &&
          last instanceof IntervalWindow &&
          mainWindow.start === last.start &&
          mainWindow.end === last.end))
    ) {
      return this.lastResolved as Resolved;
    }
    const sideWindows = this.stores.map((s) => s.sideWindow(mainWindow));
    const sideKeys = sideWindows.map(sideWindowKey);
    const resolved: Resolved = { sideWindows, sideKeys, groupKey: sideKeys.join("\u0001") };
    this.lastWindow = mainWindow;
    this.lastResolved = resolved;
    return resolved;
  }
}
