import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CheckpointStore } from "../../../runners/direct/checkpoint-store.ts";

const dirs: string[] = [];
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tidemark-ckpt-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("CheckpointStore", () => {
  it("returns the newest checkpoint with Maps, Sets, typed arrays and bigints intact, and keeps the last two", () => {
    const dir = freshDir();
    const store = new CheckpointStore<unknown>(dir);
    expect(store.latest()).toBeUndefined();
    for (let seq = 1; seq <= 4; seq++) {
      store.write(seq, {
        seq,
        ids: new Set([`e${seq}`]),
        by: new Map([["k", [seq]]]),
        t: new Float64Array([seq]),
        n: 7n,
      });
    }
    expect(store.latest()).toEqual({
      seq: 4,
      state: { seq: 4, ids: new Set(["e4"]), by: new Map([["k", [4]]]), t: new Float64Array([4]), n: 7n },
    });
    expect(store.sequences()).toEqual([3, 4]);
  });

  it("skips a newest file that is torn or corrupted, and ignores temporary files", () => {
    const dir = freshDir();
    const store = new CheckpointStore<{ v: string }>(dir, 3);
    store.write(1, { v: "one" });
    store.write(2, { v: "two" });
    const files = readdirSync(dir).sort();
    const newest = join(dir, files[files.length - 1] as string);
    const bytes = readFileSync(newest);
    writeFileSync(newest, bytes.subarray(0, bytes.length - 3)); // torn
    expect(store.latest()).toEqual({ seq: 1, state: { v: "one" } });
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 0xff; // corrupted
    writeFileSync(newest, flipped);
    expect(store.latest()).toEqual({ seq: 1, state: { v: "one" } });
    writeFileSync(join(dir, "checkpoint-0000000000000009.bin.tmp-1"), "partial");
    expect(store.latest()?.seq).toBe(1);
  });

  it("a process killed with SIGKILL while writing leaves an intact checkpoint behind", async () => {
    const dir = freshDir();
    const script = `
      import { CheckpointStore } from ${JSON.stringify(join(process.cwd(), "runners/direct/checkpoint-store.ts"))};
      const store = new CheckpointStore(${JSON.stringify(dir)});
      const big = "x".repeat(200_000);
      for (let seq = 1; ; seq++) store.write(seq, { seq, big });`;
    // The kill moments are seeded (TIDEMARK_SEED, else the clock) and the seed is named in every failure.
    const seed = Number(process.env.TIDEMARK_SEED ?? Date.now() % 1_000_000);
    let state = seed >>> 0 || 1;
    const random = () => {
      state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
      return state / 2 ** 32;
    };
    const newest = () => Math.max(0, ...new CheckpointStore<{ seq: number }>(dir).sequences());
    for (let round = 0; round < 3; round++) {
      const why = `round ${round}, seed ${seed} (TIDEMARK_SEED=${seed} replays it)`;
      // Every round restarts the sequence at 1 and overwrites: it has written once it has a checkpoint newer than
      // the newest one before it started, or, in later rounds, once it passed the newest one (which it rewrites).
      const before = newest();
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        stdio: "ignore",
      });
      const deadline = Date.now() + 20_000;
      while (newest() <= before) {
        if (Date.now() > deadline) throw new Error(`no fresh checkpoint within 20 s (${why})`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // It is writing: killed at a random moment of the following half second.
      await new Promise((r) => setTimeout(r, random() * 500));
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      const latest = new CheckpointStore<{ seq: number; big: string }>(dir).latest();
      expect(latest, why).toBeDefined();
      expect(latest?.state.seq, why).toBe(latest?.seq);
      expect(latest?.state.big.length, why).toBe(200_000);
    }
  }, 30_000);
});
