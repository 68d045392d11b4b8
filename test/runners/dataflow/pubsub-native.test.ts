import { fromBinary } from "@bufbuild/protobuf";
import { PubSub, protos } from "@google-cloud/pubsub";
import { describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import { decodePubsubMessage, pubsubSource } from "../../../io/pubsub/pubsub-source.ts";
import { encodeForContainer } from "../../../runners/portable/docker.ts";
import {
  ParDoPayloadSchema,
  PipelineSchema,
  PubSubReadPayloadSchema,
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
