import { describe, expect, it } from "vitest";
import { NO_FIRING } from "../../../core/pane.ts";
import type { PCollectionId } from "../../../core/primitives.ts";
import type { AnyView, ViewId } from "../../../core/view.ts";
import { DEFAULT_WINDOWING } from "../../../core/windowing-strategy.ts";
import { fixed, globalWindows, sliding, type WindowFn } from "../../../core/windows/window-fn.ts";
import { type BoundedWindow, GlobalWindow, IntervalWindow } from "../../../core/windows/window.ts";
import { PushbackIndex } from "../../../runners/direct/pushback-index.ts";
import { decodeWindow, encodeWindow } from "../../../runners/engine/window-codec.ts";
import { ElementMeta } from "../../../runners/fn/receiver.ts";
import { ViewStore } from "../../../runners/fn/view-store.ts";

// The pushed-back elements of a ParDo with side inputs, indexed by the side-input windows they wait on, against the
// plain rule the direct runner used before (every waiting element re-checked on every retry): same elements
// released, in the same order, same earliest timestamp, through checkpoints; and a retry with nothing new does not
// look at the waiting elements.

const view = (id: string, windowFn: WindowFn): AnyView => ({
  id: id as ViewId,
  kind: "iterable",
  pcollection: `pc-${id}` as PCollectionId,
  windowing: { ...DEFAULT_WINDOWING, windowFn },
});

interface Element {
  readonly value: number;
  readonly timestamp: number;
  readonly window: BoundedWindow;
}

/** Beam's rule, element by element, as `SideInputStage` applied it before the index. */
class Recheck {
  waiting: Element[] = [];
  constructor(
    private readonly stores: () => readonly ViewStore[],
    private readonly wm: (v: AnyView) => number,
  ) {}
  isReady(w: BoundedWindow): boolean {
    return this.stores().every((s) => s.hasData(w) || this.wm(s.view) > s.sideWindow(w).maxTimestamp);
  }
  retry(): Element[] {
    const ready = this.waiting.filter((e) => this.isReady(e.window));
    this.waiting = this.waiting.filter((e) => !this.isReady(e.window));
    return ready;
  }
  minTimestamp(): number {
    return Math.min(Number.POSITIVE_INFINITY, ...this.waiting.map((e) => e.timestamp));
  }
}

const released = (items: readonly { value: unknown; timestamp: number; window: BoundedWindow }[]) =>
  items.map((p) => `${String(p.value)}@${p.timestamp}${p.window}`);

describe("PushbackIndex", () => {
  it.each([1, 2, 3, 4, 5])(
    "releases what re-checking every waiting element releases, in the same order, through checkpoints (seed %i)",
    (seed) => {
      let a = seed;
      const rnd = () => {
        a = (a * 1103515245 + 12345) & 0x7fffffff;
        return a / 0x7fffffff;
      };
      const views = [view("fixed20", fixed(20)), view("global", globalWindows()), view("sliding", sliding(30, 10))];
      let stores = views.map((v) => new ViewStore(v));
      const watermarks = new Map<string, number>(views.map((v) => [v.id, Number.NEGATIVE_INFINITY]));
      const wm = (v: AnyView) => watermarks.get(v.id) as number;
      // Two steps: one reads the fixed and the sliding side input, the other all three.
      const configs = [
        [0, 2],
        [0, 1, 2],
      ];
      const pick = (c: number[]) => () => c.map((i) => stores[i] as ViewStore);
      let indexes = configs.map((c) => new PushbackIndex(pick(c)(), wm));
      const models = configs.map((c) => new Recheck(pick(c), wm));
      const meta = new ElementMeta();
      let value = 0;
      let releasedTotal = 0;
      let restores = 0;
      for (let step = 0; step < 3000; step++) {
        const r = rnd();
        if (r < 0.55) {
          const k = Math.floor(rnd() * 40);
          const window = rnd() < 0.05 ? GlobalWindow.INSTANCE : new IntervalWindow(k * 10, k * 10 + 10);
          const timestamp = window instanceof IntervalWindow ? window.start + Math.floor(rnd() * 10) : value;
          const e: Element = { value: value++, timestamp, window };
          for (const [i, index] of indexes.entries()) {
            const model = models[i] as Recheck;
            const ready = model.isReady(window);
            expect(index.isReady(window), `step ${step}: ready ${window}`).toBe(ready);
            if (!ready) {
              index.push(e.value, e.timestamp, e.window, NO_FIRING);
              model.waiting.push(e);
            }
          }
        } else if (r < 0.7) {
          // A pane for one side-input window (what its grouping fires).
          const s = Math.floor(rnd() * 3);
          const k = Math.floor(rnd() * 40);
          const w =
            s === 1
              ? GlobalWindow.INSTANCE
              : s === 0
                ? new IntervalWindow(k * 20, k * 20 + 20)
                : new IntervalWindow(k * 10, k * 10 + 30);
          (stores[s] as ViewStore).receive([undefined, [k]], meta.set(0, [w], NO_FIRING));
        } else if (r < 0.85) {
          const v = views[Math.floor(rnd() * 3)] as AnyView;
          const now = watermarks.get(v.id) as number;
          const base = Number.isFinite(now) ? now : 0;
          // Mostly forward; now and then back a little (a side input's watermark counts its pending bundles).
          watermarks.set(v.id, rnd() < 0.1 ? base - Math.floor(rnd() * 15) : base + Math.floor(rnd() * 25));
        } else if (r < 0.97) {
          for (const [i, index] of indexes.entries()) {
            const got = released(index.takeReady());
            expect(got, `step ${step}: released by step ${i}`).toEqual(released((models[i] as Recheck).retry()));
            releasedTotal += got.length;
          }
        } else {
          // A checkpoint: the stores' contents and each index's waiting elements, into new objects.
          stores = stores.map((s) => {
            const copy = new ViewStore(s.view);
            copy.restore(structuredClone(s.snapshot()));
            return copy;
          });
          indexes = indexes.map((index, i) => {
            const copy = new PushbackIndex(pick(configs[i] as number[])(), wm);
            // As SideInputStage checkpoints them: windows encoded, the rest plain data.
            const data = structuredClone(index.contents().map((p) => ({ ...p, window: encodeWindow(p.window) })));
            copy.restore(data.map((p) => ({ ...p, window: decodeWindow(p.window) })));
            return copy;
          });
          restores++;
        }
        for (const [i, index] of indexes.entries()) {
          const model = models[i] as Recheck;
          expect(index.size, `step ${step}: waiting in step ${i}`).toBe(model.waiting.length);
          expect(index.minTimestamp(), `step ${step}: earliest in step ${i}`).toBe(model.minTimestamp());
        }
      }
      expect(releasedTotal).toBeGreaterThan(300);
      expect(restores).toBeGreaterThan(20);
    },
  );

  it("a retry with nothing new costs the side inputs, not the 100,000 elements waiting", () => {
    const v = view("fixed10", fixed(10_000));
    const store = new ViewStore(v);
    let watermarkReads = 0;
    let sideWatermark = 0;
    const index = new PushbackIndex([store], () => {
      watermarkReads++;
      return sideWatermark;
    });
    const w = new IntervalWindow(0, 10_000);
    for (let i = 0; i < 100_000; i++) index.push(i, i % 10_000, w, NO_FIRING);
    watermarkReads = 0;
    for (let i = 0; i < 1000; i++) {
      sideWatermark = i; // moves, but not past the side-input window [0, 10000)
      expect(index.takeReady()).toEqual([]);
    }
    expect(watermarkReads).toBe(1000); // one read of the side input's watermark per retry
    sideWatermark = 10_000;
    const ready = index.takeReady();
    expect(ready.length).toBe(100_000);
    expect(ready.map((p) => p.value)).toEqual([...Array(100_000).keys()]);
    expect(index.size).toBe(0);
    expect(index.minTimestamp()).toBe(Number.POSITIVE_INFINITY);
  });

  it("a watermark passing 50,000 waiting windows at once releases every group, in arrival order", () => {
    // One element in each of 50,000 windows, pushed in an order unlike their windows' (arrival order must win); the
    // side input's watermark then passes them all in one retry (each group appended once, not copied per group).
    const store = new ViewStore(view("fixed10", fixed(10)));
    let sideWatermark = Number.NEGATIVE_INFINITY;
    const index = new PushbackIndex([store], () => sideWatermark);
    const n = 50_000;
    const windowOf = (i: number) => (i * 7919) % n;
    for (let i = 0; i < n; i++) {
      const start = windowOf(i) * 10;
      index.push(i, start, new IntervalWindow(start, start + 10), NO_FIRING);
    }
    expect(index.takeReady()).toEqual([]);
    sideWatermark = n * 10;
    const ready = index.takeReady();
    expect(ready.map((p) => p.value)).toEqual([...Array(n).keys()]);
    expect(ready.map((p) => p.timestamp)).toEqual([...Array(n).keys()].map((i) => windowOf(i) * 10));
    expect(index.size).toBe(0);
    expect(index.takeReady()).toEqual([]);
  });

  it("a side input's watermark that goes back (a late pane pending) is waited for again", () => {
    const a = new ViewStore(view("a", fixed(10)));
    const b = new ViewStore(view("b", fixed(10)));
    const watermarks = new Map<string, number>([
      ["a", 100],
      ["b", Number.NEGATIVE_INFINITY],
    ]);
    const index = new PushbackIndex([a, b], (v) => watermarks.get(v.id) as number);
    const w = new IntervalWindow(0, 10);
    expect(index.isReady(w)).toBe(false); // a is past [0, 10), b is not
    index.push("e", 5, w, NO_FIRING);
    watermarks.set("a", 5);
    b.receive([undefined, [1]], new ElementMeta().set(0, [w], NO_FIRING));
    expect(index.takeReady()).toEqual([]); // b has data now, but a is back before the window's end
    watermarks.set("a", 10);
    expect(index.takeReady().map((p) => p.value)).toEqual(["e"]);
  });

  it("keeps nothing of the windows released, even when its output watermark is never asked for (no grouping downstream)", () => {
    const store = new ViewStore(view("fixed10", fixed(10)));
    let sideWatermark = 0;
    const index = new PushbackIndex([store], () => sideWatermark);
    const most = { groups: 0, holdEntries: 0, listedWindows: 0, windowEntries: 0 };
    let released = 0;
    for (let k = 0; k < 10_000; k++) {
      const w = new IntervalWindow(k * 10, k * 10 + 10);
      // Out of order within the window: the group's earliest timestamp moves back several times.
      for (const t of [9, 7, 8, 5, 3, 1, 0]) index.push(t, k * 10 + t, w, NO_FIRING);
      const waiting = index.footprint();
      for (const n of Object.keys(most) as (keyof typeof most)[]) most[n] = Math.max(most[n], waiting[n]);
      if (k % 2 === 0) store.receive([undefined, [k]], new ElementMeta().set(0, [w], NO_FIRING));
      else sideWatermark = k * 10 + 10;
      released += index.takeReady().length;
      const f = index.footprint();
      for (const n of Object.keys(most) as (keyof typeof most)[]) most[n] = Math.max(most[n], f[n]);
    }
    expect(released).toBe(70_000);
    expect(most.groups).toBe(1);
    expect(most.holdEntries).toBeLessThanOrEqual(64 + 4);
    expect(most.listedWindows).toBe(1);
    expect(most.windowEntries).toBeLessThanOrEqual(2);
  });

  it("data for a side-input window releases its waiting elements at the next retry, and only those", () => {
    const store = new ViewStore(view("fixed10", fixed(10)));
    const index = new PushbackIndex([store], () => Number.NEGATIVE_INFINITY);
    index.push("a", 1, new IntervalWindow(0, 10), NO_FIRING);
    index.push("b", 12, new IntervalWindow(10, 20), NO_FIRING);
    index.push("c", 3, new IntervalWindow(0, 10), NO_FIRING);
    expect(index.minTimestamp()).toBe(1);
    store.receive([undefined, [7]], new ElementMeta().set(0, [new IntervalWindow(0, 10)], NO_FIRING));
    expect(index.size).toBe(3); // marked during the side input's bundle, released at the retry
    expect(index.takeReady().map((p) => p.value)).toEqual(["a", "c"]);
    expect(index.size).toBe(1);
    expect(index.minTimestamp()).toBe(12);
  });
});
