/**
 * Query 10 ('log to sharded files') by Beam Java's definition, checked from the files it writes against the events
 * themselves: every event in exactly one log file, that file named for the event's fixed window, its shard and a
 * pane; a shard's panes of a window numbered 0, 1, ... with a count-fired (EARLY or LATE) pane holding at least
 * `maxLogEvents` events; each window's index listing exactly its log files. Beam Python's query 10 writes no file and
 * outputs nothing (checked where Beam Python is compared: queries-vs-beam.test.ts), so there is nothing of Beam's to
 * compare record for record.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeEventsFile } from "../../../bench/nexmark/events-file.ts";
import { nexmarkConfig } from "../../../bench/nexmark/generator.ts";
import { eventToJson, type NexmarkEvent, parseEvent } from "../../../bench/nexmark/model.ts";
import { DEFAULT_QUERY_CONFIG } from "../../../bench/nexmark/queries/query-config.ts";
import { type LogIndex, NUM_LOG_SHARDS } from "../../../bench/nexmark/queries/query10.ts";
import { collectQuery } from "../../../bench/nexmark/run-query.ts";
import { nexmarkFileSource, nexmarkSource } from "../../../bench/nexmark/source.ts";
import type { Source } from "../../../core/source.ts";

const CONFIG = nexmarkConfig({
  numEvents: 10_000,
  firstEventRate: 20,
  nextEventRate: 200,
  rateShape: "sine",
  ratePeriodSec: 60,
  outOfOrderGroupSize: 50,
});
const WINDOW_MS = DEFAULT_QUERY_CONFIG.windowSizeSec * 1000;
/** Small enough that busy shards fire count panes within a 10 s window (about 30 events a shard at 75 events/s). */
const MAX_LOG_EVENTS = 7;

const root = mkdtempSync(join(tmpdir(), "tidemark-q10-"));
const file = join(root, "events.jsonl");
writeEventsFile(file, CONFIG);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const events = (): NexmarkEvent[] =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => parseEvent(l));

/** The window's max timestamp an event belongs to, from its event time alone. */
const maxTsOf = (e: NexmarkEvent) => Math.floor(e.dateTime / WINDOW_MS) * WINDOW_MS + WINDOW_MS - 1;

async function runAndCheck(name: string, source: Source<NexmarkEvent>) {
  const dir = join(root, name);
  const out = await collectQuery("q10", source, {
    ...DEFAULT_QUERY_CONFIG,
    maxLogEvents: MAX_LOG_EVENTS,
    logOutputDir: dir,
  });
  const files = readdirSync(dir);
  const logs = files.filter((f) => f.startsWith("LOG-"));
  // Every event in exactly one log file, of its window.
  const want = new Map<string, number>();
  for (const e of events()) {
    const line = eventToJson(e);
    want.set(line, (want.get(line) ?? 0) + 1);
  }
  const got = new Map<string, number>();
  const panes = new Map<string, { index: number; timing: string; count: number }[]>();
  const shardOfLine = new Map<string, string>();
  for (const f of logs) {
    const m = /^LOG-(\d+)-(shard-\d{5}-of-\d{5})-(\d{3})-(EARLY|ON_TIME|LATE)$/.exec(f);
    expect(m, f).not.toBeNull();
    const [, maxTs, shard, index, timing] = m as RegExpExecArray;
    const lines = readFileSync(join(dir, f), "utf8")
      .split("\n")
      .filter((l) => l !== "");
    for (const line of lines) {
      got.set(line, (got.get(line) ?? 0) + 1);
      expect(maxTsOf(parseEvent(line)), `${f}: ${line}`).toBe(Number(maxTs));
      // An event's shard is a function of the event: the same event is never in two shards.
      const before = shardOfLine.get(line);
      if (before !== undefined) expect(shard).toBe(before);
      shardOfLine.set(line, shard as string);
    }
    const key = `${maxTs} ${shard}`;
    panes.set(key, [
      ...(panes.get(key) ?? []),
      { index: Number(index), timing: timing as string, count: lines.length },
    ]);
  }
  expect(got).toEqual(want);
  expect(new Set(shardOfLine.values()).size).toBeLessThanOrEqual(NUM_LOG_SHARDS);
  // A shard's panes of a window: numbered 0..n-1; EARLY panes fired by the count hold at least maxLogEvents.
  let early = 0;
  for (const [key, ps] of panes) {
    ps.sort((a, b) => a.index - b.index);
    expect(
      ps.map((p) => p.index),
      key,
    ).toEqual(ps.map((_, i) => i));
    for (const p of ps) {
      if (p.timing === "EARLY") {
        early++;
        expect(p.count, key).toBeGreaterThanOrEqual(MAX_LOG_EVENTS);
      }
    }
  }
  // Each window's index panes list exactly its log files, each once; the output says the same as the index files.
  const byWindow = new Map<number, string[]>();
  for (const idx of out.map((r) => r.value as LogIndex)) {
    const listed = readFileSync(idx.filename as string, "utf8")
      .split("\n")
      .filter((l) => l !== "");
    expect(listed).toEqual(idx.files.map((f) => f.filename));
    byWindow.set(idx.maxTimestamp, [...(byWindow.get(idx.maxTimestamp) ?? []), ...listed]);
  }
  const logsByWindow = new Map<number, string[]>();
  for (const f of logs) {
    const maxTs = Number(f.split("-")[1]);
    logsByWindow.set(maxTs, [...(logsByWindow.get(maxTs) ?? []), join(dir, f)]);
  }
  expect(new Set(byWindow.keys())).toEqual(new Set(logsByWindow.keys()));
  for (const [maxTs, listed] of byWindow)
    expect([...listed].sort(), String(maxTs)).toEqual(logsByWindow.get(maxTs)?.sort());
  return { logs: logs.length, early, windows: byWindow.size };
}

describe("Nexmark q10, logging to sharded files (Beam Java's definition)", () => {
  it("from the file: every event logged once, in its window's and shard's files, and indexed", async () => {
    const r = await runAndCheck("file", nexmarkFileSource(file));
    expect(r.windows).toBe(new Set(events().map(maxTsOf)).size);
    expect(r.early).toBeGreaterThan(10);
  });

  it("from the generator with its watermarks, processing time following them: the same guarantees", async () => {
    const r = await runAndCheck("generator", nexmarkSource(CONFIG, { processingTimeFollowsWatermark: true }));
    expect(r.windows).toBe(new Set(events().map(maxTsOf)).size);
    expect(r.logs).toBeGreaterThan(r.windows);
  });
});
