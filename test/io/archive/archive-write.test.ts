import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { Storage } from "@google-cloud/storage";
import { afterEach, describe, expect, it } from "vitest";
import { type ArchiveStore, openArchiveStore, parseArchiveLocation } from "../../../io/archive/archive-location.ts";
import { archiveWrite, hourPartition, partitionByHour, UNKNOWN_PARTITION } from "../../../io/archive/archive-write.ts";
import { DuckDBInstance } from "@duckdb/node-api";
import { parseOptions } from "../../../core/options.ts";
import { Pipeline } from "../../../core/pipeline.ts";
import { userSessions } from "../../../pipelines/user-sessions/pipeline.ts";
import { writeMedallion } from "../../../pipelines/user-sessions/sinks.ts";
import { RUNNER_OPTIONS, runnerNamed } from "../../../runners/runner.ts";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import type { MedallionArchive } from "../../../pipelines/user-sessions/pipeline.ts";
import { runMedallion } from "../../../pipelines/user-sessions/run.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import { BRONZE, SILVER } from "../../../schemas/tables.ts";
import { useFakeGcs } from "../../runners/dataflow/fake-gcs-fixture.ts";
import { checkArchive, fixtureMessageIds } from "./archive-reader.ts";

const FIXTURE = "test/fixtures/events-small.jsonl";
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Every file under `dir` (relative, `/`-separated), sorted. */
function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split("\\").join("/"))
    .sort();
}

/** Runs the medallion on the fixture into a DuckDB file with an archive and checkpoints; `onStep` may crash it. */
function run(
  db: DuckDbWarehouse,
  archive: MedallionArchive,
  checkpointDir: string,
  onStep?: (running: { commitStats(): { checkpoints: number } }, index: number) => void,
) {
  return runMedallion(
    fixtureFileSource<RawMessage>(FIXTURE),
    db,
    { archive },
    {
      flushRows: 100,
      checkpointDir,
      // A checkpoint after every step: many small checkpointed batches, so many files per hour.
      checkpointIntervalMs: 0,
      ...(onStep === undefined ? {} : { onStep }),
    },
  );
}

describe("hourPartition and partitionByHour", () => {
  it("puts a time in its UTC hour, as Date's UTC fields give it", () => {
    for (const ms of [0, 1_767_621_599_999, 1_767_621_600_000, Date.UTC(2026, 11, 31, 23, 59, 59, 999), -1]) {
      const d = new Date(ms);
      const day = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}-${String(d.getUTCDate()).padStart(2, "0")}`;
      expect(hourPartition(ms)).toBe(`dt=${day}/hour=${String(d.getUTCHours()).padStart(2, "0")}`);
    }
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, null, undefined, "1767621600000", 9e15]) {
      expect(hourPartition(bad)).toBe(UNKNOWN_PARTITION);
    }
  });

  it("names an hour's rows by their keys alone: the same set in any order, the same name; another set, another", () => {
    const row = (id: string, t: number, payload = "x") => ({ message_id: id, publish_time: t, payload });
    const h13 = Date.UTC(2026, 0, 1, 13, 5);
    const h14 = Date.UTC(2026, 0, 1, 14, 0);
    const a = [row("1", h13), row("2", h14), row("3", h13 + 1)];
    const parts = partitionByHour(a, BRONZE, "publish_time");
    expect([...parts.keys()]).toEqual(["dt=2026-01-01/hour=13", "dt=2026-01-01/hour=14"]);
    const reversed = partitionByHour([...a].reverse(), BRONZE, "publish_time");
    expect(reversed.get("dt=2026-01-01/hour=13")?.hash).toBe(parts.get("dt=2026-01-01/hour=13")?.hash);
    // Rows in key order, whatever the input's.
    expect(reversed.get("dt=2026-01-01/hour=13")?.rows.map((r) => r.message_id)).toEqual(["1", "3"]);
    expect(parts.get("dt=2026-01-01/hour=13")?.hash).toMatch(/^[0-9a-f]{32}$/);
    const other = partitionByHour([row("1", h13)], BRONZE, "publish_time");
    expect(other.get("dt=2026-01-01/hour=13")?.hash).not.toBe(parts.get("dt=2026-01-01/hour=13")?.hash);
    // The key is (message_id, publish_time): a repeat is kept once (the first); the same id at another time is another.
    const repeated = partitionByHour(
      [row("1", h13, "first"), row("1", h13, "again"), row("1", h13 + 1)],
      BRONZE,
      "publish_time",
    );
    expect(repeated.get("dt=2026-01-01/hour=13")?.rows.map((r) => r.payload)).toEqual(["first", "x"]);
  });
});

describe("parseArchiveLocation", () => {
  it("reads file:// and gs:// locations, and refuses others naming the forms", () => {
    expect(parseArchiveLocation("file:///var/archive")).toEqual({ kind: "file", dir: "/var/archive" });
    expect(parseArchiveLocation("gs://my-bucket/bronze/v1/")).toEqual({
      kind: "gcs",
      bucket: "my-bucket",
      prefix: "bronze/v1",
    });
    expect(parseArchiveLocation("gs://my-bucket")).toEqual({ kind: "gcs", bucket: "my-bucket", prefix: "" });
    for (const bad of ["data/archive", "s3://b/p", "gs://", "gs://UPPER/p", "file://"]) {
      expect(() => parseArchiveLocation(bad)).toThrow(/--archive/);
    }
    expect(() => parseArchiveLocation("gs://b-1//p")).toThrow("empty path segment");
  });

  it("creates a local archive folder whose parent exists, or under ./data; refuses one whose parent is missing", () => {
    const dir = tempDir("tidemark-archive-dirs-");
    const store = openArchiveStore({ kind: "file", dir: join(dir, "archive") });
    expect(filesUnder(dir)).toEqual([]);
    expect(readdirSync(dir)).toEqual(["archive"]);
    const deep = join(dir, "typo", "archive");
    expect(() => openArchiveStore({ kind: "file", dir: deep })).toThrow(
      `cannot open the archive at file://${deep}: its parent folder ${join(dir, "typo")} does not exist`,
    );
    openArchiveStore({ kind: "file", dir: join(dir, "data", "a", "b") }, { autoCreateUnder: join(dir, "data") });
    expect(readdirSync(join(dir, "data", "a"))).toEqual(["b"]);
    writeFileSync(join(dir, "file"), "");
    expect(() => openArchiveStore({ kind: "file", dir: join(dir, "file") })).toThrow("not a folder");
    return store.close();
  });
});

describe("two jobs writing one local archive folder (each tenant's worker, say)", () => {
  it("one ending (its store closed) leaves the other's file being written in place", async () => {
    const dir = join(tempDir("tidemark-archive-two-"), "archive");
    const a = openArchiveStore({ kind: "file", dir });
    const b = openArchiveStore({ kind: "file", dir });
    const scratch = join(b.scratchDir, "b.parquet.tmp");
    writeFileSync(scratch, "b's bytes");
    await a.close();
    await b.put("dt=2026-01-05/hour=06/part-b.parquet", scratch);
    await b.close();
    expect(filesUnder(dir)).toEqual(["dt=2026-01-05/hour=06/part-b.parquet"]);
  });
});

describe("the medallion's archive copy of Bronze (file://)", () => {
  it("holds every Bronze row once, column for column, each in its publish hour's partition, as DuckDB reads it", async () => {
    const dir = tempDir("tidemark-archive-");
    const dbFile = join(dir, "w.duckdb");
    const db = await DuckDbWarehouse.create(dbFile, { autoCreateUnder: dir });
    await db.open();
    const store = openArchiveStore({ kind: "file", dir: join(dir, "archive") });
    const put: string[] = [];
    const result = await run(db, { store, onFile: (f) => put.push(f.path) }, join(dir, "checkpoints"));
    await db.close();
    await store.close();
    expect(result.checkpoints).toBeGreaterThan(3);
    const files = filesUnder(join(dir, "archive"));
    // The step's metrics: the rows and files it put (labelled with its sink's name).
    const counter = (name: string) =>
      result.metrics.user
        .filter((m) => m.step === "ArchiveBronze" && m.name === name && m.labels.sink === "bronze_archive")
        .reduce((n, m) => n + (m.kind === "counter" ? m.value : 0), 0);
    expect(counter("sink_rows_written")).toBe(fixtureMessageIds(FIXTURE).length);
    expect(counter("archive_files_written")).toBe(files.length);
    // Only the files put (no scratch left), named dt=/hour=/part-HASH.parquet; more files than hours (many batches).
    expect(files).toEqual([...put].sort());
    for (const f of files) expect(f).toMatch(/^dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/part-[0-9a-f]{32}\.parquet$/);
    const hours = new Set(files.map((f) => dirname(f)));
    expect(files.length).toBeGreaterThan(hours.size);
    const check = await checkArchive(join(dir, "archive", "**", "*.parquet"), dbFile);
    const ids = fixtureMessageIds(FIXTURE);
    expect(check.rows).toBe(ids.length);
    expect(check.messageIds).toEqual([...new Set(ids)].sort());
    expect(check).toMatchObject({ duplicates: 0, misplaced: 0, missing: 0, extra: 0 });
  }, 60_000);

  it("crashed mid-stream and resumed from its checkpoint, it still holds each message exactly once", async () => {
    const dir = tempDir("tidemark-archive-crash-");
    const dbFile = join(dir, "w.duckdb");
    const checkpoints = join(dir, "checkpoints");
    const archiveDir = join(dir, "archive");
    let db = await DuckDbWarehouse.create(dbFile, { autoCreateUnder: dir });
    await db.open();
    let store = openArchiveStore({ kind: "file", dir: archiveDir });
    // Leftovers of a write cut short (a scratch file) must not be read as archive files.
    writeFileSync(join(archiveDir, ".tidemark-tmp", "leftover.parquet.tmp"), "partial");
    const crash = new Error("crash");
    await expect(
      run(db, { store }, checkpoints, (running, index) => {
        if (index >= 400 && running.commitStats().checkpoints > 2) throw crash;
      }),
    ).rejects.toBe(crash);
    await db.close();
    const before = filesUnder(archiveDir).filter((f) => f.endsWith(".parquet"));
    expect(before.length).toBeGreaterThan(0);
    db = await DuckDbWarehouse.create(dbFile, { autoCreateUnder: dir });
    await db.open();
    store = openArchiveStore({ kind: "file", dir: archiveDir });
    const second = await run(db, { store }, checkpoints);
    expect(second.resumedFrom).toBeGreaterThan(0);
    await db.close();
    await store.close();
    const after = filesUnder(archiveDir);
    // The files written before the crash are still there, under their names (a replayed batch replaced its own).
    expect(after).toEqual(expect.arrayContaining(before));
    const check = await checkArchive(join(archiveDir, "**", "*.parquet"), dbFile);
    const ids = fixtureMessageIds(FIXTURE);
    expect(check.rows).toBe(ids.length);
    expect(check.messageIds).toEqual([...new Set(ids)].sort());
    expect(check).toMatchObject({ duplicates: 0, misplaced: 0, missing: 0, extra: 0 });
  }, 60_000);
});

describe("archiveWrite on another table (any pipeline's sink)", () => {
  it("archives Silver by event time, keyed by (tenant_id, event_id): each Silver row once, in its event hour", async () => {
    const dir = tempDir("tidemark-archive-silver-");
    const dbFile = join(dir, "w.duckdb");
    const db = await DuckDbWarehouse.create(dbFile, { autoCreateUnder: dir });
    await db.open();
    const store = openArchiveStore({ kind: "file", dir: join(dir, "silver") });
    const p = Pipeline.create();
    const tables = userSessions(p, fixtureFileSource<RawMessage>(FIXTURE));
    writeMedallion(tables, db, { batchRows: 100 });
    tables.silver.apply(archiveWrite({ table: SILVER, store, timeColumn: "event_time" }), "ArchiveSilver");
    const options = parseOptions(RUNNER_OPTIONS, [`--checkpoint-dir=${join(dir, "checkpoints")}`]).options;
    await runnerNamed("direct")
      .start(p, { ...options, checkpointSeconds: 0 }, {})
      .waitUntilFinish();
    await db.close();
    await store.close();
    const instance = await DuckDBInstance.create(":memory:");
    const con = await instance.connect();
    try {
      await con.run("SET TimeZone = 'UTC'");
      await con.run(`ATTACH '${dbFile}' AS w (READ_ONLY)`);
      const files = `read_parquet('${join(dir, "silver")}/**/*.parquet', hive_partitioning = true)`;
      const one = async (sql: string) => Number((await con.runAndReadAll(sql)).getRowObjectsJson()[0]?.n);
      const cols = "tenant_id, event_id, epoch_us(event_time) AS t, user_id, event_type, amount, properties::VARCHAR";
      const silverRows = await one("SELECT count(*) AS n FROM w.silver_events");
      expect(silverRows).toBeGreaterThan(1000);
      expect(await one(`SELECT count(*) AS n FROM ${files}`)).toBe(silverRows);
      expect(
        await one(
          `SELECT count(*) AS n FROM (SELECT ${cols} FROM w.silver_events EXCEPT ALL SELECT ${cols} FROM ${files})`,
        ),
      ).toBe(0);
      expect(
        await one(
          `SELECT count(*) AS n FROM ${files} WHERE dt::VARCHAR <> strftime(event_time, '%Y-%m-%d') ` +
            "OR lpad(hour::VARCHAR, 2, '0') <> strftime(event_time, '%H')",
        ),
      ).toBe(0);
    } finally {
      con.closeSync();
      instance.closeSync();
    }
  }, 60_000);
});

/**
 * Runs the fixture with `archive`, stopped right after checkpoint 3's archive files are put (before the messages are
 * acknowledged), then resumed: returns the files checkpoint 3 put, those the resumed run put (in order), and the run's
 * warehouse file.
 */
async function crashAfterFilesAndResume(
  dir: string,
  openStore: () => ArchiveStore,
): Promise<{ readonly replayed: string[]; readonly again: string[]; readonly dbFile: string }> {
  const dbFile = join(dir, "w.duckdb");
  const checkpoints = join(dir, "checkpoints");
  let db = await DuckDbWarehouse.create(dbFile, { autoCreateUnder: dir });
  await db.open();
  let store = openStore();
  // The files each commit's stable input put, by commit.
  const putIn = new Map<number, string[]>();
  let commit = 0;
  const crash = new Error("crash after commit 3's archive files");
  const first = runMedallion(
    fixtureFileSource<RawMessage>(FIXTURE),
    db,
    { archive: { store, onFile: (f) => putIn.set(commit, [...(putIn.get(commit) ?? []), f.path]) } },
    {
      flushRows: 100,
      checkpointDir: checkpoints,
      checkpointIntervalMs: 0,
      onCommit: (phase, info) => {
        if (phase === "checkpoint-written") commit = info.seq;
        // Checkpoint 3 is durable and its rows' files are written; the messages are not yet acknowledged.
        if (phase === "stable-input-written" && info.seq === 3) throw crash;
      },
    },
  );
  await expect(first).rejects.toBe(crash);
  await db.close();
  db = await DuckDbWarehouse.create(dbFile, { autoCreateUnder: dir });
  await db.open();
  store = openStore();
  const again: string[] = [];
  const second = runMedallion(
    fixtureFileSource<RawMessage>(FIXTURE),
    db,
    { archive: { store, onFile: (f) => again.push(f.path) } },
    { flushRows: 100, checkpointDir: checkpoints, checkpointIntervalMs: 0 },
  );
  expect((await second).resumedFrom).toBe(3);
  await db.close();
  await store.close();
  return { replayed: [...(putIn.get(3) ?? [])].sort(), again, dbFile };
}

describe("the archive after a crash between a batch's files and its acknowledgement", () => {
  it("the resumed run puts the replayed batch's files again under the same names, and no message is in two files", async () => {
    const dir = tempDir("tidemark-archive-replay-");
    const archiveDir = join(dir, "archive");
    const { replayed, again, dbFile } = await crashAfterFilesAndResume(dir, () =>
      openArchiveStore({ kind: "file", dir: archiveDir }),
    );
    expect(replayed.length).toBeGreaterThan(0);
    // The resumed run starts by handing checkpoint 3's rows to the archive again: the same files, by name.
    expect(again.slice(0, replayed.length).sort()).toEqual(replayed);
    expect(filesUnder(archiveDir)).toEqual(expect.arrayContaining(replayed));
    const check = await checkArchive(join(archiveDir, "**", "*.parquet"), dbFile);
    const ids = fixtureMessageIds(FIXTURE);
    expect(check.rows).toBe(ids.length);
    expect(check.messageIds).toEqual([...new Set(ids)].sort());
    expect(check).toMatchObject({ duplicates: 0, misplaced: 0, missing: 0, extra: 0 });
  }, 60_000);
});

describe("the medallion's archive copy of Bronze (gs://, on fake-gcs-server)", () => {
  const gcs = useFakeGcs();

  it("a put of a name that exists leaves the object as it is (a replay's or a retry's): no overwrite, no error", async () => {
    const dir = tempDir("tidemark-archive-gcs-once-");
    const storage = new Storage({ apiEndpoint: gcs().endpoint, projectId: "test" });
    await storage.createBucket("archive-once");
    const store = openArchiveStore(parseArchiveLocation("gs://archive-once/p"), {
      gcsEndpoint: gcs().endpoint,
      scratchDir: join(dir, "scratch"),
    });
    const local = join(dir, "part.parquet");
    writeFileSync(local, "first");
    await store.put("dt=2026-01-01/hour=00/part-a.parquet", local);
    const file = storage.bucket("archive-once").file("p/dt=2026-01-01/hour=00/part-a.parquet");
    const [before] = await file.getMetadata();
    writeFileSync(local, "second");
    await store.put("dt=2026-01-01/hour=00/part-a.parquet", local);
    const [after] = await file.getMetadata();
    expect(after.generation).toBe(before.generation);
    expect((await file.download())[0].toString()).toBe("first");
    await store.close();
  });

  it("puts the same files as objects under the prefix; downloaded, DuckDB reads every Bronze row once", async () => {
    const dir = tempDir("tidemark-archive-gcs-");
    const dbFile = join(dir, "w.duckdb");
    const storage = new Storage({ apiEndpoint: gcs().endpoint, projectId: "test" });
    await storage.createBucket("archive-bucket");
    const db = await DuckDbWarehouse.create(dbFile, { autoCreateUnder: dir });
    await db.open();
    const store = openArchiveStore(parseArchiveLocation("gs://archive-bucket/tidemark/bronze"), {
      gcsEndpoint: gcs().endpoint,
      scratchDir: join(dir, "scratch"),
    });
    const put: string[] = [];
    await run(db, { store, onFile: (f) => put.push(f.path) }, join(dir, "checkpoints"));
    await db.close();
    await store.close();
    const [objects] = await storage.bucket("archive-bucket").getFiles();
    const names = objects.map((o) => o.name).sort();
    expect(names).toEqual(put.map((p) => `tidemark/bronze/${p}`).sort());
    const local = join(dir, "downloaded");
    for (const o of objects) {
      const target = join(local, ...o.name.split("/"));
      mkdirSync(dirname(target), { recursive: true });
      await o.download({ destination: target });
    }
    const check = await checkArchive(join(local, "tidemark", "bronze", "**", "*.parquet"), dbFile);
    const ids = fixtureMessageIds(FIXTURE);
    expect(check.rows).toBe(ids.length);
    expect(check.messageIds).toEqual([...new Set(ids)].sort());
    expect(check).toMatchObject({ duplicates: 0, misplaced: 0, missing: 0, extra: 0 });
  }, 90_000);

  it("after a crash between a batch's objects and its acknowledgement, the resumed run replaces the same objects", async () => {
    const dir = tempDir("tidemark-archive-gcs-replay-");
    const storage = new Storage({ apiEndpoint: gcs().endpoint, projectId: "test" });
    await storage.createBucket("replay-bucket");
    const { replayed, again, dbFile } = await crashAfterFilesAndResume(dir, () =>
      openArchiveStore(parseArchiveLocation("gs://replay-bucket/a"), {
        gcsEndpoint: gcs().endpoint,
        scratchDir: join(dir, "scratch"),
      }),
    );
    expect(replayed.length).toBeGreaterThan(0);
    expect(again.slice(0, replayed.length).sort()).toEqual(replayed);
    const [objects] = await storage.bucket("replay-bucket").getFiles();
    const names = objects.map((o) => o.name);
    expect(names).toEqual(expect.arrayContaining(replayed.map((p) => `a/${p}`)));
    const local = join(dir, "downloaded");
    for (const o of objects) {
      const target = join(local, ...o.name.split("/"));
      mkdirSync(dirname(target), { recursive: true });
      await o.download({ destination: target });
    }
    const check = await checkArchive(join(local, "a", "**", "*.parquet"), dbFile);
    const ids = fixtureMessageIds(FIXTURE);
    expect(check.rows).toBe(ids.length);
    expect(check.messageIds).toEqual([...new Set(ids)].sort());
    expect(check).toMatchObject({ duplicates: 0, misplaced: 0, missing: 0, extra: 0 });
  }, 90_000);
});
