/**
 * Each Nexmark query against Apache Beam's own Python Nexmark query (PyPI apache-beam 2.77.0, run by
 * bench/nexmark/beam_nexmark.py in the project's virtualenv, its outputs cached by the events file's hash) on the same
 * generated events: ours read from the file, and from the generator in process (with its watermarks), must both give
 * Beam's results, window for window. Where Beam Python differs from Beam Java's definition (ours), the mapping is in
 * bench/nexmark/beam-compare.ts (query 1: Beam Python's float euros truncated to Beam Java's whole cents).
 * Skipped, with the installer's reason in each title, only when the virtualenv cannot be built.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compareWithBeam } from "../../../bench/nexmark/beam-compare.ts";
import { type BeamResults, beamPython, beamResults } from "../../../bench/nexmark/beam-python.ts";
import { writeEventsFile } from "../../../bench/nexmark/events-file.ts";
import { nexmarkConfig } from "../../../bench/nexmark/generator.ts";
import { QUERY_NAMES, queryNumber } from "../../../bench/nexmark/queries/index.ts";
import { collectQuery } from "../../../bench/nexmark/run-query.ts";
import { nexmarkFileSource, nexmarkSource } from "../../../bench/nexmark/source.ts";

// 10,000 events over about 90 s of event time (a sine wave of 20 to 200 events/s, out of order in groups of 50):
// several fixed, sliding and session windows per query.
const CONFIG = nexmarkConfig({
  numEvents: 10_000,
  firstEventRate: 20,
  nextEventRate: 200,
  rateShape: "sine",
  ratePeriodSec: 60,
  outOfOrderGroupSize: 50,
});
const dir = mkdtempSync(join(tmpdir(), "tidemark-nexmark-"));
const file = join(dir, "events.jsonl");
writeEventsFile(file, CONFIG);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const py = beamPython();
const skip = "unavailable" in py ? ` (SKIPPED: no Beam Python: ${py.unavailable})` : "";
if (skip !== "") process.stderr.write(`queries-vs-beam${skip}\n`);
const beam: BeamResults | undefined =
  "python" in py ? beamResults(py.python, file, QUERY_NAMES.map(queryNumber)) : undefined;

describe.skipIf(beam === undefined)(`Nexmark queries against Beam Python ${"2.77.0"}${skip}`, () => {
  it("Beam Python ran every query and gave results to compare", () => {
    for (const run of beam!.runs) expect(run).not.toHaveProperty("error");
    // Enough to compare: windows with results in every windowed query.
    expect(beam!.outputs.get(5)!.length).toBeGreaterThan(10);
    expect(beam!.outputs.get(7)!.length).toBeGreaterThan(5);
    expect(beam!.outputs.get(11)!.length).toBeGreaterThan(100);
  });

  for (const q of QUERY_NAMES) {
    it(`${q} from the file equals Beam's output`, async () => {
      const ours = await collectQuery(q, nexmarkFileSource(file));
      const c = compareWithBeam(q, ours, beam!.outputs.get(queryNumber(q)) ?? []);
      expect(c, JSON.stringify(c)).toMatchObject({ equal: true });
      expect(c.ours).toBeGreaterThan(0);
    });
    it(`${q} from the generator in process (with its watermarks) equals Beam's output`, async () => {
      const ours = await collectQuery(q, nexmarkSource(CONFIG));
      const c = compareWithBeam(q, ours, beam!.outputs.get(queryNumber(q)) ?? []);
      expect(c, JSON.stringify(c)).toMatchObject({ equal: true });
    });
  }

  it("tells a wrong result apart: one result moved to another window, or one missing, is a difference", async () => {
    const ours = await collectQuery("q7", nexmarkFileSource(file));
    const beamQ7 = beam!.outputs.get(7)!;
    const moved = ours.map((r, i) => (i === 0 ? { ...r, window: [r.window![0] + 1, r.window![1]] as const } : r));
    expect(compareWithBeam("q7", moved, beamQ7).equal).toBe(false);
    expect(compareWithBeam("q7", ours.slice(1), beamQ7)).toMatchObject({
      equal: false,
      onlyBeam: [expect.any(String)],
    });
    const q1 = await collectQuery("q1", nexmarkFileSource(file));
    const offByACent = q1.map((r, i) =>
      i === 3 ? { ...r, value: { ...(r.value as object), price: (r.value as { price: number }).price + 1 } } : r,
    );
    expect(compareWithBeam("q1", offByACent, beam!.outputs.get(1)!).equal).toBe(false);
  });
});
