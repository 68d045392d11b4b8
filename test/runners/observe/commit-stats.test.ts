/**
 * One record of the runner's commits (`runners/observe/commit-stats.ts`), read by `/metrics` (`JobMetrics`) and the
 * dashboard (`checkpointFigures`): figures checked against a script of commit phases whose counts and durations are
 * worked out by hand.
 */
import { describe, expect, it } from "vitest";
import type { CommitPhase } from "../../../runners/direct/direct-runner.ts";
import { CommitStats } from "../../../runners/observe/commit-stats.ts";
import { JobMetrics } from "../../../runners/observe/prometheus.ts";
import { checkpointFigures } from "../../../runners/observe/ui/dashboard-view.ts";
import { parseExposition } from "./exposition.ts";

/** The direct runner's phases of one commit, in order (`runners/direct/direct-runner.ts`). */
const WITH_CHECKPOINT: readonly CommitPhase[] = [
  "writes-started",
  "writes-done",
  "checkpoint-written",
  "stable-input-written",
  "finalized",
];
const WITHOUT_CHECKPOINT: readonly CommitPhase[] = ["writes-started", "writes-done", "finalized"];

describe("CommitStats", () => {
  it("counts finalized commits and written checkpoints, times each commit to its checkpoint, and ages the last", () => {
    let now = 10_000;
    const stats = new CommitStats(() => now);
    const durations: number[] = [];
    stats.onDuration((s) => durations.push(s));
    expect([stats.commits, stats.checkpoints, stats.lastCheckpointAtMs, stats.checkpointAgeSeconds(now)]).toEqual([
      0,
      0,
      null,
      null,
    ]);
    // Commit 1: started at 10 s, checkpoint at 10.3 s (its duration), finalized at 10.5 s.
    stats.onCommit("writes-started", { seq: 1 });
    now += 200;
    stats.onCommit("writes-done", { seq: 1 });
    now += 100;
    stats.onCommit("checkpoint-written", { seq: 1 });
    expect(durations).toEqual([0.3]);
    expect([stats.commits, stats.checkpoints, stats.lastCheckpointAtMs]).toEqual([0, 1, 10_300]);
    now += 200;
    stats.onCommit("stable-input-written", { seq: 1 });
    stats.onCommit("finalized", { seq: 1 });
    expect(durations).toEqual([0.3]);
    expect(stats.commits).toBe(1);
    // Commit 2 starts before 3 (a run without checkpoints): each is timed to its own finalization.
    stats.onCommit("writes-started", { seq: 2 });
    now += 1_000;
    stats.onCommit("writes-started", { seq: 3 });
    now += 500;
    stats.onCommit("finalized", { seq: 3 });
    now += 250;
    stats.onCommit("finalized", { seq: 2 });
    expect(durations).toEqual([0.3, 0.5, 1.75]);
    expect([stats.commits, stats.checkpoints, stats.lastCheckpointAtMs]).toEqual([3, 1, 10_300]);
    expect(stats.checkpointAgeSeconds(12_550)).toBe(2.25);
    // A clock read before the checkpoint (another reader's) never makes a negative age.
    expect(stats.checkpointAgeSeconds(10_000)).toBe(0);
    // A phase for a commit never started is counted, not timed.
    stats.onCommit("finalized", { seq: 9 });
    expect([stats.commits, durations.length]).toEqual([4, 3]);
  });

  it("is what /metrics and the dashboard both show", async () => {
    let now = 1_000_000;
    const stats = new CommitStats(() => now);
    const metrics = new JobMetrics(
      () => ({ steps: [], user: [], processingTime: 0, sourceEvents: 0 }),
      () => now,
      {
        commits: stats,
      },
    );
    const before = parseExposition(await metrics.text());
    expect(before.value("tidemark_commits_total", {})).toBe(0);
    expect(before.value("tidemark_checkpoints_total", {})).toBe(0);
    expect(before.value("tidemark_last_checkpoint_timestamp_seconds", {})).toBe(0);
    expect(before.value("tidemark_commit_seconds_count", {})).toBe(0);
    // Two commits with checkpoints (0.04 s and 3 s to their checkpoints), one without (0.2 s to its finalization).
    // Time passes only before the phase that ends a commit's timing.
    const commit = (seq: number, phases: readonly CommitPhase[], ms: number) => {
      const timed = phases.includes("checkpoint-written") ? "checkpoint-written" : "finalized";
      for (const phase of phases) {
        if (phase === timed) now += ms;
        stats.onCommit(phase, { seq });
      }
    };
    commit(1, WITH_CHECKPOINT, 40);
    commit(2, WITH_CHECKPOINT, 3_000);
    commit(3, WITHOUT_CHECKPOINT, 200);
    const atMs = now + 1_500;
    now = atMs;
    const m = parseExposition(await metrics.text());
    expect(m.value("tidemark_commits_total", {})).toBe(3);
    expect(m.value("tidemark_checkpoints_total", {})).toBe(2);
    expect(m.value("tidemark_last_checkpoint_timestamp_seconds", {})).toBe((1_000_000 + 40 + 3_000) / 1000);
    expect(m.value("tidemark_commit_seconds_count", {})).toBe(3);
    expect(m.value("tidemark_commit_seconds_sum", {})).toBeCloseTo(3.24, 9);
    expect(m.value("tidemark_commit_seconds_bucket", { le: "0.05" })).toBe(1);
    expect(m.value("tidemark_commit_seconds_bucket", { le: "0.25" })).toBe(2);
    expect(m.value("tidemark_commit_seconds_bucket", { le: "2.5" })).toBe(2);
    expect(m.value("tidemark_commit_seconds_bucket", { le: "5" })).toBe(3);
    expect(checkpointFigures(stats, atMs)).toEqual({
      commits: 3,
      checkpoints: 2,
      lastAtMs: 1_003_040,
      ageSeconds: (200 + 1_500) / 1000,
    });
    // Closed, the exporter observes no more commits (the figures it read stay).
    metrics.close();
    commit(4, WITHOUT_CHECKPOINT, 100);
    const closed = parseExposition(await metrics.text());
    expect(closed.value("tidemark_commit_seconds_count", {})).toBe(3);
    expect(closed.value("tidemark_commits_total", {})).toBe(4);
  });

  it("is not made up where no commits are given: JobMetrics then serves none of their series", async () => {
    const metrics = new JobMetrics(() => ({ steps: [], user: [], processingTime: 0, sourceEvents: 0 }));
    const m = parseExposition(await metrics.text());
    for (const name of ["tidemark_commits_total", "tidemark_checkpoints_total", "tidemark_commit_seconds_count"]) {
      expect(m.samples(name), name).toEqual([]);
    }
  });

  it("stops telling a listener once it unsubscribes", () => {
    let now = 0;
    const stats = new CommitStats(() => now);
    const seen: number[] = [];
    const unsubscribe = stats.onDuration((s) => seen.push(s));
    stats.onCommit("writes-started", { seq: 1 });
    now = 500;
    stats.onCommit("finalized", { seq: 1 });
    unsubscribe();
    stats.onCommit("writes-started", { seq: 2 });
    stats.onCommit("finalized", { seq: 2 });
    expect(seen).toEqual([0.5]);
  });
});
