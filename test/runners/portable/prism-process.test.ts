import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { prismFailures, runOnPrism } from "../../../runners/portable/prism-runner.ts";
import { parseBootFlags } from "../../../runners/portable/worker/boot-spec.ts";
import { build } from "./fixtures/worker-pipeline.ts";
import { usePrism } from "./prism-fixture.ts";

const MODULE = "test/runners/portable/fixtures/worker-pipeline.ts";

describe("the worker as a process Prism starts (Beam's PROCESS environment, bin/tidemark-worker)", () => {
  const prism = usePrism();
  const dirs: string[] = [];
  const outDir = () => {
    const d = mkdtempSync(join(tmpdir(), "tidemark-worker-"));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("boots from the provision service (the quoted --id Prism passes), builds the pipeline from its module, runs the job", async () => {
    expect(parseBootFlags(["--id='job-001[x]_tidemark'", "--provision_endpoint=localhost:1"]).get("id")).toBe(
      "job-001[x]_tidemark",
    );
    const dir = outDir();
    const args = [dir, ""];
    const r = await runOnPrism(build(args), {
      jobEndpoint: prism().jobEndpoint,
      worker: { process: { module: MODULE, export: "build", args } },
    });
    expect(r.result.state).toBe("DONE");
    const lines = readFileSync(join(dir, "out.txt"), "utf8").trim().split("\n").sort();
    // The sums of 0..99 by residue mod 3, written by a worker process other than this one.
    expect(lines.map((l) => l.split(" ")[0])).toEqual(["k0=1683", "k1=1617", "k2=1650"]);
    expect(new Set(lines.map((l) => l.split(" ")[1]))).toEqual(
      new Set([expect.not.stringMatching(`pid=${process.pid}$`)]),
    );
  }, 60_000);

  it("samples processing time in the worker process when asked (tidemark_processing_time), reported to Prism", async () => {
    const dir = outDir();
    const args = [dir, "busy"];
    const r = await runOnPrism(build(args), {
      jobEndpoint: prism().jobEndpoint,
      worker: { process: { module: MODULE, export: "build", args } },
      processingTime: true,
    });
    expect(r.result.state).toBe("DONE");
    const ms = r.processingMs ?? new Map<string, number>();
    const context = JSON.stringify([...ms]);
    // The Key step busy-waits 300 ms in the worker process; the sum and the writes are trivial.
    expect(ms.get("Key"), context).toBeGreaterThanOrEqual(150);
    expect(ms.get("Write"), context).toBeLessThan(0.2 * (ms.get("Key") ?? 0));
    expect(ms.get("Sum"), context).toBeLessThan(0.2 * (ms.get("Key") ?? 0));
  }, 60_000);

  it("a worker killed mid-bundle: Prism does not retry the bundle; the job fails, or Prism spins until it is cancelled, and never reports success", async () => {
    const dir = outDir();
    const args = [dir, "kill"];
    const give = new AbortController();
    const timer = setTimeout(() => give.abort(), 20_000);
    const started = Date.now();
    let error = "";
    try {
      await runOnPrism(build(args), {
        jobEndpoint: prism().jobEndpoint,
        worker: { process: { module: MODULE, export: "build", args } },
        signal: give.signal,
      });
    } catch (e) {
      error = (e as Error).message;
    } finally {
      clearTimeout(timer);
    }
    // Measured: with a fresh Prism the job fails at once ("SDK worker disconnected"); on a Prism that already ran a
    // job, about half the runs spin (a core busy) without ending the job, until it is cancelled.
    expect(error).toMatch(/ended (FAILED|CANCELLED)/);
    if (error.includes("FAILED")) {
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(prismFailures(prism().log()).some((f) => f.startsWith("SDK worker disconnected"))).toBe(true);
    }
    // The worker did kill itself (the marker holds its pid), and nothing was written after.
    expect(Number(readFileSync(join(dir, "killed"), "utf8"))).toBeGreaterThan(0);
    expect(() => readFileSync(join(dir, "out.txt"), "utf8")).toThrow();
  }, 60_000);
});
