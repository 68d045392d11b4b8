import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import type { PubSub } from "@google-cloud/pubsub";
import { Storage } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pubsubClient } from "../../../io/pubsub/client.ts";
import { type PubsubEmulator, startPubsubEmulator } from "../../../io/pubsub/emulator.ts";
import { provision } from "../../../io/pubsub/provision.ts";
import { PubsubPublisher, publishAtRate } from "../../../io/pubsub/pubsub-sink.ts";
import { checkArchive as checkArchiveOptions } from "../../../pipelines/user-sessions/archive-options.ts";
import { generateMessages } from "../../../pipelines/user-sessions/generate.ts";
import { parseJobOptions } from "../../../pipelines/user-sessions/job-options.ts";
import { checkArchive, fixtureMessageIds } from "../../io/archive/archive-reader.ts";
import { useFakeGcs } from "../../runners/dataflow/fake-gcs-fixture.ts";

const FIXTURE = "test/fixtures/events-small.jsonl";
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tidemark-archive-cli-"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Exit {
  readonly code: number | null;
  readonly signal: string | null;
  readonly out: string;
}

/** The command line as a child process (environment `env` added), its output and its exit. */
function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, ["--import", "tsx", "pipelines/user-sessions/cli.ts", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exit = new Promise<Exit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal, out })));
  return { child, exit };
}

function filesUnder(d: string): string[] {
  return (readdirSync(d, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((e) => e.isFile() && e.name.endsWith(".parquet"))
    .map((e) => relative(d, join(e.parentPath, e.name)))
    .sort();
}

describe("--archive's options", () => {
  const check =
    (...argv: string[]) =>
    () =>
      checkArchiveOptions(parseJobOptions(argv, {}).options);
  it("takes file:// and gs:// with --checkpoint-dir on the direct runner; refuses the rest with the reason", () => {
    expect(check("--archive=gs://b-1/p", "--checkpoint-dir=/tmp/c", "--gcs-endpoint=http://127.0.0.1:1")()).toEqual({
      kind: "gcs",
      bucket: "b-1",
      prefix: "p",
    });
    expect(check()()).toBeUndefined();
    expect(check("--archive=file:///a")).toThrow(
      "--archive needs --checkpoint-dir=DIR: its files are written exactly once per message from checkpointed batches",
    );
    expect(check("--archive=/a", "--checkpoint-dir=/tmp/c")).toThrow(
      "--archive must be file://DIR or gs://BUCKET/PREFIX",
    );
    expect(check("--gcs-endpoint=http://x")).toThrow("--gcs-endpoint applies to --archive=gs://BUCKET/PREFIX");
    expect(check("--archive=file:///a", "--checkpoint-dir=/tmp/c", "--gcs-endpoint=http://x")).toThrow(
      "--gcs-endpoint applies to --archive=gs://BUCKET/PREFIX, not file:///a",
    );
    expect(check("--archive=file:///a", "--runner=prism")).toThrow("--archive applies to --runner=direct");
  });

  it("the command line refuses --archive without --checkpoint-dir before it reads anything", async () => {
    const db = join(dir, "refused.duckdb");
    const r = await cli([`--warehouse=duckdb:${db}`, `--archive=file://${join(dir, "refused")}`]).exit;
    expect(r.code).toBe(1);
    expect(r.out).toContain("--archive needs --checkpoint-dir=DIR");
    expect(readdirSync(dir)).not.toContain("refused");
  }, 60_000);
});

describe("npm run pipeline -- --archive=gs://... on fake-gcs-server (STORAGE_EMULATOR_HOST)", () => {
  const gcs = useFakeGcs();

  it("puts the fixture's Bronze in objects that DuckDB reads back as Bronze, each message once", async () => {
    const storage = new Storage({ apiEndpoint: gcs().endpoint, projectId: "test" });
    await storage.createBucket("cli-archive");
    const db = join(dir, "gcs.duckdb");
    const r = await cli(
      [
        `--warehouse=duckdb:${db}`,
        "--archive=gs://cli-archive/bronze",
        `--checkpoint-dir=${join(dir, "gcs-checkpoints")}`,
      ],
      // The convention @google-cloud/storage 7.x reads itself (no --gcs-endpoint given).
      { STORAGE_EMULATOR_HOST: gcs().endpoint },
    ).exit;
    expect(r.code, r.out).toBe(0);
    const [objects] = await storage.bucket("cli-archive").getFiles({ prefix: "bronze/" });
    const ids = fixtureMessageIds(FIXTURE);
    expect(r.out).toContain(
      `archive: ${ids.length} Bronze rows in ${objects.length} files under gs://cli-archive/bronze`,
    );
    const local = join(dir, "gcs-download");
    for (const o of objects) {
      const target = join(local, ...o.name.split("/"));
      mkdirSync(dirname(target), { recursive: true });
      await o.download({ destination: target });
    }
    const c = await checkArchive(join(local, "bronze", "**", "*.parquet"), db);
    expect(c.rows).toBe(ids.length);
    expect(c.messageIds).toEqual([...new Set(ids)].sort());
    expect(c).toMatchObject({ duplicates: 0, misplaced: 0, missing: 0, extra: 0 });
  }, 90_000);
});

describe("npm run pipeline -- --archive=gs://... to a bucket that does not exist (fake-gcs-server)", () => {
  const gcs = useFakeGcs();

  it("is refused before anything is read, naming the bucket (no checkpoint written)", async () => {
    const db = join(dir, "no-bucket.duckdb");
    const checkpoints = join(dir, "no-bucket-checkpoints");
    const r = await cli([
      `--warehouse=duckdb:${db}`,
      "--archive=gs://no-such-bucket/bronze",
      `--gcs-endpoint=${gcs().endpoint}`,
      `--checkpoint-dir=${checkpoints}`,
    ]).exit;
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain(
      `--archive=gs://no-such-bucket/bronze: the bucket no-such-bucket does not exist (at ${gcs().endpoint})`,
    );
    expect(existsSync(checkpoints) ? readdirSync(checkpoints) : []).toEqual([]);
  }, 60_000);
});

describe("the archive on Pub/Sub (official emulator), killed with SIGKILL at commit phases and restarted", () => {
  const PROJECT = "tidemark-archive";
  let emulator: PubsubEmulator;
  let pubsub: PubSub;
  beforeAll(async () => {
    emulator = await startPubsubEmulator();
    pubsub = pubsubClient(PROJECT, emulator.endpoint);
  }, 120_000);
  afterAll(async () => {
    await pubsub?.close();
    await emulator?.stop();
  });

  it("holds each published message exactly once, equal to Bronze, whatever phase each run died at", async () => {
    await provision(pubsub, {
      prefix: "arc-",
      topics: [{ name: "events", subscriptions: [{ name: "medallion", ackDeadlineSeconds: 10 }] }],
    });
    const messages = generateMessages({ users: 12, seed: 17, startMs: Date.now() }).map(({ message }) => ({
      data: message.data,
      attributes: message.attributes,
    }));
    // Published at 60 a second while the runs come and go, so that every run reaches its second commit.
    const publishing = publishAtRate(new PubsubPublisher({ pubsub, topic: "arc-events" }), messages, 60);
    const db = join(dir, "pubsub.duckdb");
    const archiveDir = join(dir, "pubsub-archive");
    const args = (extra: readonly string[]) => [
      `--input=pubsub://projects/${PROJECT}/subscriptions/arc-medallion`,
      `--pubsub-endpoint=${emulator.endpoint}`,
      `--warehouse=duckdb:${db}`,
      `--archive=file://${archiveDir}`,
      `--checkpoint-dir=${join(dir, "pubsub-checkpoints")}`,
      "--checkpoint-seconds=1",
      "--lease-seconds=10",
      ...extra,
    ];
    // After a commit's writes and before its checkpoint (what was read since the last checkpoint is read again:
    // the archive must not have written it yet); between the checkpoint and the archive's files (the files of a
    // durable checkpoint not yet written); after the files, before the acknowledgement (the same files written again
    // on resume); 0-19 ms into a commit's writes, and into its acknowledgement.
    for (const at of [
      "writes-done:2",
      "checkpoint-written:2",
      "stable-input-written:2",
      "writes-started+:2",
      "finalized+:2",
    ]) {
      const kill = [`--kill-at=${at}`, ...(at.includes("+") ? ["--kill-seed=7"] : [])];
      const r = await cli(args(["--stop-when-idle=60", ...kill])).exit;
      expect(r.signal, `${at}\n${r.out}`).toBe("SIGKILL");
    }
    const published = await publishing;
    expect(published).toBe(messages.length);
    const last = await cli(args(["--stop-when-idle=20", `--max-messages=${published}`])).exit;
    expect(last.code, last.out).toBe(0);
    expect(filesUnder(archiveDir).length).toBeGreaterThan(0);
    // Bronze in the warehouse keeps a message's first row (ignored on its key when written again), and a run killed
    // after its writes but before its checkpoint wrote some: their messages came again, with a later ingest time,
    // and only that delivery (in a durable checkpoint) reached the archive. Every other column is the same.
    const c = await checkArchive(join(archiveDir, "**", "*.parquet"), db, ["ingest_time"]);
    expect(c.rows, last.out).toBe(published);
    expect(c.messageIds).toHaveLength(published);
    expect(c).toMatchObject({ duplicates: 0, misplaced: 0, missing: 0, extra: 0, earlierIngest: 0 });
  }, 300_000);
});
