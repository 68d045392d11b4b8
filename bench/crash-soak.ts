/**
 * `npx tsx bench/crash-soak.ts [--kills=50] [--users=80] [--rate=20] [--seed=S] [--warehouse=duckdb|bigquery]
 * [--idle=600]`: the command line's medallion on a Pub/Sub subscription (the official emulator) into DuckDB (or, with
 * `--warehouse=bigquery`, into the BigQuery emulator: one flow through both emulators), killed with SIGKILL `--kills`
 * times at random moments while the messages stream in (each run killed at a seeded random point after it has
 * written a fresh checkpoint), restarted from its checkpoints each time, then run to the end (`--max-messages` = the
 * number published, `--stop-when-idle=IDLE` as a backstop); its Bronze, Silver and Gold are compared with an
 * uninterrupted run over the same messages into DuckDB. Prints one JSON line:
 *   {"name":"crash-soak","warehouse":"duckdb","kills":K,"published":N,"bronze":N,"silver":S,"goldSessions":G,
 *    "lost":0,"duplicated":0,"equal":true,"lastRunRead":N,"lastRunEndedBy":"max-messages","seconds":...,"seed":S}
 * and exits 1 unless the tables are equal (nothing lost, nothing twice) and the last run's message count (the Read
 * step's, restored across resumes) reached the number published. Not part of `npm test` (minutes).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BigQuery } from "@google-cloud/bigquery";
import { BigQueryWarehouse } from "../io/bigquery/bigquery-warehouse.ts";
import { type BigQueryEmulator, startBigQueryEmulator } from "../io/bigquery/emulator.ts";
import { DuckDbWarehouse } from "../io/duckdb/duckdb-warehouse.ts";
import { pubsubClient } from "../io/pubsub/client.ts";
import { startPubsubEmulator } from "../io/pubsub/emulator.ts";
import { provision } from "../io/pubsub/provision.ts";
import { PubsubPublisher, publishAtRate } from "../io/pubsub/pubsub-sink.ts";
import { generateMessages } from "../pipelines/user-sessions/generate.ts";

const arg = (name: string, fallback: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? fallback : Number(a.slice(name.length + 3));
};
const KILLS = arg("kills", 50);
const USERS = arg("users", 80);
const RATE = arg("rate", 20);
const SEED = arg("seed", Date.now() % 1_000_000);
const IDLE = arg("idle", 600);
const WAREHOUSE = process.argv.find((x) => x.startsWith("--warehouse="))?.slice("--warehouse=".length) ?? "duckdb";
const PROJECT = "tidemark-soak";
const DATASET = "soak";

let state = SEED >>> 0 || 1;
const random = () => {
  state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
  return state / 2 ** 32;
};

async function main(): Promise<void> {
  const started = performance.now();
  const emulator = await startPubsubEmulator();
  const pubsub = pubsubClient(PROJECT, emulator.endpoint);
  const dir = mkdtempSync(join(tmpdir(), "tidemark-soak-"));
  let bigquery: BigQueryEmulator | undefined;
  try {
    if (WAREHOUSE !== "duckdb" && WAREHOUSE !== "bigquery") throw new Error(`--warehouse must be duckdb or bigquery`);
    if (WAREHOUSE === "bigquery") {
      process.env.METADATA_SERVER_DETECTION = "none";
      bigquery = await startBigQueryEmulator({ projectId: PROJECT });
      await new BigQuery({ projectId: PROJECT, apiEndpoint: bigquery.apiEndpoint }).createDataset(DATASET);
    }
    await provision(pubsub, {
      topics: ["plain", "crash"].map((p) => ({
        name: `${p}-events`,
        subscriptions: [{ name: `${p}-medallion`, ackDeadlineSeconds: 10 }],
      })),
    });
    const startMs = Date.now();
    const messages = generateMessages({ users: USERS, seed: 3, startMs }).map(({ message }) => ({
      data: message.data,
      attributes: message.attributes,
    }));
    const published = await publishAtRate(new PubsubPublisher({ pubsub, topic: "plain-events" }), messages);
    /** The command line on a subscription into `warehouse` (a DuckDB file, or the BigQuery emulator's dataset). */
    const cli = (subscription: string, warehouse: string, extra: readonly string[]): ChildProcess =>
      spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          "pipelines/user-sessions/cli.ts",
          `--input=pubsub://projects/${PROJECT}/subscriptions/${subscription}`,
          `--pubsub-endpoint=${emulator.endpoint}`,
          ...(warehouse === "bigquery"
            ? [
                `--warehouse=bigquery://${PROJECT}/${DATASET}`,
                `--bigquery-endpoint=${bigquery?.apiEndpoint}`,
                `--bigquery-storage-endpoint=${bigquery?.grpcEndpoint}`,
              ]
            : [`--warehouse=duckdb:${warehouse}`]),
          "--lease-seconds=10",
          ...extra,
        ],
        { stdio: ["ignore", "pipe", "ignore"] },
      );
    const exited = (c: ChildProcess) =>
      new Promise<{ code: number | null; signal: string | null }>((r) =>
        c.once("exit", (code, signal) => r({ code, signal })),
      );
    const plainDb = join(dir, "plain.duckdb");
    const plain = await exited(
      cli("plain-medallion", plainDb, [`--max-messages=${published}`, "--stop-when-idle=120"]),
    );
    if (plain.code !== 0) throw new Error(`the uninterrupted run failed: ${JSON.stringify(plain)}`);

    // The same messages stream into the crash topic while the pipeline is killed and restarted.
    const publishing = publishAtRate(new PubsubPublisher({ pubsub, topic: "crash-events" }), messages, RATE);
    const crashDb = WAREHOUSE === "bigquery" ? "bigquery" : join(dir, "crash.duckdb");
    const checkpointDir = join(dir, "checkpoints");
    const checkpoints = [`--checkpoint-dir=${checkpointDir}`, "--checkpoint-seconds=1"];
    const files = () => (existsSync(checkpointDir) ? readdirSync(checkpointDir) : []);
    for (let k = 0; k < KILLS; k++) {
      const before = files();
      const child = cli("crash-medallion", crashDb, [...checkpoints, "--stop-when-idle=600"]);
      const exit = exited(child);
      const deadline = Date.now() + 60_000;
      while (!files().some((f) => !before.includes(f))) {
        if (Date.now() > deadline) throw new Error(`kill ${k}: no fresh checkpoint within 60 s (seed ${SEED})`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, Math.floor(random() * 1_500)));
      child.kill("SIGKILL");
      const killed = await exit;
      if (killed.signal !== "SIGKILL") throw new Error(`kill ${k}: the run ended by itself: ${JSON.stringify(killed)}`);
      process.stderr.write(`\rkill ${k + 1}/${KILLS}`);
    }
    process.stderr.write("\n");
    await publishing;
    const lastChild = cli("crash-medallion", crashDb, [
      ...checkpoints,
      `--max-messages=${published}`,
      `--stop-when-idle=${IDLE}`,
    ]);
    let lastOut = "";
    lastChild.stdout?.on("data", (b: Buffer) => {
      lastOut += b.toString();
    });
    const lastStarted = performance.now();
    const last = await exited(lastChild);
    if (last.code !== 0) throw new Error(`the last run failed: ${JSON.stringify(last)} (seed ${SEED})`);
    // Its first line: "N messages in S s into ...", N the Read step's count for the whole job (restored on resume).
    const lastRunRead = Number(/^(\d+) messages in/.exec(lastOut)?.[1] ?? Number.NaN);
    const lastRunEndedBy =
      lastRunRead >= published ? "max-messages" : performance.now() - lastStarted >= IDLE * 1000 ? "idle" : "?";

    const tables = async (db: string) => {
      const w =
        db === "bigquery"
          ? new BigQueryWarehouse({
              projectId: PROJECT,
              dataset: DATASET,
              apiEndpoint: bigquery?.apiEndpoint,
              storageEndpoint: bigquery?.grpcEndpoint,
            })
          : await DuckDbWarehouse.create(db);
      try {
        const col = async (sql: string) => (await w.query(sql)).map((r) => JSON.stringify(Object.values(r))).sort();
        return {
          bronze: await col("SELECT payload FROM bronze_messages"),
          silver: await col("SELECT event_id FROM silver_events"),
          gold: await col(
            "SELECT tenant_id, user_id, session_start, session_end, event_count, revenue, funnel_steps FROM gold_sessions",
          ),
        };
      } finally {
        await w.close();
      }
    };
    const a = await tables(plainDb);
    const b = await tables(crashDb);
    // Messages still in the crash subscription (neither acknowledged nor written): read for up to 60 s, or until as
    // many as Bronze misses have come.
    const missing = a.bronze.length - b.bronze.length;
    const leftInSubscription: { id: string; attempts: number | null; publishTime: string }[] = [];
    if (missing > 0) {
      const sub = pubsub.subscription("crash-medallion");
      sub.on("message", (m) => {
        leftInSubscription.push({
          id: m.id,
          attempts: m.deliveryAttempt ?? null,
          publishTime: m.publishTime.toISOString(),
        });
      });
      const until = Date.now() + 60_000;
      while (leftInSubscription.length < missing && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      await sub.close();
    }
    const lost = a.silver.filter((id) => !b.silver.includes(id)).length;
    // Rows written twice: a Silver event id more than once, or more Bronze rows than messages published.
    const duplicated = b.silver.length - new Set(b.silver).size + Math.max(0, b.bronze.length - a.bronze.length);
    const equal =
      JSON.stringify(a.bronze) === JSON.stringify(b.bronze) &&
      JSON.stringify(a.silver) === JSON.stringify(b.silver) &&
      JSON.stringify(a.gold) === JSON.stringify(b.gold);
    const result = {
      name: "crash-soak",
      warehouse: WAREHOUSE,
      kills: KILLS,
      published,
      bronze: b.bronze.length,
      silver: b.silver.length,
      goldSessions: b.gold.length,
      lost,
      duplicated,
      equal,
      lastRunRead,
      lastRunEndedBy,
      leftInSubscription: leftInSubscription.length,
      seconds: Math.round((performance.now() - started) / 1000),
      seed: SEED,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (leftInSubscription.length > 0) process.stderr.write(`left: ${JSON.stringify(leftInSubscription)}\n`);
    if (!equal || a.bronze.length !== published || lastRunRead < published) process.exitCode = 1;
  } finally {
    await bigquery?.stop();
    await pubsub.close();
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`crash-soak (seed ${SEED}): ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
