import type { PCollection } from "../../core/pcollection.ts";
import type { PTransform } from "../../core/ptransform.ts";
import type { OutgoingMessage, PubsubPublisher } from "../../io/pubsub/pubsub-sink.ts";
import { writeToPubsub } from "../../io/pubsub/pubsub-write.ts";
import type { PayloadEncoding } from "../../schemas/payload.ts";
import type { GoldSessionRow } from "../../schemas/rows.ts";
import { CATCH_ALL_MISROUTED } from "../../schemas/tenant.ts";
import type { DeadLetter } from "./bronze.ts";
import type { SessionWrite } from "./gold.ts";

/** A topic a feed publishes to: `projects/P/topics/T`, and the publisher each process makes for it. */
export interface FeedTarget {
  readonly topic: string;
  readonly publisher: () => PubsubPublisher;
}

/** What the session-insights feed publishes for each Gold change (the message data, as JSON). */
export type SessionInsight =
  | { readonly kind: "upsert"; readonly session: GoldSessionRow }
  | { readonly kind: "delete"; readonly session_id: string };

/**
 * The session-insights feed (a live feed for dashboards): every Gold session change, one message per upsert or
 * delete, with attributes `kind`, `session_id`, `seq` (the change's number: a session's changes carry increasing
 * ones) and, for upserts, `tenant_id`, `pane_timing`, `is_final`; the session id is the ordering key, so a
 * subscriber with ordering sees a session's changes in order. The changes are those the Gold writer sees (stable
 * input: only changes whose state is durable, the same after a crash), so the feed never shows a session the
 * job's state does not know; a retried bundle may publish a change again, and a consumer keeps, per session id, the
 * message with the highest `seq`. On Dataflow the messages are published by Dataflow itself (`pubsub_write`).
 */
export function insightsFeed(target: FeedTarget): PTransform<PCollection<SessionWrite>, PCollection<never>> {
  return writeToPubsub<SessionWrite>({
    topic: target.topic,
    publisher: target.publisher,
    requiresStableInput: true,
    message(w): OutgoingMessage {
      if (w.kind === "delete") {
        const insight: SessionInsight = { kind: "delete", session_id: w.sessionId };
        return {
          data: JSON.stringify(insight),
          attributes: { kind: "delete", session_id: w.sessionId, seq: String(w.seq) },
          orderingKey: w.sessionId,
        };
      }
      const row = w.row;
      const insight: SessionInsight = { kind: "upsert", session: row };
      return {
        data: JSON.stringify(insight),
        attributes: {
          kind: "upsert",
          session_id: row.session_id,
          tenant_id: row.tenant_id,
          pane_timing: row.pane_timing,
          is_final: String(row.is_final),
          seq: String(w.seq),
        },
        orderingKey: row.session_id,
      };
    },
  });
}

/** What the dead-letter feed publishes for each invalid message (the message data, as JSON). */
export interface InvalidMessage {
  readonly message_id: string;
  /** Epoch ms. */
  readonly publish_time: number;
  readonly attributes: Readonly<Record<string, string>>;
  /**
   * The payload as received: its UTF-8 text, or (`encoding: "base64"`) its bytes in base64 when they are not UTF-8
   * (`payloadBytes` of schemas/payload.ts gives back the exact bytes either way).
   */
  readonly data: string;
  /** Present (`base64`) only when `data` is base64. */
  readonly encoding?: PayloadEncoding;
  readonly error: { readonly field: string; readonly reason: string };
}

/** Pub/Sub's limit on an attribute value, in bytes. */
const MAX_ATTRIBUTE_BYTES = 1024;

/** `value` cut to Pub/Sub's attribute limit (on a character boundary), so no message is refused for it. */
export function attributeValue(value: string): string {
  if (Buffer.byteLength(value, "utf8") <= MAX_ATTRIBUTE_BYTES) return value;
  let cut = value.slice(0, MAX_ATTRIBUTE_BYTES);
  while (Buffer.byteLength(cut, "utf8") > MAX_ATTRIBUTE_BYTES) cut = cut.slice(0, -1);
  return cut;
}

/**
 * The invalid messages, published to a topic of their own for whoever repairs them: the data is the message as
 * received and its error (`InvalidMessage`, JSON: the original attributes are kept there, as any number of them of
 * any size is a valid message but not always a publishable one), the attributes `tidemark_message_id` and
 * `tidemark_error_field` (cut to Pub/Sub's 1 KiB limit), and `tidemark_catch_all_misrouted=1` on the catch-all
 * reader's copy of a message a tenant's worker takes (`CATCH_ALL_MISROUTED`: not one to replay). They are in Bronze
 * too, with their error: the feed loses nothing if it is not read.
 */
export function deadLetterFeed(target: FeedTarget): PTransform<PCollection<DeadLetter>, PCollection<never>> {
  return writeToPubsub<DeadLetter>({
    topic: target.topic,
    publisher: target.publisher,
    message: (d) => {
      const invalid: InvalidMessage = {
        message_id: d.message.messageId,
        publish_time: d.message.publishTime,
        attributes: d.message.attributes,
        data: d.message.data,
        ...(d.message.encoding === undefined ? {} : { encoding: d.message.encoding }),
        error: { field: d.error.field, reason: d.error.reason },
      };
      return {
        data: JSON.stringify(invalid),
        attributes: {
          tidemark_message_id: attributeValue(d.message.messageId),
          tidemark_error_field: attributeValue(d.error.field),
          ...(d.error.field === CATCH_ALL_MISROUTED ? { tidemark_catch_all_misrouted: "1" } : {}),
        },
      };
    },
  });
}
