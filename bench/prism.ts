/**
 * The `prism` benchmark's child: the sessions job on Beam's Prism (v2.77.0), through Tidemark and through Apache
 * Beam's Python SDK (2.77.0, `scripts/beam-python.sh`), on the same Prism and the same events, in the same run.
 *
 * The events of the engine benchmark's generated stream (bench/session-stream.ts) are written once to a file of
 * "user,eventTimeMs" lines; each side reads it in its SDK worker (a bounded read), stamps each event with its event
 * time, keys it by user, puts it in session windows (30 min gap), combines count, first and last per session, and
 * sums an order-independent checksum of the sessions. Both submit to one Prism started here, with their workers in
 * their own process (Tidemark's worker pool; Beam Python's LOOPBACK). Each side runs twice and its faster run counts
 * (the first pays start-up: Beam Python's worker, Tidemark's JIT). Job wall time from submission to the end, without
 * the Python interpreter's start. Prints one result line; exits 1 if the two sides' sessions differ.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KV } from "../core/kv.ts";
import { Pipeline } from "../core/pipeline.ts";
import type { Source } from "../core/source.ts";
import { sessions } from "../core/windows/window-fn.ts";
import { startPrism } from "../runners/portable/prism.ts";
import { runOnPrism } from "../runners/portable/prism-runner.ts";
import { combinePerKey } from "../transforms/combine.ts";
import { map, withTimestamps } from "../transforms/element-wise.ts";
import { parDo } from "../transforms/par-do.ts";
import { read } from "../transforms/read.ts";
import { window } from "../transforms/window-into.ts";
import { type PrismBenchResult, RESULT_MARKER } from "./child-result.ts";
import { type SessionStats, sessionStatsFn } from "./engine-sessionizer.ts";
import { createSessionStream, DEFAULT_GAP_MS } from "./session-stream.ts";

const MOD = 1_000_003;

/** "user,eventTimeMs" lines of a file, read in the worker, 10,000 at a time. */
function linesOf(path: string): Source<string> {
  return {
    name: "Events",
    bounded: true,
    open() {
      const lines = readFileSync(path, "utf8")
        .split("\n")
        .filter((l) => l !== "");
      let i = 0;
      return {
        next() {
          if (i >= lines.length) return undefined;
          const values = lines.slice(i, i + 10_000);
          i += values.length;
          return { kind: "elements", values, timestamps: new Float64Array(values.length) };
        },
      };
    },
  };
}

interface Totals {
  sessions: number;
  events: number;
  checksum: number;
}

async function tidemark(path: string, jobEndpoint: string): Promise<Totals & { ms: number }> {
  const totals: Totals = { sessions: 0, events: 0, checksum: 0 };
  const p = Pipeline.create();
  p.apply(read(linesOf(path)))
    .apply(map((line: string) => line.split(",") as [string, string], "Parse"))
    .apply(withTimestamps(([, t]: [string, string]) => Number(t)))
    .apply(map(([u, t]: [string, string]) => [u, Number(t)] as KV<string, number>, "KeyByUser"))
    .apply(window<KV<string, number>>(sessions(DEFAULT_GAP_MS)), "Sessions")
    .apply(combinePerKey<string, number, SessionStats, SessionStats>(sessionStatsFn), "SessionStats")
    .apply(
      parDo<KV<string, SessionStats>, never>({
        process([, s]) {
          totals.sessions++;
          totals.events += s.count;
          totals.checksum += (Math.floor(s.first / 1000) % MOD) * 31 + (Math.floor(s.last / 1000) % MOD) + s.count;
        },
      }),
      "Checksum",
    );
  const started = performance.now();
  await runOnPrism(p, { jobEndpoint, jobName: "bench-tidemark" });
  return { ...totals, ms: performance.now() - started };
}

function beamPython(python: string, path: string, jobEndpoint: string, dir: string): Totals & { ms: number } {
  const out = join(dir, "python-result.json");
  const r = spawnSync(python, [join("bench", "prism_sessions.py"), path, jobEndpoint, String(DEFAULT_GAP_MS), out], {
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`Beam Python failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(readFileSync(out, "utf8")) as Totals & { ms: number };
}

async function main(): Promise<void> {
  const flag = (name: string, d: number) => {
    const raw = process.argv.find((a) => a.startsWith(`--${name}=`));
    return raw === undefined ? d : Number(raw.slice(name.length + 3).replaceAll("_", ""));
  };
  const events = flag("events", 100_000);
  const users = flag("users", 2_000);
  const dir = mkdtempSync(join(tmpdir(), "tidemark-bench-prism-"));
  const python = execFileSync("bash", ["scripts/beam-python.sh"], { encoding: "utf8" }).trim();
  const path = join(dir, "events.csv");
  const stream = createSessionStream({ totalEvents: events, users, seed: 42 });
  const lines: string[] = [];
  for (const c of stream.chunks()) {
    for (let i = 0; i < c.length; i++) lines.push(`${stream.userIds[c.userIndex[i] as number]},${c.eventTimeMs[i]}`);
  }
  writeFileSync(path, `${lines.join("\n")}\n`);
  const prism = await startPrism();
  try {
    const t = [await tidemark(path, prism.jobEndpoint), await tidemark(path, prism.jobEndpoint)];
    const b = [beamPython(python, path, prism.jobEndpoint, dir), beamPython(python, path, prism.jobEndpoint, dir)];
    const best = <T extends { ms: number }>(runs: T[]) => runs.reduce((a, r) => (r.ms < a.ms ? r : a));
    const tm = best(t);
    const py = best(b);
    const same = tm.sessions === py.sessions && tm.events === py.events && tm.checksum === py.checksum;
    const result: PrismBenchResult = {
      events,
      tidemark: tm,
      beamPython: py,
      tidemarkRuns: t.map((r) => Math.round(r.ms)),
      beamPythonRuns: b.map((r) => Math.round(r.ms)),
      same,
    };
    process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
    if (!same) process.exitCode = 1;
  } finally {
    await prism.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
