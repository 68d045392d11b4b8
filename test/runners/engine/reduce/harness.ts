/**
 * A transcript-style harness for the engine's `ReduceRunner` (Beam's ReduceFnTester / TriggerStateMachineTester):
 * it drives one grouping stage directly with bundles of elements, watermark and processing-time advances, collects
 * the panes it emits, and checks the stage's invariants after every step.
 *
 *   const h = reduceHarness({ windowing: sessions(10), allowedLatenessMs: 100, trigger: afterWatermark({ late: afterCount(1) }) });
 *   h.element(1); h.element(5);              // [1,11) and [5,15) merge into [1,15)
 *   h.advanceWatermark(15); expect(h.fired()).toEqual([pane("[1,15)", "ON_TIME", 0)]);
 */
import { expect } from "vitest";
import type { CombineFn } from "../../../../core/combine-fn.ts";
import type { PaneInfo, PaneTiming } from "../../../../core/pane.ts";
import { defaultTrigger, type Trigger } from "../../../../core/triggers/trigger.ts";
import { DEFAULT_WINDOWING, type WindowingStrategy } from "../../../../core/windowing-strategy.ts";
import { assignWindows, GLOBAL_WINDOWS, isMerging, type WindowFn } from "../../../../core/windows/window-fn.ts";
import { type BoundedWindow, IntervalWindow } from "../../../../core/windows/window.ts";
import { bufferingReduceFn, combiningReduceFn, type ReduceFn } from "../../../../runners/engine/reduce/reduce-fn.ts";
import { type PaneSink, ReduceRunner } from "../../../../runners/engine/reduce/reduce-runner.ts";

/** A pane as the harness reports it: the window as `"[start,end)"` (or `"global"`), values sorted. */
export interface FiredPane {
  readonly key: string;
  readonly window: string;
  readonly values: unknown;
  readonly timestamp: number;
  readonly timing: PaneTiming;
  readonly index: number;
  readonly nonSpeculativeIndex: number;
  readonly isFirst: boolean;
  readonly isLast: boolean;
}

/** An element: its timestamp, and optionally its key (default "k") and value (default: the timestamp). */
export type HarnessElement = number | { readonly t: number; readonly key?: string; readonly value?: unknown };

export interface HarnessOptions extends Partial<Omit<WindowingStrategy, "windowFn">> {
  readonly windowing: WindowFn;
  /** Combine values with this CombineFn instead of buffering them (a pane's `values` is then the output). */
  readonly combineFn?: CombineFn<unknown, unknown, unknown>;
  /**
   * For sessions: feed elements as the direct runner does when `window(sessions)` feeds the grouping directly
   * (`processElementInSession`, the window assigned inside the grouping) instead of with assigned proto-windows.
   */
  readonly fusedSessions?: boolean;
}

/** A broken invariant of the grouping stage: names the stage, the window and the times. */
export class InvariantError extends Error {
  override name = "InvariantError";
}

export function windowName(w: BoundedWindow): string {
  return w instanceof IntervalWindow ? `[${w.start},${w.end})` : "global";
}

const byValue = (a: unknown, b: unknown): number =>
  typeof a === "number" && typeof b === "number" ? a - b : JSON.stringify(a) < JSON.stringify(b) ? -1 : 1;

/**
 * A matcher for one fired pane: its window, timing and index, plus any other fields to check
 * (`values`, `timestamp`, `isFirst`, `isLast`, `nonSpeculativeIndex`, `key`).
 */
export function pane(window: string, timing: PaneTiming, index: number, more: Partial<FiredPane> = {}): FiredPane {
  return expect.objectContaining({ window, timing, index, ...more }) as FiredPane;
}

export function reduceHarness(opts: HarnessOptions) {
  const { windowing, combineFn, fusedSessions, ...rest } = opts;
  const strategy: WindowingStrategy = {
    ...DEFAULT_WINDOWING,
    trigger: defaultTrigger() as Trigger,
    ...rest,
    windowFn: windowing,
  };
  const emitted: FiredPane[] = [];
  const sink: PaneSink<string, unknown> = {
    emitPane(key, value, timestamp, window, info: PaneInfo) {
      emitted.push({
        key,
        window: windowName(window),
        values: Array.isArray(value) ? [...value].sort(byValue) : value,
        timestamp,
        timing: info.timing,
        index: info.index,
        nonSpeculativeIndex: info.nonSpeculativeIndex,
        isFirst: info.isFirst,
        isLast: info.isLast,
      });
    },
  };
  const reduceFn = (combineFn ? combiningReduceFn(combineFn) : bufferingReduceFn()) as ReduceFn<
    unknown,
    unknown,
    unknown
  >;
  const runner = new ReduceRunner<string, unknown, unknown, unknown>(strategy, reduceFn, sink);
  const merging = isMerging(windowing);
  let read = 0;
  let checked = 0;
  let lastInput = runner.inputWatermark;
  let lastOutput = runner.outputWatermark;
  const onTimePanes = new Set<string>();

  const fail = (what: string): never => {
    throw new InvariantError(
      `grouping stage (${JSON.stringify(strategy.windowFn)}): ${what} ` +
        `[input watermark ${runner.inputWatermark}, output watermark ${runner.outputWatermark}, ` +
        `processing time ${runner.processingTime}]`,
    );
  };

  /** Checks what must hold after every step of any transcript. */
  function checkInvariants(): void {
    const inWm = runner.inputWatermark;
    const outWm = runner.outputWatermark;
    if (inWm < lastInput) fail(`input watermark went back from ${lastInput}`);
    if (outWm < lastOutput) fail(`output watermark went back from ${lastOutput}`);
    if (outWm > inWm) fail("output watermark is ahead of the input watermark");
    if (runner.earliestHold() < outWm) fail(`a hold at ${runner.earliestHold()} is behind the output watermark`);
    lastInput = inWm;
    lastOutput = outWm;
    for (const ks of runner.keys.values()) {
      if (ks.isEmpty() && ks.emptySince === -1)
        fail(`key ${String(ks.key)} has no windows but is not waiting for the sweep`);
      for (const ws of ks.active) {
        if (!ws.alive) fail(`dead window ${windowName(ws.window)} of key ${String(ks.key)} is still active`);
        if (ws.closed) fail(`closed window ${windowName(ws.window)} of key ${String(ks.key)} is in the active list`);
      }
      for (const ws of ks.closed) {
        if (!ws.closed) fail(`open window ${windowName(ws.window)} of key ${String(ks.key)} is in the closed list`);
      }
      for (const ws of [...ks.active, ...ks.closed]) {
        if (inWm > ws.gcTime)
          fail(`window ${windowName(ws.window)} of key ${String(ks.key)} outlived its expiry ${ws.gcTime}`);
      }
      if (merging) {
        const ws = ks.active.map((s) => s.window as IntervalWindow);
        for (let i = 0; i < ws.length; i++)
          for (let j = i + 1; j < ws.length; j++)
            if ((ws[i] as IntervalWindow).intersects(ws[j] as IntervalWindow))
              fail(`active sessions ${ws[i]} and ${ws[j]} of key ${String(ks.key)} overlap`);
      }
    }
    for (let i = checked; i < emitted.length; i++) {
      const p = emitted[i] as FiredPane;
      const where = `pane ${p.index} of ${p.window} (key ${p.key})`;
      if (p.isFirst !== (p.index === 0)) fail(`${where}: isFirst ${p.isFirst} but index ${p.index}`);
      if (p.timing === "EARLY" && p.nonSpeculativeIndex !== -1)
        fail(`${where}: EARLY with nonSpeculativeIndex ${p.nonSpeculativeIndex}`);
      if (p.timing !== "EARLY" && p.nonSpeculativeIndex < 0)
        fail(`${where}: ${p.timing} with nonSpeculativeIndex ${p.nonSpeculativeIndex}`);
      if (p.timing === "ON_TIME") {
        const id = `${p.key}|${p.window}`;
        if (onTimePanes.has(id)) fail(`${where}: a second ON_TIME pane`);
        onTimePanes.add(id);
      }
    }
    checked = emitted.length;
    if (runner.counters.panes !== emitted.length)
      fail(`counted ${runner.counters.panes} panes, emitted ${emitted.length}`);
  }

  function addElements(elements: readonly HarnessElement[]): void {
    for (const e of elements) {
      const el = typeof e === "number" ? { t: e } : e;
      if (fusedSessions && windowing.kind === "sessions") {
        runner.processElementInSession(el.key ?? "k", el.value ?? el.t, el.t, windowing.gapMs);
        continue;
      }
      const windows = assignWindows(windowing, el.t, GLOBAL_WINDOWS);
      runner.processElement(el.key ?? "k", el.value ?? el.t, el.t, windows);
    }
    runner.finishBundle();
    checkInvariants();
  }

  return {
    runner,
    strategy,
    /** One bundle holding one element. */
    element(e: HarnessElement): void {
      addElements([e]);
    },
    /** One bundle: every element is added before any trigger is asked. */
    bundle(...elements: HarnessElement[]): void {
      addElements(elements);
    },
    advanceWatermark(w: number): void {
      runner.advanceInputWatermark(w);
      checkInvariants();
    },
    advanceProcessingTime(now: number): void {
      runner.advanceProcessingTime(now);
      checkInvariants();
    },
    /** The panes emitted since the last call. */
    fired(): FiredPane[] {
      const out = emitted.slice(read);
      read = emitted.length;
      return out;
    },
    /** Every pane emitted so far. */
    allFired(): readonly FiredPane[] {
      return emitted;
    },
    get counters() {
      return runner.counters;
    },
    windowCount(): number {
      return runner.windowCount();
    },
    checkInvariants,
  };
}

export type ReduceHarness = ReturnType<typeof reduceHarness>;
