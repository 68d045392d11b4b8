/**
 * What the medallion's state costs per unit, in heap bytes (`npm run bench -- --only=state-costs`, or
 * `npx tsx bench/state-costs.ts [--units=seen-id,...] [--n-UNIT=N]`): the per-unit costs of the backlog yardstick
 * (issue 15, bench/README.md "Where the memory goes") kept in a benchmark, so a change that makes them grow shows.
 *
 * Each unit is measured in a fresh child (`node --expose-gc --import tsx bench/state-costs.ts --unit=UNIT`): it runs
 * the code once on a small input (so compiled code is in the baseline, not in the figure), takes the heap used after
 * three forced full GCs as the baseline, adds N units of state, forces the GCs again and divides the growth by N.
 * `arrayBufferBytesPerUnit` is what grew outside that heap in ArrayBuffer backing stores (typed arrays' columns).
 *
 * - `seen-id`: the Pub/Sub source's seen message ids (`io/pubsub/seen-ids.ts`), built as the source builds them
 *   (`${messageId}@${publishTime}`, a 16-digit id), 1,000 a second.
 * - `dedup-event`: Silver's de-duplication per distinct event: the real `silver()` transform on the direct runner, fed
 *   the generator's messages parsed by the pipeline's `parseEvent` (re-deliveries included: dropped by the step, not
 *   counted), 1,000 a second of virtual processing time, a 24 h horizon (nothing expires). Per Silver output.
 * - `gold-window`, `gold-session` (lines `gold-session-window`, `gold-open-session`, and `gold-session-writer`, the
 *   difference): the real `goldSessions()` transform on the direct runner fed the generator's valid events (each
 *   user's 3-10 sessions, late mobile batches included), 1,000 a second, with the watermark held below them (no
 *   session closes); then processing time moves 60 s. Per open session window (the grouping step's count). With the
 *   `watermark` trigger nothing fires: the windows' state alone (accumulator and bookkeeping; that trigger keeps no
 *   state). With the default `early-late` trigger every window has fired its early panes and the session writer
 *   keeps its live row: the open session whole. The writer's share is the difference, so it also holds the early-late
 *   trigger's own per-window state (a Float64Array of leaf state: 224 bytes of heap by a heap snapshot). Processing
 *   time moves during the feed as in a live run: held still, every session merge would leave a processing-timer
 *   entry that is not due yet (about 9 a session, 900 bytes), which a live run drops within the 5 s early delay.
 * - `ordered-list-entry`: one ordered-list cell (`runners/engine/state/state-cells.ts`) with N entries in time order,
 *   small-integer values (the value itself is not counted: Silver's shares the map's key string).
 * - `released-key`: the stateful runner fed N keys, each written and then cleared: a key whose state is empty is
 *   released (521bcff), so about 0.
 *
 * Output: one JSON line per figure, `{"name":"state-costs","unit":...,"n":...,"bytesPerUnit":...,"documented":...}`
 * with `documented` the figure bench/README.md states and `ratio` = measured / documented; `--result` prints them as
 * one result line for bench/run.ts instead (which prints the lines and fails on the checks). Exit 1 if a child fails
 * or a check fails (Silver's rows are not the distinct events fed; Gold wrote while nothing was due, or fewer rows
 * than open windows; a released key left a slot).
 */
import { spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { NO_FIRING } from "../core/pane.ts";
import { Pipeline } from "../core/pipeline.ts";
import type { Source, SourceEvent, SourceReader } from "../core/source.ts";
import { newCell } from "../runners/engine/state/state-cells.ts";
import { orderedListState, type StatefulDoFn, valueState } from "../core/state.ts";
import { hours } from "../core/time/duration.ts";
import { DEFAULT_WINDOWING } from "../core/windowing-strategy.ts";
import { type BoundedWindow, GlobalWindow } from "../core/windows/window.ts";
import { SeenIds } from "../io/pubsub/seen-ids.ts";
import { CORRELATION_ATTRIBUTE, type ReceivedEvent } from "../pipelines/user-sessions/bronze.ts";
import { DEFAULT_OPTIONS, generateMessages } from "../pipelines/user-sessions/generate.ts";
import { type GoldTrigger, goldSessions, type SessionWrite } from "../pipelines/user-sessions/gold.ts";
import { silver } from "../pipelines/user-sessions/silver.ts";
import { DirectRunner, type RunningPipeline } from "../runners/direct/direct-runner.ts";
import { type MetricsSnapshot, stepMetrics } from "../runners/direct/metrics.ts";
import { StatefulRunner } from "../runners/engine/state/stateful-runner.ts";
import { parseEvent, type UserEvent } from "../schemas/event.ts";
import type { SilverRow } from "../schemas/rows.ts";
import { parDo } from "../transforms/par-do.ts";
import { read } from "../transforms/read.ts";
import { RESULT_MARKER } from "./child-result.ts";

export const STATE_COST_UNITS = [
  "seen-id",
  "dedup-event",
  "gold-window",
  "gold-session",
  "ordered-list-entry",
  "released-key",
] as const;
export type StateCostUnit = (typeof STATE_COST_UNITS)[number];

/** Units per child by default: large enough that the per-unit figure is stable, small enough for ~2 min in all. */
const DEFAULT_N: Readonly<Record<StateCostUnit, number>> = {
  "seen-id": 1_000_000,
  // Distinct events (about 51,000 messages a chunk of 1,000 generated users).
  "dedup-event": 300_000,
  // Generated users (about 5.7 open session windows each).
  "gold-window": 12_000,
  "gold-session": 12_000,
  "ordered-list-entry": 1_000_000,
  "released-key": 1_000_000,
};

/** The figures bench/README.md states (bytes per unit; "Where the memory goes", session 6). */
const DOCUMENTED: Readonly<Record<string, number>> = {
  "seen-id": 97,
  "dedup-event": 146,
  "gold-session-window": 1_500,
  "gold-session-writer": 1_000,
  "gold-open-session": 2_500,
  "ordered-list-entry": 11,
  "released-key": 0,
};

/** One figure, as printed. */
export interface StateCostLine {
  readonly name: "state-costs";
  readonly unit: string;
  readonly n: number;
  readonly bytesPerUnit: number;
  readonly documented: number;
  /** Measured / documented (absent when the documented figure is 0). */
  readonly ratio?: number;
  readonly arrayBufferBytesPerUnit: number;
  readonly [detail: string]: unknown;
}

/** A child's result (after RESULT_MARKER). */
interface ChildOutput {
  readonly lines: StateCostLine[];
  /** Checks that failed (the run's figures are then not to be trusted). */
  readonly failures: string[];
}

// ---------------------------------------------------------------------------------------
// Measuring

interface Heap {
  readonly used: number;
  readonly arrayBuffers: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Heap used and ArrayBuffer bytes after three forced full collections. */
function settledHeap(): Heap {
  if (gc === undefined) throw new Error("run with node --expose-gc (bench/state-costs.ts --unit=... is a child)");
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { used: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

function line(unit: string, n: number, from: Heap, to: Heap, details: Record<string, unknown> = {}): StateCostLine {
  const bytesPerUnit = Math.round(((to.used - from.used) / n) * 10) / 10;
  const documented = DOCUMENTED[unit] ?? 0;
  return {
    name: "state-costs",
    unit,
    n,
    bytesPerUnit,
    documented,
    ...(documented > 0 ? { ratio: Math.round((bytesPerUnit / documented) * 100) / 100 } : {}),
    arrayBufferBytesPerUnit: Math.round(((to.arrayBuffers - from.arrayBuffers) / n) * 10) / 10,
    baselineHeapMb: Math.round(from.used / 1e5) / 10,
    heapMb: Math.round(to.used / 1e5) / 10,
    ...details,
  };
}

/**
 * How full a hash table of `entries` is: V8's Map doubles its capacity (a power of two) when full, so the bytes per
 * entry move with N between a table just doubled (half empty) and a full one.
 */
function fill(entries: number): number {
  return Math.round((entries / 2 ** Math.ceil(Math.log2(Math.max(4, entries)))) * 100) / 100;
}

// ---------------------------------------------------------------------------------------
// seen-id

/** Pub/Sub message ids are decimal strings of 16-17 digits. */
const MESSAGE_ID_BASE = 4_170_000_000_000_000;
const SEEN_BASE_MS = Date.UTC(2026, 11, 7, 12);

function addSeenIds(seen: SeenIds, from: number, n: number): void {
  for (let i = from; i < from + n; i++) {
    // As the source builds it: the message's id, "@", its publish time (a new string each time).
    const messageId = String(MESSAGE_ID_BASE + i * 7);
    const publishTime = SEEN_BASE_MS + i;
    seen.add(`${messageId}@${publishTime}`, SEEN_BASE_MS + Math.floor(i / 1000) * 1000);
  }
}

function measureSeenIds(n: number): ChildOutput {
  addSeenIds(new SeenIds(SEEN_BASE_MS), 0, 20_000);
  const seen = new SeenIds(SEEN_BASE_MS);
  const before = settledHeap();
  addSeenIds(seen, 0, n);
  const after = settledHeap();
  const failures = seen.size === n ? [] : [`seen-id: ${seen.size} ids kept, ${n} added`];
  const sample = `${String(MESSAGE_ID_BASE)}@${SEEN_BASE_MS}`;
  const details = { idChars: sample.length, mapFill: fill(seen.size) };
  return { lines: [line("seen-id", seen.size, before, after, details)], failures };
}

// ---------------------------------------------------------------------------------------
// A source driven by a script, for the pipelines measured on the direct runner

/**
 * An unbounded source that drives processing time (a virtual clock) and hands out the events `more` makes, a batch at
 * a time, made only when asked for (so nothing of the input stays alive once handed out). A batch may end with a
 * marker: `marker` names it once the runner has processed it (read in `onStep`).
 */
class ScriptSource<T> implements Source<T> {
  readonly bounded = false;
  readonly drivesProcessingTime = true;
  readonly name = "script";
  /** The marker of the last event handed out, if it was one. */
  marker: string | undefined;

  constructor(private readonly more: () => { events: SourceEvent<T>[]; marker?: string } | undefined) {}

  open(): SourceReader<T> {
    let batch: SourceEvent<T>[] = [];
    let i = 0;
    let marker: string | undefined;
    return {
      next: () => {
        this.marker = undefined;
        while (i === batch.length) {
          const b = this.more();
          if (b === undefined) return undefined;
          batch = b.events;
          i = 0;
          marker = b.marker;
        }
        const ev = batch[i++] as SourceEvent<T>;
        if (i === batch.length) {
          this.marker = marker;
          // Let the batch go: what is measured after it must not include it.
          batch = [];
          i = 0;
        }
        return ev;
      },
    };
  }
}

/** Runs `p` on the direct runner; `atMarker` is called after each marker's event is processed. */
async function runWithMarkers(
  p: Pipeline,
  source: ScriptSource<unknown>,
  atMarker: (marker: string, metrics: () => MetricsSnapshot) => void,
): Promise<MetricsSnapshot> {
  let running: RunningPipeline | undefined;
  running = new DirectRunner().start(p, {
    onStep: () => {
      const marker = source.marker;
      if (marker !== undefined && running !== undefined) atMarker(marker, () => (running as RunningPipeline).metrics());
    },
  });
  return running.waitUntilFinish();
}

/** Events per bundle, and per second of virtual processing time where it moves. */
const BUNDLE = 1_000;
/** Users per generated chunk (about 51,000 messages). */
const CHUNK_USERS = 1_000;

/** One chunk of generated messages (its own seed: other users, other event ids), parsed as Bronze parses them. */
function generatedChunk(
  chunk: number,
  users: number,
): { received: (ReceivedEvent & { readonly redelivery: boolean })[]; messages: number } {
  const messages = generateMessages({ users, seed: 1_000 + chunk });
  const received: (ReceivedEvent & { readonly redelivery: boolean })[] = [];
  for (const { message, origin } of messages) {
    const parsed = parseEvent(message.data, message.attributes[CORRELATION_ATTRIBUTE]);
    if (!parsed.ok) continue;
    received.push({
      message,
      event: parsed.event,
      ingestTime: message.publishTime,
      redelivery: origin.kind === "duplicate",
    });
  }
  return { received, messages: messages.length };
}

// ---------------------------------------------------------------------------------------
// dedup-event: Silver on the direct runner

const SILVER_T0 = Date.UTC(2026, 11, 7, 12);
/** Silver's shards (`silver.ts`: its stateful step's keys). */
const DEDUP_SHARDS = 1024;

/** Silver (24 h horizon) fed chunks of generated events until `distinct` distinct ones; calls `atMarker`. */
async function runSilver(
  distinct: number,
  atMarker: (marker: string, rows: number) => void,
): Promise<{ fed: number; messages: number; rows: number }> {
  let fed = 0;
  let rows = 0;
  let messages = 0;
  let chunk = 0;
  let now = SILVER_T0;
  let phase: "start" | "feed" | "done" | "end" = "start";
  const source = new ScriptSource<ReceivedEvent>(() => {
    if (phase === "start") {
      phase = "feed";
      return { events: [{ kind: "processingTime", time: now }], marker: "baseline" };
    }
    if (phase === "feed") {
      const events: SourceEvent<ReceivedEvent>[] = [];
      const c = generatedChunk(chunk++, CHUNK_USERS);
      messages += c.messages;
      let bundle: ReceivedEvent[] = [];
      const flush = () => {
        now += 1_000;
        events.push({ kind: "processingTime", time: now });
        events.push({ kind: "elements", values: bundle, timestamps: bundle.map((b) => b.message.publishTime) });
        bundle = [];
      };
      for (const r of c.received) {
        if (!r.redelivery) {
          if (fed === distinct) break;
          fed++;
        }
        bundle.push({ message: r.message, event: r.event, ingestTime: now });
        if (bundle.length === BUNDLE) flush();
      }
      if (bundle.length > 0) flush();
      if (fed === distinct) phase = "done";
      return { events };
    }
    if (phase === "done") {
      phase = "end";
      return { events: [{ kind: "processingTime", time: now + 1 }], marker: "fed" };
    }
    return undefined;
  });
  const p = Pipeline.create();
  const outs = p.apply(read<ReceivedEvent>(source), "Read").apply(silver({ dedupHorizonMs: hours(24) }));
  outs.silver.apply(
    parDo<SilverRow, never>({
      process() {
        rows++;
      },
    }),
    "Discard",
  );
  await runWithMarkers(p, source as ScriptSource<unknown>, (marker) => atMarker(marker, rows));
  return { fed, messages, rows };
}

async function measureDedup(n: number): Promise<ChildOutput> {
  await runSilver(5_000, () => {});
  let before: Heap | undefined;
  let after: Heap | undefined;
  let outputs = 0;
  const run = await runSilver(n, (marker, rows) => {
    if (marker === "baseline") before = settledHeap();
    if (marker === "fed") {
      after = settledHeap();
      outputs = rows;
    }
  });
  if (before === undefined || after === undefined) throw new Error("dedup-event: a marker was not reached");
  const failures =
    outputs === run.fed ? [] : [`dedup-event: Silver gave ${outputs} rows for ${run.fed} distinct events`];
  return {
    lines: [
      line("dedup-event", outputs, before, after, {
        messages: run.messages,
        horizonHours: 24,
        // Each of the 1,024 shards has its own map: their fill at the shards' mean size.
        mapFill: fill(outputs / DEDUP_SHARDS),
      }),
    ],
    failures,
  };
}

// ---------------------------------------------------------------------------------------
// gold-window, gold-session: Gold sessions on the direct runner

const GOLD_T0 = Date.UTC(2026, 11, 7, 12);

/**
 * Gold sessions (`trigger`) fed the valid events of `users` generated users, 1,000 a second of virtual processing
 * time, the watermark held below every event (no window closes); then processing time moves 60 s (every early pane
 * due fires) and `atMarker("fed")` is called.
 */
async function runGold(
  users: number,
  trigger: GoldTrigger,
  atMarker: (marker: string, metrics: () => MetricsSnapshot, writes: { upserts: number; deletes: number }) => void,
): Promise<{ events: number }> {
  let events = 0;
  let chunk = 0;
  let now = GOLD_T0;
  const chunks = Math.ceil(users / CHUNK_USERS);
  let phase: "start" | "feed" | "fire" | "end" = "start";
  const writes = { upserts: 0, deletes: 0 };
  const source = new ScriptSource<UserEvent>(() => {
    switch (phase) {
      case "start":
        phase = "feed";
        return {
          events: [
            { kind: "processingTime", time: now },
            // Below every generated event: no window closes, no event is late.
            { kind: "watermark", watermark: DEFAULT_OPTIONS.startMs - hours(1) },
          ],
          marker: "baseline",
        };
      case "feed": {
        const out: SourceEvent<UserEvent>[] = [];
        const c = generatedChunk(chunk++, Math.min(CHUNK_USERS, users - (chunk - 1) * CHUNK_USERS));
        let bundle: UserEvent[] = [];
        const flush = () => {
          now += 1_000;
          out.push({ kind: "processingTime", time: now });
          out.push({ kind: "elements", values: bundle, timestamps: bundle.map((e) => e.event_time_ms) });
          bundle = [];
        };
        for (const r of c.received) {
          // What Silver passes on: each event once.
          if (r.redelivery) continue;
          bundle.push(r.event);
          events++;
          if (bundle.length === BUNDLE) flush();
        }
        if (bundle.length > 0) flush();
        if (chunk === chunks) phase = "fire";
        return { events: out };
      }
      case "fire":
        phase = "end";
        // Past every window's early-firing delay (5 s): each fires the early pane it has due.
        return { events: [{ kind: "processingTime", time: now + 60_000 }], marker: "fed" };
      default:
        return undefined;
    }
  });
  const p = Pipeline.create();
  p.apply(read<UserEvent>(source), "Read")
    .apply(goldSessions({ trigger }))
    .apply(
      parDo<SessionWrite, never>({
        process(w) {
          if (w.kind === "upsert") writes.upserts++;
          else writes.deletes++;
        },
      }),
      "Discard",
    );
  await runWithMarkers(p, source as ScriptSource<unknown>, (marker, metrics) => atMarker(marker, metrics, writes));
  return { events };
}

/**
 * `gold-window`: the `watermark` trigger (no early pane, no trigger state), so nothing reaches the session writer:
 * the session windows' state alone. `gold-session`: the default `early-late` trigger, every early pane fired: the
 * windows with their trigger state and the session writer's live rows.
 */
async function measureGold(users: number, trigger: GoldTrigger): Promise<ChildOutput> {
  await runGold(200, trigger, () => {});
  let before: Heap | undefined;
  let after: Heap | undefined;
  let windows = 0;
  let upserts = 0;
  let deletes = 0;
  const run = await runGold(users, trigger, (marker, metrics, writes) => {
    if (marker === "baseline") before = settledHeap();
    if (marker === "fed") {
      after = settledHeap();
      windows = stepMetrics(metrics(), "GoldSessions/Aggregate").windows ?? 0;
      ({ upserts, deletes } = writes);
    }
  });
  if (before === undefined || after === undefined) throw new Error(`gold (${trigger}): a marker was not reached`);
  const failures: string[] = [];
  if (windows === 0) failures.push(`gold (${trigger}): no open window`);
  if (trigger === "watermark" && upserts + deletes > 0) {
    failures.push(`gold-window: ${upserts + deletes} writes while the watermark was held`);
  }
  if (trigger === "early-late" && upserts < windows) {
    failures.push(`gold-session: ${upserts} rows written for ${windows} open windows`);
  }
  const unit = trigger === "watermark" ? "gold-session-window" : "gold-open-session";
  const details = {
    users,
    events: run.events,
    eventsPerSession: Math.round((run.events / windows) * 10) / 10,
    trigger,
    ...(trigger === "early-late" ? { upserts, deletes } : {}),
  };
  return { lines: [line(unit, windows, before, after, details)], failures };
}

// ---------------------------------------------------------------------------------------
// ordered-list-entry, released-key: the engine's state cells and stateful runner

function measureOrderedList(n: number): ChildOutput {
  const fill = (count: number) => {
    const cell = newCell(orderedListState<number>());
    const list = cell as unknown as { add(timestamp: number, value: number): void; read(): readonly unknown[] };
    for (let i = 0; i < count; i++) list.add(SILVER_T0 + i, i);
    return { cell, list };
  };
  fill(20_000);
  const before = settledHeap();
  const { cell, list } = fill(n);
  const after = settledHeap();
  const failures = cell.isEmptyCell() ? [`ordered-list-entry: the cell is empty after ${n} adds`] : [];
  // Capacity of the timestamp column (a Float64Array doubling from 8): its slack moves the figure with N.
  const capacity = 8 * 2 ** Math.ceil(Math.log2(n / 8));
  void list;
  return { lines: [line("ordered-list-entry", n, before, after, { timesCapacity: capacity })], failures };
}

function measureReleasedKeys(n: number): ChildOutput {
  const STATE = { v: valueState<number>() };
  const fn: StatefulDoFn<number, number, never, typeof STATE, Record<string, never>> = {
    state: STATE,
    process([, v], ctx) {
      if (v >= 0) ctx.state.v.write(v);
      else ctx.state.v.clear();
    },
  };
  const windows: readonly BoundedWindow[] = [GlobalWindow.INSTANCE];
  const feed = (runner: StatefulRunner, count: number) => {
    for (let k = 0; k < count; k++) {
      runner.processElement(k, k, k, windows, NO_FIRING); // written
      runner.processElement(k, -1, k, windows, NO_FIRING); // cleared: the key's state is empty
    }
  };
  feed(new StatefulRunner(DEFAULT_WINDOWING, fn as never, { output() {} }), 20_000);
  const runner = new StatefulRunner(DEFAULT_WINDOWING, fn as never, { output() {} });
  const before = settledHeap();
  feed(runner, n);
  const after = settledHeap();
  const slots = runner.slotCount();
  const failures = slots === 0 ? [] : [`released-key: ${slots} slots kept after ${n} keys were cleared`];
  return { lines: [line("released-key", n, before, after, { slots })], failures };
}

async function child(unit: StateCostUnit, n: number): Promise<ChildOutput> {
  switch (unit) {
    case "seen-id":
      return measureSeenIds(n);
    case "dedup-event":
      return measureDedup(n);
    case "gold-window":
      return measureGold(n, "watermark");
    case "gold-session":
      return measureGold(n, "early-late");
    case "ordered-list-entry":
      return measureOrderedList(n);
    case "released-key":
      return measureReleasedKeys(n);
  }
}

// ---------------------------------------------------------------------------------------
// Parent: one child per unit

const THIS_FILE = fileURLToPath(import.meta.url);
const REPO_ROOT = resolve(dirname(THIS_FILE), "..");

function spawnUnit(unit: StateCostUnit, n: number): Promise<ChildOutput> {
  return new Promise((resolvePromise, rejectPromise) => {
    const args = ["--expose-gc", "--import", "tsx", THIS_FILE, `--unit=${unit}`, `--n=${n}`];
    const c = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    c.stdout.setEncoding("utf8");
    c.stdout.on("data", (d: string) => {
      out += d;
    });
    c.on("error", rejectPromise);
    c.on("close", (code, signal) => {
      const result = out.split("\n").find((l) => l.startsWith(RESULT_MARKER));
      if (code !== 0 || result === undefined) {
        rejectPromise(new Error(`state-costs child ${unit} failed: exit ${code ?? signal}`));
      } else resolvePromise(JSON.parse(result.slice(RESULT_MARKER.length)) as ChildOutput);
    });
  });
}

/** Measures `units` (default all), each in its own child, one at a time; `n` overrides a unit's default count. */
export async function runStateCosts(
  units: readonly StateCostUnit[] = STATE_COST_UNITS,
  n: Partial<Record<StateCostUnit, number>> = {},
  progress: (message: string) => void = () => {},
): Promise<ChildOutput> {
  const lines: StateCostLine[] = [];
  const failures: string[] = [];
  for (const unit of units) {
    const count = n[unit] ?? DEFAULT_N[unit];
    const started = performance.now();
    const r = await spawnUnit(unit, count);
    progress(
      `${unit} (${count}): ` +
        r.lines.map((l) => `${l.unit} ${l.bytesPerUnit} B (documented ${l.documented})`).join(", ") +
        ` in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    lines.push(...r.lines);
    failures.push(...r.failures);
  }
  const window = lines.find((l) => l.unit === "gold-session-window");
  const open = lines.find((l) => l.unit === "gold-open-session");
  if (window !== undefined && open !== undefined) {
    if (window.n !== open.n) failures.push(`gold: ${window.n} open windows with one trigger, ${open.n} with the other`);
    else lines.splice(lines.indexOf(open) + 1, 0, writerLine(window, open));
  }
  return { lines, failures };
}

/** The session writer's share of an open session: the open session less its windows' state (two children). */
function writerLine(window: StateCostLine, open: StateCostLine): StateCostLine {
  const bytesPerUnit = Math.round((open.bytesPerUnit - window.bytesPerUnit) * 10) / 10;
  const documented = DOCUMENTED["gold-session-writer"] as number;
  return {
    name: "state-costs",
    unit: "gold-session-writer",
    n: open.n,
    bytesPerUnit,
    documented,
    ratio: Math.round((bytesPerUnit / documented) * 100) / 100,
    arrayBufferBytesPerUnit: Math.round((open.arrayBufferBytesPerUnit - window.arrayBufferBytesPerUnit) * 10) / 10,
    derived: "gold-open-session - gold-session-window",
  };
}

function isUnit(s: string): s is StateCostUnit {
  return (STATE_COST_UNITS as readonly string[]).includes(s);
}

async function main(): Promise<void> {
  const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const count = (raw: string, what: string): number => {
    const v = Number(raw.replaceAll("_", ""));
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${what} must be a positive integer, got ${raw}`);
    return v;
  };
  const unit = flag("unit");
  if (unit !== undefined) {
    if (!isUnit(unit)) throw new Error(`--unit: unknown unit ${unit} (${STATE_COST_UNITS.join(", ")})`);
    const raw = flag("n");
    const result = await child(unit, raw === undefined ? DEFAULT_N[unit] : count(raw, "--n"));
    process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
    return;
  }
  const units = (flag("units") ?? STATE_COST_UNITS.join(",")).split(",").map((u) => {
    if (!isUnit(u)) throw new Error(`--units: unknown unit ${u} (${STATE_COST_UNITS.join(", ")})`);
    return u;
  });
  const n: Partial<Record<StateCostUnit, number>> = {};
  for (const u of units) {
    const raw = flag(`n-${u}`);
    if (raw !== undefined) n[u] = count(raw, `--n-${u}`);
  }
  const result = await runStateCosts(units, n, (m) => process.stderr.write(`[state-costs] ${m}\n`));
  if (process.argv.includes("--result")) {
    // bench/run.ts prints the lines and fails on the checks.
    process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
    return;
  }
  for (const l of result.lines) process.stdout.write(`${JSON.stringify(l)}\n`);
  for (const f of result.failures) process.stderr.write(`[state-costs] FAILED: ${f}\n`);
  if (result.failures.length > 0) process.exitCode = 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((e: unknown) => {
    process.stderr.write(`[state-costs] ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
