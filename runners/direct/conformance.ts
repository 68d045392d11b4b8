import type { KV } from "../../core/kv.ts";
import type { PaneInfo } from "../../core/pane.ts";
import { Pipeline } from "../../core/pipeline.ts";
import { MAX_TIMESTAMP } from "../../core/time/instant.ts";
import type { Trigger } from "../../core/triggers/trigger.ts";
import type { AccumulationMode, TimestampCombiner } from "../../core/windowing-strategy.ts";
import type { WindowFn } from "../../core/windows/window-fn.ts";
import { type BoundedWindow, IntervalWindow } from "../../core/windows/window.ts";
import { TestStream } from "../../io/test-stream/test-stream.ts";
import { groupByKey } from "../../transforms/group-by-key.ts";
import { parDo } from "../../transforms/par-do.ts";
import { read } from "../../transforms/read.ts";
import { window } from "../../transforms/window-into.ts";
import { DirectRunner } from "./direct-runner.ts";

/** A pane field a case leaves open on purpose: any value passes, also in a strict run. */
export type AnyValue = "any";

/** One pane as a transcript states it; absent fields (and fields marked `"any"`) are not checked, except in strict runs. */
export interface TranscriptPane {
  key?: unknown;
  window: [number, number] | "global";
  values: unknown[];
  timestamp?: number | AnyValue;
  paneIndex?: number | AnyValue;
  nonSpeculativeIndex?: number | AnyValue;
  timing?: PaneInfo["timing"] | AnyValue;
  isFirst?: boolean | AnyValue;
  isLast?: boolean | AnyValue;
}

/** The pane fields beside window, values and key; a strict transcript states each one (or marks it `"any"`). */
export const PANE_FIELDS = ["timestamp", "paneIndex", "nonSpeculativeIndex", "timing", "isFirst", "isLast"] as const;

/**
 * How a case is compared. `strict` (off by default, as `../shared/conformance/FORMAT.md` defines the format): every
 * pane must state every field of {@link PANE_FIELDS} or mark it `"any"`, and no pane may fire after the last `expect`
 * (including the panes the end of input fires, which a case states with a final `{"watermark": "inf"}` and `expect`).
 */
export interface CompareOptions {
  readonly strict?: boolean;
}

export type TranscriptAction =
  | { input: { value: unknown; timestamp: number; key?: unknown }[] }
  | { watermark: number | "inf" }
  | { processingTime: number }
  | { expect: TranscriptPane[] };

export interface TranscriptCase {
  name: string;
  note?: string;
  windowing: { kind: string; size?: number; offset?: number; period?: number; gap?: number };
  trigger: Trigger;
  accumulation: AccumulationMode;
  allowedLatenessMs: number;
  timestampCombiner: TimestampCombiner;
  actions: TranscriptAction[];
}

export interface CaseResult {
  name: string;
  pass: boolean;
  /** The failing `expect` action's index; `actions.length` for panes fired after the last `expect` (strict runs). */
  step?: number;
  expected?: TranscriptPane[];
  actual?: TranscriptPane[];
  error?: string;
}

const SHARED_KEY = "\u0000shared";

export function windowFnOf(c: TranscriptCase): WindowFn {
  const w = c.windowing;
  switch (w.kind) {
    case "global":
      return { kind: "global" };
    case "fixed":
      return { kind: "fixed", sizeMs: need(w.size, "windowing.size"), offsetMs: w.offset ?? 0 };
    case "sliding":
      return {
        kind: "sliding",
        sizeMs: need(w.size, "windowing.size"),
        periodMs: need(w.period, "windowing.period"),
        offsetMs: w.offset ?? 0,
      };
    case "sessions":
      return { kind: "sessions", gapMs: need(w.gap, "windowing.gap") };
    default:
      throw new Error(`unknown windowing.kind ${JSON.stringify(w.kind)}`);
  }
}

function need(v: number | undefined, field: string): number {
  if (typeof v !== "number") throw new Error(`missing ${field}`);
  return v;
}

function describeWindow(w: BoundedWindow): TranscriptPane["window"] {
  return w instanceof IntervalWindow ? [w.start, w.end] : "global";
}

const compareValues = (a: unknown, b: unknown): number => {
  if (typeof a === "number" && typeof b === "number") return a - b;
  const sa = JSON.stringify(a);
  const sb = JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
};

/** A transcript case as a pipeline: its stream, windowed and grouped, each pane captured. */
export function casePipeline(c: TranscriptCase): {
  readonly pipeline: Pipeline;
  readonly captured: TranscriptPane[];
  /** Per action, the number of source events up to and including it. */
  readonly eventOfAction: readonly number[];
} {
  let stream = TestStream.create<KV<unknown, unknown>>(`Transcript(${c.name})`);
  const eventOfAction: number[] = [];
  let events = 0;
  for (const a of c.actions) {
    if ("input" in a) {
      stream = stream.addElements(
        ...a.input.map((e) => ({ value: [e.key ?? SHARED_KEY, e.value] as const, timestamp: e.timestamp })),
      );
      events++;
    } else if ("watermark" in a) {
      stream = stream.advanceWatermarkTo(a.watermark === "inf" ? MAX_TIMESTAMP : a.watermark);
      events++;
    } else if ("processingTime" in a) {
      stream = stream.advanceProcessingTimeTo(a.processingTime);
      events++;
    }
    eventOfAction.push(events);
  }
  const p = Pipeline.create();
  const captured: TranscriptPane[] = [];
  p.apply(read(stream))
    .apply(
      window<KV<unknown, unknown>>(windowFnOf(c), {
        trigger: c.trigger,
        accumulation: c.accumulation,
        allowedLatenessMs: c.allowedLatenessMs,
        timestampCombiner: c.timestampCombiner,
      }),
    )
    .apply(groupByKey<unknown, unknown>())
    .apply(
      parDo<KV<unknown, unknown[]>, never>({
        process(kv, ctx) {
          captured.push({
            ...(kv[0] === SHARED_KEY ? {} : { key: kv[0] }),
            window: describeWindow(ctx.window),
            values: [...kv[1]].sort(compareValues),
            timestamp: ctx.timestamp,
            paneIndex: ctx.pane.index,
            nonSpeculativeIndex: ctx.pane.nonSpeculativeIndex,
            timing: ctx.pane.timing,
            isFirst: ctx.pane.isFirst,
            isLast: ctx.pane.isLast,
          });
        },
      }),
    );
  return { pipeline: p, captured, eventOfAction };
}

/** Runs one transcript case on the direct runner and compares every `expect` step. */
export async function runCase(c: TranscriptCase, options: CompareOptions = {}): Promise<CaseResult> {
  if (options.strict === true) checkStrictCase(c);
  const { pipeline: p, captured, eventOfAction } = casePipeline(c);
  // boundary[e] = number of panes captured once source event e-1 was processed (boundary[0] = before any).
  const boundary: number[] = [0];
  await new DirectRunner().run(p, { onStep: () => boundary.push(captured.length) });
  let from = 0;
  for (let i = 0; i < c.actions.length; i++) {
    const a = c.actions[i] as TranscriptAction;
    if (!("expect" in a)) continue;
    const upTo = boundary[eventOfAction[i] as number] ?? captured.length;
    const actual = captured.slice(from, upTo);
    from = upTo;
    if (!panesMatch(a.expect, actual, options)) {
      return { name: c.name, pass: false, step: i, expected: a.expect, actual };
    }
  }
  if (options.strict === true && from < captured.length) {
    return { name: c.name, pass: false, step: c.actions.length, expected: [], actual: captured.slice(from) };
  }
  return { name: c.name, pass: true };
}

/**
 * Refuses a case that is not a strict transcript, naming the first pane and field it leaves unstated (a strict run
 * compares every field; `"any"` says on purpose that any value will do).
 */
export function checkStrictCase(c: TranscriptCase): void {
  c.actions.forEach((a, step) => {
    if (!("expect" in a)) return;
    a.expect.forEach((pane, i) => {
      const missing = PANE_FIELDS.find((f) => pane[f] === undefined);
      if (missing !== undefined) {
        throw new Error(
          `case "${c.name}", action ${step}, pane ${i}: no ${missing}; a strict transcript states every pane field (${PANE_FIELDS.join(", ")}) or marks it "any"`,
        );
      }
    });
  });
}

function paneMatches(e: TranscriptPane, a: TranscriptPane, strict: boolean): boolean {
  if (JSON.stringify(e.window) !== JSON.stringify(a.window)) return false;
  const ev = [...e.values].sort(compareValues);
  if (JSON.stringify(ev) !== JSON.stringify(a.values)) return false;
  // A pane without a key belongs to the shared key: a strict run checks that too.
  if ((strict || "key" in e) && JSON.stringify(e.key) !== JSON.stringify(a.key)) return false;
  for (const f of PANE_FIELDS) {
    if (e[f] !== undefined && e[f] !== "any" && e[f] !== a[f]) return false;
  }
  return true;
}

/** Whether the expected panes match the actual ones one to one, in any order. */
export function panesMatch(
  expected: readonly TranscriptPane[],
  actual: readonly TranscriptPane[],
  options: CompareOptions = {},
): boolean {
  const strict = options.strict === true;
  if (expected.length !== actual.length) return false;
  const used = new Array<boolean>(actual.length).fill(false);
  const assign = (i: number): boolean => {
    if (i === expected.length) return true;
    for (let j = 0; j < actual.length; j++) {
      if (!used[j] && paneMatches(expected[i] as TranscriptPane, actual[j] as TranscriptPane, strict)) {
        used[j] = true;
        if (assign(i + 1)) return true;
        used[j] = false;
      }
    }
    return false;
  };
  return assign(0);
}

/** Parses a transcript file's text: a JSON array of cases. */
export function parseTranscripts(text: string, file: string): TranscriptCase[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw new Error(`${file}: expected a JSON array of cases`);
  return data.map((c, i) => {
    if (typeof c !== "object" || c === null || typeof (c as TranscriptCase).name !== "string") {
      throw new Error(`${file}: case ${i} has no name`);
    }
    const tc = c as TranscriptCase;
    for (const f of ["windowing", "trigger", "actions"] as const) {
      if (tc[f] === undefined) throw new Error(`${file}: case "${tc.name}" has no ${f}`);
    }
    return {
      ...tc,
      accumulation: tc.accumulation ?? "discarding",
      allowedLatenessMs: tc.allowedLatenessMs ?? 0,
      timestampCombiner: tc.timestampCombiner ?? "endOfWindow",
    };
  });
}

/** Runs a case, turning a failure to build or run it into a failed result with the error. */
export async function runCaseSafely(c: TranscriptCase, options: CompareOptions = {}): Promise<CaseResult> {
  try {
    return await runCase(c, options);
  } catch (e) {
    return { name: c.name, pass: false, error: e instanceof Error ? e.message : String(e) };
  }
}
