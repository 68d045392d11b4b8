import { protos } from "@google-cloud/pubsub";
import type { DoFn } from "../../core/do-fn.ts";
import type { PCollection } from "../../core/pcollection.ts";
import type { PTransform } from "../../core/ptransform.ts";
import { parDo } from "../../transforms/par-do.ts";
import type { OutgoingMessage, PubsubPublisher } from "./pubsub-sink.ts";

const PubsubMessage = protos.google.pubsub.v1.PubsubMessage;

/** A message as a `google.pubsub.v1.PubsubMessage`, encoded (what Beam's `pubsub_write` takes). */
export function encodePubsubMessage(m: OutgoingMessage): Uint8Array {
  return PubsubMessage.encode({
    data: typeof m.data === "string" ? Buffer.from(m.data, "utf8") : m.data,
    attributes: { ...m.attributes },
    ...(m.orderingKey === undefined ? {} : { orderingKey: m.orderingKey }),
  }).finish();
}

/** An encoded `google.pubsub.v1.PubsubMessage` as the message to publish. */
export function decodeOutgoing(bytes: Uint8Array): OutgoingMessage {
  const m = PubsubMessage.decode(bytes);
  return {
    data: m.data,
    attributes: { ...m.attributes },
    ...(m.orderingKey === "" ? {} : { orderingKey: m.orderingKey }),
  };
}

export interface PubsubWriteOptions<T> {
  /** `projects/P/topics/T`. */
  readonly topic: string;
  /** The message an element becomes. */
  readonly message: (element: T) => OutgoingMessage;
  /** The publisher, made on first use in each process that runs the step (a worker's own client). */
  readonly publisher: () => PubsubPublisher;
  /** Also put each element's timestamp (epoch ms) in this attribute (Beam's timestamp attribute on writes). */
  readonly timestampAttribute?: string;
  /** Beam's `@RequiresStableInput`, for messages computed from state a replay could compute otherwise. */
  readonly requiresStableInput?: boolean;
}

/**
 * Publishes a PCollection to a Pub/Sub topic, as Beam's Go SDK does: `Encode` makes each element an encoded
 * `PubsubMessage`, and `Publish` publishes them, or, on a runner that writes Pub/Sub itself (Dataflow), becomes its
 * `beam:transform:pubsub_write:v1` (the DoFn's `native`). Here, `Publish` sends each message through the client
 * (batched, at most `maxInFlight` unconfirmed) and waits for every confirmation in `finishBundle`: the runner commits
 * the bundle only once its messages are published (at least once: a retried bundle may publish again, so
 * consumers keep the newest message per key).
 */
export function writeToPubsub<T>(options: PubsubWriteOptions<T>): PTransform<PCollection<T>, PCollection<never>> {
  const { topic, timestampAttribute } = options;
  if (!/^projects\/[^/]+\/topics\/[^/]+$/.test(topic)) {
    throw new Error(`writeToPubsub: the topic must be projects/P/topics/T, got ${JSON.stringify(topic)}`);
  }
  let publisher: PubsubPublisher | undefined;
  // Stable input is asked for on Encode, the first step: Publish may be the runner's own transform, which takes no
  // such requirement, and its input is then Encode's deterministic output of stable elements.
  const encode: DoFn<T, Uint8Array> = {
    ...(options.requiresStableInput === true ? { requiresStableInput: true } : {}),
    process(element, ctx) {
      ctx.output(encodePubsubMessage(options.message(element)));
    },
  };
  const publish: DoFn<Uint8Array, never> = {
    native: { kind: "pubsub", topic, ...(timestampAttribute === undefined ? {} : { timestampAttribute }) },
    process(bytes, ctx) {
      publisher ??= options.publisher();
      const m = decodeOutgoing(bytes);
      if (timestampAttribute === undefined) return publisher.publish(m);
      return publisher.publish({
        ...m,
        attributes: { ...m.attributes, [timestampAttribute]: String(ctx.timestamp) },
      });
    },
    finishBundle() {
      return publisher?.flush();
    },
  };
  return {
    name: "WriteToPubsub",
    expand: (input) => input.apply(parDo(encode), "Encode").apply(parDo(publish), "Publish"),
  };
}
