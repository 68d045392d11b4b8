/**
 * The conformance suite: every windowing/trigger transcript (`../shared/conformance/FORMAT.md`) of the shared examples
 * and of `test/conformance/cases/` runs on the direct runner, one test per case. The case files are read when this
 * module loads, so each case is its own test; a missing `cases/` folder just contributes no cases.
 * The shared examples are read from `../shared/conformance/examples/` when the checkout sits beside it, and otherwise
 * from the copy in `test/conformance/examples/` (a clean checkout elsewhere, as CI may make); a test keeps the copy
 * equal to the shared folder whenever both are there.
 * The shared examples run as FORMAT.md defines the format (absent fields unchecked); the project's own cases are
 * strict transcripts (`--strict`: every pane field stated or marked `"any"`, no pane after the last `expect`), and
 * their expectations are checked against the pane rules on their own (`pane-rules.ts`), without the engine.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  checkStrictCase,
  panesMatch,
  parseTranscripts,
  runCase,
  runCaseSafely,
  type TranscriptCase,
  type TranscriptPane,
} from "../../runners/direct/conformance.ts";
import { paneRuleViolations } from "./pane-rules.ts";

const SHARED_EXAMPLES_DIR = fileURLToPath(new URL("../../../shared/conformance/examples/", import.meta.url));
const COPIED_EXAMPLES_DIR = fileURLToPath(new URL("./examples/", import.meta.url));
const EXAMPLES_DIR = existsSync(SHARED_EXAMPLES_DIR) ? SHARED_EXAMPLES_DIR : COPIED_EXAMPLES_DIR;
const CASES_DIR = fileURLToPath(new URL("./cases/", import.meta.url));

/** The `.json` files of a folder, sorted; none when the folder does not exist. */
function jsonFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(dir, f));
}

/** Each case file with its cases, or the error that kept it from being read (reported as a failing test). */
const FILES: [string, TranscriptCase[] | Error][] = [...jsonFiles(EXAMPLES_DIR), ...jsonFiles(CASES_DIR)].map(
  (file) => {
    const name = file.slice(file.indexOf("conformance/"));
    try {
      return [name, parseTranscripts(readFileSync(file, "utf8"), file)];
    } catch (e) {
      return [name, e instanceof Error ? e : new Error(String(e))];
    }
  },
);

describe("conformance transcripts on the direct runner", () => {
  it("finds the shared examples", () => {
    expect(FILES.some(([file, cases]) => file.includes("examples/") && Array.isArray(cases) && cases.length > 0)).toBe(
      true,
    );
  });

  it.skipIf(!existsSync(SHARED_EXAMPLES_DIR))("keeps test/conformance/examples/ equal to the shared examples", () => {
    const names = (dir: string) => jsonFiles(dir).map((f) => f.slice(dir.length));
    expect(names(COPIED_EXAMPLES_DIR)).toEqual(names(SHARED_EXAMPLES_DIR));
    for (const name of names(SHARED_EXAMPLES_DIR)) {
      expect(readFileSync(join(COPIED_EXAMPLES_DIR, name), "utf8")).toBe(
        readFileSync(join(SHARED_EXAMPLES_DIR, name), "utf8"),
      );
    }
  });

  describe.each(FILES)("%s", (file, cases) => {
    const strict = file.includes("/cases/");
    if (cases instanceof Error) {
      it("can be read", () => {
        throw cases;
      });
      return;
    }
    it("has unique case names", () => {
      const names = cases.map((c) => c.name);
      expect(new Set(names).size).toBe(names.length);
    });
    it.each(cases.map((c) => [c.name, c] as const))("%s", async (name, c) => {
      const result = await runCase(c, { strict });
      // On failure the diff shows the step, the expected panes and the actual ones.
      expect(result).toEqual({ name, pass: true });
    });
    if (!strict) return;
    it("states every pane field, and its expectations follow the pane rules", () => {
      for (const c of cases) {
        expect(() => checkStrictCase(c)).not.toThrow();
        expect({ name: c.name, violations: paneRuleViolations(c) }).toEqual({ name: c.name, violations: [] });
      }
    });
  });
});

describe("the conformance harness itself", () => {
  const onTime: TranscriptCase = {
    name: "on_time",
    windowing: { kind: "fixed", size: 10 },
    trigger: { type: "default" },
    accumulation: "discarding",
    allowedLatenessMs: 0,
    timestampCombiner: "endOfWindow",
    actions: [
      {
        input: [
          { value: 1, timestamp: 1 },
          { value: 2, timestamp: 5 },
        ],
      },
      { watermark: 5 },
      { expect: [] },
      { watermark: 10 },
      { expect: [{ window: [0, 10], values: [2, 1], timing: "ON_TIME", paneIndex: 0, isLast: true, timestamp: 9 }] },
    ],
  };

  it("passes a correct case", async () => {
    expect(await runCase(onTime)).toEqual({ name: "on_time", pass: true });
  });

  it.each<[string, TranscriptPane[]]>([
    ["wrong timing", [{ window: [0, 10], values: [1, 2], timing: "LATE" }]],
    ["wrong values", [{ window: [0, 10], values: [1] }]],
    ["wrong window", [{ window: [0, 5], values: [1, 2] }]],
    ["wrong timestamp", [{ window: [0, 10], values: [1, 2], timestamp: 10 }]],
    ["a missing pane", []],
    [
      "an extra pane",
      [
        { window: [0, 10], values: [1, 2] },
        { window: [10, 20], values: [] },
      ],
    ],
  ])("fails a deliberately wrong expectation (%s), reporting the step and both sides", async (_, wrong) => {
    const c: TranscriptCase = { ...onTime, actions: [...onTime.actions.slice(0, 4), { expect: wrong }] };
    const result = await runCase(c);
    expect(result.pass).toBe(false);
    expect(result.step).toBe(4);
    expect(result.expected).toEqual(wrong);
    expect(result.actual).toEqual([expect.objectContaining({ window: [0, 10], values: [1, 2], timing: "ON_TIME" })]);
    expect(panesMatch(wrong, result.actual ?? [])).toBe(false);
  });

  describe("strict runs", () => {
    const full = (p: Partial<TranscriptPane>): TranscriptPane => ({
      window: [0, 10],
      values: [1, 2],
      timestamp: 9,
      paneIndex: 0,
      nonSpeculativeIndex: 0,
      timing: "ON_TIME",
      isFirst: true,
      isLast: true,
      ...p,
    });
    const withExpect = (panes: TranscriptPane[], ...rest: TranscriptCase["actions"]): TranscriptCase => ({
      ...onTime,
      actions: [...onTime.actions.slice(0, 4), { expect: panes }, ...rest],
    });

    it("pass a case that states every field", async () => {
      expect(await runCase(withExpect([full({ window: [0, 10], values: [1, 2] })]), { strict: true })).toEqual({
        name: "on_time",
        pass: true,
      });
    });

    it("refuse a case that leaves a field out, naming the action, pane and field", async () => {
      expect(await runCase(onTime)).toMatchObject({ pass: true });
      await expect(runCase(onTime, { strict: true })).rejects.toThrow(
        'case "on_time", action 4, pane 0: no nonSpeculativeIndex; a strict transcript states every pane field',
      );
      expect(await runCaseSafely(onTime, { strict: true })).toMatchObject({
        pass: false,
        error: /no nonSpeculativeIndex/,
      });
    });

    it('accept "any" for a field, in strict runs and not', async () => {
      const open = withExpect([full({ window: [0, 10], values: [1, 2], timestamp: "any", isFirst: "any" })]);
      expect(await runCase(open, { strict: true })).toMatchObject({ pass: true });
      expect(await runCase(open)).toMatchObject({ pass: true });
      const wrong = withExpect([full({ window: [0, 10], values: [1, 2], timestamp: "any", timing: "LATE" })]);
      expect(await runCase(wrong, { strict: true })).toMatchObject({ pass: false, step: 4 });
    });

    it("fail on a pane after the last expect (here the end of input's), which a default run leaves unchecked", async () => {
      const c = withExpect([full({ window: [0, 10], values: [1, 2] })], {
        input: [{ value: 3, timestamp: 15 }],
      });
      expect(await runCase(c)).toMatchObject({ pass: true });
      const strictResult = await runCase(c, { strict: true });
      expect(strictResult).toMatchObject({ pass: false, step: 6, expected: [] });
      expect(strictResult.actual).toEqual([full({ window: [10, 20], values: [3], timestamp: 19 })]);
      const stated = withExpect(
        [full({ window: [0, 10], values: [1, 2] })],
        { input: [{ value: 3, timestamp: 15 }] },
        { watermark: "inf" },
        { expect: [full({ window: [10, 20], values: [3], timestamp: 19 })] },
      );
      expect(await runCase(stated, { strict: true })).toMatchObject({ pass: true });
    });

    it("fail a pane with a key when the case expects the shared key", async () => {
      const keyed: TranscriptCase = {
        ...onTime,
        actions: onTime.actions.map((a) => ("input" in a ? { input: a.input.map((e) => ({ ...e, key: "k" })) } : a)),
      };
      const c = {
        ...keyed,
        actions: [...keyed.actions.slice(0, 4), { expect: [full({ window: [0, 10], values: [1, 2] })] }],
      };
      expect(await runCase(c)).toMatchObject({ pass: true });
      expect(await runCase(c, { strict: true })).toMatchObject({ pass: false, step: 4 });
    });
  });

  describe("paneRuleViolations", () => {
    const early = (values: number[], paneIndex: number): TranscriptPane => ({
      window: [0, 10],
      values,
      timestamp: 9,
      paneIndex,
      nonSpeculativeIndex: -1,
      timing: "EARLY",
      isFirst: paneIndex === 0,
      isLast: false,
    });
    const onTimePane: TranscriptPane = {
      ...early([1, 2, 3], 1),
      nonSpeculativeIndex: 0,
      timing: "ON_TIME",
      isLast: true,
    };
    const rules = (...steps: TranscriptPane[][]) =>
      paneRuleViolations({ ...onTime, accumulation: "accumulating", actions: steps.map((expect) => ({ expect })) });

    it("passes panes that follow the rules", () => {
      expect(rules([early([1, 2], 0)], [onTimePane])).toEqual([]);
      expect(rules([onTimePane, early([1, 2], 0)])).toEqual([]); // one step: in index order
    });

    it.each<[string, TranscriptPane[][], RegExp]>([
      [
        "an index that skips",
        [[early([1], 0)], [{ ...onTimePane, paneIndex: 2 }]],
        /paneIndex 2, but 1 panes came before/,
      ],
      ["isFirst on a second pane", [[early([1], 0)], [{ ...onTimePane, isFirst: true }]], /isFirst true with 1 panes/],
      [
        "an early pane with an on-time index",
        [[{ ...early([1], 0), nonSpeculativeIndex: 0 }]],
        /nonSpeculativeIndex 0 for a EARLY pane \(want -1\)/,
      ],
      [
        "a late pane's index",
        [[onTimePane], [{ ...onTimePane, paneIndex: 1, isFirst: false, timing: "LATE", nonSpeculativeIndex: 0 }]],
        /nonSpeculativeIndex 0 for a LATE pane \(want 1\)/,
      ],
      [
        "early after on time",
        [[{ ...onTimePane, paneIndex: 0, isFirst: true, isLast: false }], [{ ...early([1, 2, 3], 1), isFirst: false }]],
        /an EARLY pane after an ON_TIME/,
      ],
      [
        "two on-time panes",
        [[{ ...onTimePane, paneIndex: 0, isFirst: true, isLast: false }], [{ ...onTimePane, isFirst: false }]],
        /a second non-early pane called ON_TIME/,
      ],
      [
        "a pane after the last",
        [[{ ...onTimePane, paneIndex: 0, isFirst: true }], [{ ...onTimePane, timing: "LATE", nonSpeculativeIndex: 1 }]],
        /a pane after the window's last pane/,
      ],
      [
        "a timestamp before the end",
        [[{ ...early([1], 0), timestamp: 5 }]],
        /timestamp 5, want the window's max timestamp 9/,
      ],
      [
        "an accumulating pane losing values",
        [[early([1, 2], 0)], [{ ...onTimePane, values: [1, 3] }]],
        /accumulating, but the previous pane's values \[1,2\]/,
      ],
    ])("finds %s", (_, steps, message) => {
      expect(rules(...steps).join("\n")).toMatch(message);
    });
  });

  it("fails when panes fire earlier than expected", async () => {
    const c: TranscriptCase = {
      ...onTime,
      actions: [onTime.actions[0]!, { watermark: 10 }, { expect: [] }, { watermark: 20 }, { expect: [] }],
    };
    expect(await runCase(c)).toMatchObject({ pass: false, step: 2 });
  });

  describe("panesMatch", () => {
    const a: TranscriptPane = { window: [0, 10], values: [1, 2], timing: "ON_TIME", paneIndex: 0 };
    const b: TranscriptPane = { window: [10, 20], values: [3], timing: "EARLY", paneIndex: 0 };

    it("matches one to one, in any order, with values compared sorted", () => {
      expect(panesMatch([a, b], [b, a])).toBe(true);
      expect(panesMatch([{ ...a, values: [2, 1] }], [a])).toBe(true);
      expect(panesMatch([], [])).toBe(true);
    });

    it("does not check fields the expectation leaves out", () => {
      expect(panesMatch([{ window: [0, 10], values: [1, 2] }], [a])).toBe(true);
    });

    it("fails on a different count, a different field, or a pane matched twice", () => {
      expect(panesMatch([a], [a, b])).toBe(false);
      expect(panesMatch([{ ...a, paneIndex: 1 }], [a])).toBe(false);
      expect(panesMatch([{ ...a, key: "x" }], [{ ...a, key: "y" }])).toBe(false);
      expect(panesMatch([a, a], [a, b])).toBe(false);
    });
  });

  describe("parseTranscripts", () => {
    it("fills in the defaults", () => {
      const [c] = parseTranscripts(
        JSON.stringify([{ name: "x", windowing: { kind: "global" }, trigger: { type: "default" }, actions: [] }]),
        "f.json",
      );
      expect(c).toMatchObject({ accumulation: "discarding", allowedLatenessMs: 0, timestampCombiner: "endOfWindow" });
    });

    it.each([
      ["not JSON", "{", /^f\.json: not valid JSON/],
      ["not an array", "{}", /^f\.json: expected a JSON array of cases$/],
      ["a case without a name", "[{}]", /^f\.json: case 0 has no name$/],
      ["a case without actions", '[{"name":"n","windowing":{},"trigger":{}}]', /^f\.json: case "n" has no actions$/],
    ])("rejects %s", (_, text, message) => {
      expect(() => parseTranscripts(text, "f.json")).toThrow(message);
    });
  });

  it("runCaseSafely turns a case that cannot run into a failed result with the error", async () => {
    const result = await runCaseSafely({ ...onTime, windowing: { kind: "hexagonal" } });
    expect(result).toEqual({ name: "on_time", pass: false, error: 'unknown windowing.kind "hexagonal"' });
  });
});
