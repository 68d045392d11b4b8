/**
 * The Pub/Sub benchmark's child: starts the official emulator, publishes about `--messages` generated user-event
 * messages to one topic with two subscriptions, then drains them twice, in the same process:
 * - the bare client: a streaming-pull subscriber that acknowledges each message on receipt (the baseline);
 * - the medallion pipeline: Pub/Sub source → Bronze/Silver/Gold → a fresh DuckDB file, with checkpoints every 5 s
 *   (each message acknowledged once the checkpoint covering it is written), until every message is in; the drain
 *   (final panes, last writes, last checkpoint) is timed.
 * Publishing is not timed. Prints one result line.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Message } from "@google-cloud/pubsub";
import { DuckDbWarehouse } from "../io/duckdb/duckdb-warehouse.ts";
import { pubsubClient } from "../io/pubsub/client.ts";
import { startPubsubEmulator } from "../io/pubsub/emulator.ts";
import { PubsubPublisher, publishAtRate } from "../io/pubsub/pubsub-sink.ts";
import { pubsubSource } from "../io/pubsub/pubsub-source.ts";
import { generateMessages } from "../pipelines/user-sessions/generate.ts";
import { runMedallion } from "../pipelines/user-sessions/run.ts";
import { type PubsubBenchResult, RESULT_MARKER } from "./child-result.ts";

const MESSAGES_PER_USER = 53;

async function main(): Promise<void> {
  const raw = process.argv.find((a) => a.startsWith("--messages="));
  const target = raw === undefined ? 20_000 : Number(raw.slice("--messages=".length).replaceAll("_", ""));
  const emulator = await startPubsubEmulator();
  const dir = mkdtempSync(join(tmpdir(), "tidemark-bench-pubsub-"));
  const pubsub = pubsubClient("tidemark-bench", emulator.endpoint);
  try {
    const [topic] = await pubsub.createTopic("bench-events");
    await topic.createSubscription("bare");
    await topic.createSubscription("pipeline");
    const messages = generateMessages({
      users: Math.max(1, Math.round(target / MESSAGES_PER_USER)),
      seed: 42,
      startMs: Date.now(),
    }).map(({ message }) => ({ data: message.data, attributes: message.attributes }));
    const published = await publishAtRate(new PubsubPublisher({ pubsub, topic: "bench-events" }), messages);

    // The bare client: receive and acknowledge.
    const bareStarted = performance.now();
    await new Promise<void>((resolve, reject) => {
      const sub = pubsub.subscription("bare", { flowControl: { maxMessages: 10_000, allowExcessMessages: false } });
      let n = 0;
      sub.on("error", reject);
      sub.on("message", (m: Message) => {
        m.ack();
        if (++n === published) void sub.close().then(resolve, reject);
      });
    });
    const bareMs = performance.now() - bareStarted;

    // The pipeline, into DuckDB, drained once every message has arrived.
    const warehouse = await DuckDbWarehouse.create(join(dir, "bench.duckdb"));
    await warehouse.open();
    const drain = new AbortController();
    const source = pubsubSource({ pubsub, subscription: "pipeline", signal: drain.signal });
    const run = await runMedallion(
      source,
      warehouse,
      {},
      {
        onStep: () => {
          if (source.stats().received >= published) drain.abort();
        },
      },
    );
    const rows = await warehouse.counts();
    await warehouse.close();
    const result: PubsubBenchResult = {
      messages: published,
      bareMs,
      pipelineMs: run.elapsedMs,
      acknowledged: run.written.acknowledged,
      rows,
      maxRssKiB: process.resourceUsage().maxRSS,
    };
    process.stdout.write(RESULT_MARKER + JSON.stringify(result) + "\n");
  } finally {
    await pubsub.close();
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench pubsub] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
