/**
 * Beam's own Python Nexmark queries on a file of events, for the correctness tests and the benchmark.
 *
 * The virtualenv: `scripts/beam-python.sh` installs PyPI `apache-beam==2.77.0` into
 * `$TIDEMARK_CACHE/beam-python-2.77.0` (default `~/.cache/tidemark`, outside the clone) the first time (a few
 * minutes) and prints its python; `beam_nexmark.py` (beside this file) runs
 * `apache_beam.testing.benchmarks.nexmark.queries` on the file as Beam's launcher does.
 *
 *   npx tsx bench/nexmark/beam-python.ts --input=FILE --queries=0,1,2,5,7,11 --out=DIR [--mode=check|bench]
 *
 * `beamResults` caches a check run's outputs under `$TIDEMARK_CACHE/nexmark-beam/<hash of the file, the script and
 * the queries>`, so a test reruns Beam only when one of them changes.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "..", "..");
const SCRIPT = join(HERE, "beam_nexmark.py");
export const BEAM_VERSION = "2.77.0";

export const cacheDir = (): string => process.env.TIDEMARK_CACHE ?? join(homedir(), ".cache", "tidemark");

/** The virtualenv's python, or why there is none (the installer's last words: no python3, no PyPI...). */
export type BeamPython = { readonly python: string } | { readonly unavailable: string };

let found: BeamPython | undefined;

/** Finds or builds the virtualenv (once per process). */
export function beamPython(): BeamPython {
  if (found !== undefined) return found;
  const r = spawnSync("bash", [join(REPO, "scripts", "beam-python.sh")], { encoding: "utf8", timeout: 15 * 60_000 });
  const python = r.stdout.trim().split("\n").pop() ?? "";
  found =
    r.status === 0 && python !== ""
      ? { python }
      : {
          unavailable:
            `scripts/beam-python.sh could not build apache-beam==${BEAM_VERSION} (exit ${r.status ?? r.signal}): ` +
            (r.stderr || r.error?.message || "").trim().split("\n").slice(-3).join(" / "),
        };
  return found;
}

/** One query's run in Beam Python: its time and output count, or Beam's error. */
export type BeamRun =
  | { readonly query: number; readonly ms: number; readonly outputs: number; readonly runner: string }
  | { readonly query: number; readonly error: string };

/** Runs `beam_nexmark.py`; a failing query is a `BeamRun` with its error, a failing script throws. */
export function runBeamNexmark(
  python: string,
  input: string,
  queries: readonly number[],
  out: string,
  mode: "check" | "bench" = "check",
): BeamRun[] {
  const r = spawnSync(
    python,
    [SCRIPT, `--input=${input}`, `--queries=${queries.join(",")}`, `--out=${out}`, `--mode=${mode}`],
    { encoding: "utf8", maxBuffer: 64 << 20 },
  );
  if (r.status !== 0)
    throw new Error(`beam_nexmark.py failed (exit ${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  return r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as BeamRun);
}

/** A record of Beam's output: the element's window (null: global), timestamp and value, as `beam_nexmark.py` writes it. */
export interface BeamRecord {
  readonly window: readonly [number, number] | null;
  readonly timestamp: number;
  readonly value: unknown;
}

export interface BeamResults {
  readonly runs: readonly BeamRun[];
  /** Each query's output records, by Beam's query number (absent when the query failed). */
  readonly outputs: ReadonlyMap<number, readonly BeamRecord[]>;
  readonly cached: boolean;
}

/** Beam Python's outputs for the queries on `input`, from the cache or from a run (then cached). */
export function beamResults(python: string, input: string, queries: readonly number[]): BeamResults {
  const hash = createHash("sha256")
    .update(readFileSync(input))
    .update(readFileSync(SCRIPT))
    .update(`${BEAM_VERSION}:${queries.join(",")}`)
    .digest("hex")
    .slice(0, 24);
  const dir = join(cacheDir(), "nexmark-beam", hash);
  const cached = existsSync(join(dir, "runs.json"));
  if (!cached) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const runs = runBeamNexmark(python, input, queries, tmp, "check");
    writeFileSync(join(tmp, "runs.json"), JSON.stringify(runs));
    mkdirSync(dirname(dir), { recursive: true });
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another process cached the same run first: theirs is as good.
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(join(dir, "runs.json"))) throw e;
    }
  }
  const runs = JSON.parse(readFileSync(join(dir, "runs.json"), "utf8")) as BeamRun[];
  const outputs = new Map<number, BeamRecord[]>();
  for (const run of runs) {
    if ("error" in run) continue;
    const text = readFileSync(join(dir, `q${run.query}.jsonl`), "utf8");
    outputs.set(
      run.query,
      text
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as BeamRecord),
    );
  }
  return { runs, outputs, cached };
}

function main(): void {
  const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const input = flag("input");
  const out = flag("out");
  if (input === undefined || out === undefined) throw new Error("--input=FILE and --out=DIR are required");
  const py = beamPython();
  if ("unavailable" in py) throw new Error(py.unavailable);
  const queries = (flag("queries") ?? "0,1,2,5,7,11").split(",").map(Number);
  const mode = flag("mode") === "bench" ? "bench" : "check";
  for (const run of runBeamNexmark(py.python, input, queries, out, mode))
    process.stdout.write(`${JSON.stringify(run)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    main();
  } catch (e) {
    process.stderr.write(`beam-python: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
