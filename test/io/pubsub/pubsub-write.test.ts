import type { PubSub } from "@google-cloud/pubsub";
import { describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { provision } from "../../../io/pubsub/provision.ts";
import { PubsubPublisher } from "../../../io/pubsub/pubsub-sink.ts";
import { writeToPubsub } from "../../../io/pubsub/pubsub-write.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import {
  attributeValue,
  type FeedTarget,
  type InvalidMessage,
  type SessionInsight,
} from "../../../pipelines/user-sessions/insights-feed.ts";
import { medallion } from "../../../pipelines/user-sessions/pipeline.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import { create } from "../../../transforms/read.ts";
import { collectInto, newCollected } from "../../pipelines/user-sessions/collect.ts";
import { readMessages, useEmulator } from "./emulator-fixture.ts";

const PROJECT = "tidemark-write";
const fixture = useEmulator(PROJECT);
const pubsub = (): PubSub => fixture.client();

const target = (topic: string): FeedTarget => ({
  topic: `projects/${PROJECT}/topics/${topic}`,
  publisher: () => new PubsubPublisher({ pubsub: pubsub(), topic }),
});

describe("writeToPubsub on the direct runner (the Pub/Sub emulator)", () => {
  it("publishes each element's message, with its attributes, ordering key and timestamp attribute", async () => {
    await provision(pubsub(), { topics: [{ name: "out", subscriptions: [{ name: "out-read" }] }] });
    const p = Pipeline.create();
    p.apply(create(["a", "b", "c"], { timestamp: 1_767_600_000_000 })).apply(
      writeToPubsub<string>({
        ...target("out"),
        timestampAttribute: "ts",
        message: (v) => ({ data: `payload-${v}`, attributes: { letter: v }, orderingKey: v }),
      }),
      "Write",
    );
    await new DirectRunner().run(p);
    const got = await readMessages(pubsub(), "out-read", 3);
    expect(got.map((m) => [m.data, m.attributes, m.orderingKey]).sort()).toEqual([
      ["payload-a", { letter: "a", ts: "1767600000000" }, "a"],
      ["payload-b", { letter: "b", ts: "1767600000000" }, "b"],
      ["payload-c", { letter: "c", ts: "1767600000000" }, "c"],
    ]);
    expect(() => writeToPubsub({ ...target("out"), topic: "out", message: () => ({ data: "" }) })).toThrow(
      "writeToPubsub: the topic must be projects/P/topics/T",
    );
  });

  it("the medallion's feeds: every invalid message with its error, and Gold's changes whose newest per session is the Gold row", async () => {
    await provision(pubsub(), {
      topics: [
        { name: "invalid", subscriptions: [{ name: "invalid-read" }] },
        // Read without ordering: an ordered subscription holds a key's next message until the previous one is
        // acknowledged, and this reader acknowledges at the end; the `seq` attribute orders a session's changes.
        { name: "insights", subscriptions: [{ name: "insights-read" }] },
      ],
    });
    const warehouse = await DuckDbWarehouse.create(":memory:");
    await warehouse.open();
    const p = Pipeline.create();
    const collected = newCollected();
    const { tables } = medallion(p, fixtureFileSource<RawMessage>("test/fixtures/events-small.jsonl"), warehouse, {
      feeds: { insights: target("insights"), deadLetters: target("invalid") },
    });
    collectInto(tables, collected);
    await new DirectRunner().run(p, { maxBundleMs: 1000 });

    const invalid = await readMessages(pubsub(), "invalid-read", collected.deadLetter.length);
    expect(invalid.length).toBe(collected.deadLetter.length);
    expect(invalid.length).toBeGreaterThan(5);
    const byId = new Map(collected.deadLetter.map((d) => [d.message.messageId, d]));
    for (const m of invalid) {
      const d = byId.get(m.attributes.tidemark_message_id as string);
      expect(d, m.attributes.tidemark_message_id).toBeDefined();
      expect(m.attributes).toEqual({ tidemark_message_id: d?.message.messageId, tidemark_error_field: d?.error.field });
      const body: InvalidMessage = {
        message_id: d?.message.messageId as string,
        publish_time: d?.message.publishTime as number,
        attributes: d?.message.attributes ?? {},
        data: d?.message.data as string,
        error: { field: d?.error.field as string, reason: d?.error.reason as string },
      };
      expect(JSON.parse(m.data)).toEqual(body);
    }

    const insights = await readMessages(pubsub(), "insights-read", collected.sessions.length);
    expect(insights.length).toBe(collected.sessions.length);
    const newest = new Map<string, { seq: number; insight: SessionInsight }>();
    for (const m of insights) {
      const seq = Number(m.attributes.seq);
      const id = m.attributes.session_id as string;
      const held = newest.get(id);
      if (held === undefined || seq > held.seq) newest.set(id, { seq, insight: JSON.parse(m.data) as SessionInsight });
    }
    const live = [...newest.values()]
      .map((n) => n.insight)
      .filter((i): i is Extract<SessionInsight, { kind: "upsert" }> => i.kind === "upsert")
      .map((i) => [i.session.session_id, i.session.event_count, i.session.is_final])
      .sort();
    const gold = (await warehouse.query("SELECT session_id, event_count, is_final FROM gold_sessions"))
      .map((r) => [r.session_id, r.event_count, r.is_final])
      .sort();
    expect(live).toEqual(gold);
    expect(gold.length).toBeGreaterThan(100);
    await warehouse.close();
  }, 120_000);

  it("an attribute value is cut to Pub/Sub's 1 KiB limit on a character boundary; a failed publish fails its flush only", async () => {
    expect(attributeValue("short")).toBe("short");
    const long = "é".repeat(700); // 1,400 bytes
    const cut = attributeValue(long);
    expect(Buffer.byteLength(cut, "utf8")).toBe(1024);
    expect(long.startsWith(cut)).toBe(true);
    // A publish that fails (here: its topic is gone) fails the flush that reports it, once; when the topic is back,
    // the same publisher goes on (a retried bundle is not failed again by an old failure).
    await provision(pubsub(), { topics: [{ name: "flaky", subscriptions: [{ name: "flaky-read" }] }] });
    const publisher = new PubsubPublisher({ pubsub: pubsub(), topic: "flaky" });
    await pubsub().topic("flaky").delete();
    await publisher.publish({ data: "lost" });
    await expect(publisher.flush()).rejects.toThrow("publishing to projects/tidemark-write/topics/flaky failed");
    await pubsub().subscription("flaky-read").delete();
    await provision(pubsub(), { topics: [{ name: "flaky", subscriptions: [{ name: "flaky-read" }] }] });
    await publisher.publish({ data: "fine" });
    await publisher.flush();
    expect((await readMessages(pubsub(), "flaky-read", 1)).map((m) => m.data)).toEqual(["fine"]);
  });
});
