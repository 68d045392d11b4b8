/**
 * `--metrics-port` on Prism: the medallion's /metrics, /healthz and /readyz while the job runs on Beam's Prism
 * (v2.77.0), followed through the Job API (`GetState`, `GetJobMetrics`). The figures are scraped during the run, and
 * the names and labels compared with a direct run of the same fixture: the same, but for those Prism cannot give
 * (`PRISM_UNSERVED_METRICS`).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import { type MedallionOps, PRISM_UNSERVED_METRICS, startMedallionOps } from "../../../pipelines/user-sessions/ops.ts";
import { runMedallion } from "../../../pipelines/user-sessions/run.ts";
import type { RunnerJobState, RunningPipeline } from "../../../runners/direct/direct-runner.ts";
import { CommitStats } from "../../../runners/observe/commit-stats.ts";
import { startOnPrism } from "../../../runners/portable/prism-runner.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import { create } from "../../../transforms/read.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { parseExposition } from "../../runners/observe/exposition.ts";
import { until } from "../../until.ts";

const dir = mkdtempSync(join(tmpdir(), "tidemark-ops-prism-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The shipped fixture's first 400 lines (about 200 messages: a few seconds on Prism). */
const FIXTURE = join(dir, "events-400.jsonl");
writeFileSync(
  FIXTURE,
  `${readFileSync("test/fixtures/events-small.jsonl", "utf8").split("\n").slice(0, 400).join("\n")}\n`,
);

const get = async (url: string) => {
  const r = await fetch(url);
  return { status: r.status, body: await r.text() };
};

/** Every series of a scrape: `name{labels}` (labels sorted) to its value. */
function series(body: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of body.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not an exposition line: ${line}`);
    const labels = [...(m[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((l) => `${l[1]}=${l[2]}`);
    out.set(`${m[1]}{${labels.sort().join(",")}}`, Number(m[3]));
  }
  return out;
}
const nameOf = (key: string) => key.slice(0, key.indexOf("{"));

/**
 * The medallion over `FIXTURE` on `runner`, its endpoints as the command line starts them for that runner; `during`
 * runs beside it once the job is known (`running`).
 */
async function runWithOps(
  runner: "direct" | "prism",
  during?: (ops: MedallionOps, running: RunningPipeline) => unknown,
) {
  const ops = await startMedallionOps({
    port: 0,
    host: "127.0.0.1",
    ...(runner === "prism" ? { processingTime: "reported" as const } : { commits: new CommitStats(Date.now) }),
  });
  const w = await DuckDbWarehouse.create(":memory:");
  try {
    await w.open();
    ops.warehouseOpened();
    // What `during` threw, once the run is over (kept, not left as an unhandled rejection meanwhile).
    let watching: Promise<{ readonly error: unknown } | undefined> = Promise.resolve(undefined);
    const result = await runMedallion(
      fixtureFileSource<RawMessage>(FIXTURE),
      w,
      { trigger: "watermark" },
      {
        runner: { runner },
        processingTime: true,
        onStep: (running, index) => {
          if (index !== 0) return;
          ops.watch(running);
          watching = Promise.resolve(during?.(ops, running)).then(
            () => undefined,
            (error: unknown) => ({ error }),
          );
        },
      },
    );
    const failed = await watching;
    if (failed !== undefined) throw failed.error;
    const end = await get(`${ops.url}/metrics`);
    const ready = await get(`${ops.url}/readyz`);
    return { result, end: end.body, ready };
  } finally {
    await w.close();
    await ops.close();
  }
}

describe("the medallion's /metrics on Prism (--runner=prism --metrics-port)", () => {
  it("serves the job's figures while it runs, under the direct runner's names and labels", async () => {
    let mid: { metrics: string; ready: { status: number; body: string } } | undefined;
    const prism = await runWithOps("prism", async (ops, running) => {
      // A scrape that shows messages read, taken while the job runs: Prism says RUNNING before and after it.
      await until(
        "a scrape during the run with messages read",
        async () => {
          const before = running.jobState?.().state;
          const metrics = (await get(`${ops.url}/metrics`)).body;
          const ready = await get(`${ops.url}/readyz`);
          const after = running.jobState?.().state;
          const read = series(metrics).get("tidemark_step_elements_out_total{step=Read}") ?? 0;
          if (read > 0 && before === "RUNNING" && after === "RUNNING") mid = { metrics, ready };
          const ended = after !== undefined && after !== "RUNNING" && after !== "STARTING";
          return mid !== undefined || ended;
        },
        { timeoutMs: 60_000 },
      );
    });
    if (mid === undefined) throw new Error("the job ended before a scrape showed a message read");
    // Mid-run: fewer messages read than at the end.
    const readOf = (body: string) => series(body).get("tidemark_step_elements_out_total{step=Read}") ?? 0;
    expect(readOf(mid.metrics)).toBeLessThan(readOf(prism.end));
    // Ready while it runs: the runner's job is RUNNING.
    expect(mid.ready.status).toBe(200);
    expect(JSON.parse(mid.ready.body).checks).toContainEqual({ name: "job", ok: true });
    const during = series(mid.metrics);
    expect(during.get("tidemark_step_elements_in_total{step=Bronze/Parse}")).toBeGreaterThan(0);
    expect([...during.keys()].some((k) => k.startsWith("tidemark_step_processing_seconds_total{"))).toBe(true);

    const direct = await runWithOps("direct");
    const p = series(prism.end);
    const d = series(direct.end);
    // The names: the direct runner's, but for those Prism cannot give (each with its reason in the code and README).
    const names = (m: Map<string, number>) => new Set([...m.keys()].map(nameOf));
    expect([...names(p)].filter((n) => !names(d).has(n))).toEqual([]);
    // (The source's lag is served on the direct runner only while its watermark is within time: not at the end.)
    expect([...names(d)].filter((n) => !names(p).has(n)).sort()).toEqual(
      Object.keys(PRISM_UNSERVED_METRICS)
        .filter((n) => n !== "tidemark_source_watermark_lag_seconds")
        .flatMap((n) => (n === "tidemark_commit_seconds" ? ["_bucket", "_count", "_sum"].map((s) => n + s) : [n]))
        .sort(),
    );
    for (const n of Object.keys(PRISM_UNSERVED_METRICS)) {
      expect(
        [...during.keys()].filter((k) => k.startsWith(n)),
        n,
      ).toEqual([]);
    }
    // The labels: every series of each shared name, but processing time, which Prism also gives the WindowInto steps
    // the direct runner fuses into the grouping after them.
    const labelled = (m: Map<string, number>, name: string) => [...m.keys()].filter((k) => nameOf(k) === name).sort();
    for (const name of names(p)) {
      if (name === "tidemark_step_processing_seconds_total") continue;
      expect(labelled(p, name), name).toEqual(labelled(d, name));
    }
    const timed = labelled(p, "tidemark_step_processing_seconds_total");
    expect(timed).toEqual(expect.arrayContaining(labelled(d, "tidemark_step_processing_seconds_total")));
    for (const k of timed.filter((k) => !d.has(k))) expect(k).toMatch(/Sessions|Hourly}$/);
    // The values up to Gold are the direct runner's (Gold's panes differ on Prism: medallion-prism.test.ts).
    for (const step of [
      "Read",
      "Bronze/Parse",
      "Silver/KeyByIdShard",
      "Silver/Deduplicate",
      "WriteBronze",
      "WriteSilver",
    ]) {
      for (const name of ["tidemark_step_elements_in_total", "tidemark_step_elements_out_total"]) {
        expect(p.get(`${name}{step=${step}}`), `${name} ${step}`).toBe(d.get(`${name}{step=${step}}`));
      }
    }
    const dead = (m: Map<string, number>) =>
      [...m].filter(([k]) => nameOf(k) === "medallion_dead_letters_total").sort(([a], [b]) => a.localeCompare(b));
    expect(dead(d).length).toBeGreaterThan(0);
    expect(dead(p)).toEqual(dead(d));
    for (const sink of ["bronze_messages", "silver_events"]) {
      const k = `tidemark_sink_rows_written_total{sink=${sink},step=Write${sink === "bronze_messages" ? "Bronze" : "Silver"}}`;
      expect(p.get(k), k).toBe(d.get(k));
    }
    // Five sinks: Bronze, Silver, the typed Silver tables, Gold's two.
    expect([...p].filter(([k]) => nameOf(k) === "tidemark_sink_write_errors_total").map(([, v]) => v)).toEqual([
      0, 0, 0, 0, 0,
    ]);
    // Done: still ready (DONE, as a direct run stays ready once it ends).
    expect(prism.ready.status).toBe(200);
  }, 120_000);

  it("/readyz follows the job's state: a failed job is not ready, with the runner's reason", async () => {
    const ops = await startMedallionOps({ port: 0, host: "127.0.0.1", processingTime: "reported" });
    try {
      ops.warehouseOpened();
      const p = Pipeline.create();
      p.apply(create([1, 2, 3]), "Numbers").apply(
        parDo<number, number>({
          process(x) {
            if (x === 2) throw new Error("element 2 is refused");
          },
        }),
        "Refuse",
      );
      // Watched from its submission (index 0), whether it fails before its first reading or after.
      let submitted: RunnerJobState | undefined;
      const running = startOnPrism(
        p,
        {},
        {
          onStep: (r, { index }) => {
            if (index !== 0) return;
            submitted = r.jobState?.();
            ops.watch(r);
          },
        },
      );
      await expect(running.waitUntilFinish()).rejects.toThrow(/ended FAILED: .*element 2 is refused/);
      expect(submitted).toEqual({ state: "STARTING", jobId: expect.stringMatching(/\S/) });
      const ready = await get(`${ops.url}/readyz`);
      expect(ready.status).toBe(503);
      const job = JSON.parse(ready.body).checks.find((c: { name: string }) => c.name === "job");
      expect(job.ok).toBe(false);
      expect(job.detail.startsWith(`the runner's job ${submitted?.jobId} is FAILED: `), job.detail).toBe(true);
      expect(job.detail).toContain("element 2 is refused");
      expect((await get(`${ops.url}/healthz`)).status).toBe(200);
    } finally {
      await ops.close();
    }
  }, 60_000);

  it("the command line serves it on --runner=prism (no watermarks, no commits), ready while the job runs, and exits 0; on a terminal its progress line moves with the readings", async () => {
    const command = [
      process.execPath,
      "--import",
      "tsx",
      "pipelines/user-sessions/cli.ts",
      `--input=${FIXTURE}`,
      "--runner=prism",
      `--warehouse=duckdb:${join(dir, "cli.duckdb")}`,
      "--metrics-port=0",
      "--log-format=json",
    ];
    // On a terminal (util-linux's `script` gives the command one; -e: its exit status), as a person runs it.
    const quoted = command.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    const child = spawn("script", ["-qefc", quoted, "/dev/null"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    for (const s of [child.stdout, child.stderr]) s.on("data", (b: Buffer) => (out += b.toString()));
    const exit = new Promise<number | null>((r) => child.once("exit", r));
    try {
      await until("the metrics address printed", () => /metrics: (http:\/\/\S+)\/metrics/.test(out), {
        timeoutMs: 60_000,
        state: () => out,
      });
      const url = (/metrics: (http:\/\/\S+)\/metrics/.exec(out) as RegExpExecArray)[1] as string;
      let during: string | undefined;
      await until(
        "a scrape with messages read and the job ready",
        async () => {
          try {
            const body = (await get(`${url}/metrics`)).body;
            const ready = (await get(`${url}/readyz`)).status;
            if (ready === 200 && /^tidemark_step_elements_out_total\{step="Read"\} [1-9]/m.test(body)) during = body;
          } catch {
            // Not listening (yet, or any more: the command ended).
          }
          return during !== undefined;
        },
        { timeoutMs: 60_000, state: () => out },
      );
      const m = parseExposition(during as string);
      expect(m.samples("tidemark_step_processing_seconds_total").length).toBeGreaterThan(0);
      expect(m.samples("tidemark_step_input_watermark_seconds")).toEqual([]);
      expect(m.samples("tidemark_commits_total")).toEqual([]);
      expect(await exit, out).toBe(0);
      expect(out).toContain("(prism runner)");
      // The progress line, redrawn as the readings come (one a second): some while messages were still being read.
      const total = Number((/(\d+) messages in [\d.]+ s into/.exec(out) as RegExpExecArray)[1]);
      const drawn = [...out.matchAll(/\r(\d+) messages, /g)].map((m) => Number(m[1]));
      expect(
        drawn.some((n) => n > 0 && n < total),
        `progress lines ${JSON.stringify(drawn)} of ${total}`,
      ).toBe(true);
    } finally {
      child.kill();
    }
  }, 120_000);
});
