/**
 * Sessions benchmark harness (`npm run bench` = `tsx bench/run.ts`).
 *
 * Workload: a deterministic stream (bench/session-stream.ts; default 1,000,000 events,
 * 10,000 users, ~10% of events up to 10 min late) sessionized with a 30 min gap, producing
 * count and first/last timestamp per user session. Two implementations:
 *   - `hand`:   bench/hand-sessionizer.ts, a hand-written single-pass sessionizer (baseline);
 *   - `engine`: bench/engine-sessionizer.ts, the same job on the engine's direct runner.
 *
 * Every measurement runs in a fresh child process (`node --import tsx bench/run.ts
 * --child=...`), one at a time, so peak RSS (process.resourceUsage().maxRSS) is per case.
 * Throughput children first run three full-size warm-ups (same event count, other seeds, so the JIT has
 * compiled the steady-state code: the figure is sustained throughput, not start-up), then time
 * three full runs and report the fastest (the machine's interference only ever slows a run). Hand
 * and engine repetitions are interleaved (alternating order); rates are medians over repetitions
 * and the ratio is the median of the back-to-back pairs' ratios. Memory children do no warm-up.
 *
 * Output: one JSON line per case on stdout (progress goes to stderr):
 *   {"name":"generator-1m","eventsPerSec":...,"peakRssMb":...}
 *   {"name":"sessions-1m","eventsPerSec":<engine>,"baselineEventsPerSec":<hand>,"ratio":...,
 *    "peakRssMb":...,"sessions":...,"checksumMatch":true,...}
 *   {"name":"sessions-memory-10m-vs-1m","peakRssMb":<10M>,"baselinePeakRssMb":<1M>,"ratio":...}
 * `eventsPerSec` includes the shared generation cost (both sides pay it); `net*` fields
 * subtract the time spent inside the generator. Memory lines also carry `floorPeakRssMb`,
 * the peak RSS of a child that loads everything and does nothing (node + tsx loader).
 *
 * Flags:
 *   --events=N        events for the throughput case (default 1,000,000; memory case uses 10x)
 *   --users=N         users (default 10,000)
 *   --seed=N          stream seed (default 42)
 *   --reps=K          repetitions per implementation (default 5)
 *   --quick           smoke run: 100,000 events, 1 rep (memory case 1M vs 100k)
 *   --only=LIST       comma list of: generator, hand, engine, sessions, memory, hand-memory, medallion (the whole medallion pipeline into DuckDB, ratio to the engine-only rate; also the same pipeline with writes discarded, and the floor loop: only the reading, parsing and row building every medallion must do, the reachable ceiling), pubsub (the pipeline from a pre-filled emulator subscription against the bare client's receive-and-ack), bigquery (Silver rows into the BigQuery emulator through the Storage Write API against insertAll), prism (the sessions job on Prism v2.77.0 through Tidemark against Apache Beam Python 2.77.0 on the same Prism and events), nexmark (the Nexmark queries, generator in process, beside Apache Beam's own Python queries on a file of the same events; bench/nexmark/bench.ts; not in the default set), state-costs (heap bytes per unit of the state the medallion keeps: seen ids, Silver's de-dup ids, Gold's open sessions, ordered-list entries, released keys, each in a fresh child, beside the figures bench/README.md states; bench/state-costs.ts; not in the default set)
 *                     default: generator,sessions,memory
 *                     --only=hand means generator,hand,hand-memory (no engine needed)
 *                     --only=engine means engine,memory (still checked against the hand loop)
 *   --memory-factor=F large/small event ratio for the memory case (default 10)
 *   --chunk-size=N    generator chunk size (default 16,384)
 *   --enforce-targets exit 1 when a target is missed (ratio >= 0.35, memory ratio <= 1.3)
 * Exit status: 1 if any child fails, or the engine's session count/checksum/event count
 * differs from the hand loop's, or (with --enforce-targets) a target is missed.
 */

import { spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runEngineSessionizer } from "./engine-sessionizer.ts";
import { runHandSessionizer } from "./hand-sessionizer.ts";
import {
  type BigQueryBenchResult,
  type MedallionResult,
  type PrismBenchResult,
  type PubsubBenchResult,
  RESULT_MARKER,
} from "./child-result.ts";
import type { SessionizerResult } from "./session-checksum.ts";
import type { StateCostLine } from "./state-costs.ts";
import { createGenerationStats, createSessionStream } from "./session-stream.ts";
import type { SessionizerRunOptions } from "./session-stream.ts";

const RATIO_TARGET = 0.35;
const MEMORY_RATIO_TARGET = 1.3;
/** The whole medallion pipeline into DuckDB against the engine-only sessionization rate (issue 4). */
const MEDALLION_RATIO_TARGET = 0.4;
/** The pipeline with checkpoints reading a pre-filled subscription against the bare client's receive-and-ack (issue 5). */
const PUBSUB_RATIO_TARGET = 0.8;
/** The sessions job on Prism through Tidemark against Beam Python 2.77.0 on the same Prism and events (issue 13). */
const PRISM_RATIO_TARGET = 3;
/** Events of the prism case (Beam Python takes about 9 s for 100,000 on the 2-core box). */
const PRISM_EVENTS = 100_000;
/** Events of the file Beam Python's Nexmark queries read in the nexmark case (Beam's default numEvents). */
const NEXMARK_FILE_EVENTS = 100_000;
/** Silver rows written to the BigQuery emulator by each append method. */
const BIGQUERY_ROWS = 50_000;
/** Messages pre-filled into the emulator for the Pub/Sub case. */
const PUBSUB_MESSAGES = 20_000;
const WARMUP_FRACTION = 1;
/** Warm-up runs before the timed one: the engine's larger code reaches its optimised tier after a few runs. */
const WARMUP_RUNS = 3;
/** Timed runs per throughput child; the fastest is reported. */
const TIMED_RUNS = 3;
const KIB_PER_MB = 1024;

/** `noop` loads the same modules and does nothing: the node + tsx RSS floor. */
type ChildKind = "generator" | "hand" | "engine" | "noop";
type CaseName =
  | "generator"
  | "hand"
  | "engine"
  | "sessions"
  | "memory"
  | "hand-memory"
  | "medallion"
  | "pubsub"
  | "bigquery"
  | "prism"
  | "nexmark"
  | "state-costs";
const CASE_NAMES: readonly CaseName[] = [
  "generator",
  "hand",
  "engine",
  "sessions",
  "memory",
  "hand-memory",
  "medallion",
  "pubsub",
  "bigquery",
  "prism",
  "nexmark",
  "state-costs",
];

interface Flags {
  events: number;
  users: number;
  seed: number;
  reps: number;
  memoryFactor: number;
  chunkSize: number;
  cases: Set<CaseName>;
  enforceTargets: boolean;
}

/** A reported failure (message only, no stack trace). */
class Failure extends Error {}

/** What a child process reports. */
interface ChildResult {
  kind: ChildKind;
  events: number;
  sessions: number;
  checksum: string;
  elapsedMs: number;
  generationMs: number;
  maxRssKiB: number;
}

// ---------------------------------------------------------------------------------------
// Child side

async function runKind(kind: ChildKind, options: SessionizerRunOptions): Promise<SessionizerResult> {
  switch (kind) {
    case "hand":
      return runHandSessionizer(options);
    case "engine":
      return runEngineSessionizer(options);
    case "noop":
      return { sessions: 0, checksum: "", events: 0 };
    case "generator": {
      // Consume every value so the work cannot be skipped; fold into a cheap digest.
      const stream = createSessionStream(options);
      let events = 0;
      let userSum = 0;
      let timeBits = 0;
      for (const chunk of stream.chunks(options.generationStats)) {
        const users = chunk.userIndex;
        const times = chunk.eventTimeMs;
        for (let i = 0; i < chunk.length; i++) {
          userSum = (userSum + users[i]!) | 0;
          timeBits = (timeBits + (times[i]! >>> 0)) | 0;
        }
        events += chunk.length;
      }
      return { sessions: 0, checksum: `${userSum >>> 0}:${timeBits >>> 0}`, events };
    }
  }
}

async function childMain(kind: ChildKind, options: SessionizerRunOptions, warmupEvents: number): Promise<void> {
  if (warmupEvents > 0) {
    for (let i = 1; i <= WARMUP_RUNS; i++) {
      await runKind(kind, { ...options, totalEvents: warmupEvents, seed: (options.seed + i) | 0 });
    }
    // No forced full GC here: it would shrink the heap the engine just grew, timing a heap re-growth instead of
    // the steady state a long-running stream is in.
  }
  // Timed runs: the fastest counts (interference from the machine only ever slows a run down).
  let best: { result: SessionizerResult; elapsedMs: number; generationMs: number } | undefined;
  for (let i = 0; i < (warmupEvents > 0 ? TIMED_RUNS : 1); i++) {
    const generationStats = createGenerationStats();
    const startedMs = performance.now();
    const run = await runKind(kind, { ...options, generationStats });
    const elapsedMs = performance.now() - startedMs;
    if (best === undefined || elapsedMs < best.elapsedMs) {
      best = { result: run, elapsedMs, generationMs: generationStats.generationMs };
    }
  }
  const { result, elapsedMs, generationMs } = best as NonNullable<typeof best>;
  const childResult: ChildResult = {
    kind,
    events: result.events,
    sessions: result.sessions,
    checksum: result.checksum,
    elapsedMs,
    generationMs,
    maxRssKiB: process.resourceUsage().maxRSS,
  };
  process.stdout.write(RESULT_MARKER + JSON.stringify(childResult) + "\n");
}

// ---------------------------------------------------------------------------------------
// Parent side

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(BENCH_DIR, "..");
const THIS_FILE = fileURLToPath(import.meta.url);

function runChild(kind: ChildKind, flags: Flags, events: number, warmup: boolean): Promise<ChildResult> {
  const args = [
    "--expose-gc",
    "--import",
    "tsx",
    THIS_FILE,
    `--child=${kind}`,
    `--events=${events}`,
    `--users=${flags.users}`,
    `--seed=${flags.seed}`,
    `--chunk-size=${flags.chunkSize}`,
    `--warmup-events=${warmup ? Math.max(1, Math.round(events * WARMUP_FRACTION)) : 0}`,
  ];
  return spawnChild<ChildResult>(args, `${kind} child (${events} events)`);
}

/** Runs `node ARGS` in the repository and resolves with the result line it prints (see child-result.ts). */
function spawnChild<T>(args: readonly string[], what: string): Promise<T> {
  return new Promise((resolvePromise, rejectPromise) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (data: string) => {
      stdout += data;
    });
    child.on("error", rejectPromise);
    child.on("close", (code, signal) => {
      if (code !== 0) {
        rejectPromise(new Failure(`${what} failed: exit ${code ?? signal}`));
        return;
      }
      const line = stdout.split("\n").find((candidate) => candidate.startsWith(RESULT_MARKER));
      if (line === undefined) {
        rejectPromise(new Failure(`${what} printed no result`));
        return;
      }
      resolvePromise(JSON.parse(line.slice(RESULT_MARKER.length)) as T);
    });
  });
}

/** One run of the whole medallion pipeline into a fresh DuckDB file (bench/medallion.ts), in its own process. */
async function runMedallionChild(
  events: number,
  seed: number,
  mode: "duckdb" | "discard" | "floor" | "parse-floor" = "duckdb",
): Promise<MedallionResult> {
  const what = {
    duckdb: "running Bronze/Silver/Gold into DuckDB",
    discard: "running Bronze/Silver/Gold with every write discarded (pipeline only)",
    floor: "running the floor loop (read, parse, validate, Bronze and Silver rows; no engine, no warehouse)",
    "parse-floor": "running the parse floor (JSON.parse of every line and payload, nothing else)",
  }[mode];
  progress(`medallion: generating about ${events} messages and ${what}`);
  const args = ["--import", "tsx", join(BENCH_DIR, "medallion.ts"), `--events=${events}`, `--seed=${seed}`];
  if (mode === "discard") args.push("--warehouse=none");
  if (mode === "floor") args.push("--floor");
  if (mode === "parse-floor") args.push("--parse-floor");
  const result = await spawnChild<MedallionResult>(args, "medallion child");
  progress(`medallion: ${result.messages} messages in ${(result.elapsedMs / 1000).toFixed(1)} s`);
  return result;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function eventsPerSec(result: ChildResult): number {
  return result.events / (result.elapsedMs / 1000);
}

function netEventsPerSec(result: ChildResult): number {
  return result.events / (Math.max(1e-6, result.elapsedMs - result.generationMs) / 1000);
}

function peakRssMb(result: ChildResult): number {
  return result.maxRssKiB / KIB_PER_MB;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function label(events: number): string {
  if (events % 1_000_000 === 0) return `${events / 1_000_000}m`;
  if (events % 1_000 === 0) return `${events / 1_000}k`;
  return String(events);
}

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function describe(result: ChildResult): string {
  const net = result.kind === "generator" ? "" : ` (net of generation ${(netEventsPerSec(result) / 1e6).toFixed(2)}M)`;
  return (
    `${(eventsPerSec(result) / 1e6).toFixed(2)}M ev/s${net}, ` +
    `${result.elapsedMs.toFixed(0)} ms, peak ${peakRssMb(result).toFixed(1)} MB, ` +
    `${result.sessions} sessions, checksum ${result.checksum}`
  );
}

function emit(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(line) + "\n");
}

/** All runs of one implementation must agree with each other (determinism). */
function checkConsistent(kind: string, results: readonly ChildResult[]): ChildResult {
  const first = results[0]!;
  for (const result of results) {
    if (result.sessions !== first.sessions || result.checksum !== first.checksum || result.events !== first.events) {
      throw new Failure(`${kind} runs disagree: ${JSON.stringify(first)} vs ${JSON.stringify(result)}`);
    }
  }
  return first;
}

function checkAgainstHand(engine: ChildResult, hand: ChildResult, expectedEvents: number): boolean {
  const match = engine.sessions === hand.sessions && engine.checksum === hand.checksum && engine.events === hand.events;
  if (hand.events !== expectedEvents) {
    throw new Failure(`hand loop consumed ${hand.events} events, expected ${expectedEvents}`);
  }
  if (!match) {
    process.stderr.write(
      `[bench] MISMATCH engine vs hand at ${expectedEvents} events: ` +
        `engine sessions=${engine.sessions} checksum=${engine.checksum} events=${engine.events}; ` +
        `hand sessions=${hand.sessions} checksum=${hand.checksum} events=${hand.events}\n`,
    );
  }
  return match;
}

async function measure(kind: ChildKind, flags: Flags, events: number, warmup: boolean, tag: string) {
  const result = await runChild(kind, flags, events, warmup);
  progress(`${kind} ${label(events)} ${tag}: ${describe(result)}`);
  return result;
}

async function parentMain(flags: Flags): Promise<number> {
  const { events, reps, cases } = flags;
  const name = label(events);
  let failed = false;
  let targetMissed = false;
  progress(
    `events=${events} users=${flags.users} seed=${flags.seed} reps=${reps} cases=${[...cases].join(",")} ` +
      `(one child at a time)`,
  );

  if (cases.has("generator")) {
    const results: ChildResult[] = [];
    for (let rep = 0; rep < reps; rep++) {
      results.push(await measure("generator", flags, events, true, `rep ${rep + 1}`));
    }
    checkConsistent("generator", results);
    emit({
      name: `generator-${name}`,
      eventsPerSec: Math.round(median(results.map(eventsPerSec))),
      peakRssMb: round(median(results.map(peakRssMb)), 1),
      events,
      reps,
    });
  }

  const runHand = cases.has("hand") || cases.has("sessions") || cases.has("engine");
  const runEngine = cases.has("engine") || cases.has("sessions");
  let engineOnlyEventsPerSec: number | undefined;
  if (runHand || runEngine) {
    const hand: ChildResult[] = [];
    const engine: ChildResult[] = [];
    for (let rep = 0; rep < reps; rep++) {
      const tag = `rep ${rep + 1}/${reps}`;
      // Alternate the order so neither side always runs first.
      const order: ChildKind[] = rep % 2 === 0 ? ["hand", "engine"] : ["engine", "hand"];
      for (const kind of order) {
        if (kind === "hand" && runHand) hand.push(await measure("hand", flags, events, true, tag));
        if (kind === "engine" && runEngine) engine.push(await measure("engine", flags, events, true, tag));
      }
    }
    const handResult = checkConsistent("hand", hand);
    const baselineEventsPerSec = median(hand.map(eventsPerSec));
    const baselineNetEventsPerSec = median(hand.map(netEventsPerSec));
    if (runEngine) {
      const engineResult = checkConsistent("engine", engine);
      const checksumMatch = checkAgainstHand(engineResult, handResult, events);
      failed ||= !checksumMatch;
      const engineEventsPerSec = median(engine.map(eventsPerSec));
      engineOnlyEventsPerSec = engineEventsPerSec;
      // The ratio is the median of the ratios of runs made back to back (rep i of each side), so a slow spell of
      // the machine weighs on both sides of a ratio, not on one side of the medians.
      const ratio = median(engine.map((e, i) => eventsPerSec(e) / eventsPerSec(hand[i] as ChildResult)));
      const pass = checksumMatch && ratio >= RATIO_TARGET;
      targetMissed ||= ratio < RATIO_TARGET;
      emit({
        name: `sessions-${name}`,
        eventsPerSec: Math.round(engineEventsPerSec),
        baselineEventsPerSec: Math.round(baselineEventsPerSec),
        ratio: round(ratio, 3),
        peakRssMb: round(median(engine.map(peakRssMb)), 1),
        baselinePeakRssMb: round(median(hand.map(peakRssMb)), 1),
        sessions: engineResult.sessions,
        checksumMatch,
        netEventsPerSec: Math.round(median(engine.map(netEventsPerSec))),
        baselineNetEventsPerSec: Math.round(baselineNetEventsPerSec),
        netRatio: round(median(engine.map(netEventsPerSec)) / baselineNetEventsPerSec, 3),
        target: RATIO_TARGET,
        pass,
        events,
        users: flags.users,
        reps,
      });
    }
    if (cases.has("hand")) {
      emit({
        name: `hand-${name}`,
        eventsPerSec: Math.round(baselineEventsPerSec),
        netEventsPerSec: Math.round(baselineNetEventsPerSec),
        peakRssMb: round(median(hand.map(peakRssMb)), 1),
        sessions: handResult.sessions,
        checksum: handResult.checksum,
        events,
        users: flags.users,
        reps,
      });
    }
  }

  const largeEvents = events * flags.memoryFactor;
  const memoryName = `${label(largeEvents)}-vs-${name}`;
  let floorPeakRssMb = 0;
  if (cases.has("memory") || cases.has("hand-memory")) {
    const floor = await runChild("noop", flags, 1, false);
    floorPeakRssMb = round(peakRssMb(floor), 1);
    progress(`noop (node + tsx floor): peak ${floorPeakRssMb} MB`);
  }
  if (cases.has("memory")) {
    const large = await measure("engine", flags, largeEvents, false, "memory");
    const small = await measure("engine", flags, events, false, "memory");
    const handLarge = await measure("hand", flags, largeEvents, false, "reference");
    const checksumMatch = checkAgainstHand(large, handLarge, largeEvents);
    failed ||= !checksumMatch;
    const ratio = peakRssMb(large) / peakRssMb(small);
    targetMissed ||= ratio > MEMORY_RATIO_TARGET;
    emit({
      name: `sessions-memory-${memoryName}`,
      peakRssMb: round(peakRssMb(large), 1),
      baselinePeakRssMb: round(peakRssMb(small), 1),
      ratio: round(ratio, 3),
      checksumMatch,
      target: MEMORY_RATIO_TARGET,
      pass: checksumMatch && ratio <= MEMORY_RATIO_TARGET,
      floorPeakRssMb,
      events: largeEvents,
      baselineEvents: events,
    });
  }
  if (cases.has("hand-memory")) {
    const large = await measure("hand", flags, largeEvents, false, "memory");
    const small = await measure("hand", flags, events, false, "memory");
    emit({
      name: `hand-memory-${memoryName}`,
      peakRssMb: round(peakRssMb(large), 1),
      baselinePeakRssMb: round(peakRssMb(small), 1),
      ratio: round(peakRssMb(large) / peakRssMb(small), 3),
      sessions: large.sessions,
      floorPeakRssMb,
      events: largeEvents,
      baselineEvents: events,
    });
  }

  if (cases.has("medallion")) {
    // The engine-only sessionization rate of this run is the baseline; measure it here if the sessions case did not.
    if (engineOnlyEventsPerSec === undefined) {
      engineOnlyEventsPerSec = eventsPerSec(await measure("engine", flags, events, true, "baseline for medallion"));
    }
    const parseFloor = await runMedallionChild(events, flags.seed, "parse-floor");
    const parseFloorEventsPerSec = parseFloor.messages / (parseFloor.elapsedMs / 1000);
    const floor = await runMedallionChild(events, flags.seed, "floor");
    const floorEventsPerSec = floor.messages / (floor.elapsedMs / 1000);
    const pipelineOnly = await runMedallionChild(events, flags.seed, "discard");
    const pipelineOnlyEventsPerSec = pipelineOnly.messages / (pipelineOnly.elapsedMs / 1000);
    const medallion = await runMedallionChild(events, flags.seed);
    const medallionEventsPerSec = medallion.messages / (medallion.elapsedMs / 1000);
    const ratio = medallionEventsPerSec / engineOnlyEventsPerSec;
    targetMissed ||= ratio < MEDALLION_RATIO_TARGET;
    emit({
      name: `medallion-duckdb-${label(medallion.messages)}`,
      eventsPerSec: Math.round(medallionEventsPerSec),
      baselineEventsPerSec: Math.round(engineOnlyEventsPerSec),
      ratio: round(ratio, 3),
      target: MEDALLION_RATIO_TARGET,
      pass: ratio >= MEDALLION_RATIO_TARGET,
      // The same pipeline with its writes discarded, and the share of that rate kept with DuckDB writing.
      pipelineOnlyEventsPerSec: Math.round(pipelineOnlyEventsPerSec),
      warehouseKeeps: round(medallionEventsPerSec / pipelineOnlyEventsPerSec, 3),
      pipelineOnlyPeakRssMb: round(pipelineOnly.maxRssKiB / KIB_PER_MB, 1),
      // The floor loop (bench/medallion.ts --floor): only the work every medallion must do per message, so its share
      // of the engine-only rate is the most any implementation could reach here; and the share of it the medallion
      // keeps.
      floorEventsPerSec: Math.round(floorEventsPerSec),
      floorRatio: round(floorEventsPerSec / engineOnlyEventsPerSec, 3),
      ofFloor: round(medallionEventsPerSec / floorEventsPerSec, 3),
      pipelineOnlyOfFloor: round(pipelineOnlyEventsPerSec / floorEventsPerSec, 3),
      // Less than any medallion can do: JSON.parse of each line and payload, nothing else (one core's hard ceiling).
      parseFloorEventsPerSec: Math.round(parseFloorEventsPerSec),
      parseFloorRatio: round(parseFloorEventsPerSec / engineOnlyEventsPerSec, 3),
      messages: medallion.messages,
      rows: medallion.rows,
      deadLettered: medallion.deadLettered,
      peakRssMb: round(medallion.maxRssKiB / KIB_PER_MB, 1),
    });
  }

  if (cases.has("pubsub")) {
    progress(`pubsub: the emulator, ${PUBSUB_MESSAGES} messages, the bare client then the pipeline into DuckDB`);
    const r = await spawnChild<PubsubBenchResult>(
      ["--import", "tsx", join(BENCH_DIR, "pubsub.ts"), `--messages=${PUBSUB_MESSAGES}`],
      "pubsub child",
    );
    const pipelinePerSec = r.messages / (r.pipelineMs / 1000);
    const barePerSec = r.messages / (r.bareMs / 1000);
    const ratio = pipelinePerSec / barePerSec;
    targetMissed ||= ratio < PUBSUB_RATIO_TARGET;
    emit({
      name: `pubsub-emulator-${label(r.messages)}`,
      eventsPerSec: Math.round(pipelinePerSec),
      baselineEventsPerSec: Math.round(barePerSec),
      ratio: round(ratio, 3),
      target: PUBSUB_RATIO_TARGET,
      pass: ratio >= PUBSUB_RATIO_TARGET,
      messages: r.messages,
      acknowledged: r.acknowledged,
      rows: r.rows,
      peakRssMb: round(r.maxRssKiB / KIB_PER_MB, 1),
    });
  }

  if (cases.has("bigquery")) {
    progress(`bigquery: the emulator, ${BIGQUERY_ROWS} Silver rows through the Storage Write API, then insertAll`);
    const r = await spawnChild<BigQueryBenchResult>(
      ["--import", "tsx", join(BENCH_DIR, "bigquery.ts"), `--rows=${BIGQUERY_ROWS}`],
      "bigquery child",
    );
    const storageWritePerSec = r.rows / (r.storageWriteMs / 1000);
    const insertAllPerSec = r.rows / (r.insertAllMs / 1000);
    emit({
      name: `bigquery-emulator-${label(r.rows)}`,
      rowsPerSec: Math.round(storageWritePerSec),
      baselineRowsPerSec: Math.round(insertAllPerSec),
      ratio: round(storageWritePerSec / insertAllPerSec, 3),
      method: "appendSilver: staging append + one idempotent INSERT per 5,000-row batch",
      baseline: "insertAll",
      peakRssMb: round(r.maxRssKiB / KIB_PER_MB, 1),
    });
  }

  if (cases.has("prism")) {
    progress(`prism: the sessions job, ${PRISM_EVENTS} events, through Tidemark and Beam Python 2.77.0 on one Prism`);
    const r = await spawnChild<PrismBenchResult>(
      ["--import", "tsx", join(BENCH_DIR, "prism.ts"), `--events=${PRISM_EVENTS}`],
      "prism child",
    );
    const ratio = r.beamPython.ms / r.tidemark.ms;
    targetMissed ||= ratio < PRISM_RATIO_TARGET;
    failed ||= !r.same;
    emit({
      name: `prism-sessions-${label(r.events)}`,
      eventsPerSec: Math.round(r.events / (r.tidemark.ms / 1000)),
      baselineEventsPerSec: Math.round(r.events / (r.beamPython.ms / 1000)),
      ratio: round(ratio, 3),
      target: PRISM_RATIO_TARGET,
      pass: ratio >= PRISM_RATIO_TARGET,
      baseline: "Apache Beam Python 2.77.0 on the same Prism v2.77.0 (LOOPBACK worker)",
      sessions: r.tidemark.sessions,
      sameSessions: r.same,
      tidemarkRunsMs: r.tidemarkRuns,
      beamPythonRunsMs: r.beamPythonRuns,
    });
  }

  if (cases.has("nexmark")) {
    const fileEvents = Math.min(NEXMARK_FILE_EVENTS, events);
    progress(
      `nexmark: each query on ${events} generated events, and on a file of ${fileEvents} beside Beam Python 2.77.0`,
    );
    const r = await spawnChild<{ lines: { pass: boolean | null }[] }>(
      ["--import", "tsx", join(BENCH_DIR, "nexmark", "bench.ts"), `--events=${events}`, `--file-events=${fileEvents}`],
      "nexmark child",
    );
    for (const line of r.lines) {
      targetMissed ||= line.pass === false;
      emit(line);
    }
  }

  if (cases.has("state-costs")) {
    progress("state-costs: heap bytes per unit of the medallion's state, each unit in a fresh child (about a minute)");
    const r = await spawnChild<{ lines: StateCostLine[]; failures: string[] }>(
      ["--import", "tsx", join(BENCH_DIR, "state-costs.ts"), "--result"],
      "state-costs child",
    );
    for (const line of r.lines) emit(line);
    if (r.failures.length > 0) throw new Failure(`state-costs: ${r.failures.join("; ")}`);
  }

  if (failed) {
    process.stderr.write("[bench] FAILED: engine output differs from the hand loop\n");
    return 1;
  }
  if (targetMissed) {
    process.stderr.write(`[bench] target missed${flags.enforceTargets ? "" : " (not enforced; --enforce-targets)"}\n`);
    if (flags.enforceTargets) return 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Flags

function parseFlags(argv: readonly string[]): { flags: Flags; child?: ChildKind; warmupEvents: number } {
  const values = new Map<string, string>();
  for (const arg of argv) {
    if (!arg.startsWith("--")) throw new Failure(`unexpected argument ${arg}`);
    const equals = arg.indexOf("=");
    if (equals < 0) values.set(arg.slice(2), "true");
    else values.set(arg.slice(2, equals), arg.slice(equals + 1));
  }
  const known = new Set([
    "events",
    "users",
    "seed",
    "reps",
    "quick",
    "only",
    "memory-factor",
    "chunk-size",
    "enforce-targets",
    "child",
    "warmup-events",
  ]);
  for (const key of values.keys()) if (!known.has(key)) throw new Failure(`unknown flag --${key}`);
  const integer = (key: string, fallback: number, min: number): number => {
    const raw = values.get(key);
    if (raw === undefined) return fallback;
    const value = Number(raw.replaceAll("_", ""));
    if (!Number.isSafeInteger(value) || value < min) throw new Failure(`--${key} must be an integer >= ${min}`);
    return value;
  };
  const quick = values.has("quick");
  const only = values.get("only");
  let cases: Set<CaseName>;
  if (only === undefined) {
    cases = new Set<CaseName>(["generator", "sessions", "memory", "medallion", "pubsub", "bigquery", "prism"]);
  } else {
    cases = new Set<CaseName>();
    for (const raw of only.split(",")) {
      const item = raw.trim() as CaseName;
      if (!CASE_NAMES.includes(item)) throw new Failure(`--only: unknown case ${raw} (${CASE_NAMES.join(", ")})`);
      if (item === "hand" && only.split(",").length === 1) {
        for (const implied of ["generator", "hand", "hand-memory"] as const) cases.add(implied);
      } else if (item === "engine" && only.split(",").length === 1) {
        for (const implied of ["engine", "memory"] as const) cases.add(implied);
      } else {
        cases.add(item);
      }
    }
  }
  const childRaw = values.get("child");
  if (
    childRaw !== undefined &&
    childRaw !== "generator" &&
    childRaw !== "hand" &&
    childRaw !== "engine" &&
    childRaw !== "noop"
  ) {
    throw new Failure(`--child: unknown kind ${childRaw}`);
  }
  const flags: Flags = {
    events: integer("events", quick ? 100_000 : 1_000_000, 1),
    users: integer("users", 10_000, 1),
    seed: integer("seed", 42, 0),
    reps: integer("reps", quick ? 1 : 5, 1),
    memoryFactor: integer("memory-factor", 10, 1),
    chunkSize: integer("chunk-size", 16_384, 1),
    cases,
    enforceTargets: values.has("enforce-targets"),
  };
  const parsed: { flags: Flags; child?: ChildKind; warmupEvents: number } = {
    flags,
    warmupEvents: integer("warmup-events", 0, 0),
  };
  if (childRaw !== undefined) parsed.child = childRaw;
  return parsed;
}

async function main(): Promise<void> {
  const { flags, child, warmupEvents } = parseFlags(process.argv.slice(2));
  if (child !== undefined) {
    await childMain(
      child,
      { totalEvents: flags.events, users: flags.users, seed: flags.seed, chunkSize: flags.chunkSize },
      warmupEvents,
    );
    return;
  }
  process.exitCode = await parentMain(flags);
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench] ${error instanceof Error ? error.message : String(error)}\n`);
  if (!(error instanceof Failure) && error instanceof Error && error.stack !== undefined) {
    process.stderr.write(error.stack + "\n");
  }
  process.exitCode = 1;
});
