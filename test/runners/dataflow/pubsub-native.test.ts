import { fromBinary } from "@bufbuild/protobuf";
import { PubSub, protos } from "@google-cloud/pubsub";
import { describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import type { PubsubPublisher } from "../../../io/pubsub/pubsub-sink.ts";
import { decodePubsubMessage, pubsubSource } from "../../../io/pubsub/pubsub-source.ts";
import { decodeOutgoing, encodePubsubMessage } from "../../../io/pubsub/pubsub-write.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import { medallion } from "../../../pipelines/user-sessions/pipeline.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import { encodeForContainer } from "../../../runners/portable/docker.ts";
import {
  ParDoPayloadSchema,
  PipelineSchema,
  PubSubReadPayloadSchema,
  PubSubWritePayloadSchema,
} from "../../../runners/portable/proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import { TIDEMARK_URNS } from "../../../runners/portable/translate.ts";
import { URNS } from "../../../runners/portable/urns.ts";
import { map } from "../../../transforms/element-wise.ts";
import { read } from "../../../transforms/read.ts";

describe("Pub/Sub on Dataflow: read by the runner itself, decoded in the worker", () => {
  it("a Pub/Sub source becomes Beam's pubsub_read (subscription path, attributes, timestamp and id attributes), then a decoding step", () => {
    // No call is made: the client only names the project.
    const pubsub = new PubSub({ projectId: "my-proj", apiEndpoint: "127.0.0.1:1" });
    const p = Pipeline.create();
    p.apply(
      read(pubsubSource({ pubsub, subscription: "events", timestampAttribute: "event_time", idAttribute: "event_id" })),
      "Read",
    ).apply(map((m: { messageId: string }) => m.messageId, "Ids"));
    const proto = fromBinary(PipelineSchema, encodeForContainer(p.graph(), "image").bytes);
    const transforms = Object.values(proto.components?.transforms ?? {});
    const readT = transforms.find((t) => t.spec?.urn === URNS.composites.PUBSUB_READ);
    expect(readT?.uniqueName).toBe("Read/PubsubRead");
    const payload = fromBinary(PubSubReadPayloadSchema, readT?.spec?.payload ?? new Uint8Array());
    expect(payload.subscription).toBe("projects/my-proj/subscriptions/events");
    expect(payload.topic).toBe("");
    expect(payload.withAttributes).toBe(true);
    expect(payload.timestampAttribute).toBe("event_time");
    expect(payload.idAttribute).toBe("event_id");
    const messages = Object.values(readT?.outputs ?? {})[0] as string;
    expect(proto.components?.coders[proto.components?.pcollections[messages]?.coderId ?? ""]?.spec?.urn).toBe(
      URNS.coders.BYTES,
    );
    const decode = transforms.find((t) => t.uniqueName === "Read/Decode");
    expect(Object.values(decode?.inputs ?? {})).toEqual([messages]);
    expect(fromBinary(ParDoPayloadSchema, decode?.spec?.payload ?? new Uint8Array()).doFn?.urn).toBe(
      TIDEMARK_URNS.nativeDecodeDoFn,
    );
    // The runner reads: no worker-side read, no bundle finalization asked for.
    expect(proto.requirements).not.toContain(URNS.requirements.REQUIRES_BUNDLE_FINALIZATION);
  });

  it("the worker decodes an encoded google.pubsub.v1.PubsubMessage into the source's message", () => {
    const M = protos.google.pubsub.v1.PubsubMessage;
    const bytes = M.encode(
      M.create({
        data: new TextEncoder().encode('{"event_id":"e1"}'),
        attributes: { tenant_id: "acme" },
        messageId: "123",
        publishTime: { seconds: 1_767_600_000, nanos: 250_000_000 },
        orderingKey: "",
      }),
    ).finish();
    expect(decodePubsubMessage(bytes)).toEqual({
      messageId: "123",
      publishTime: 1_767_600_000_250,
      attributes: { tenant_id: "acme" },
      data: '{"event_id":"e1"}',
    });
  });
});

describe("Pub/Sub writes on Dataflow: encoded in the worker, published by the runner itself", () => {
  it("the medallion's feeds become Beam's pubsub_write (topic, timestamp attribute), fed encoded PubsubMessages in the bytes coder, with no output", async () => {
    const warehouse = await DuckDbWarehouse.create(":memory:");
    const p = Pipeline.create();
    const never = (): PubsubPublisher => {
      throw new Error("a runner that publishes itself never makes a publisher");
    };
    medallion(p, fixtureFileSource<RawMessage>("test/fixtures/events-small.jsonl"), warehouse, {
      feeds: {
        insights: { topic: "projects/my-proj/topics/insights", publisher: never },
        deadLetters: { topic: "projects/my-proj/topics/invalid", publisher: never },
      },
    });
    const proto = fromBinary(PipelineSchema, encodeForContainer(p.graph(), "image").bytes);
    const c = proto.components;
    const writes = Object.values(c?.transforms ?? {}).filter((t) => t.spec?.urn === URNS.composites.PUBSUB_WRITE);
    expect(writes.map((t) => t.uniqueName).sort()).toEqual(["DeadLetterFeed/Publish", "InsightsFeed/Publish"]);
    for (const w of writes) {
      const payload = fromBinary(PubSubWritePayloadSchema, w.spec?.payload ?? new Uint8Array());
      expect(payload.topic).toBe(
        w.uniqueName.startsWith("Insights") ? "projects/my-proj/topics/insights" : "projects/my-proj/topics/invalid",
      );
      expect(payload.timestampAttribute).toBe("");
      expect(w.outputs).toEqual({});
      // Run by the runner: no SDK environment; its input made by the worker's Encode step, in the bytes coder.
      expect(w.environmentId).toBe("");
      const input = Object.values(w.inputs)[0] as string;
      expect(c?.coders[c?.pcollections[input]?.coderId ?? ""]?.spec?.urn).toBe(URNS.coders.BYTES);
      const encode = Object.values(c?.transforms ?? {}).find((t) => Object.values(t.outputs).includes(input));
      expect(encode?.uniqueName).toBe(w.uniqueName.replace("/Publish", "/Encode"));
      expect(encode?.environmentId).toBe("tidemark");
    }
    // The insights feed publishes only stable changes, as the Gold writer does: its Encode step asks for it (the
    // runner's own pubsub_write takes no such requirement); the dead letters need none (one message per message).
    const stable = (name: string) => {
      const t = Object.values(c?.transforms ?? {}).find((x) => x.uniqueName === name);
      return fromBinary(ParDoPayloadSchema, t?.spec?.payload ?? new Uint8Array()).requiresStableInput;
    };
    expect(stable("InsightsFeed/Encode")).toBe(true);
    expect(stable("DeadLetterFeed/Encode")).toBe(false);
    // Every PCollection still has its producer (no dangling output of a sink).
    const produced = new Set(Object.values(c?.transforms ?? {}).flatMap((t) => Object.values(t.outputs)));
    for (const id of Object.keys(c?.pcollections ?? {})) expect(produced.has(id), id).toBe(true);
    await warehouse.close();
  });

  it("an element's message, as encoded for pubsub_write, is what a reader of the topic receives", () => {
    const bytes = encodePubsubMessage({ data: '{"kind":"delete"}', attributes: { seq: "7" }, orderingKey: "s1" });
    expect(decodeOutgoing(bytes)).toEqual({
      data: Buffer.from('{"kind":"delete"}'),
      attributes: { seq: "7" },
      orderingKey: "s1",
    });
    const read = decodePubsubMessage(bytes);
    expect(read).toMatchObject({ data: '{"kind":"delete"}', attributes: { seq: "7" }, orderingKey: "s1" });
  });
});
