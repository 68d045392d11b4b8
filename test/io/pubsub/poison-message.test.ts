import type { PubSub } from "@google-cloud/pubsub";
import { describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import { useEmulator } from "./emulator-fixture.ts";
import { provision } from "../../../io/pubsub/provision.ts";
import { type PubsubMessage, pubsubSource } from "../../../io/pubsub/pubsub-source.ts";
import { DirectRunner, type RunningPipeline } from "../../../runners/direct/direct-runner.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { read } from "../../../transforms/read.ts";

const PROJECT = "tidemark-poison";
const fixture = useEmulator(PROJECT);
const pubsub = (): PubSub => fixture.client();

describe("a message whose processing keeps failing", () => {
  it("is nacked by each failing run and reaches the dead-letter topic after the configured attempts; nothing is lost", async () => {
    await provision(pubsub(), {
      topics: [
        {
          name: "events",
          subscriptions: [
            {
              name: "main",
              retryPolicy: { minBackoffSeconds: 0, maxBackoffSeconds: 1 },
              deadLetter: { topic: "dead-letter", maxDeliveryAttempts: 5 },
            },
          ],
        },
        { name: "dead-letter", subscriptions: [{ name: "dead-letter-inspect" }] },
      ],
    });
    for (const data of ["ok-1", "poison", "ok-2"])
      await pubsub()
        .topic("events")
        .publishMessage({ data: Buffer.from(data) });

    // The dead-letter subscription is read all along: a run drains once every message is accounted for (processed,
    // or dead-lettered by Pub/Sub), which is the exact state the test waits for, not a quiet spell.
    const deadLettered = new Set<string>();
    const dead = pubsubSource({ pubsub: pubsub(), subscription: "dead-letter-inspect", heartbeatMs: 50 }).open();
    let reading = true;
    const readingDead = (async () => {
      while (reading) {
        const ev = await dead.next();
        if (ev?.kind === "elements") for (const m of ev.values) deadLettered.add(m.data);
      }
    })();
    const processed: string[] = [];
    const accountedFor = () =>
      deadLettered.has("poison") && ["ok-1", "ok-2"].every((m) => processed.includes(m) || deadLettered.has(m));
    const deadline = Date.now() + 120_000;
    let failedRuns = 0;
    let cleanRuns = 0;
    try {
      for (let attempt = 0; attempt < 15 && cleanRuns === 0 && Date.now() < deadline; attempt++) {
        const drain = new AbortController();
        // One message per bundle, so a message processed before the failing one is acknowledged, not nacked with it.
        const source = pubsubSource({
          pubsub: pubsub(),
          subscription: "main",
          signal: drain.signal,
          heartbeatMs: 50,
          maxBundleSize: 1,
        });
        const p = Pipeline.create();
        p.apply(read(source), "Read").apply(
          parDo<PubsubMessage, never>({
            process(m) {
              if (m.data === "poison") throw new Error("cannot process this message");
              processed.push(m.data);
            },
          }),
          "Process",
        );
        const running: RunningPipeline = new DirectRunner().start(p, {
          onStep: () => {
            // What was processed is done: acknowledge it. Drain once everything is accounted for (or time is up).
            for (const mark of running.checkpointMarks()) void mark.finalize();
            if (accountedFor() || Date.now() >= deadline) drain.abort();
          },
        });
        try {
          await running.waitUntilFinish();
          cleanRuns++;
        } catch (e) {
          expect(String(e)).toContain("cannot process this message");
          failedRuns++;
        }
      }
    } finally {
      reading = false;
      await readingDead;
      await dead.checkpointMark?.().finalize();
      await dead.close?.();
    }
    const story =
      `after ${failedRuns} failed and ${cleanRuns} clean runs: processed ${JSON.stringify(processed)}, ` +
      `dead-lettered ${JSON.stringify([...deadLettered])}`;
    // Pub/Sub gave up on it after five failed deliveries, and nothing is lost: every other message was processed, or
    // (held in the client behind the poison message and nacked with it by each failing run) dead-lettered too.
    expect(accountedFor(), story).toBe(true);
    expect(processed).not.toContain("poison");
    expect(cleanRuns, story).toBe(1);
    // A run may also fail before seeing it again: at least 4.
    expect(failedRuns, story).toBeGreaterThanOrEqual(4);
  }, 180_000);
});
