import type { PubsubPublisher } from "../../io/pubsub/pubsub-sink.ts";
import type { Warehouse } from "../../io/warehouse.ts";
import type { GoldSessionRow } from "../../schemas/rows.ts";

/** What the session-insights feed publishes for each Gold change (the message data, as JSON). */
export type SessionInsight =
  | { readonly kind: "upsert"; readonly session: GoldSessionRow }
  | { readonly kind: "delete"; readonly session_id: string };

/**
 * A warehouse that also publishes every committed Gold session change to a Pub/Sub topic (a live feed for
 * dashboards): after each `writeSessions` commits, one message per upsert or delete, with attributes `kind`,
 * `session_id` (and `tenant_id`, `pane_timing`, `is_final` for upserts) and the session id as ordering key, so a
 * subscriber with ordering sees a session's changes in order. Changes are published only once committed, so the
 * feed never shows a session the warehouse does not have; after a crash, a replay may publish a change again
 * (consumers keep the last message per session id, or, as the `seq` attribute orders a session's changes, the one
 * with the highest `seq`).
 */
export function withInsightsFeed(warehouse: Warehouse, publisher: PubsubPublisher): Warehouse {
  return {
    open: () => warehouse.open(),
    appendBronze: (rows) => warehouse.appendBronze(rows),
    appendSilver: (rows) => warehouse.appendSilver(rows),
    upsertHourly: (rows) => warehouse.upsertHourly(rows),
    counts: () => warehouse.counts(),
    query: (sql) => warehouse.query(sql),
    async writeSessions(upserts, deletes, seqs) {
      await warehouse.writeSessions(upserts, deletes, seqs);
      for (const id of deletes) {
        const insight: SessionInsight = { kind: "delete", session_id: id };
        await publisher.publish({
          data: JSON.stringify(insight),
          attributes: { kind: "delete", session_id: id, ...seqAttribute(seqs, id) },
          orderingKey: id,
        });
      }
      for (const row of upserts) {
        const insight: SessionInsight = { kind: "upsert", session: row };
        await publisher.publish({
          data: JSON.stringify(insight),
          attributes: {
            kind: "upsert",
            session_id: row.session_id,
            tenant_id: row.tenant_id,
            pane_timing: row.pane_timing,
            is_final: String(row.is_final),
            ...seqAttribute(seqs, row.session_id),
          },
          orderingKey: row.session_id,
        });
      }
      await publisher.flush();
    },
    async close() {
      await publisher.flush();
      await warehouse.close();
    },
  };
}

/** The change's sequence number as the `seq` attribute, when the writer gave one. */
function seqAttribute(seqs: ReadonlyMap<string, number> | undefined, id: string): { seq?: string } {
  const seq = seqs?.get(id);
  return seq === undefined ? {} : { seq: String(seq) };
}
