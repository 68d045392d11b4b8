/**
 * The medallion's operations endpoints (`--metrics-port`): every figure served at /metrics checked against an
 * independent reference (the warehouse's tables, read with SQL, and the run's own report), and /healthz, /readyz.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import { startMedallionOps } from "../../../pipelines/user-sessions/ops.ts";
import { runMedallion } from "../../../pipelines/user-sessions/run.ts";
import { CommitStats } from "../../../runners/observe/commit-stats.ts";
import type { JobReadings } from "../../../runners/portable/job-monitor.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import { parseExposition } from "../../runners/observe/exposition.ts";

const FIXTURE = "test/fixtures/events-small.jsonl";
const dir = mkdtempSync(join(tmpdir(), "tidemark-ops-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const get = async (url: string) => {
  const r = await fetch(url);
  return { status: r.status, type: r.headers.get("content-type"), body: await r.text() };
};

describe("the medallion's /metrics, /healthz and /readyz", () => {
  it("serve the run's figures, equal to what landed in the warehouse", async () => {
    const commits = new CommitStats(Date.now);
    const opsStarted = performance.now();
    const ops = await startMedallionOps({ port: 0, host: "127.0.0.1", checkpointIntervalMs: 1_000, commits });
    const w = await DuckDbWarehouse.create(":memory:");
    try {
      // Not ready before the warehouse is open and the run started: the reasons are in the body.
      const before = await get(`${ops.url}/readyz`);
      expect(before.status).toBe(503);
      expect(JSON.parse(before.body)).toEqual({
        ready: false,
        checks: [
          { name: "source", ok: false, detail: "not started" },
          { name: "warehouse", ok: false, detail: "not open yet" },
          { name: "checkpoint", ok: true },
        ],
      });
      expect(await get(`${ops.url}/healthz`)).toMatchObject({ status: 200, body: "ok\n" });
      await w.open();
      ops.warehouseOpened();
      const run = await runMedallion(
        fixtureFileSource<RawMessage>(FIXTURE),
        w,
        {},
        {
          checkpointDir: join(dir, "checkpoints"),
          checkpointIntervalMs: 1_000,
          onStep: (running, index) => {
            if (index === 0) ops.watch(running);
          },
          onCommit: (phase, info) => commits.onCommit(phase, info),
        },
      );
      const ready = await get(`${ops.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.body).checks.map((c: { ok: boolean }) => c.ok)).toEqual([true, true, true]);

      const scraped = await get(`${ops.url}/metrics`);
      expect(scraped.status).toBe(200);
      expect(scraped.type).toMatch(/^text\/plain; version=0\.0\.4/);
      const m = parseExposition(scraped.body);
      const count = async (sql: string) => Number(Object.values((await w.query(sql))[0] as object)[0]);
      const bronze = await count("SELECT count(*) FROM bronze_messages");
      const silver = await count("SELECT count(*) FROM silver_events");

      expect(m.value("tidemark_step_elements_out_total", { step: "Read" })).toBe(bronze);
      expect(m.value("tidemark_sink_rows_written_total", { step: "WriteBronze", sink: "bronze_messages" })).toBe(
        bronze,
      );
      expect(m.value("tidemark_sink_rows_written_total", { step: "WriteSilver", sink: "silver_events" })).toBe(silver);
      // The typed Silver tables' one sink counts the rows of all three.
      const typed = await count(
        "SELECT (SELECT count(*) FROM silver_orders) + (SELECT count(*) FROM silver_inventory) + (SELECT count(*) FROM silver_activity)",
      );
      expect(typed).toBeGreaterThan(0);
      expect(m.value("tidemark_sink_rows_written_total", { step: "WriteTypedSilver", sink: "silver_typed" })).toBe(
        typed,
      );
      for (const sink of ["bronze_messages", "silver_events", "silver_typed", "gold_tenant_hourly", "gold_sessions"]) {
        expect(m.value("tidemark_sink_write_errors_total", { sink }), sink).toBe(0);
        expect(m.value("tidemark_sink_batch_ms_count", { sink }), sink).toBeGreaterThan(0);
      }
      // The Gold sinks count the rows they wrote (a batch is folded first), as the run reports them.
      expect(m.value("tidemark_sink_rows_written_total", { sink: "gold_tenant_hourly" })).toBe(run.written.hourly);
      expect(m.value("tidemark_sink_rows_written_total", { sink: "gold_sessions" })).toBe(
        run.written.sessionUpserts + run.written.sessionDeletes,
      );
      // Dead letters by the field at fault, against Bronze's own record of each invalid message.
      const byField = await w.query(
        "SELECT error_field AS field, count(*) AS n FROM bronze_messages WHERE error_field IS NOT NULL GROUP BY 1",
      );
      expect(byField.length).toBeGreaterThan(1);
      expect(
        m
          .samples("medallion_dead_letters_total")
          .map((s) => [s.labels.field, s.value])
          .sort(),
      ).toEqual(byField.map((r) => [r.field, Number(r.n)]).sort());
      expect(m.samples("medallion_dead_letters_total").reduce((n, s) => n + s.value, 0)).toBe(run.written.deadLetter);
      // Gold's newest event time, against Gold's own rows.
      const newest = await count("SELECT epoch_ms(max(session_end)) FROM gold_sessions");
      expect(m.value("medallion_gold_newest_event_ms", { step: "WriteSessions" })).toBe(newest);
      const freshness = m.value("medallion_gold_freshness_seconds", {});
      expect(Math.abs(freshness - (Date.now() - newest) / 1000)).toBeLessThan(60);
      // Commits and checkpoints, against the run's report.
      expect(run.checkpoints).toBeGreaterThan(0);
      expect(m.value("tidemark_checkpoints_total", {})).toBe(run.checkpoints);
      expect(m.value("tidemark_commit_seconds_count", {})).toBe(m.value("tidemark_commits_total", {}));
      expect(m.value("tidemark_last_checkpoint_timestamp_seconds", {})).toBeGreaterThan(Date.now() / 1000 - 60);
      // Per-step drops and windows, against the runner's own metrics.
      const gold = run.metrics.steps.find((s) => s.step === "GoldSessions/Aggregate");
      expect(m.value("tidemark_step_dropped_late_total", { step: "GoldSessions/Aggregate" })).toBe(gold?.droppedLate);
      expect(m.value("tidemark_step_output_watermark_seconds", { step: "Read" })).toBe(8.64e12);
      // Processing time: for every step whose code the runner runs (ParDo, stateful DoFn, grouping and combining,
      // Flatten; a WindowInto unless it is fused into the grouping after it), never a read's, and with the time
      // outside any step no more than the wall time the sampler has run.
      const processing = m.samples("tidemark_step_processing_seconds_total");
      const served = processing.map((s) => s.labels.step);
      const ofKinds = (...kinds: string[]) =>
        run.metrics.steps.filter((s) => kinds.includes(s.kind)).map((s) => s.step);
      expect(served).toEqual(expect.arrayContaining(ofKinds("parDo", "statefulParDo", "groupByKey", "combinePerKey")));
      expect(ofKinds("groupByKey", "combinePerKey").length).toBeGreaterThan(0);
      for (const step of served) expect(ofKinds("read", "createView"), step).not.toContain(step);
      expect(new Set(served).size).toBe(served.length);
      const sampled =
        processing.reduce((n, s) => n + s.value, 0) + m.value("tidemark_processing_other_seconds_total", {});
      expect(sampled).toBeGreaterThan(0);
      expect(sampled).toBeLessThanOrEqual((performance.now() - opsStarted) / 1000 + 0.05);
    } finally {
      await w.close();
      await ops.close();
    }
  });

  it("say whether the job is the tenants' catch-all's reader (the dead-letter rate alert leaves it out)", async () => {
    for (const [tenantCatchAll, value] of [
      [undefined, 0],
      [false, 0],
      [true, 1],
    ] as const) {
      const ops = await startMedallionOps({
        port: 0,
        host: "127.0.0.1",
        ...(tenantCatchAll === undefined ? {} : { tenantCatchAll }),
      });
      try {
        const m = parseExposition((await get(`${ops.url}/metrics`)).body);
        expect(m.value("medallion_tenant_catch_all_reader", {}), String(tenantCatchAll)).toBe(value);
      } finally {
        await ops.close();
      }
    }
  });

  it("answer 404 elsewhere and 405 to other methods; a port in use is named", async () => {
    const commits = new CommitStats(Date.now);
    const ops = await startMedallionOps({ port: 0, host: "127.0.0.1", commits });
    try {
      expect((await get(`${ops.url}/nope`)).status).toBe(404);
      expect((await fetch(`${ops.url}/metrics`, { method: "POST" })).status).toBe(405);
      const port = Number(new URL(ops.url).port);
      await expect(startMedallionOps({ port, host: "127.0.0.1", commits })).rejects.toThrow(
        `--metrics-port=${port}: cannot listen on 127.0.0.1: listen EADDRINUSE`,
      );
    } finally {
      await ops.close();
    }
  });

  it("a port in use ends the command line at once: exit 1, the port and the reason said", async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          "pipelines/user-sessions/cli.ts",
          `--input=${FIXTURE}`,
          `--warehouse=duckdb:${join(dir, "busy-port.duckdb")}`,
          `--metrics-port=${port}`,
          "--metrics-host=127.0.0.1",
          "--log-format=json",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
      });
      child.stderr.on("data", (b: Buffer) => {
        out += b.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      expect({ code, out }).toMatchObject({
        code: 1,
        out: expect.stringContaining(`--metrics-port=${port}: cannot listen on 127.0.0.1: listen EADDRINUSE`),
      });
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it("is not ready while the checkpoints are late and messages wait for one, saying how late", async () => {
    let t = 1_000_000;
    const stats = {
      received: 0,
      duplicatesDropped: 0,
      badTimestamps: 0,
      acked: 0,
      nacked: 0,
      outstanding: 3,
      watermark: 0,
      reconnects: 0,
      connected: true,
    };
    const commits = new CommitStats(() => t);
    const ops = await startMedallionOps({
      port: 0,
      host: "127.0.0.1",
      checkpointIntervalMs: 5_000,
      commits,
      pubsub: () => stats,
      subscription: "s",
      now: () => t,
    });
    try {
      ops.warehouseOpened();
      ops.watch({ metrics: () => ({ steps: [], user: [], processingTime: t, sourceEvents: 0 }) });
      expect((await get(`${ops.url}/readyz`)).status).toBe(200);
      t += 16_000;
      const late = await get(`${ops.url}/readyz`);
      expect(late.status).toBe(503);
      expect(JSON.parse(late.body).checks[2]).toEqual({
        name: "checkpoint",
        ok: false,
        detail: "no checkpoint written in 16 s (expected every 5 s)",
      });
      commits.onCommit("checkpoint-written", { seq: 1 });
      expect((await get(`${ops.url}/readyz`)).status).toBe(200);
      t += 15_001;
      expect(JSON.parse((await get(`${ops.url}/readyz`)).body).checks[2].detail).toBe(
        "the last checkpoint is 15 s old (expected every 5 s)",
      );
      // Idle, every message acknowledged: the runner has nothing to checkpoint, and the job is ready.
      stats.outstanding = 0;
      expect((await get(`${ops.url}/readyz`)).status).toBe(200);
    } finally {
      await ops.close();
    }
  });
  it("on Prism, is not ready once the job went 3 intervals without a reading, naming the error; failed readings are counted", async () => {
    const readings: JobReadings = {
      intervalMs: 1_000,
      lastReadingAtMs: 5_000,
      sinceReadingMs: 0,
      failures: 0,
      lastError: undefined,
    };
    let current = readings;
    const ops = await startMedallionOps({ port: 0, host: "127.0.0.1", processingTime: "reported" });
    try {
      ops.warehouseOpened();
      ops.watch({
        metrics: () => ({ steps: [], user: [], processingTime: 0, sourceEvents: 0, unreported: ["watermarks"] }),
        jobState: () => ({ state: "RUNNING", jobId: "job-7" }),
        jobReadings: () => current,
      });
      const job = async () => {
        const r = await get(`${ops.url}/readyz`);
        return { status: r.status, check: JSON.parse(r.body).checks.find((c: { name: string }) => c.name === "job") };
      };
      const errors = async () =>
        parseExposition((await get(`${ops.url}/metrics`)).body).samples("tidemark_metrics_export_errors_total");
      expect(await job()).toEqual({ status: 200, check: { name: "job", ok: true } });
      expect(await errors()).toEqual([]);
      // Two failed readings: 3 s without one is still within 3 intervals.
      current = { ...readings, sinceReadingMs: 3_000, failures: 2, lastError: "GetState: DEADLINE_EXCEEDED" };
      expect((await job()).status).toBe(200);
      expect(await errors()).toEqual([
        { name: "tidemark_metrics_export_errors_total", labels: { metric: "job_reading" }, value: 2 },
      ]);
      current = { ...readings, sinceReadingMs: 3_400, failures: 3, lastError: "GetState: UNAVAILABLE" };
      expect(await job()).toEqual({
        status: 503,
        check: {
          name: "job",
          ok: false,
          detail:
            "no reading of the runner's job job-7 in 3.4 s since the last (read every 1 s; 3 failed); the last " +
            "error: GetState: UNAVAILABLE",
        },
      });
      expect((await errors())[0]?.value).toBe(3);
      // None yet since the job was submitted.
      current = { ...readings, lastReadingAtMs: undefined, sinceReadingMs: 4_000, failures: 4 };
      expect((await job()).check.detail).toBe(
        "no reading of the runner's job job-7 in 4 s since it was submitted (read every 1 s; 4 failed)",
      );
      // Read again: ready, and the failures stay counted.
      current = { ...readings, failures: 4 };
      expect((await job()).status).toBe(200);
      expect((await errors())[0]?.value).toBe(4);
    } finally {
      await ops.close();
    }
  });
});
