/**
 * Keys with many windows of a non-merging window function (fixed windows under a long allowed lateness, sliding
 * windows): the runner finds an element's window through an index once a key has more than a few (a scan per
 * element was quadratic). Checked against a model that knows only the window function and Beam's rules: an element
 * is dropped as expired when its window's end plus the allowed lateness is behind the watermark, a window closed by
 * its finished trigger drops what comes after, and every other element is in exactly one pane of its window.
 */
import { describe, expect, it } from "vitest";
import { afterCount, repeatedly } from "../../../../core/triggers/trigger.ts";
import { assignWindows, fixed, sliding, type WindowFn } from "../../../../core/windows/window-fn.ts";
import { type BoundedWindow, IntervalWindow } from "../../../../core/windows/window.ts";
import { reduceHarness } from "./harness.ts";

interface Step {
  readonly bundle?: readonly { t: number; key: string; value: number }[];
  readonly watermark?: number;
}

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

/** Bundles spread over `span` ms (many windows per key), some behind the watermark, and slow watermark moves. */
function steps(seed: number, span: number, keys: number): Step[] {
  const rand = rng(seed);
  const out: Step[] = [];
  let watermark = 0;
  let value = 0;
  for (let i = 0; i < 300; i++) {
    if (rand(8) === 0) {
      watermark += rand(40);
      out.push({ watermark });
      continue;
    }
    const n = 1 + rand(6);
    out.push({
      bundle: Array.from({ length: n }, () => ({
        t: watermark - 200 + rand(span),
        key: `k${rand(keys)}`,
        value: value++,
      })),
    });
  }
  return out;
}

const windowsOf = (fn: WindowFn, t: number): readonly BoundedWindow[] => assignWindows(fn, t, []);
const nameOf = (w: BoundedWindow) => (w instanceof IntervalWindow ? `[${w.start},${w.end})` : "global");

/**
 * The model: per (key, window) the values expected in its panes, in the harness's names. `closing`: the trigger
 * (afterCount(1)) finishes at the first pane, which holds the first bundle's elements of the window; later ones are
 * dropped as closed (windows never expire here: the lateness is longer than the run).
 */
function model(fn: WindowFn, latenessMs: number, run: readonly Step[], closing: boolean) {
  const expected = new Map<string, number[]>();
  let watermark = Number.NEGATIVE_INFINITY;
  let expired = 0;
  let closed = 0;
  const closedWindows = new Set<string>();
  for (const step of run) {
    if (step.watermark !== undefined) {
      watermark = Math.max(watermark, step.watermark);
      continue;
    }
    const openedHere = new Set<string>();
    for (const e of step.bundle ?? []) {
      for (const w of windowsOf(fn, e.t)) {
        if (w.maxTimestamp + latenessMs < watermark) {
          expired++;
          continue;
        }
        const id = `${e.key} ${nameOf(w)}`;
        if (closing && closedWindows.has(id) && !openedHere.has(id)) {
          closed++;
          continue;
        }
        if (closing && !closedWindows.has(id)) {
          closedWindows.add(id);
          openedHere.add(id);
        }
        expected.set(id, [...(expected.get(id) ?? []), e.value]);
      }
    }
  }
  return { expected, expired, closed };
}

function play(fn: WindowFn, latenessMs: number, run: readonly Step[], closing: boolean) {
  const h = reduceHarness({
    windowing: fn,
    trigger: closing ? afterCount(1) : repeatedly(afterCount(1)),
    allowedLatenessMs: latenessMs,
    accumulation: "discarding",
  });
  for (const step of run) {
    if (step.watermark !== undefined) h.advanceWatermark(step.watermark);
    else h.bundle(...(step.bundle ?? []));
  }
  const got = new Map<string, number[]>();
  for (const p of h.allFired()) {
    const id = `${p.key} ${p.window}`;
    got.set(id, [...(got.get(id) ?? []), ...(p.values as number[])]);
  }
  for (const v of got.values()) v.sort((a, b) => a - b);
  return { got, counters: h.counters, windows: h.windowCount() };
}

describe("a key with many windows (non-merging)", () => {
  const cases: [string, WindowFn, number][] = [
    ["fixed(5), 2 keys", fixed(5), 2],
    ["fixed(5), 1 key", fixed(5), 1],
    ["sliding(20, 5), 2 keys", sliding(20, 5), 2],
  ];
  it.each(cases)("every element in exactly its windows' panes, expired ones dropped (%s)", (_, fn, keys) => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const run = steps(seed, 600, keys);
      const want = model(fn, 100, run, false);
      const { got, counters } = play(fn, 100, run, false);
      expect(got).toEqual(want.expected);
      expect(counters.droppedExpired).toBe(want.expired);
      expect(counters.droppedClosed).toBe(0);
    }
  });

  it.each(cases)("a window closed by its trigger keeps dropping its elements among many (%s)", (_, fn, keys) => {
    for (const seed of [7, 8, 9, 10]) {
      const run = steps(seed, 600, keys);
      const want = model(fn, 1e9, run, true);
      const { got, counters, windows } = play(fn, 1e9, run, true);
      expect(got).toEqual(want.expected);
      expect(counters.droppedClosed).toBe(want.closed);
      expect(counters.droppedExpired).toBe(0);
      // The run does reach the indexed lookup: far more windows than the scan threshold (8) per key.
      expect(windows / keys).toBeGreaterThan(50);
    }
  });
});
