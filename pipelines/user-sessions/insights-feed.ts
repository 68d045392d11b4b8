import type { PCollection } from "../../core/pcollection.ts";
import type { PTransform } from "../../core/ptransform.ts";
import type { OutgoingMessage, PubsubPublisher } from "../../io/pubsub/pubsub-sink.ts";
import { writeToPubsub } from "../../io/pubsub/pubsub-write.ts";
import type { GoldSessionRow } from "../../schemas/rows.ts";
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

/**
 * The invalid messages, published to a topic of their own for whoever repairs them: the message's data and
 * attributes as received, plus `tidemark_message_id`, `tidemark_publish_time` (epoch ms), `tidemark_error_field` and
 * `tidemark_error_reason`. They are in Bronze too, with their error: the feed loses nothing if it is not read.
 */
export function deadLetterFeed(target: FeedTarget): PTransform<PCollection<DeadLetter>, PCollection<never>> {
  return writeToPubsub<DeadLetter>({
    topic: target.topic,
    publisher: target.publisher,
    message: (d) => ({
      data: d.message.data,
      attributes: {
        ...d.message.attributes,
        tidemark_message_id: d.message.messageId,
        tidemark_publish_time: String(d.message.publishTime),
        tidemark_error_field: d.error.field,
        tidemark_error_reason: d.error.reason,
      },
    }),
  });
}
