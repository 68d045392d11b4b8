import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const strace = spawnSync("strace", ["-V"]).status === 0;
const dir = mkdtempSync(join(tmpdir(), "tidemark-archive-durable-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The `fsync`s (by the path their descriptor was opened on) and `rename`s of a `strace -f` log of one process, in
 * order.
 */
function syncsAndRenames(log: string): { readonly op: "fsync" | "rename"; readonly path: string }[] {
  // fd -> path: one process, whose threads (libuv's pool: asynchronous opens and fsyncs) share its descriptors.
  const open = new Map<string, string>();
  const out: { op: "fsync" | "rename"; path: string }[] = [];
  // A call another thread interrupted is logged in two parts ("<unfinished ...>", "<... openat resumed>"): joined.
  const unfinished = new Map<string, string>();
  for (const raw of log.split("\n")) {
    const tid = raw.split(" ", 1)[0] as string;
    const cut = / <unfinished \.\.\.>$/.exec(raw);
    if (cut !== null) {
      unfinished.set(tid, raw.slice(0, cut.index));
      continue;
    }
    const resumed = /^\d+\s+<\.\.\. \w+ resumed>(.*)$/.exec(raw);
    const line = resumed === null ? raw : `${unfinished.get(tid) ?? ""}${resumed[1]}`;
    const o = /openat\(AT_FDCWD, "([^"]+)", [^)]*\)\s+= (\d+)$/.exec(line);
    if (o !== null) open.set(o[2] as string, o[1] as string);
    const f = /fsync\((\d+)\)\s+= 0$/.exec(line);
    if (f !== null) out.push({ op: "fsync", path: open.get(f[1] as string) ?? `fd ${f[1]}` });
    const r = /rename\("[^"]+", "([^"]+)"\)\s+= 0$/.exec(line);
    if (r !== null) out.push({ op: "rename", path: r[1] as string });
  }
  return out;
}

describe("a local archive's file is durable once put (as the checkpoint that follows it)", () => {
  it.skipIf(!strace)(
    "fsyncs the file before its rename, then its folder and each folder made for it",
    () => {
      const archive = join(dir, "archive");
      const log = join(dir, "strace.log");
      const r = spawnSync(
        "strace",
        ["-f", "-o", log, "-e", "trace=openat,fsync,rename", process.execPath, "--import", "tsx"].concat([
          "test/io/archive/put-one-file.ts",
          archive,
        ]),
        { encoding: "utf8" },
      );
      expect(r.status, r.stderr).toBe(0);
      const ops = syncsAndRenames(readFileSync(log, "utf8"));
      const target = join(archive, "dt=2026-01-05", "hour=14", "part-one.parquet");
      const renamed = ops.findIndex((o) => o.op === "rename" && o.path === target);
      expect(renamed, JSON.stringify(ops)).toBeGreaterThanOrEqual(0);
      const synced = (path: string) => ops.findIndex((o) => o.op === "fsync" && o.path === path);
      const lastSynced = (path: string) => ops.findLastIndex((o) => o.op === "fsync" && o.path === path);
      // The bytes, before they get their name.
      const scratched = ops.findIndex(
        (o) =>
          o.op === "fsync" && o.path.startsWith(join(archive, ".tidemark-tmp")) && o.path.endsWith("one.parquet.tmp"),
      );
      expect(scratched, JSON.stringify(ops)).toBeGreaterThanOrEqual(0);
      expect(scratched).toBeLessThan(renamed);
      // The name, after it is given; and the folders made for it, in their parents (the archive's own too).
      expect(lastSynced(join(archive, "dt=2026-01-05", "hour=14")), JSON.stringify(ops)).toBeGreaterThan(renamed);
      expect(synced(join(archive, "dt=2026-01-05")), JSON.stringify(ops)).toBeGreaterThanOrEqual(0);
      expect(synced(archive), JSON.stringify(ops)).toBeGreaterThanOrEqual(0);
      expect(synced(dir), JSON.stringify(ops)).toBeGreaterThanOrEqual(0);
    },
    60_000,
  );
});
