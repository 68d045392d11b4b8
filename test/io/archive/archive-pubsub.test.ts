import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openArchiveStore } from "../../../io/archive/archive-location.ts";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { provision } from "../../../io/pubsub/provision.ts";
import { PubsubPublisher } from "../../../io/pubsub/pubsub-sink.ts";
import { pubsubSource } from "../../../io/pubsub/pubsub-source.ts";
import { runMedallion } from "../../../pipelines/user-sessions/run.ts";
import { stepMetrics } from "../../../runners/direct/metrics.ts";
import { useEmulator } from "../pubsub/emulator-fixture.ts";
import { checkArchive } from "./archive-reader.ts";

const PROJECT = "tidemark-archive-seen";
const pubsub = useEmulator(PROJECT);
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tidemark-archive-pubsub-"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the archive on Pub/Sub after a crash and a restart later than the seen-id window", () => {
  it("a checkpointed message delivered again after the restart is not written to a second file", async () => {
    await provision(pubsub.client(), {
      prefix: "seen-",
      topics: [{ name: "events", subscriptions: [{ name: "medallion", ackDeadlineSeconds: 10 }] }],
    });
    // Bronze keeps every message, valid or not: plain payloads, each its own message.
    const sent = 300;
    const publisher = new PubsubPublisher({ pubsub: pubsub.client(), topic: "seen-events" });
    for (let i = 0; i < sent; i++) publisher.publish({ data: `message ${i}`, attributes: { n: String(i) } });
    await publisher.flush();

    const dbFile = join(dir, "w.duckdb");
    const checkpointDir = join(dir, "checkpoints");
    const archiveDir = join(dir, "archive");
    // The process's clock, moved on by `offsetMs` (the restart below comes 11 minutes after the crash).
    let offsetMs = 0;
    const source = (signal?: AbortSignal) =>
      pubsubSource({
        pubsub: pubsub.client(),
        subscription: "seen-medallion",
        heartbeatMs: 50,
        maxBundleSize: 50,
        now: () => Date.now() + offsetMs,
        ...(signal === undefined ? {} : { signal }),
      });

    // 1. Killed right after checkpoint 1's archive files are put, before its messages are acknowledged (they are
    // nacked as the run ends, so Pub/Sub delivers them again).
    let db = await DuckDbWarehouse.create(dbFile, { autoCreateUnder: dir });
    await db.open();
    let store = openArchiveStore({ kind: "file", dir: archiveDir });
    let archivedBefore = 0;
    const crash = new Error("crash after checkpoint 1's archive files");
    await expect(
      runMedallion(
        source(),
        db,
        { archive: { store, onFile: (f) => (archivedBefore += f.rows) } },
        {
          checkpointDir,
          checkpointIntervalMs: 0,
          onCommit: (phase, info) => {
            if (phase === "stable-input-written" && info.seq === 1) throw crash;
          },
        },
      ),
    ).rejects.toBe(crash);
    await db.close();
    expect(archivedBefore).toBeGreaterThan(0);
    expect(archivedBefore).toBeLessThan(sent);

    // 2. Restarted 11 minutes later (longer than the 10-minute seen-id window): it resumes from checkpoint 1, puts
    // its files again, and reads on until every message is read once (the Read step's count, restored with the
    // checkpoint, counts each message once).
    offsetMs = 11 * 60_000;
    db = await DuckDbWarehouse.create(dbFile, { autoCreateUnder: dir });
    await db.open();
    store = openArchiveStore({ kind: "file", dir: archiveDir });
    const drain = new AbortController();
    const deadline = Date.now() + 60_000;
    const second = await runMedallion(
      source(drain.signal),
      db,
      { archive: { store } },
      {
        checkpointDir,
        checkpointIntervalMs: 0,
        onStep: (running) => {
          if (stepMetrics(running.metrics(), "Read").elementsOut >= sent || Date.now() > deadline) drain.abort();
        },
      },
    );
    expect(second.resumedFrom).toBe(1);
    await db.close();
    await store.close();

    // The warehouse's Bronze keeps a message's first row: the first run wrote rows after checkpoint 1 that the
    // archive has from their next delivery (a later ingest time, every other column the same).
    const c = await checkArchive(join(archiveDir, "**", "*.parquet"), dbFile, ["ingest_time"]);
    expect(c.duplicates).toBe(0);
    expect(c.rows).toBe(sent);
    expect(c.messageIds).toHaveLength(sent);
    expect(c).toMatchObject({ misplaced: 0, missing: 0, extra: 0, earlierIngest: 0 });
  }, 180_000);

  it("ids restored from a snapshot are kept as long after the restart as they had left when it was taken", () => {
    const t0 = Date.UTC(2026, 11, 8, 0, 0, 0);
    let now = t0;
    const source = pubsubSource({ pubsub: pubsub.client(), subscription: "unused", now: () => now });
    const seen = [
      ["a@1", t0 - 540_000],
      ["b@2", t0 - 1_000],
    ] as const;
    const snapshot = { seen, estimator: { maxSeen: t0, watermark: t0 - 10_000 }, reportedWatermark: t0 - 10_000 };
    type Snap = { seen: [string, number][]; takenAt?: number };
    const restart = (restored: object, at: number) => {
      now = at;
      const reader = source.open(restored);
      return reader.snapshot?.() as Snap;
    };
    // Taken at t0, restarted 11 minutes later: every id moved by those 11 minutes.
    const later = restart({ ...snapshot, takenAt: t0 }, t0 + 660_000);
    expect(later.seen).toEqual(seen.map(([id, at]) => [id, at + 660_000]));
    expect(later.takenAt).toBe(t0 + 660_000);
    // An earlier version's snapshot (no time): the newest id's time stands for it.
    expect(restart(snapshot, t0 + 660_000).seen).toEqual(seen.map(([id, at]) => [id, at + 661_000]));
    // Restarted at once: the ids as they were.
    expect(restart({ ...snapshot, takenAt: t0 }, t0).seen).toEqual(seen.map(([id, at]) => [id, at]));
  });
});
