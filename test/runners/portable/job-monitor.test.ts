/**
 * `JobMonitor` (a job followed through the Job API) against a Job API that answers as each test says (a fake
 * `JobClient`: its `state` and `metrics`), on vitest's virtual clock; and a unary call cancelled through gRPC.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { JobClient } from "../../../runners/portable/job-client.ts";
import { JobClient as RealJobClient } from "../../../runners/portable/job-client.ts";
import { type JobReading, JobMonitor } from "../../../runners/portable/job-monitor.ts";
import { serveUnary } from "../../../runners/portable/grpc.ts";
import { JobService } from "../../../runners/portable/proto/generated/org/apache/beam/model/job_management/v1/beam_job_api_pb.ts";
import { until } from "../../until.ts";

/** A fake Job API: its calls, and the signals they were given. */
interface FakeJobApi extends Pick<JobClient, "state" | "metrics"> {
  calls: number;
  readonly signals: (AbortSignal | undefined)[];
}

/** A Job API whose `GetState` answers with `answer(call, signal)` (call counts from 0); no metrics. */
function jobApi(answer: (call: number, signal: AbortSignal | undefined) => Promise<string>): FakeJobApi {
  const api: FakeJobApi = {
    calls: 0,
    signals: [],
    state: (_jobId: string, _timeoutMs?: number, signal?: AbortSignal) => {
      api.signals.push(signal);
      return answer(api.calls++, signal);
    },
    metrics: async () => [],
  };
  return api;
}

/** Rejects once `signal` aborts, as a cancelled gRPC call does; never resolves otherwise. */
const untilCancelled = (signal: AbortSignal | undefined) =>
  new Promise<string>((_, reject) => signal?.addEventListener("abort", () => reject(new Error("CANCELLED"))));

describe("JobMonitor", () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  beforeEach(() => {
    unhandled.length = 0;
    process.on("unhandledRejection", onUnhandled);
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    process.off("unhandledRejection", onUnhandled);
  });

  it("an error from onRead stops it and goes to onFailure, once: no unhandled rejection, no reading after", async () => {
    const api = jobApi(async () => "RUNNING");
    const read: JobReading[] = [];
    const failures: unknown[] = [];
    const monitor = new JobMonitor(api, "job-1", {
      intervalMs: 1_000,
      onRead: (r) => {
        read.push(r);
        if (read.length === 2) throw new Error("the hook failed");
      },
      onFailure: (e) => failures.push(e),
    });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(read.map((r) => r.state)).toEqual(["RUNNING", "RUNNING"]);
    expect(failures).toEqual([new Error("the hook failed")]);
    expect(api.calls).toBe(2);
    await monitor.stop();
    // Let a rejection left unhandled reach the process's handler (after a turn of the real event loop).
    vi.useRealTimers();
    await new Promise((r) => setImmediate(r));
    expect(unhandled).toEqual([]);
  });

  it("counts the readings that fail, keeps the last error and when the last good reading came", async () => {
    const api = jobApi(async (call) => {
      if (call >= 1 && call <= 4) throw new Error(`DEADLINE_EXCEEDED (call ${call})`);
      return "RUNNING";
    });
    const monitor = new JobMonitor(api, "job-2", { intervalMs: 1_000, onRead: () => {}, onFailure: () => {} });
    await vi.advanceTimersByTimeAsync(0);
    const first = monitor.readings();
    expect(first).toMatchObject({ intervalMs: 1_000, failures: 0, lastError: undefined, sinceReadingMs: 0 });
    await vi.advanceTimersByTimeAsync(4_000);
    expect(monitor.readings()).toEqual({
      intervalMs: 1_000,
      lastReadingAtMs: first.lastReadingAtMs,
      sinceReadingMs: 4_000,
      failures: 4,
      lastError: "DEADLINE_EXCEEDED (call 4)",
    });
    // The Job API answers again: a reading, and the failures stay counted.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(monitor.readings()).toMatchObject({ sinceReadingMs: 0, failures: 4 });
    await monitor.stop();
  });

  it("stop() cancels the reading under way instead of waiting for it, and that is no failed reading", async () => {
    const api = jobApi(async (_call, signal) => untilCancelled(signal));
    const monitor = new JobMonitor(api, "job-3", { intervalMs: 1_000, onRead: () => {}, onFailure: () => {} });
    await vi.advanceTimersByTimeAsync(0);
    expect(api.signals[0]?.aborted).toBe(false);
    // No virtual time passes: stop() resolves because the call is cancelled, not because a deadline went by.
    await monitor.stop();
    expect(api.signals[0]?.aborted).toBe(true);
    expect(monitor.readings().failures).toBe(0);
  });
});

describe("a unary call's signal", () => {
  it("cancels it through gRPC: the call rejects at once, long before its deadline", async () => {
    let received = 0;
    const server = await serveUnary(JobService, {
      getState: () => {
        received++;
        return new Promise<never>(() => {}); // never answers
      },
    });
    const client = new RealJobClient(`127.0.0.1:${server.port}`);
    try {
      const abort = new AbortController();
      const call = client.state("job", 30_000, abort.signal);
      const settled = call.then(
        () => "answered",
        (e: Error) => e.message,
      );
      await until("the server has the call", () => received === 1);
      const t0 = performance.now();
      abort.abort();
      expect(await settled).toMatch(/GetState at 127\.0\.0\.1:\d+: .*[Cc]ancelled/);
      expect(performance.now() - t0).toBeLessThan(1_000);
      // A signal already aborted: no call is made.
      await expect(client.state("job", 30_000, abort.signal)).rejects.toThrow(/cancelled/);
      expect(received).toBe(1);
    } finally {
      client.close();
      await server.stop();
    }
  });
});
