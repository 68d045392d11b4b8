import type { PubSub } from "@google-cloud/pubsub";
import { describe, expect, it } from "vitest";
import type { SourceEvent, SourceReader } from "../../../core/source.ts";
import { useEmulator } from "./emulator-fixture.ts";
import { type PubsubMessage, pubsubSource } from "../../../io/pubsub/pubsub-source.ts";
import { until } from "../../until.ts";

const PROJECT = "tidemark-test";
const fixture = useEmulator(PROJECT);
const pubsub = (): PubSub => fixture.client();
let n = 0;

/** A fresh topic and subscription. */
async function topicAndSubscription(options: { ordering?: boolean } = {}) {
  const id = `topic-${n++}`;
  const [topic] = await pubsub().createTopic(id);
  const [sub] = await topic.createSubscription(`${id}-sub`, { enableMessageOrdering: options.ordering ?? false });
  return { topic, sub };
}

/** Reads until `count` elements have been given (heartbeats and watermarks skipped), collecting events. */
async function readElements(
  reader: SourceReader<PubsubMessage>,
  count: number,
  events: SourceEvent<PubsubMessage>[] = [],
) {
  const out: { value: PubsubMessage; timestamp: number }[] = [];
  const deadline = Date.now() + 30_000;
  while (out.length < count) {
    if (Date.now() > deadline) throw new Error(`only ${out.length} of ${count} elements arrived`);
    const ev = await reader.next();
    if (ev === undefined) break;
    events.push(ev);
    if (ev.kind === "elements") {
      for (let i = 0; i < ev.values.length; i++) {
        out.push({ value: ev.values[i] as PubsubMessage, timestamp: ev.timestamps[i] as number });
      }
    }
  }
  return out;
}

describe("pubsubSource against the Pub/Sub emulator", () => {
  it("gives each message with its id, publish time, attributes and ordering key, timestamped by publish time", async () => {
    const { topic, sub } = await topicAndSubscription({ ordering: true });
    const ids = [
      await topic.publishMessage({ data: Buffer.from('{"a":1}'), attributes: { k: "v" }, orderingKey: "user-1" }),
      await topic.publishMessage({ data: Buffer.from("not json \u00e9") }),
    ];
    const source = pubsubSource({ pubsub: pubsub(), subscription: sub.name });
    const reader = source.open();
    const got = await readElements(reader, 2);
    expect(got.map((g) => g.value.messageId).sort()).toEqual([...ids].sort());
    const first = got.find((g) => g.value.messageId === ids[0])!;
    expect(first.value).toMatchObject({ data: '{"a":1}', attributes: { k: "v" }, orderingKey: "user-1" });
    expect(first.timestamp).toBe(first.value.publishTime);
    expect(Math.abs(first.value.publishTime - Date.now())).toBeLessThan(60_000);
    expect(got.find((g) => g.value.messageId === ids[1])!.value.data).toBe("not json \u00e9");
    await reader.checkpointMark!().finalize();
    await reader.close?.();
  });

  it("timestampAttribute sets event time (epoch ms or RFC 3339); an unreadable one keeps the publish time and is counted", async () => {
    const { topic, sub } = await topicAndSubscription();
    await topic.publishMessage({ data: Buffer.from("1"), attributes: { ts: "1767225600000" } });
    await topic.publishMessage({ data: Buffer.from("2"), attributes: { ts: "2026-01-01T01:00:00.250+01:00" } });
    await topic.publishMessage({ data: Buffer.from("3"), attributes: { ts: "yesterday" } });
    const source = pubsubSource({ pubsub: pubsub(), subscription: sub.name, timestampAttribute: "ts" });
    const reader = source.open();
    const got = await readElements(reader, 3);
    const byData = Object.fromEntries(got.map((g) => [g.value.data, g]));
    expect(byData["1"]!.timestamp).toBe(Date.UTC(2026, 0, 1));
    expect(byData["2"]!.timestamp).toBe(Date.UTC(2026, 0, 1, 0, 0, 0, 250));
    expect(byData["3"]!.timestamp).toBe(byData["3"]!.value.publishTime);
    expect(source.stats()).toMatchObject({ received: 3, badTimestamps: 1 });
    await reader.checkpointMark!().finalize();
    await reader.close?.();
  });

  it("idAttribute drops re-published duplicates (they are acknowledged, not given twice)", async () => {
    const { topic, sub } = await topicAndSubscription();
    for (const id of ["a", "b", "a", "c", "b"])
      await topic.publishMessage({ data: Buffer.from(id), attributes: { eid: id } });
    const source = pubsubSource({ pubsub: pubsub(), subscription: sub.name, idAttribute: "eid" });
    const reader = source.open();
    const got = await readElements(reader, 3);
    expect(got.map((g) => g.value.data).sort()).toEqual(["a", "b", "c"]);
    // The two duplicates arrive too; wait for them to be counted.
    while (source.stats().received < 5) await reader.next();
    expect(source.stats()).toMatchObject({ received: 5, duplicatesDropped: 2 });
    const mark = reader.checkpointMark!();
    expect(mark.size).toBe(5);
    await mark.finalize();
    await reader.close?.();
  });

  it("acknowledges only finalized marks: what a reader gave but never finalized is delivered again to the next", async () => {
    // One ordering key: Pub/Sub delivers a key's messages in order, a re-delivery before anything published after it.
    const { topic, sub } = await topicAndSubscription({ ordering: true });
    for (let i = 0; i < 6; i++) await topic.publishMessage({ data: Buffer.from(`m${i}`), orderingKey: "k" });
    const first = pubsubSource({ pubsub: pubsub(), subscription: sub.name }).open();
    const got = await readElements(first, 6);
    expect(got).toHaveLength(6);
    first.checkpointMark!(); // taken, never finalized (a crash before the sinks committed)
    await first.close?.();

    const second = pubsubSource({ pubsub: pubsub(), subscription: sub.name }).open();
    const again = await readElements(second, 6);
    expect(again.map((g) => g.value.data).sort()).toEqual(["m0", "m1", "m2", "m3", "m4", "m5"]);
    const mark = second.checkpointMark!();
    expect(mark.size).toBe(6);
    await mark.finalize();
    await second.close?.();

    // Nothing is left: a marker published now, on the same key, is the next reader's first and only message (an
    // unacknowledged m0-m5 would come before it, being earlier on its key).
    await topic.publishMessage({ data: Buffer.from("end"), orderingKey: "k" });
    const third = pubsubSource({ pubsub: pubsub(), subscription: sub.name }).open();
    expect((await readElements(third, 1)).map((g) => g.value.data)).toEqual(["end"]);
    await third.checkpointMark!().finalize();
    await third.close?.();
  });

  it("a subscription that does not exist is a clear error naming it", async () => {
    const reader = pubsubSource({ pubsub: pubsub(), subscription: "nope" }).open();
    await expect(reader.next()).rejects.toThrow(
      `Pub/Sub subscription projects/${PROJECT}/subscriptions/nope does not exist`,
    );
  });

  it("a subscription deleted mid-run: the reader waits for it, reconnects when it is back, and fails naming it when it stays away", async () => {
    const { topic, sub } = await topicAndSubscription();
    await topic.publishMessage({ data: Buffer.from("before") });
    const source = pubsubSource({ pubsub: pubsub(), subscription: sub.name, missingGraceMs: 20_000 });
    const reader = source.open();
    expect((await readElements(reader, 1)).map((g) => g.value.data)).toEqual(["before"]);
    await reader.checkpointMark!().finalize();
    await sub.delete();
    // The subscription is made again only once the reader has seen it gone (NOT_FOUND on its stream) and is waiting
    // for it: what follows is then a reconnect, not a stream that never noticed.
    await until("the reader seeing its subscription deleted", () => source.stats().reconnects === 1, {
      state: () => JSON.stringify(source.stats()),
    });
    await topic.createSubscription(sub.name.split("/").pop() as string);
    await topic.publishMessage({ data: Buffer.from("after") });
    expect((await readElements(reader, 1)).map((g) => g.value.data)).toEqual(["after"]);
    expect(source.stats().reconnects).toBe(1);
    await reader.checkpointMark!().finalize();
    await reader.close?.();

    const gone = await topicAndSubscription();
    const short = pubsubSource({ pubsub: pubsub(), subscription: gone.sub.name, missingGraceMs: 1_000 });
    const r2 = short.open();
    await r2.next();
    await gone.sub.delete();
    const deadline = Date.now() + 30_000;
    let failure: unknown;
    while (failure === undefined && Date.now() < deadline) {
      try {
        await r2.next();
      } catch (e) {
        failure = e;
      }
    }
    expect(String(failure)).toContain(`subscription ${gone.sub.name} does not exist any more`);
    await r2.close?.();
  }, 60_000);

  it("reads a topic through a temporary subscription that is deleted at close", async () => {
    const id = `topic-${n++}`;
    const [topic] = await pubsub().createTopic(id);
    const reader = pubsubSource({ pubsub: pubsub(), topic: id }).open();
    await reader.next(); // creates the subscription
    await topic.publishMessage({ data: Buffer.from("hello") });
    const got = await readElements(reader, 1);
    expect(got[0]!.value.data).toBe("hello");
    const [subs] = await topic.getSubscriptions();
    expect(subs).toHaveLength(1);
    await reader.checkpointMark!().finalize();
    await reader.close?.();
    const [after] = await topic.getSubscriptions();
    expect(after).toHaveLength(0);
  });

  it("drains on abort: gives what it holds, then ends", async () => {
    const { topic, sub } = await topicAndSubscription();
    for (let i = 0; i < 3; i++) await topic.publishMessage({ data: Buffer.from(`d${i}`) });
    const controller = new AbortController();
    const reader = pubsubSource({ pubsub: pubsub(), subscription: sub.name, signal: controller.signal }).open();
    const got = await readElements(reader, 3);
    expect(got).toHaveLength(3);
    controller.abort();
    let ev = await reader.next();
    while (ev !== undefined && ev.kind !== "elements") ev = await reader.next();
    expect(ev).toBeUndefined();
    await reader.checkpointMark!().finalize();
    await reader.close?.();
  });
});
