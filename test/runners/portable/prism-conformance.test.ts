import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseTranscripts, runCase, type TranscriptPane } from "../../../runners/direct/conformance.ts";
import { runCaseOnPrism } from "../../../runners/portable/conformance.ts";
import { usePrism } from "./prism-fixture.ts";

/** The project's cases, all strict transcripts (run strict here too). */
const CASES_DIR = "test/conformance/cases/";
const FILES = readdirSync(CASES_DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => CASES_DIR + f);
/** Every case where Prism v2.77.0 differs from the transcript (which the direct runner follows), by kind. */
const DIFFERENCES = "test/runners/portable/prism-conformance-differences.json";

type Kind = "refused at Prepare" | "job failed in Prism" | "other panes" | "same panes, other pane metadata";

/** How Prism's panes differ from the expected ones: other windows or values, or only their metadata. */
function kindOf(expected: readonly TranscriptPane[], actual: readonly TranscriptPane[]): Kind {
  const core = (p: TranscriptPane) =>
    JSON.stringify([p.key, p.window, [...p.values].map((v) => JSON.stringify(v)).sort()]);
  const e = expected.map(core).sort();
  const a = actual.map(core).sort();
  return JSON.stringify(e) === JSON.stringify(a) ? "same panes, other pane metadata" : "other panes";
}

describe("the conformance transcripts on Prism v2.77.0 (npm run conformance -- --runner=prism)", () => {
  const prism = usePrism();

  it("every case where Prism differs from the transcripts is listed, with how (the direct runner passes them all)", async () => {
    const found: Record<string, Kind> = {};
    let cases = 0;
    for (const file of FILES) {
      for (const c of parseTranscripts(readFileSync(file, "utf8"), file)) {
        cases++;
        expect((await runCase(c, { strict: true })).pass, `${c.name} on the direct runner`).toBe(true);
        const r = await runCaseOnPrism(c, prism().jobEndpoint, { strict: true });
        if (r.pass) continue;
        found[c.name] =
          r.error !== undefined
            ? r.error.includes("/Prepare")
              ? "refused at Prepare"
              : "job failed in Prism"
            : kindOf(r.expected ?? [], r.actual ?? []);
      }
    }
    if (process.env.UPDATE_PRISM_DIFFERENCES === "1") writeFileSync(DIFFERENCES, `${JSON.stringify(found, null, 2)}\n`);
    expect(cases).toBe(102);
    expect(found).toEqual(JSON.parse(readFileSync(DIFFERENCES, "utf8")));
  }, 300_000);
});
