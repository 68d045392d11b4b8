/**
 * Checkpoints of the grouping machine: a run restored from a `ReduceRunner.snapshot` (through the checkpoint store's
 * encoding, `v8.serialize`) at any point of a seeded stream continues exactly as the uninterrupted run: the same panes
 * (value, timestamp, window, pane info) in the same order, the same output watermarks and the same counters.
 */
import { deserialize, serialize } from "node:v8";
import { describe, expect, it } from "vitest";
import type { CombineFn } from "../../../../core/combine-fn.ts";
import type { PaneTiming } from "../../../../core/pane.ts";
import {
  afterCount,
  afterProcessingTime,
  afterWatermark,
  defaultTrigger,
  repeatedly,
  type Trigger,
} from "../../../../core/triggers/trigger.ts";
import { DEFAULT_WINDOWING, type WindowingStrategy } from "../../../../core/windowing-strategy.ts";
import {
  assignWindows,
  fixed,
  GLOBAL_WINDOWS,
  globalWindows,
  sessions,
  sliding,
  type WindowFn,
} from "../../../../core/windows/window-fn.ts";
import { bufferingReduceFn, combiningReduceFn, type ReduceFn } from "../../../../runners/engine/reduce/reduce-fn.ts";
import {
  ReduceRunner,
  type ReduceSnapshot,
  type WindowSnapshot,
} from "../../../../runners/engine/reduce/reduce-runner.ts";
import { sumFn } from "../../../../transforms/combine.ts";
import { windowName } from "./harness.ts";

type Op =
  | { readonly kind: "element"; readonly key: string; readonly value: number; readonly t: number }
  | { readonly kind: "finishBundle" }
  | { readonly kind: "watermark"; readonly to: number }
  | { readonly kind: "processingTime"; readonly to: number };

/** What the run shows: a pane, or the output watermark after a watermark or clock advance. */
type Observed =
  | {
      readonly key: string;
      readonly value: unknown;
      readonly timestamp: number;
      readonly window: string;
      readonly timing: PaneTiming;
      readonly index: number;
      readonly nonSpeculativeIndex: number;
      readonly isFirst: boolean;
      readonly isLast: boolean;
    }
  | { readonly outputWatermark: number };

interface Config {
  readonly name: string;
  readonly windowFn: WindowFn;
  readonly trigger: Trigger;
  readonly accumulation: WindowingStrategy["accumulation"];
  readonly allowedLatenessMs: number;
  readonly timestampCombiner?: WindowingStrategy["timestampCombiner"];
  /** Combine with sum instead of buffering the values. */
  readonly sum?: boolean;
  /** Sessions only: assign the window inside the grouping (`processElementInSession`). */
  readonly fused?: boolean;
}

const EARLY_LATE = afterWatermark({ early: afterProcessingTime(15), late: afterCount(1) });

const CONFIGS: readonly Config[] = [
  {
    name: "fixed, default trigger, sum",
    windowFn: fixed(100),
    trigger: defaultTrigger(),
    accumulation: "discarding",
    allowedLatenessMs: 0,
    sum: true,
  },
  {
    name: "fixed, default trigger, lateness, group",
    windowFn: fixed(100),
    trigger: defaultTrigger(),
    accumulation: "accumulating",
    allowedLatenessMs: 120,
  },
  {
    name: "fixed, early/late, accumulating, group",
    windowFn: fixed(100),
    trigger: EARLY_LATE,
    accumulation: "accumulating",
    allowedLatenessMs: 200,
  },
  {
    name: "fixed, early/late, discarding, sum, latest",
    windowFn: fixed(100),
    trigger: EARLY_LATE,
    accumulation: "discarding",
    allowedLatenessMs: 150,
    sum: true,
    timestampCombiner: "latest",
  },
  {
    name: "sliding, repeatedly(afterCount(3)), discarding, sum",
    windowFn: sliding(100, 50),
    trigger: repeatedly(afterCount(3)),
    accumulation: "discarding",
    allowedLatenessMs: 100,
    sum: true,
  },
  {
    name: "sliding, early/late, accumulating, group, earliest",
    windowFn: sliding(90, 30),
    trigger: EARLY_LATE,
    accumulation: "accumulating",
    allowedLatenessMs: 100,
    timestampCombiner: "earliest",
  },
  {
    name: "sessions, default trigger, accumulating, group",
    windowFn: sessions(30),
    trigger: defaultTrigger(),
    accumulation: "accumulating",
    allowedLatenessMs: 150,
  },
  {
    name: "sessions, early/late, discarding, sum",
    windowFn: sessions(30),
    trigger: EARLY_LATE,
    accumulation: "discarding",
    allowedLatenessMs: 150,
    sum: true,
  },
  {
    name: "sessions fused, early/late, accumulating, group",
    windowFn: sessions(30),
    trigger: EARLY_LATE,
    accumulation: "accumulating",
    allowedLatenessMs: 100,
    fused: true,
  },
  {
    name: "sessions fused, repeatedly(afterCount(2)), discarding, sum, earliest",
    windowFn: sessions(25),
    trigger: repeatedly(afterCount(2)),
    accumulation: "discarding",
    allowedLatenessMs: 80,
    sum: true,
    fused: true,
    timestampCombiner: "earliest",
  },
  // Finishes at the end of the window: closed sessions refuse late data, and late data can merge into them.
  {
    name: "sessions, afterWatermark(early: afterCount(2)), closing, group",
    windowFn: sessions(30),
    trigger: afterWatermark({ early: afterCount(2) }),
    accumulation: "accumulating",
    allowedLatenessMs: 120,
  },
  {
    name: "global, repeatedly(afterProcessingTime), accumulating, sum",
    windowFn: globalWindows(),
    trigger: repeatedly(afterProcessingTime(20)),
    accumulation: "accumulating",
    allowedLatenessMs: 0,
    sum: true,
  },
];

/** A seeded stream: bundles of elements around the watermark (some late, some too late), clock and watermark moves. */
function script(seed: number, length = 140): Op[] {
  let s = seed >>> 0 || 1;
  const rand = (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
  const ops: Op[] = [{ kind: "processingTime", to: 0 }];
  let watermark = 0;
  let clock = 0;
  let value = 0;
  for (let i = 0; i < length; i++) {
    const r = rand(10);
    if (r < 6) {
      const n = 1 + rand(4);
      for (let j = 0; j < n; j++) {
        // Mostly ahead of the watermark; one in four behind it (late, or past expiry).
        const t = rand(4) === 0 ? Math.max(0, watermark - rand(250)) : watermark + rand(90);
        ops.push({ kind: "element", key: `k${rand(4)}`, value: value++, t });
      }
      ops.push({ kind: "finishBundle" });
    } else if (r < 8) {
      watermark += rand(40);
      ops.push({ kind: "watermark", to: watermark });
    } else {
      clock += 1 + rand(25);
      ops.push({ kind: "processingTime", to: clock });
    }
  }
  ops.push({ kind: "watermark", to: Number.MAX_SAFE_INTEGER });
  return ops;
}

function strategyOf(c: Config): WindowingStrategy {
  return {
    ...DEFAULT_WINDOWING,
    windowFn: c.windowFn,
    trigger: c.trigger,
    accumulation: c.accumulation,
    allowedLatenessMs: c.allowedLatenessMs,
    timestampCombiner: c.timestampCombiner ?? "endOfWindow",
  };
}

function makeRunner(c: Config, out: Observed[]): ReduceRunner<string, number, unknown, unknown> {
  const reduceFn = (
    c.sum ? combiningReduceFn(sumFn as CombineFn<number, unknown, unknown>) : bufferingReduceFn<number>()
  ) as ReduceFn<number, unknown, unknown>;
  return new ReduceRunner<string, number, unknown, unknown>(strategyOf(c), reduceFn, {
    emitPane(key, value, timestamp, window, pane) {
      out.push({
        key,
        // Buffered values in the order the pane holds them (a copy: the order is part of what must match).
        value: Array.isArray(value) ? [...value] : value,
        timestamp,
        window: windowName(window),
        timing: pane.timing,
        index: pane.index,
        nonSpeculativeIndex: pane.nonSpeculativeIndex,
        isFirst: pane.isFirst,
        isLast: pane.isLast,
      });
    },
  });
}

function apply(c: Config, r: ReduceRunner<string, number, unknown, unknown>, op: Op, out: Observed[]): void {
  switch (op.kind) {
    case "element":
      if (c.fused && c.windowFn.kind === "sessions")
        r.processElementInSession(op.key, op.value, op.t, c.windowFn.gapMs);
      else r.processElement(op.key, op.value, op.t, assignWindows(c.windowFn, op.t, GLOBAL_WINDOWS));
      return;
    case "finishBundle":
      r.finishBundle();
      return;
    case "watermark":
      r.advanceInputWatermark(op.to);
      out.push({ outputWatermark: r.outputWatermark });
      return;
    case "processingTime":
      r.advanceProcessingTime(op.to);
      out.push({ outputWatermark: r.outputWatermark });
      return;
  }
}

/** Runs `ops[0, cut)` on one runner, checkpoints it, and runs the rest on a fresh runner restored from it. */
function runWithCheckpoint(c: Config, ops: readonly Op[], cut: number, edit?: (s: ReduceSnapshot) => void) {
  const out: Observed[] = [];
  const first = makeRunner(c, out);
  for (const op of ops.slice(0, cut)) apply(c, first, op, out);
  const before = out.length;
  // Through the checkpoint store's encoding: plain data only.
  const snap = deserialize(serialize(first.snapshot())) as ReduceSnapshot;
  edit?.(snap);
  const second = makeRunner(c, out);
  second.restore(snap);
  for (const op of ops.slice(cut)) apply(c, second, op, out);
  return { out, after: out.slice(before), runner: second };
}

function runWhole(c: Config, ops: readonly Op[]) {
  const out: Observed[] = [];
  const runner = makeRunner(c, out);
  for (const op of ops) apply(c, runner, op, out);
  return { out, runner };
}

const panesOf = (o: readonly Observed[]) => o.filter((x) => "timing" in x);

describe("ReduceRunner snapshot and restore", () => {
  describe.each(CONFIGS.map((c) => [c.name, c] as const))("%s", (_, c) => {
    it.each([1, 2, 3])("a run restored at any point continues exactly as the uninterrupted run (seed %i)", (seed) => {
      const ops = script(seed * 7919 + c.name.length);
      const whole = runWhole(c, ops);
      const panes = panesOf(whole.out);
      expect(panes.length).toBeGreaterThan(10);
      let laterPanes = 0;
      for (let cut = 0; cut <= ops.length; cut++) {
        const { out, after, runner } = runWithCheckpoint(c, ops, cut);
        expect(out, `cut at ${cut}`).toEqual(whole.out);
        expect(runner.counters, `cut at ${cut}`).toEqual(whole.runner.counters);
        expect(runner.windowCount(), `cut at ${cut}`).toBe(0);
        if (cut === Math.floor(ops.length / 2)) laterPanes = panesOf(after).length;
      }
      // The checkpoint is not trivially at the end: the second half of the run emits panes.
      expect(laterPanes).toBeGreaterThan(0);
    });
  });

  it("the streams exercise late data, early and late panes, merges, closed windows and dropped data", () => {
    const seen = new Set<string>();
    for (const c of CONFIGS) {
      for (const seed of [1, 2, 3]) {
        const { out, runner } = runWhole(c, script(seed * 7919 + c.name.length));
        const ops = script(seed * 7919 + c.name.length);
        const half = runWithCheckpoint(c, ops, Math.floor(ops.length / 2)).after;
        for (const p of panesOf(half)) seen.add(`${c.name}: ${p.timing} after the cut`);
        for (const p of panesOf(out)) seen.add(`${c.name}: ${p.timing}`);
        if (runner.counters.merges > 0) seen.add(`${c.name}: merges`);
        if (runner.counters.droppedClosed > 0) seen.add(`${c.name}: dropped closed`);
        if (runner.counters.droppedExpired > 0) seen.add(`${c.name}: dropped expired`);
      }
    }
    for (const c of CONFIGS) {
      if (c.windowFn.kind !== "global") expect(seen).toContain(`${c.name}: dropped expired`);
      if (c.windowFn.kind === "sessions") expect(seen).toContain(`${c.name}: merges`);
      if (c.windowFn.kind !== "global") expect(seen).toContain(`${c.name}: ON_TIME after the cut`);
      if (c.allowedLatenessMs > 0 && c.trigger !== EARLY_LATE) expect(seen).toContain(`${c.name}: LATE`);
      if (c.trigger === EARLY_LATE) {
        expect(seen).toContain(`${c.name}: EARLY after the cut`);
        expect(seen).toContain(`${c.name}: LATE after the cut`);
      }
    }
    expect(seen).toContain("sessions, afterWatermark(early: afterCount(2)), closing, group: dropped closed");
    expect(seen).toContain("global, repeatedly(afterProcessingTime), accumulating, sum: EARLY after the cut");
  });

  it.each<[string, (s: ReduceSnapshot) => unknown]>([
    ["processing-time timers", (s) => Object.assign(s, { procTimers: [] })],
    ["accumulators", patchWindows(() => ({ acc: undefined }))],
    ["element counts", patchWindows(() => ({ nonEmpty: 0 }))],
    ["holds", patchWindows(() => ({ elementHold: Number.NaN, extraHold: Number.NaN }))],
    ["previous panes", patchWindows(() => ({ prevPane: null }))],
    ["closed flags", patchWindows(() => ({ closed: false }))],
    [
      "trigger state",
      patchWindows((w) => ({ trigger: { finished: 0, leaf: w.trigger.leaf?.map(() => Number.NaN) ?? null } })),
    ],
    ["event timers", patchWindows(() => ({ timerAtMax: false, timerAtGc: false }))],
    ["window index", patchWindows(() => ({ heapAt: Number.POSITIVE_INFINITY }))],
    ["window order (ids, reversed consistently)", reverseWindowIds],
    ["output watermark", (s) => Object.assign(s, { outputWatermark: Number.NEGATIVE_INFINITY })],
  ])("would notice a snapshot that lost its %s", (_, edit) => {
    let noticed = false;
    for (const c of CONFIGS) {
      for (const seed of [1, 2, 3]) {
        const ops = script(seed * 7919 + c.name.length);
        const whole = runWhole(c, ops).out;
        for (let cut = 1; cut < ops.length && !noticed; cut += 5) {
          const { out } = runWithCheckpoint(c, ops, cut, edit);
          noticed = JSON.stringify(out) !== JSON.stringify(whole);
        }
      }
    }
    expect(noticed).toBe(true);
  });

  it("restore refuses a runner that already has state", () => {
    const c = CONFIGS[0] as Config;
    const r = makeRunner(c, []);
    r.processElement("k", 1, 5, assignWindows(c.windowFn, 5, GLOBAL_WINDOWS));
    expect(() => r.restore(r.snapshot())).toThrow("restore() needs a fresh ReduceRunner");
    const clocked = makeRunner(c, []);
    clocked.advanceInputWatermark(10);
    expect(() => clocked.restore(r.snapshot())).toThrow("restore() needs a fresh ReduceRunner");
  });

  it("the snapshot is plain data", () => {
    const c = CONFIGS[2] as Config;
    const ops = script(5);
    const out: Observed[] = [];
    const r = makeRunner(c, out);
    for (const op of ops.slice(0, 60)) apply(c, r, op, out);
    const snap = r.snapshot();
    expect(snap.keys.length).toBeGreaterThan(0);
    expect(deserialize(serialize(snap))).toEqual(snap);
    const isPlain = (v: unknown): boolean => {
      if (v === null || typeof v !== "object") return typeof v !== "function";
      if (Array.isArray(v)) return v.every(isPlain);
      const proto = Object.getPrototypeOf(v);
      return (proto === Object.prototype || proto === null) && Object.values(v).every(isPlain);
    };
    expect(isPlain(snap)).toBe(true);
  });
});

/** An edit of the snapshot that sets fields of every window. */
function patchWindows(patch: (w: WindowSnapshot) => Partial<WindowSnapshot>): (s: ReduceSnapshot) => void {
  return (s) => {
    for (const k of s.keys) for (const w of k.windows) Object.assign(w, patch(w));
  };
}

/** Renumbers the windows in reverse creation order, everywhere the snapshot names them. */
function reverseWindowIds(s: ReduceSnapshot): void {
  const flip = (id: number) => s.windowSeq - 1 - id;
  patchWindows((w) => ({ id: flip(w.id) }))(s);
  Object.assign(s, {
    procTimers: s.procTimers.map((p) => ({ ...p, window: flip(p.window) })),
    touched: s.touched.map(flip),
  });
}

/**
 * Gold-like sessions (gap 30, early firings after 5 of processing time, a late pane per late element, accumulating,
 * long allowed lateness), fed fused (`processElementInSession`) or with assigned windows: few keys, events out of
 * order, many of them falling between sessions of their key so that they merge them. After every step the runner's
 * open windows of each key must not overlap, and a run restored at any point must continue exactly as the whole run.
 */
describe("ReduceRunner snapshot and restore: Gold-like sessions with out-of-order events", () => {
  const GAP = 30;
  const gold = (fused: boolean, allowedLatenessMs: number): Config => ({
    name: `gold sessions${fused ? " fused" : ""}, lateness ${allowedLatenessMs}`,
    windowFn: sessions(GAP),
    trigger: afterWatermark({ early: afterProcessingTime(5), late: afterCount(1) }),
    accumulation: "accumulating",
    allowedLatenessMs,
    sum: false,
    fused,
  });

  function goldScript(seed: number, length = 160): Op[] {
    let s = seed >>> 0 || 1;
    const rand = (n: number) => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) % n;
    };
    const ops: Op[] = [{ kind: "processingTime", to: 0 }];
    let watermark = 0;
    let clock = 0;
    let value = 0;
    const recent: number[] = [];
    for (let i = 0; i < length; i++) {
      const r = rand(10);
      if (r < 6) {
        const n = 1 + rand(5);
        const keys = 2 + rand(6);
        for (let j = 0; j < n; j++) {
          let t: number;
          const how = rand(5);
          if (how === 0 && recent.length > 1) {
            // Between two earlier events: may bridge two sessions.
            const a = recent[rand(recent.length)] as number;
            const b = recent[rand(recent.length)] as number;
            t = Math.floor((a + b) / 2);
          } else if (how === 1) t = Math.max(0, watermark - rand(120));
          else if (how === 2 && recent.length > 0) t = (recent[rand(recent.length)] as number) + GAP * (rand(3) - 1);
          else t = watermark + rand(150);
          recent.push(t);
          if (recent.length > 12) recent.shift();
          ops.push({ kind: "element", key: `u${rand(keys)}`, value: value++, t });
        }
        // The clock and the watermark may also move within a bundle.
        if (rand(3) > 0) ops.push({ kind: "finishBundle" });
      } else if (r < 8) {
        watermark += rand(60);
        ops.push({ kind: "watermark", to: watermark });
      } else {
        clock += 1 + rand(8);
        ops.push({ kind: "processingTime", to: clock });
      }
    }
    ops.push({ kind: "watermark", to: Number.MAX_SAFE_INTEGER });
    return ops;
  }

  function overlaps(r: ReduceRunner<string, number, unknown, unknown>): string | undefined {
    for (const ks of r.keys.values()) {
      const a = ks.active;
      for (let i = 0; i < a.length; i++)
        for (let j = i + 1; j < a.length; j++) {
          const x = a[i]!;
          const y = a[j]!;
          if (x.start < y.end && y.start < x.end)
            return `${String(ks.key)}: [${x.start},${x.end}) [${y.start},${y.end})`;
        }
    }
    return undefined;
  }

  describe.each([
    [false, 1440],
    [true, 1440],
    [false, 60],
    [true, 60],
    [true, 0],
  ])("fused %s, lateness %i", (fused, lateness) => {
    const c = gold(fused, lateness);
    it.each(Array.from({ length: 6 }, (_, i) => i + 1))("seed %i", (seed) => {
      const ops = goldScript(seed * 104729 + (fused ? 1 : 0));
      const whole = runWhole(c, ops);
      for (let cut = 0; cut <= ops.length; cut++) {
        const out: Observed[] = [];
        const first = makeRunner(c, out);
        for (const op of ops.slice(0, cut)) apply(c, first, op, out);
        const snap = deserialize(serialize(first.snapshot())) as ReduceSnapshot;
        const second = makeRunner(c, out);
        second.restore(snap);
        for (const [i, op] of ops.slice(cut).entries()) {
          apply(c, second, op, out);
          const bad = overlaps(second);
          expect(bad, `cut at ${cut}, op ${cut + i}`).toBeUndefined();
        }
        expect(out, `cut at ${cut}`).toEqual(whole.out);
        expect(second.counters, `cut at ${cut}`).toEqual(whole.runner.counters);
      }
    });

    it.each(Array.from({ length: 6 }, (_, i) => i + 1))(
      "a restored run fed the rest in another order keeps its sessions apart (seed %i)",
      (seed) => {
        const ops = goldScript(seed * 7907 + (fused ? 1 : 0));
        for (let cut = 0; cut <= ops.length; cut += 3) {
          const out: Observed[] = [];
          const first = makeRunner(c, out);
          for (const op of ops.slice(0, cut)) apply(c, first, op, out);
          const snap = deserialize(serialize(first.snapshot())) as ReduceSnapshot;
          const second = makeRunner(c, out);
          second.restore(snap);
          // Re-delivery: each run of elements in reverse order.
          const rest = ops.slice(cut);
          const reordered: Op[] = [];
          let run: Op[] = [];
          for (const op of rest) {
            if (op.kind === "element") run.push(op);
            else {
              reordered.push(...run.reverse(), op);
              run = [];
            }
          }
          reordered.push(...run.reverse());
          for (const [i, op] of reordered.entries()) {
            apply(c, second, op, out);
            expect(overlaps(second), `cut at ${cut}, op ${cut + i}`).toBeUndefined();
          }
        }
      },
    );
  });
});
