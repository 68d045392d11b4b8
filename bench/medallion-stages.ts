/**
 * Where the medallion pipeline's time goes: the same generated stream through growing prefixes of the pipeline on
 * the direct runner, every output discarded (no warehouse), three runs each after one warm-up, in one process:
 *   read      the source alone (fixture lines parsed into messages, bundles, watermarks, processing time)
 *   bronze    + parsing and validating payloads, Bronze rows, dead letters
 *   silver    + de-duplication (sharded state, sweep timers) and Silver rows
 *   hourly    + the Gold hourly aggregates (fixed windows, early and late panes)
 *   sessions  + the Gold sessions instead (session windows, merging, early and late panes, session writer)
 *   all       the whole pipeline
 * Each line prints the fastest run (wall time, and the least CPU time of the process, GC threads included, which
 * time stolen from this virtual machine does not inflate); the differences between lines are the stages' costs.
 *
 *   npx tsx bench/medallion-stages.ts [--events=200000] [--seed=42] [--only=read,bronze,...]
 */
import type { PCollection } from "../core/pcollection.ts";
import { Pipeline } from "../core/pipeline.ts";
import { fixtureLinesSource } from "../io/test-stream/jsonl.ts";
import { bronze } from "../pipelines/user-sessions/bronze.ts";
import { generateStream } from "../pipelines/user-sessions/generate.ts";
import { goldHourly, goldSessions } from "../pipelines/user-sessions/gold.ts";
import { silver } from "../pipelines/user-sessions/silver.ts";
import { DirectRunner } from "../runners/direct/direct-runner.ts";
import type { RawMessage } from "../schemas/event.ts";
import { parDo } from "../transforms/par-do.ts";
import { read } from "../transforms/read.ts";

const PREFIXES = ["read", "bronze", "silver", "hourly", "sessions", "all"] as const;
type Prefix = (typeof PREFIXES)[number];
/** Messages per generated user, on average (as bench/medallion.ts). */
const MESSAGES_PER_USER = 53;
const RUNS = 3;

const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const events = Number((arg("events") ?? "200000").replaceAll("_", ""));
const seed = Number(arg("seed") ?? 42);
const only = (arg("only")?.split(",") ?? PREFIXES) as Prefix[];
for (const name of only) if (!PREFIXES.includes(name)) throw new Error(`--only: unknown stage ${name}`);

const lines = [...generateStream({ users: Math.max(1, Math.round(events / MESSAGES_PER_USER)), seed })];

function discard<T>(pc: PCollection<T>, name: string): void {
  pc.apply(parDo<T, never>({ process() {} }), name);
}

/** One run of the pipeline cut after `prefix`; returns its wall time and the messages read. */
async function run(prefix: Prefix): Promise<{ ms: number; cpuMs: number; messages: number }> {
  const p = Pipeline.create();
  let messages = 0;
  const source = fixtureLinesSource<RawMessage>("bench", () => lines);
  const m = p.apply(read(source), "Read");
  m.apply(
    parDo<RawMessage, never>({
      process() {
        messages++;
      },
    }),
    "Count",
  );
  if (prefix !== "read") {
    const b = m.apply(bronze());
    discard(b.bronze, "DiscardBronze");
    discard(b.deadLetter, "DiscardDeadLetter");
    if (prefix !== "bronze") {
      const s = b.events.apply(silver({}));
      discard(s.silver, "DiscardSilver");
      if (prefix === "hourly" || prefix === "all") discard(s.events.apply(goldHourly({})), "DiscardHourly");
      if (prefix === "sessions" || prefix === "all") discard(s.events.apply(goldSessions({})), "DiscardSessions");
    }
  }
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  await new DirectRunner().run(p);
  const cpu = process.cpuUsage(cpuStarted);
  return { ms: performance.now() - started, cpuMs: (cpu.user + cpu.system) / 1000, messages };
}

for (const prefix of only) {
  await run(prefix); // warm-up
  let best = Number.POSITIVE_INFINITY;
  let bestCpu = Number.POSITIVE_INFINITY;
  let messages = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = await run(prefix);
    best = Math.min(best, r.ms);
    bestCpu = Math.min(bestCpu, r.cpuMs);
    messages = r.messages;
  }
  const perMessageUs = (best * 1000) / messages;
  process.stdout.write(
    `${prefix.padEnd(9)} ${String(Math.round(best)).padStart(6)} ms  ${perMessageUs.toFixed(1).padStart(5)} µs/message  ` +
      `${Math.round(messages / (best / 1000))} messages/s (${messages} messages)  cpu ${Math.round(bestCpu)} ms\n`,
  );
}
