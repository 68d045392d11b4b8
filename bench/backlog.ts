/**
 * `npx tsx bench/backlog.ts [--messages=1000000] [--chunk-hours=0] [--live-rate=0] [--emulator-heap-mib=12288]
 * [--idle-seconds=120] [-- CLI flags]`: a
 * backlog of `--messages` generated user-event messages waiting in a subscription of the official Pub/Sub emulator,
 * drained by the command line's medallion (`pipelines/user-sessions/cli.ts`, a child process, as bench/crash-soak.ts
 * runs it) into a fresh DuckDB file. Prints one JSON line:
 *   {"name":"backlog","messages":N,"published_seconds":...,"drained":N,"bronze":N,"silver":S,"peak_rss_mib":...,
 *    "drain_seconds":...,"messages_per_second":...,"ok":true}
 * and exits 1 unless every message is in Bronze (exactly N rows, N distinct message ids), Silver holds exactly the
 * generator's distinct valid events (the ground truth: the event ids of the messages whose origin is an event, not a
 * re-delivery or a malformed payload), and the pipeline's peak RSS stays under 1 GiB. Not part of `npm test`.
 *
 * Why 1,000,000 by default, not 5,000,000: the emulator holds 5 M messages (published in about 4 minutes; about
 * 6 GB of its heap, so it needs more than its default heap of a quarter of the RAM, hence `-Xmx12288m`), but it
 * cannot hand them out in reasonable time. Each Pull (at most 100 messages) costs it time in proportion to the
 * subscription's backlog (`MessageBacklog.updateExpiredAckDeadlines` copies the whole set of undelivered messages
 * whenever any message is outstanding, under the subscription's lock; StreamingPull goes through the same code), so
 * draining N messages costs it about N^2. Measured on the 2-core machine (8 Pulls in flight, 10,000 held, acknowledged
 * a second later): 433 messages/s from a 1 M backlog, 100/s from a 5 M one; the 1 M drain took 15 to 22 minutes, a
 * 5 M one would take about 8 hours, nearly all of it the emulator's. `--messages=5000000` runs it all the same.
 *
 * Publishing: the messages are generated and published a chunk at a time (`--chunk-users` users, one
 * `generateMessages` call each, a seed per chunk), so the bench holds one chunk and the ground truth's event ids,
 * never the whole backlog. The seeds are spaced along mulberry32's single cycle (the state steps by a constant, so
 * seed + k * 2^23 * step starts exactly 2^23 draws after seed + (k - 1) * 2^23 * step; a 2,000-user chunk draws about
 * 1.1 M numbers): each chunk draws from its own stretch of the cycle and no two chunks share an event id (a 2,000-user
 * chunk is about 103,000 messages over 50 hours of event time). By default every chunk starts at the same `startMs`
 * (now), as the Pub/Sub end-to-end test's messages do, so no session is behind the wall-clock watermark: the whole
 * backlog is one window of event time, every session stays open (within the allowed lateness) to the end, the worst
 * case for the pipeline's state. `--chunk-hours=H` starts chunk k at `startMs + k * H` hours instead: a backlog that
 * accumulated over days (with H = 50, each chunk's events follow the previous chunk's), where the watermark moves on
 * through the drain and sessions expire after the allowed lateness, as they do in production. The emulator stamps
 * every message with the wall-clock publish time (a backlog published in seconds), so with `--chunk-hours` each
 * message carries its event time in the `event_time_ms` attribute (as a client stamps it; a payload without a
 * readable time carries the last one) and the pipeline reads it (`--timestamp-attribute`): the watermark then
 * follows event time as it would follow the publish times of a backlog that took days to accumulate.
 *
 * Draining: the child runs with `--max-messages=N` (it drains once N messages are read) and `--stop-when-idle` as a
 * safety net; `drain_seconds` is from its spawn to its exit (start-up, the drain, the final panes, the last commit).
 * Its memory: `/proc/PID/status` polled every 100 ms, `VmRSS` (the largest seen, `polled_rss_mib`) and `VmHWM` (the
 * kernel's high-water mark of the resident set, `peak_rss_mib`, read until the process exits); its CPU time
 * (`pipeline_cpu_seconds`) and the emulator's during the drain (`emulator_cpu_seconds`) say which of the two set the
 * pace. The emulator's JVM gets `-Xmx` from `--emulator-heap-mib` through `JAVA_OPTS`, which its launcher passes to
 * java; its peak resident set is reported too (`emulator_rss_mib`). Whatever follows `--` goes to the pipeline's
 * command line.
 *
 * The emulator and the child are stopped at the end, on failure and on SIGINT/SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDbWarehouse } from "../io/duckdb/duckdb-warehouse.ts";
import { pubsubClient } from "../io/pubsub/client.ts";
import { type PubsubEmulator, startPubsubEmulator } from "../io/pubsub/emulator.ts";
import { provision } from "../io/pubsub/provision.ts";
import { PubsubPublisher } from "../io/pubsub/pubsub-sink.ts";
import { generateMessages } from "../pipelines/user-sessions/generate.ts";

const arg = (name: string, fallback: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? fallback : Number(a.slice(name.length + 3).replaceAll("_", ""));
};
const MESSAGES = arg("messages", 1_000_000);
const CHUNK_USERS = arg("chunk-users", 2_000);
const CHUNK_HOURS = arg("chunk-hours", 0);
/** With `--chunk-hours`, each message carries its event time in this attribute and the pipeline reads it. */
const TIME_ATTRIBUTE = "event_time_ms";
const EMULATOR_HEAP_MIB = arg("emulator-heap-mib", 12_288);
const IDLE_SECONDS = arg("idle-seconds", 120);
const SEED = arg("seed", 1);
/**
 * `--live-rate=R` (messages a second): instead of a backlog published before the drain, the pipeline starts first and
 * the messages are published at about R a second while it runs (a live stream of `--messages` messages): with the
 * subscription near empty the emulator's per-Pull cost stays small, so millions of messages go through one process
 * in reasonable time, and the RSS of each fifth of the run (`rss_mib_by_fifth`) shows whether memory follows the
 * state the job keeps (bounded with a short de-dup horizon and event time moving on) or the number of messages.
 */
const LIVE_RATE = arg("live-rate", 0);
/** Whatever follows `--` goes to the pipeline's command line (e.g. `-- --batch-rows=20000`). */
const PIPELINE_ARGS = process.argv.includes("--") ? process.argv.slice(process.argv.indexOf("--") + 1) : [];
const PROJECT = "tidemark-backlog";
const TOPIC = "backlog-events";
const SUBSCRIPTION = "backlog-medallion";
const RSS_LIMIT_MIB = 1024;
/** mulberry32's state step: seeds this many steps apart start this far apart along its cycle. */
const MULBERRY_STEP = 0x6d2b79f5;
const DRAWS_PER_CHUNK = 2 ** 23;
if (!(CHUNK_USERS >= 1 && CHUNK_USERS <= 12_000)) {
  // About 560 draws a user: more than 12,000 users could run into the next chunk's stretch of the cycle.
  throw new Error(`--chunk-users must be 1 to 12,000, got ${CHUNK_USERS}`);
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const round1 = (x: number) => Math.round(x * 10) / 10;

/** The seed of chunk `k`: `DRAWS_PER_CHUNK * k` draws along the cycle from the seed of chunk 0. */
const chunkSeed = (k: number) => (SEED + Math.imul(Math.imul(k, DRAWS_PER_CHUNK), MULBERRY_STEP)) >>> 0;

/** A field of /proc/PID/status in MiB (`VmRSS`, `VmHWM`), or undefined once the process is gone. */
function procStatusMib(pid: number, field: "VmRSS" | "VmHWM"): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? undefined : Number(m[1]) / 1024;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat; undefined once it is gone. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime, fields 14 and 15 of the line (in clock ticks, 100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** The emulator's JVM (its launcher execs java): the process whose command line names its port. */
function emulatorPid(port: number): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmd.includes("java") && cmd.includes(`--port=${port}`)) return Number(entry);
    } catch {
      // Gone meanwhile.
    }
  }
  return undefined;
}

/**
 * Silver's key of a valid generated payload, its tenant and event id (two tenants may use one id: the generator's
 * colliding ids), as one flat string of its own (not a slice of the payload).
 */
function silverKeyOf(data: string): string {
  const p = JSON.parse(data) as { event_id: unknown; tenant_id: unknown };
  return Buffer.from(`${String(p.tenant_id)}\u0000${String(p.event_id)}`, "utf8").toString("utf8");
}

/** A payload's event time (epoch ms), or undefined when it has none that parses. */
function eventTimeOf(data: string): number | undefined {
  try {
    const t = (JSON.parse(data) as { event_time?: unknown }).event_time;
    const ms = typeof t === "string" ? Date.parse(t) : typeof t === "number" ? t : Number.NaN;
    return Number.isFinite(ms) ? ms : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Publishes `MESSAGES` generated messages, a chunk of users at a time; returns the ground truth: the distinct
 * (tenant, event id) keys of the valid events published (a re-delivery repeats one, a malformed payload has none that
 * counts).
 */
async function publishBacklog(publisher: PubsubPublisher, startMs: number): Promise<Set<string>> {
  const events = new Set<string>();
  const started = performance.now();
  let queued = 0;
  let lastReport = 0;
  let lastEventTime = startMs;
  // With --live-rate, a pause whenever the messages queued run ahead of the rate (a bench's pacing, not a wait on
  // anything).
  const pace = async () => {
    if (LIVE_RATE <= 0 || queued % 100 !== 0) return;
    const aheadMs = (queued / LIVE_RATE) * 1000 - (performance.now() - started);
    if (aheadMs > 5) await new Promise((r) => setTimeout(r, aheadMs));
  };
  for (let k = 0; queued < MESSAGES; k++) {
    const chunk = generateMessages({
      users: CHUNK_USERS,
      seed: chunkSeed(k),
      startMs: startMs + k * CHUNK_HOURS * 3_600_000,
    });
    // A prefix of a chunk is whole as to re-deliveries: a duplicate is published after its original.
    for (const { message, origin } of chunk) {
      if (queued === MESSAGES) break;
      if (origin.kind === "event") events.add(silverKeyOf(message.data));
      let attributes = message.attributes;
      if (CHUNK_HOURS > 0) {
        // The event time as the client stamps it (a message it cannot read carries the last time stamped).
        lastEventTime = eventTimeOf(message.data) ?? lastEventTime;
        attributes = { ...attributes, [TIME_ATTRIBUTE]: String(lastEventTime) };
      }
      await publisher.publish({ data: message.data, attributes });
      queued++;
      await pace();
    }
    const now = performance.now();
    if (now - lastReport > 5_000 || queued === MESSAGES) {
      lastReport = now;
      const s = (now - started) / 1000;
      log(
        `published ${publisher.published.toLocaleString("en")} of ${MESSAGES.toLocaleString("en")} ` +
          `(${Math.round(publisher.published / s)}/s)`,
      );
    }
  }
  await publisher.flush();
  return events;
}

/** The child's memory (and CPU time), sampled every 100 ms while it runs. */
interface RssSampler {
  /** `byFifth`: the largest resident set seen in each fifth of the time sampled (MiB). */
  stop(): { polledMib: number; hwmMib: number; cpuSeconds: number; byFifth: number[] };
}

function sampleRss(pid: number): RssSampler {
  let polled = 0;
  let hwm = 0;
  let cpu = 0;
  const started = performance.now();
  const samples: { at: number; mib: number }[] = [];
  const sample = () => {
    const rss = procStatusMib(pid, "VmRSS");
    if (rss !== undefined) samples.push({ at: performance.now() - started, mib: rss });
    polled = Math.max(polled, rss ?? 0);
    hwm = Math.max(hwm, procStatusMib(pid, "VmHWM") ?? 0);
    cpu = Math.max(cpu, cpuSeconds(pid) ?? 0);
  };
  sample();
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      const span = (samples.at(-1)?.at ?? 0) + 1;
      const byFifth = [0, 0, 0, 0, 0];
      for (const { at, mib } of samples) {
        const k = Math.min(4, Math.floor((at / span) * 5));
        byFifth[k] = Math.max(byFifth[k] ?? 0, Math.round(mib));
      }
      return { polledMib: polled, hwmMib: hwm, cpuSeconds: cpu, byFifth };
    },
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  process.env.JAVA_OPTS = `${process.env.JAVA_OPTS ?? ""} -Xmx${EMULATOR_HEAP_MIB}m`.trim();
  let emulator: PubsubEmulator | undefined;
  let child: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), "tidemark-backlog-"));
  const stopTimers: (() => void)[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanUp = () => {
    cleaning ??= (async () => {
      for (const stop of stopTimers.splice(0)) stop();
      if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await emulator?.stop();
      rmSync(dir, { recursive: true, force: true });
    })();
    return cleaning;
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the pipeline and the emulator`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  try {
    emulator = await startPubsubEmulator();
    const jvm = emulatorPid(emulator.port);
    let emulatorPeakMib = 0;
    const emulatorTimer = setInterval(() => {
      if (jvm !== undefined) emulatorPeakMib = Math.max(emulatorPeakMib, procStatusMib(jvm, "VmHWM") ?? 0);
    }, 1_000);
    stopTimers.push(() => clearInterval(emulatorTimer));
    const startedEmulator = emulator;
    const pubsub = pubsubClient(PROJECT, emulator.endpoint);
    await provision(pubsub, { topics: [{ name: TOPIC, subscriptions: [{ name: SUBSCRIPTION }] }] });
    const publishAll = async () => {
      try {
        const publisher = new PubsubPublisher({ pubsub, topic: TOPIC, maxInFlight: 20_000 });
        const publishStarted = performance.now();
        let published: Set<string>;
        try {
          published = await publishBacklog(publisher, Date.now());
        } catch (e) {
          const rss = jvm === undefined ? undefined : procStatusMib(jvm, "VmRSS");
          throw new Error(
            `publishing failed after ${publisher.published} messages (emulator heap -Xmx${EMULATOR_HEAP_MIB}m, ` +
              `resident ${rss === undefined ? "gone" : `${Math.round(rss)} MiB`}): ${(e as Error).message}\n` +
              startedEmulator.log().slice(-2_000),
            { cause: e },
          );
        }
        const seconds = (performance.now() - publishStarted) / 1000;
        if (publisher.published !== MESSAGES) throw new Error(`published ${publisher.published} of ${MESSAGES}`);
        log(`published ${MESSAGES} messages in ${round1(seconds)} s, ${published.size} distinct valid events`);
        return { events: published, publishedSeconds: seconds };
      } finally {
        await pubsub.close();
      }
    };
    // A backlog is published whole before the drain; a live stream (--live-rate) while it runs.
    const backlog = LIVE_RATE > 0 ? undefined : await publishAll();

    const db = join(dir, "backlog.duckdb");
    const drainStarted = performance.now();
    const running = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "pipelines/user-sessions/cli.ts",
        `--input=pubsub://projects/${PROJECT}/subscriptions/${SUBSCRIPTION}`,
        `--pubsub-endpoint=${emulator.endpoint}`,
        `--warehouse=duckdb:${db}`,
        `--max-messages=${MESSAGES}`,
        `--stop-when-idle=${IDLE_SECONDS}`,
        ...(CHUNK_HOURS > 0 ? [`--timestamp-attribute=${TIME_ATTRIBUTE}`] : []),
        ...PIPELINE_ARGS,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = running;
    let output = "";
    const keep = (b: Buffer) => {
      output = (output + b.toString("utf8")).slice(-20_000);
    };
    running.stdout?.on("data", keep);
    running.stderr?.on("data", keep);
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
      running.once("exit", (code, signal) => r({ code, signal })),
    );
    const sampler = running.pid === undefined ? undefined : sampleRss(running.pid);
    if (sampler !== undefined) stopTimers.push(() => sampler.stop());
    const emulatorCpuAtStart = jvm === undefined ? 0 : (cpuSeconds(jvm) ?? 0);
    let last = { at: performance.now(), pipeline: 0, emulator: emulatorCpuAtStart };
    const progress = setInterval(() => {
      const pid = running.pid ?? -1;
      const rss = procStatusMib(pid, "VmRSS");
      const now = { at: performance.now(), pipeline: cpuSeconds(pid) ?? 0, emulator: cpuSeconds(jvm ?? -1) ?? 0 };
      const busy = (k: "pipeline" | "emulator") =>
        `${Math.round(((now[k] - last[k]) / ((now.at - last.at) / 1000)) * 100)}%`;
      log(
        `draining: ${Math.round((now.at - drainStarted) / 1000)} s, pipeline resident ` +
          `${rss === undefined ? "?" : Math.round(rss)} MiB, ` +
          `CPU: pipeline ${busy("pipeline")}, emulator ${busy("emulator")}`,
      );
      last = now;
    }, 10_000);
    stopTimers.push(() => clearInterval(progress));
    let events: Set<string>;
    let publishedSeconds: number;
    if (backlog !== undefined) ({ events, publishedSeconds } = backlog);
    else {
      const publishing = publishAll();
      const first = await Promise.race([publishing.then(() => "published"), exited.then(() => "exited")]);
      if (first === "exited") {
        throw new Error(`the pipeline exited while the live stream was being published:\n${output.slice(-4_000)}`);
      }
      ({ events, publishedSeconds } = await publishing);
    }
    const exit = await exited;
    clearInterval(progress);
    const memory = sampler?.stop() ?? { polledMib: 0, hwmMib: 0, cpuSeconds: 0, byFifth: [] };
    const drainSeconds = (performance.now() - drainStarted) / 1000;
    const emulatorCpu = (jvm === undefined ? 0 : (cpuSeconds(jvm) ?? 0)) - emulatorCpuAtStart;
    clearInterval(emulatorTimer);
    log(output.trimEnd());
    if (exit.code !== 0) throw new Error(`the pipeline failed: ${JSON.stringify(exit)}`);

    const w = await DuckDbWarehouse.create(db);
    let bronze: number;
    let bronzeIds: number;
    let silver: number;
    let silverIds: number;
    let goldSessions: number;
    try {
      const one = async (sql: string) => Number((await w.query(sql))[0]?.n);
      bronze = await one("SELECT count(*) AS n FROM bronze_messages");
      bronzeIds = await one("SELECT count(DISTINCT message_id) AS n FROM bronze_messages");
      silver = await one("SELECT count(*) AS n FROM silver_events");
      silverIds = await one("SELECT count(DISTINCT (tenant_id, event_id)) AS n FROM silver_events");
      goldSessions = await one("SELECT count(*) AS n FROM gold_sessions");
    } finally {
      await w.close();
    }
    const drained = Number(/^(\d+) messages in /m.exec(output)?.[1] ?? Number.NaN);
    const ok =
      bronze === MESSAGES &&
      bronzeIds === MESSAGES &&
      silver === events.size &&
      silverIds === events.size &&
      memory.hwmMib < RSS_LIMIT_MIB &&
      memory.polledMib < RSS_LIMIT_MIB;
    const result = {
      name: "backlog",
      messages: MESSAGES,
      chunk_hours: CHUNK_HOURS,
      published_seconds: round1(publishedSeconds),
      drained,
      bronze,
      silver,
      expected_silver: events.size,
      gold_sessions: goldSessions,
      live_rate: LIVE_RATE,
      peak_rss_mib: Math.round(memory.hwmMib),
      rss_mib_by_fifth: memory.byFifth,
      polled_rss_mib: Math.round(memory.polledMib),
      drain_seconds: round1(drainSeconds),
      messages_per_second: Math.round(MESSAGES / drainSeconds),
      pipeline_cpu_seconds: Math.round(memory.cpuSeconds),
      emulator_cpu_seconds: Math.round(emulatorCpu),
      emulator_heap_mib: EMULATOR_HEAP_MIB,
      emulator_rss_mib: Math.round(emulatorPeakMib),
      seconds: Math.round((performance.now() - started) / 1000),
      ok,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (!ok) process.exitCode = 1;
  } finally {
    await cleanUp();
  }
}

main().catch((e) => {
  log(`backlog: ${e instanceof Error ? e.stack : String(e)}`);
  process.exitCode = 1;
});
