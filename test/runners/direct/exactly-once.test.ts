import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DoFn } from "../../../core/do-fn.ts";
import type { KV } from "../../../core/kv.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { type ValueStateSpec, valueState } from "../../../core/state.ts";
import { batchedWrite } from "../../../io/batched-write.ts";
import { GLOBAL_WINDOW } from "../../../core/windows/window.ts";
import { type CommitPhase, DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { map } from "../../../transforms/element-wise.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { read } from "../../../transforms/read.ts";
import { statefulParDo } from "../../../transforms/stateful-par-do.ts";
import { type QueueMessage, TestQueue } from "./queue-source.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tidemark-eo-"));
  dirs.push(d);
  return d;
}

/** 60 messages over 4 keys. */
function messages(): QueueMessage[] {
  return Array.from({ length: 60 }, (_, i) => ({ id: `m${i}`, key: `k${i % 4}`, timestamp: 1_000 + i }));
}

/** What the stateful step emits per message: the key's running count, and the message that made it. */
interface Counted {
  readonly key: string;
  readonly count: number;
  readonly id: string;
}

class Crash extends Error {}

/** (key, count) pairs the sink saw for one message before the crash and for another after it. */
function conflicts(before: readonly Counted[], after: readonly Counted[]): string[] {
  const out: string[] = [];
  for (const b of before) {
    for (const a of after) {
      if (a.key === b.key && a.count === b.count && a.id !== b.id)
        out.push(`${b.key}#${b.count}: ${b.id} then ${a.id}`);
    }
  }
  return out;
}

/**
 * Read -> key -> running count per key (state) -> a sink that records what it sees. The count a message gets depends
 * on the order messages come in, so a replay in another order makes other (key, count, id) triples.
 */
function countingPipeline(queue: TestQueue, seen: Counted[], stable: boolean): Pipeline {
  const p = Pipeline.create();
  const sink: DoFn<Counted, never> = {
    requiresStableInput: stable,
    process(c) {
      seen.push(c);
    },
  };
  p.apply(read(queue.source()), "Read")
    .apply(
      map((m: QueueMessage) => [m.key, m.id] as KV<string, string>),
      "Key",
    )
    .apply(
      statefulParDo<string, string, Counted, { n: ValueStateSpec<number> }>({
        state: { n: valueState<number>() },
        process([key, id], ctx) {
          const n = (ctx.state.n.read() ?? 0) + 1;
          ctx.state.n.write(n);
          ctx.output({ key, count: n, id });
        },
      }),
      "Count",
    )
    .apply(parDo(sink), "Sink");
  return p;
}

/** Runs until step `crashAt` (then throws there), checkpointing after every step. */
async function crashingRun(p: Pipeline, dir: string, crashAt: number): Promise<void> {
  await expect(
    new DirectRunner().run(p, {
      checkpoint: { dir, intervalMs: 0 },
      onStep: ({ index }) => {
        if (index === crashAt) throw new Crash(`crash at step ${index}`);
      },
    }),
  ).rejects.toThrow(Crash);
}

describe("DirectRunner: stable input (requiresStableInput)", () => {
  it.each([7, 23, 41])(
    "crashed at step %i and resumed with the messages re-delivered in another order: the sink never saw an element the restored state does not know",
    async (crashAt) => {
      const queue = new TestQueue(messages(), "reversed");
      const dir = tempDir();
      const before: Counted[] = [];
      await crashingRun(countingPipeline(queue, before, true), dir, crashAt);
      const after: Counted[] = [];
      const resumed = new DirectRunner().start(countingPipeline(queue, after, true), {
        checkpoint: { dir, intervalMs: 0 },
      });
      await resumed.waitUntilFinish();
      expect(resumed.commitStats().resumedFrom).toBeGreaterThan(0);
      // Every (key, count) the sink saw before the crash is one the resumed run also gives to the same message: the
      // restored state knew it (a held element the crash interrupted is delivered again, identical). Without stable
      // input the sink saw the crashed step's count, which the resumed run gives to another message (the control).
      expect(conflicts(before, after)).toEqual([]);
      // Exactly once overall: per key, counts 1 to 15, each for one message; every message acknowledged.
      const distinct = new Map<string, Counted>();
      for (const c of [...before, ...after]) distinct.set(`${c.key}/${c.count}`, c);
      for (const key of ["k0", "k1", "k2", "k3"]) {
        expect(
          [...distinct.values()]
            .filter((c) => c.key === key)
            .map((c) => c.count)
            .sort((a, b) => a - b),
        ).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
      }
      expect(new Set([...distinct.values()].map((c) => c.id)).size).toBe(60);
      expect(queue.acked.size).toBe(60);
    },
  );

  it("control: without stable input the same crash shows the sink a count the restored state does not know", async () => {
    const queue = new TestQueue(messages(), "reversed");
    const dir = tempDir();
    const before: Counted[] = [];
    await crashingRun(countingPipeline(queue, before, false), dir, 23);
    const after: Counted[] = [];
    await new DirectRunner().run(countingPipeline(queue, after, false), { checkpoint: { dir, intervalMs: 0 } });
    expect(conflicts(before, after).length).toBeGreaterThan(0);
  });

  it("a step that requires stable input and feeds a grouping is refused, naming it", async () => {
    const queue = new TestQueue(messages());
    const p = Pipeline.create();
    p.apply(read(queue.source()))
      .apply(
        parDo<QueueMessage, KV<string, number>>({
          requiresStableInput: true,
          process: (m, ctx) => ctx.output([m.key, 1]),
        }),
        "Stable",
      )
      .apply(statefulParDo<string, number, number>({ process() {} }), "Downstream");
    await expect(new DirectRunner().run(p, { checkpoint: { dir: tempDir() } })).rejects.toThrow(
      'step "Stable" requires stable input and its outputs feed a grouping',
    );
  });
});

describe("DirectRunner: commits and source finalization", () => {
  it("acknowledges a message only after its rows are written, the checkpoint covering it is durable, and the stable-input writes are done", async () => {
    const queue = new TestQueue(messages(), "same");
    const dir = tempDir();
    const log = queue.log;
    const p = Pipeline.create();
    const keyed = p.apply(read(queue.source()), "Read").apply(
      map((m: QueueMessage) => [m.key, m.id] as KV<string, string>),
      "Key",
    );
    // A sink idempotent by key (written at once) and a stable-input sink behind a stateful step.
    keyed.apply(
      batchedWrite<KV<string, string>>({
        maxRows: 5,
        write: async (rows) => {
          await new Promise((r) => setImmediate(r));
          log.push(`write ${rows.map((r) => r[1]).join(",")}`);
        },
      }),
      "WriteRaw",
    );
    keyed
      .apply(
        statefulParDo<string, string, string, { n: ValueStateSpec<number> }>({
          state: { n: valueState<number>() },
          process([_key, id], ctx) {
            ctx.state.n.write((ctx.state.n.read() ?? 0) + 1);
            ctx.output(id);
          },
        }),
        "Count",
      )
      .apply(
        batchedWrite<string>({
          maxRows: 1_000,
          requiresStableInput: true,
          write: async (ids) => {
            // The checkpoint that produced these is on disk before they are written.
            log.push(
              `stable ${ids.join(",")} after ${readdirSync(dir).filter((f) => f.startsWith("checkpoint-")).length} checkpoints`,
            );
          },
        }),
        "WriteStable",
      );
    const phases: string[] = [];
    await new DirectRunner().run(p, {
      checkpoint: { dir, intervalMs: 0 },
      maxBundleMs: 60_000,
      onCommit: (phase: CommitPhase, c) => {
        phases.push(`${c.seq} ${phase}`);
        log.push(`phase ${phase}`);
      },
    });
    // Every message acknowledged once.
    const acks = log.filter((l) => l.startsWith("ack ")).flatMap((l) => l.slice(4).split(","));
    expect(acks.sort()).toEqual(
      messages()
        .map((m) => m.id)
        .sort(),
    );
    // Each acknowledgement comes after the raw write and the stable write of each message it covers, and after a
    // checkpoint-written phase of the same commit.
    for (let i = 0; i < log.length; i++) {
      const line = log[i] as string;
      if (!line.startsWith("ack ")) continue;
      const earlier = log.slice(0, i);
      for (const id of line.slice(4).split(",")) {
        expect(
          earlier.some((l) => l.startsWith("write ") && l.slice(6).split(",").includes(id)),
          `${id} written`,
        ).toBe(true);
        expect(
          earlier.some((l) => l.startsWith("stable ") && l.split(" ")[1]?.split(",").includes(id)),
          `${id} stable`,
        ).toBe(true);
      }
      const lastPhases = earlier.filter((l) => l.startsWith("phase ")).slice(-2);
      expect(lastPhases).toEqual(["phase checkpoint-written", "phase stable-input-written"]);
    }
    // Stable writes happen only once at least one checkpoint is on disk.
    for (const l of log.filter((x) => x.startsWith("stable "))) expect(l).not.toMatch(/after 0 checkpoints/);
    // Phases come in order within every commit.
    const order: CommitPhase[] = [
      "writes-started",
      "writes-done",
      "checkpoint-written",
      "stable-input-written",
      "finalized",
    ];
    const bySeq = new Map<string, string[]>();
    for (const ph of phases) {
      const [seq, name] = ph.split(" ") as [string, string];
      bySeq.set(seq, [...(bySeq.get(seq) ?? []), name]);
    }
    for (const names of bySeq.values()) expect(names).toEqual(order);
    // A clean end removes the checkpoints and the lock.
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("DirectRunner: sinks fed by a sink's finishBundle", () => {
  it("a commit finishes the bundles that other sinks' finishBundle opened: nothing is acknowledged unwritten", async () => {
    const queue = new TestQueue(messages(), "same");
    const log = queue.log;
    const p = Pipeline.create();
    let held: string[] = [];
    p.apply(read(queue.source()), "Read")
      .apply(
        // Buffers its bundle and outputs it in finishBundle (a common Beam pattern); a sink itself (no grouping after).
        parDo<QueueMessage, string>({
          process(m) {
            held.push(m.id);
          },
          finishBundle(ctx) {
            for (const id of held) ctx.output(id, 0, GLOBAL_WINDOW);
            held = [];
          },
        }),
        "Buffer",
      )
      .apply(
        batchedWrite<string>({
          maxRows: 1_000,
          write: async (ids) => {
            await new Promise((r) => setImmediate(r));
            log.push(`write ${ids.join(",")}`);
          },
        }),
        "Write",
      );
    await new DirectRunner().run(p, { maxBundleMs: 60_000, commitIntervalMs: 0 });
    const written = new Set<string>();
    for (const line of log) {
      if (line.startsWith("write ")) for (const id of line.slice(6).split(",")) written.add(id);
      if (line.startsWith("ack ")) for (const id of line.slice(4).split(",")) expect(written.has(id), id).toBe(true);
    }
    expect(written.size).toBe(60);
    expect(queue.acked.size).toBe(60);
  });
});

describe("DirectRunner: the checkpoint folder lock", () => {
  it("a second run on the same folder refuses, naming the process that holds it; the folder is free again after", async () => {
    const dir = tempDir();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slowQueue = new TestQueue(messages());
    const p1 = Pipeline.create();
    p1.apply(read(slowQueue.source())).apply(parDo<QueueMessage, never>({ process: () => gate }), "Wait");
    const first = new DirectRunner().start(p1, { checkpoint: { dir } });
    // The first run holds the lock while it waits on its write.
    for (let i = 0; i < 100 && !existsSync(join(dir, "LOCK")); i++) await new Promise((r) => setTimeout(r, 5));
    const p2 = Pipeline.create();
    p2.apply(read(new TestQueue(messages()).source())).apply(parDo<QueueMessage, never>({ process() {} }), "Other");
    await expect(new DirectRunner().run(p2, { checkpoint: { dir } })).rejects.toThrow(
      new RegExp(`checkpoint folder ${dir} is in use by process ${process.pid} on ${hostname()}`),
    );
    release();
    await first.waitUntilFinish();
    expect(existsSync(join(dir, "LOCK"))).toBe(false);
    // Free again: a third run takes it.
    const p3 = Pipeline.create();
    p3.apply(read(new TestQueue(messages()).source())).apply(parDo<QueueMessage, never>({ process() {} }), "Third");
    await new DirectRunner().run(p3, { checkpoint: { dir } });
  });

  it("a lock left by a process that died (SIGKILL) is taken over", async () => {
    const dir = tempDir();
    // A process that has exited: its pid is no longer running.
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
    writeFileSync(join(dir, "LOCK"), JSON.stringify({ pid: Number(dead), host: hostname(), startedAt: "earlier" }));
    const p = Pipeline.create();
    const seen: string[] = [];
    p.apply(read(new TestQueue(messages()).source())).apply(
      parDo<QueueMessage, never>({
        process(m) {
          seen.push(m.id);
        },
      }),
      "Sink",
    );
    await new DirectRunner().run(p, { checkpoint: { dir } });
    expect(seen).toHaveLength(60);
  });

  it("a lock with this process's pid from an earlier start (a restarted container) is taken over", async () => {
    const dir = tempDir();
    const earlier = Date.now() - process.uptime() * 1000 - 60_000;
    writeFileSync(
      join(dir, "LOCK"),
      JSON.stringify({ pid: process.pid, host: hostname(), startedAt: "earlier", processStart: earlier }),
    );
    const p = Pipeline.create();
    p.apply(read(new TestQueue(messages()).source())).apply(parDo<QueueMessage, never>({ process() {} }), "Sink");
    await new DirectRunner().run(p, { checkpoint: { dir } });
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a lock held by another host is refused with the file to remove once that process is known to be gone", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "LOCK"), JSON.stringify({ pid: 1, host: "another-host", startedAt: "earlier" }));
    const p = Pipeline.create();
    p.apply(read(new TestQueue(messages()).source())).apply(parDo<QueueMessage, never>({ process() {} }), "Sink");
    await expect(new DirectRunner().run(p, { checkpoint: { dir } })).rejects.toThrow(
      `in use by process 1 on another-host (since earlier): two runs of one job must not share checkpoints. Stop that run first, or remove ${join(dir, "LOCK")} once it is known to be gone`,
    );
  });
});

describe("DirectRunner: checkpoints of another job", () => {
  it("a run of another job on a folder with checkpoints is refused, naming both jobs", async () => {
    const dir = tempDir();
    const queue = new TestQueue(messages());
    const p = Pipeline.create();
    p.apply(read(queue.source()), "Read").apply(parDo<QueueMessage, never>({ process() {} }), "Sink");
    // A crash leaves the folder with checkpoints of job "a".
    await expect(
      new DirectRunner().run(p, {
        jobName: "a",
        checkpoint: { dir, intervalMs: 0 },
        onStep: ({ index }) => {
          if (index === 10) throw new Crash("crash");
        },
      }),
    ).rejects.toThrow(Crash);
    await expect(new DirectRunner().run(p, { jobName: "b", checkpoint: { dir } })).rejects.toThrow(
      `${dir} holds the checkpoints of job "a", not of "b": give this job its own --checkpoint-dir`,
    );
    // Job "a" itself resumes.
    await new DirectRunner().run(p, { jobName: "a", checkpoint: { dir } });
    expect(queue.acked.size).toBe(60);
  });
});
