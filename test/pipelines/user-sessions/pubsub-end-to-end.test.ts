import type { PubSub } from "@google-cloud/pubsub";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pubsubClient } from "../../../io/pubsub/client.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { type PubsubEmulator, startPubsubEmulator } from "../../../io/pubsub/emulator.ts";
import { provision } from "../../../io/pubsub/provision.ts";
import { PubsubPublisher, publishAtRate } from "../../../io/pubsub/pubsub-sink.ts";
import { pubsubSource } from "../../../io/pubsub/pubsub-source.ts";
import { generateMessages } from "../../../pipelines/user-sessions/generate.ts";
import { CheckpointStore } from "../../../runners/direct/checkpoint-store.ts";
import type { ExecutionSnapshot } from "../../../runners/direct/direct-runner.ts";
import { until } from "../../until.ts";
import { REFERENCE_SESSIONS, sessionKey } from "./reference-sessions.ts";

const PROJECT = "tidemark-e2e";
let emulator: PubsubEmulator;
let pubsub: PubSub;
let dir: string;

beforeAll(async () => {
  emulator = await startPubsubEmulator();
  pubsub = pubsubClient(PROJECT, emulator.endpoint);
  dir = mkdtempSync(join(tmpdir(), "tidemark-e2e-"));
}, 120_000);

afterAll(async () => {
  await pubsub?.close();
  await emulator?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A topic and its subscription, with a short ack deadline so messages of a killed reader come back soon. */
async function setUp(prefix: string): Promise<{ topic: string; subscription: string }> {
  await provision(pubsub, {
    prefix,
    topics: [{ name: "events", subscriptions: [{ name: "medallion", ackDeadlineSeconds: 10 }] }],
  });
  return { topic: `${prefix}events`, subscription: `${prefix}medallion` };
}

/** Event times start now, so nothing is behind the wall-clock watermark: no session is cut off as too late. */
async function publish(
  topic: string,
  users: number,
  seed: number,
  startMs = Date.now(),
  ratePerSec?: number,
): Promise<number> {
  const publisher = new PubsubPublisher({ pubsub, topic });
  const messages = generateMessages({ users, seed, startMs }).map(({ message }) => ({
    data: message.data,
    attributes: message.attributes,
  }));
  return publishAtRate(publisher, messages, ratePerSec);
}

/** The generator's ground truth for `publish(topic, users, seed, startMs)`: the distinct events it published. */
function eventsOf(users: number, seed: number, startMs: number): number {
  return generateMessages({ users, seed, startMs }).filter((m) => m.origin.kind === "event").length;
}

/**
 * The kill moments' random numbers: seeded (TIDEMARK_SEED, else the clock), the seed printed with every failure, so
 * a failing run is replayed with its seed.
 */
const SEED = Number(process.env.TIDEMARK_SEED ?? Date.now() % 1_000_000);
let seedState = SEED >>> 0 || 1;
function seeded(): number {
  seedState = (Math.imul(seedState, 1_664_525) + 1_013_904_223) >>> 0;
  return seedState / 2 ** 32;
}

/** The pipeline's command line on the subscription, as a child process. */
function pipeline(subscription: string, db: string, idleSeconds: number, extra: readonly string[] = []): ChildProcess {
  return spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "pipelines/user-sessions/cli.ts",
      `--input=pubsub://projects/${PROJECT}/subscriptions/${subscription}`,
      `--pubsub-endpoint=${emulator.endpoint}`,
      `--warehouse=duckdb:${db}`,
      `--stop-when-idle=${idleSeconds}`,
      "--lease-seconds=10",
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
}

interface Exit {
  readonly code: number | null;
  readonly signal: string | null;
  readonly out: string;
}

/** A child's output (stdout and stderr) as it comes, and its exit. */
function watch(child: ChildProcess): { output(): string; readonly exit: Promise<Exit> } {
  let out = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exit = new Promise<Exit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal, out })));
  return { output: () => out, exit };
}

function finished(child: ChildProcess): Promise<Exit> {
  return watch(child).exit;
}

function checkpointFiles(d: string): string[] {
  return existsSync(d) ? readdirSync(d) : [];
}

/** The messages the newest checkpoint in `d` covers (its Read step's count, as the runner restores it), or 0. */
function checkpointedReads(d: string): number {
  if (!existsSync(d)) return 0;
  const latest = new CheckpointStore<{ readonly runner: ExecutionSnapshot }>(d).latest();
  return latest?.state.runner.sources[0]?.elementsOut ?? 0;
}

async function tables(db: string) {
  const w = await DuckDbWarehouse.create(db, { autoCreateUnder: dir });
  try {
    return {
      bronze: (await w.query("SELECT payload FROM bronze_messages ORDER BY payload")).map((r) => r.payload),
      silver: (await w.query("SELECT event_id FROM silver_events ORDER BY event_id")).map((r) => r.event_id),
      gold: (await w.query("SELECT * FROM gold_sessions")).map(sessionKey).sort(),
      reference: (await w.query(REFERENCE_SESSIONS)).map(sessionKey).sort(),
      dupBronze: (await w.query("SELECT count(*) - count(DISTINCT message_id) AS n FROM bronze_messages"))[0]?.n,
    };
  } finally {
    await w.close();
  }
}

/**
 * The crashed job's tables equal the uninterrupted one's: Bronze payloads (message ids differ between the two topics)
 * and Silver event ids (nothing lost, nothing twice), and Gold sessions. `out` is the last run's output, for failures.
 */
async function expectSameTables(
  plainDb: string,
  crashDb: string,
  truth: { readonly published: number; readonly events: number },
  out: string,
  minGold: number,
) {
  const story = `seed ${SEED} (TIDEMARK_SEED=${SEED} replays it)\n${out.split("\n").slice(0, 5).join("\n")}`;
  const a = await tables(plainDb);
  const b = await tables(crashDb);
  expect(a.bronze).toHaveLength(truth.published);
  expect(a.silver).toHaveLength(truth.events);
  expect(b.bronze, story).toEqual(a.bronze);
  expect(b.dupBronze).toBe(0);
  expect(b.silver, story).toEqual(a.silver);
  expect(b.gold.length).toBeGreaterThan(minGold);
  expect(b.gold, story).toEqual(a.gold);
}

describe("the medallion pipeline on Pub/Sub (official emulator)", () => {
  it("reads a subscription into DuckDB, drains when idle, and acknowledges everything it wrote", async () => {
    const { topic, subscription } = await setUp("run-");
    await provision(pubsub, {
      prefix: "run-",
      topics: [{ name: "insights", subscriptions: [{ name: "dashboard", messageOrdering: true }] }],
    });
    const startMs = Date.now();
    const published = await publish(topic, 12, 5, startMs);
    const db = join(dir, "run.duckdb");
    const insightsTopic = `--insights-topic=pubsub://projects/${PROJECT}/topics/run-insights`;
    const result = await finished(pipeline(subscription, db, 3, [insightsTopic]));
    expect(result.code, result.out).toBe(0);
    expect(result.out).toContain(`Pub/Sub messages acknowledged: ${published}`);
    expect(result.out).toContain("too late for Gold (beyond allowed lateness, kept in Bronze and Silver): sessions 0");
    const t = await tables(db);
    expect(t.bronze).toHaveLength(published);
    expect(t.dupBronze).toBe(0);
    // Exactly the generator's distinct events: its re-publications (same event id, new message id) are dropped.
    expect(t.silver).toHaveLength(eventsOf(12, 5, startMs));
    expect(t.gold.length).toBeGreaterThan(20);
    expect(t.gold).toEqual(t.reference);
    // The dashboard feed: the last change published per session is the Gold row (merged-away sessions deleted).
    // Read until every message the run published has come (its count is in the run's summary; re-deliveries counted
    // once), with a deadline.
    const feedCount = /session insights feed: (\d+) published to projects\/tidemark-e2e\/topics\/run-insights/.exec(
      result.out,
    );
    expect(feedCount, result.out).not.toBeNull();
    const expectedInsights = Number(feedCount?.[1]);
    expect(expectedInsights).toBeGreaterThanOrEqual(t.gold.length);
    const last = new Map<string, Record<string, unknown> | null>();
    const seen = new Set<string>();
    const feed = pubsubSource({ pubsub, subscription: "run-dashboard", heartbeatMs: 100 }).open();
    const deadline = Date.now() + 60_000;
    while (seen.size < expectedInsights) {
      if (Date.now() > deadline) {
        throw new Error(`the dashboard feed: ${seen.size} of its ${expectedInsights} messages within 60 s`);
      }
      const ev = await feed.next();
      for (const m of ev?.kind === "elements" ? ev.values : []) {
        if (seen.has(m.messageId)) continue;
        seen.add(m.messageId);
        const insight = JSON.parse(m.data) as { kind: string; session_id?: string; session?: Record<string, unknown> };
        if (insight.kind === "delete") last.set(insight.session_id as string, null);
        else last.set(insight.session?.session_id as string, insight.session as Record<string, unknown>);
      }
    }
    expect(seen.size).toBe(expectedInsights);
    await feed.checkpointMark?.().finalize();
    await feed.close?.();
    const live = [...last.values()].filter((r): r is Record<string, unknown> => r !== null);
    expect(live.map(sessionKey).sort()).toEqual(t.gold);
    expect(live.every((r) => r.is_final === true)).toBe(true);
    // Nothing is left to deliver: a second run reads nothing and writes nothing new.
    const again = await finished(pipeline(subscription, db, 2));
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain("0 messages in");
  }, 120_000);

  it("killed with SIGKILL at random points while messages stream in, restarted each time from its checkpoint, it ends with the Bronze, Silver and Gold of an uninterrupted run", async () => {
    const plain = await setUp("plain-");
    const crash = await setUp("crash-");
    const startMs = Date.now();
    const users = 30;
    const publishedPlain = await publish(plain.topic, users, 9, startMs);
    const plainDb = join(dir, "plain.duckdb");
    expect((await finished(pipeline(plain.subscription, plainDb, 60, [`--max-messages=${publishedPlain}`]))).code).toBe(
      0,
    );

    // The same messages stream into the crash topic at 60 a second (about 26 s) while the pipeline is killed and
    // restarted: each run checkpoints first after 5 s, so the three kills fall within about 20 s.
    const publishing = publish(crash.topic, users, 9, startMs, 60);
    let published = false;
    void publishing.then(() => {
      published = true;
    });
    /** Kills that fell while messages were still being published. */
    let midStream = 0;
    const crashDb = join(dir, "crash.duckdb");
    const checkpointDir = join(dir, "crash-checkpoints");
    const checkpoints = [`--checkpoint-dir=${checkpointDir}`];
    const kills = 3;
    for (let k = 0; k < kills; k++) {
      const before = checkpointFiles(checkpointDir);
      const child = pipeline(crash.subscription, crashDb, 60, checkpoints);
      const exit = finished(child);
      // Killed at a random point after the run has committed something of its own (a new checkpoint), so each kill
      // falls mid-stream however slow the machine is at starting the child.
      const fresh = () => checkpointFiles(checkpointDir).some((f) => !before.includes(f));
      await until(`kill ${k}: a fresh checkpoint (seed ${SEED})`, fresh, { timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, Math.floor(seeded() * 2_500)));
      if (!published) midStream++;
      child.kill("SIGKILL");
      const killed = await exit;
      expect(killed.signal, killed.out).toBe("SIGKILL");
    }
    const partial = (await tables(crashDb)).bronze.length;
    expect(await publishing).toBe(publishedPlain);
    // The kills fell in the middle of the stream: some of it was written, and a kill came while messages were still
    // being published (on a slow machine the later kills may come after the stream's end, with all of it written).
    expect(partial).toBeGreaterThan(0);
    expect(midStream, `kills while publishing (seed ${SEED})`).toBeGreaterThan(0);
    // Resumed once more, until every message has been read (counted across the resumes, as Beam's withMaxNumRecords
    // does), then drained. Not "until idle": the emulator gives back the messages a killed reader held anywhere from
    // 10 s to a minute after the kill, and a run that drained before one came back would leave it to a fresh job.
    const last = await finished(
      pipeline(crash.subscription, crashDb, 120, [...checkpoints, `--max-messages=${publishedPlain}`]),
    );
    expect(last.code, last.out).toBe(0);
    await expectSameTables(
      plainDb,
      crashDb,
      { published: publishedPlain, events: eventsOf(users, 9, startMs) },
      last.out,
      20,
    );
  }, 300_000);

  it("killed with SIGKILL at each phase of a commit (during a batch write, between the writes and their checkpoint, during finalization), restarted each time: the Bronze, Silver and Gold of an uninterrupted run", async () => {
    const plain = await setUp("phase-plain-");
    const crash = await setUp("phase-crash-");
    const startMs = Date.now();
    const users = 15;
    const published = await publish(plain.topic, users, 11, startMs);
    const plainDb = join(dir, "phase-plain.duckdb");
    expect((await finished(pipeline(plain.subscription, plainDb, 60, [`--max-messages=${published}`]))).code).toBe(0);

    const publishing = publish(crash.topic, users, 11, startMs, 60);
    const crashDb = join(dir, "phase-crash.duckdb");
    const checkpoints = [`--checkpoint-dir=${join(dir, "phase-checkpoints")}`, "--checkpoint-seconds=1"];
    // Each run kills itself (the command line's fault injection) at its second commit: as its writes start (0-19 ms
    // into them), once they are done and before the checkpoint is written, and 0-19 ms after the stable-input
    // writes, while the messages are being acknowledged. The delays come from seeds drawn from SEED (each run
    // prints its seed and delay).
    for (const at of ["writes-started+:2", "writes-done:2", "stable-input-written+:2"]) {
      const kill = [`--kill-at=${at}`, ...(at.includes("+") ? [`--kill-seed=${Math.floor(seeded() * 2 ** 32)}`] : [])];
      const run = await finished(pipeline(crash.subscription, crashDb, 60, [...checkpoints, ...kill]));
      expect(run.signal, `${kill.join(" ")}, seed ${SEED} (TIDEMARK_SEED=${SEED} replays it)\n${run.out}`).toBe(
        "SIGKILL",
      );
    }
    expect(await publishing).toBe(published);
    const last = await finished(
      pipeline(crash.subscription, crashDb, 120, [...checkpoints, `--max-messages=${published}`]),
    );
    expect(last.code, last.out).toBe(0);
    await expectSameTables(plainDb, crashDb, { published, events: eventsOf(users, 11, startMs) }, last.out, 10);
  }, 300_000);

  it("rides out an emulator restart: reconnects once the subscription is back and goes on", async () => {
    const port = emulator.port;
    const { topic, subscription } = await setUp("restart-");
    const startMs = Date.now();
    const total =
      generateMessages({ users: 4, seed: 21, startMs }).length +
      generateMessages({ users: 4, seed: 22, startMs }).length;
    const first = await publish(topic, 4, 21, startMs);
    const db = join(dir, "restart.duckdb");
    const checkpointDir = join(dir, "restart-checkpoints");
    // It drains once it has read both batches (--max-messages); --stop-when-idle only bounds a run that lost some.
    const child = watch(
      pipeline(subscription, db, 60, [
        `--checkpoint-dir=${checkpointDir}`,
        "--checkpoint-seconds=1",
        `--max-messages=${total}`,
      ]),
    );
    // The emulator goes away only once the run has committed the whole first batch (a checkpoint covers it): those
    // messages are in the tables, whatever the restarted emulator (empty) knows.
    await until(`a checkpoint covering the first ${first} messages`, () => checkpointedReads(checkpointDir) >= first, {
      timeoutMs: 60_000,
      state: () => `${checkpointedReads(checkpointDir)} checkpointed\n${child.output()}`,
    });
    // The emulator goes away and comes back empty on the same port; the topology is provisioned again.
    await pubsub.close();
    await emulator.stop();
    emulator = await startPubsubEmulator({ port });
    pubsub = pubsubClient(PROJECT, emulator.endpoint);
    // The pipeline reconnects before the topology is back, and finds its subscription missing (NOT_FOUND): it says
    // so and waits for it rather than failing. Only then is the topology provisioned again.
    await until("the run seeing its subscription gone", () => child.output().includes("the subscription went away"), {
      timeoutMs: 60_000,
      state: child.output,
    });
    await setUp("restart-");
    const second = await publish(topic, 4, 22, startMs);
    expect(first + second).toBe(total);
    const result = await child.exit;
    expect(result.code, result.out).toBe(0);
    expect(result.out).toContain(`${total} messages in`);
    const t = await tables(db);
    expect(t.bronze.length, result.out).toBe(total);
    expect(result.out).toMatch(/[1-9]\d* reconnects after the subscription went away/);
  }, 180_000);
});
