import type { PubSub } from "@google-cloud/pubsub";
import { type DeadLetterRecord, REPLAY_OF_ATTRIBUTE, REPLAYED_AT_ATTRIBUTE } from "./dead-letter-record.ts";

/** What a replay does with the dead letters selected. */
export interface ReplayPlan {
  /** To republish. */
  readonly replay: readonly DeadLetterRecord[];
  /** The catch-all reader's copies of messages their tenant's worker has (never replayed). */
  readonly misrouted: readonly DeadLetterRecord[];
  /** Messages the store already holds a replay of (replayed again only with `force`), with those replays' ids. */
  readonly alreadyReplayed: readonly { readonly record: DeadLetterRecord; readonly replays: readonly string[] }[];
}

/**
 * Splits the selected dead letters: a misrouted copy is never replayed; a message with a replay in the store
 * (`replays`, by the replayed message's id: Bronze's rows carrying `tidemark_replay_of`) is replayed again only with
 * `force`; every other one is replayed.
 */
export function planReplay(
  selected: readonly DeadLetterRecord[],
  replays: ReadonlyMap<string, readonly string[]> | undefined,
  force: boolean,
): ReplayPlan {
  const replay: DeadLetterRecord[] = [];
  const misrouted: DeadLetterRecord[] = [];
  const alreadyReplayed: { record: DeadLetterRecord; replays: readonly string[] }[] = [];
  for (const r of selected) {
    if (r.misrouted) {
      misrouted.push(r);
      continue;
    }
    const earlier = replays?.get(r.messageId);
    if (earlier !== undefined && earlier.length > 0 && !force) alreadyReplayed.push({ record: r, replays: earlier });
    else replay.push(r);
  }
  return { replay, misrouted, alreadyReplayed };
}

/**
 * The attributes of a replay: the original's, exactly, with `tidemark_replay_of` (the replayed message's id) and
 * `tidemark_replayed_at` (ISO-8601, UTC) set; a replay of a replay has them set to this replay's.
 */
export function replayAttributes(r: DeadLetterRecord, at: Date): Record<string, string> {
  return { ...r.attributes, [REPLAY_OF_ATTRIBUTE]: r.messageId, [REPLAYED_AT_ATTRIBUTE]: at.toISOString() };
}

/** One replay's outcome: the new message's id, or why it was not published. */
export type ReplayOutcome =
  | { readonly record: DeadLetterRecord; readonly ok: true; readonly replayId: string }
  | { readonly record: DeadLetterRecord; readonly ok: false; readonly error: string };

/**
 * Republishes each record to `topic` (`projects/P/topics/T`): its original bytes, its attributes with the replay's
 * (`replayAttributes`). Every publish is awaited; a failure is reported with its record, not thrown, so that the
 * ones published are known (and only those are consumed from a subscription). Fails at once, naming the topic, when
 * it does not exist.
 */
export async function publishReplays(
  pubsub: PubSub,
  topic: string,
  records: readonly DeadLetterRecord[],
  at: Date,
): Promise<ReplayOutcome[]> {
  const t = pubsub.topic(topic);
  const [exists] = await t.exists();
  if (!exists) throw new Error(`Pub/Sub topic ${topic} does not exist`);
  return Promise.all(
    records.map((record) =>
      t.publishMessage({ data: record.data, attributes: replayAttributes(record, at) }).then(
        (replayId): ReplayOutcome => ({ record, ok: true, replayId }),
        (e: Error): ReplayOutcome => ({ record, ok: false, error: e.message }),
      ),
    ),
  );
}
