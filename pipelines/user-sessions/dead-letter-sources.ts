import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type PubSub, type protos, v1 } from "@google-cloud/pubsub";
import { BigQueryWarehouse } from "../../io/bigquery/bigquery-warehouse.ts";
import { DuckDbWarehouse } from "../../io/duckdb/duckdb-warehouse.ts";
import { pubsubClient } from "../../io/pubsub/client.ts";
import {
  type DeadLetterRecord,
  type DeliveredDeadLetter,
  fromBronzeRow,
  fromDelivered,
  REPLAY_OF_ATTRIBUTE,
} from "./dead-letter-record.ts";

/**
 * Where dead letters are read: a Pub/Sub subscription (the pipeline's dead-letter feed, or a subscription's
 * dead-letter topic) or Bronze's invalid rows in a warehouse.
 */
export interface DeadLetterSource {
  /** What it reads, for messages. */
  readonly name: string;
  /** Every dead letter it holds, oldest first. A subscription's are held (not acknowledged) until `close`. */
  read(): Promise<DeadLetterRecord[]>;
  /**
   * The replays the store already has, by the id of the message they replay (Bronze: the rows with the attribute
   * `tidemark_replay_of`); undefined where the store cannot tell (a subscription).
   */
  replays(): Promise<ReadonlyMap<string, readonly string[]> | undefined>;
  /**
   * Ends the read: a subscription acknowledges `consumed` (every copy of each) and gives every other message back at
   * once (its lease set to 0); Bronze is only closed (it is append-only: nothing is consumed).
   */
  close(consumed?: readonly DeadLetterRecord[]): Promise<void>;
}

export interface DeadLetterSourceOptions {
  /** The Pub/Sub emulator's HOST:PORT (else $PUBSUB_EMULATOR_HOST, else Google Cloud). */
  readonly pubsubEndpoint?: string;
  /** The BigQuery emulator's http://HOST:PORT. */
  readonly bigqueryEndpoint?: string;
  /** How long a pulled message stays leased to this read (10 to 600 s). Default 300. */
  readonly leaseSeconds?: number;
  /** Most messages read from a subscription (the rest stay there, untouched). Default unbounded. */
  readonly maxMessages?: number;
}

/** `--from`: `pubsub://projects/P/subscriptions/S`, `duckdb://PATH` (or `duckdb:PATH`), `bigquery://PROJECT/DATASET`. */
export function openDeadLetterSource(from: string, o: DeadLetterSourceOptions = {}): DeadLetterSource {
  const sub = /^pubsub:\/\/projects\/([^/]+)\/subscriptions\/([^/]+)$/.exec(from);
  if (sub !== null) return new SubscriptionSource(pubsubClient(sub[1] as string, o.pubsubEndpoint), from, o);
  if (from.startsWith("duckdb:")) return new BronzeSource(from, "duckdb", o);
  if (from.startsWith("bigquery://")) return new BronzeSource(from, "bigquery", o);
  throw new Error(
    "--from must be pubsub://projects/P/subscriptions/S, duckdb://PATH or bigquery://PROJECT/DATASET, got " +
      JSON.stringify(from),
  );
}

type ReceivedMessage = protos.google.pubsub.v1.IReceivedMessage;

/** gRPC DEADLINE_EXCEEDED: a Pull that found nothing within its deadline. */
const DEADLINE_EXCEEDED = 4;
/** Ack ids per Acknowledge or ModifyAckDeadline call (the service's limit). */
const ACK_IDS_PER_CALL = 2_500;
/** A Pull's deadline: an idle Pull waits this long (the emulator answers an idle Pull just before it). */
const PULL_DEADLINE_MS = 3_000;
/** Empty Pulls in a row that end a read (a Pull may come back empty while messages remain). */
const EMPTY_PULLS_TO_END = 2;

/**
 * A subscription read without consuming it: every message is pulled and held (its lease set to `leaseSeconds` as it
 * arrives, so no Pull of this read gets it again while held) until none comes in two Pulls; `close` then acknowledges
 * the consumed ones and nacks the others, which the subscription delivers again at once. A nack counts a delivery
 * attempt: on a subscription with a dead-letter policy (not the feed's or the dead-letter topics' own, as
 * provisioned) reading would move messages on. If the process dies, the held messages come back when their leases
 * lapse. A message delivered twice (a lease lapsed during a long read) or a dead letter the feed published twice (a
 * retried bundle, or the catch-all's misrouted copy beside its tenant's worker's dead letter: the record is then the
 * worker's) is one record; acknowledging it acknowledges every copy.
 */
class SubscriptionSource implements DeadLetterSource {
  private readonly client: v1.SubscriberClient;
  private readonly subscription: string;
  /** Records and the ack ids of their copies, by their original (id, publish time). */
  private readonly ackIds = new Map<string, string[]>();
  private readonly held = new Map<string, DeadLetterRecord>();

  constructor(
    private readonly pubsub: PubSub,
    readonly name: string,
    private readonly o: DeadLetterSourceOptions,
  ) {
    this.subscription = name.slice("pubsub://".length);
    this.client = new v1.SubscriberClient(pubsub.options as ConstructorParameters<typeof v1.SubscriberClient>[0]);
  }

  async read(): Promise<DeadLetterRecord[]> {
    const [exists] = await this.pubsub.subscription(this.subscription).exists();
    if (!exists) throw new Error(`${this.name}: no such subscription`);
    const lease = this.o.leaseSeconds ?? 300;
    const max = this.o.maxMessages ?? Number.POSITIVE_INFINITY;
    /** The key of the record each delivered message (by its own id) was read as. */
    const byDelivery = new Map<string, string>();
    let empty = 0;
    let count = 0;
    while (empty < EMPTY_PULLS_TO_END && count < max) {
      let received: ReceivedMessage[];
      try {
        const [response] = await this.client.pull(
          { subscription: this.subscription, maxMessages: Math.min(100, max - count) },
          { timeout: PULL_DEADLINE_MS, retry: null },
        );
        received = response.receivedMessages ?? [];
      } catch (e) {
        if ((e as { code?: number }).code !== DEADLINE_EXCEEDED) throw e;
        received = [];
      }
      if (received.length === 0) {
        empty++;
        continue;
      }
      empty = 0;
      const ids = received.map((r) => r.ackId as string);
      await this.settle(ids, lease);
      for (const [i, r] of received.entries()) {
        const m = r.message ?? {};
        const id = String(m.messageId);
        const seconds = Number(m.publishTime?.seconds ?? 0);
        const delivered: DeliveredDeadLetter = {
          id,
          publishTime: seconds * 1000 + Math.floor((m.publishTime?.nanos ?? 0) / 1e6),
          attributes: (m.attributes ?? {}) as Record<string, string>,
          data: Buffer.from((m.data ?? new Uint8Array()) as Uint8Array),
        };
        const again = byDelivery.get(id);
        if (again !== undefined) {
          this.ackIds.get(again)?.push(r.ackId as string);
          continue;
        }
        let record: DeadLetterRecord;
        try {
          record = fromDelivered(delivered, this.name);
        } catch (e) {
          // Not ours to read: given back, with the rest of its Pull (leased above, not yet held: `close` gives back
          // only the held ones) and, when the read ends, everything held.
          await this.settle(
            received.slice(i).map((m) => m.ackId as string),
            0,
          );
          throw e;
        }
        const key = `${record.messageId}\u0000${record.publishTime}`;
        const same = this.held.get(key);
        byDelivery.set(id, key);
        if (same !== undefined) {
          this.ackIds.get(key)?.push(r.ackId as string);
          // The catch-all's misrouted copy and the tenant worker's dead letter of one message: the record is the
          // worker's (the one to count and replay), whichever came first; both are acknowledged with it.
          if (same.misrouted && !record.misrouted) this.held.set(key, record);
          continue;
        }
        this.held.set(key, record);
        this.ackIds.set(key, [r.ackId as string]);
        count++;
      }
    }
    return [...this.held.values()].sort(
      (a, b) => a.publishTime - b.publishTime || a.messageId.localeCompare(b.messageId),
    );
  }

  async replays(): Promise<undefined> {
    return undefined;
  }

  async close(consumed: readonly DeadLetterRecord[] = []): Promise<void> {
    try {
      const done = new Set(consumed);
      const ack: string[] = [];
      const back: string[] = [];
      for (const [key, ids] of this.ackIds)
        (done.has(this.held.get(key) as DeadLetterRecord) ? ack : back).push(...ids);
      for (let i = 0; i < ack.length; i += ACK_IDS_PER_CALL) {
        await this.client.acknowledge({ subscription: this.subscription, ackIds: ack.slice(i, i + ACK_IDS_PER_CALL) });
      }
      await this.settle(back, 0);
      this.ackIds.clear();
      this.held.clear();
    } finally {
      await this.client.close().catch(() => undefined);
      await this.pubsub.close().catch(() => undefined);
    }
  }

  /** Sets the leases of `ids` to `seconds` (0: given back). */
  private async settle(ids: readonly string[], seconds: number): Promise<void> {
    for (let i = 0; i < ids.length; i += ACK_IDS_PER_CALL) {
      await this.client.modifyAckDeadline({
        subscription: this.subscription,
        ackIds: ids.slice(i, i + ACK_IDS_PER_CALL),
        ackDeadlineSeconds: seconds,
      });
    }
  }
}

/** The column a DuckDB read gives a payload's UTF-8 bytes in. */
const PAYLOAD_UTF8 = "tidemark_payload_utf8";

type Queryable = { query(sql: string): Promise<Record<string, unknown>[]>; close(): Promise<void> };

/**
 * Bronze's invalid rows (`valid = false`) in DuckDB or BigQuery, read-only. A DuckDB file is open in one process at a
 * time: read it while the pipeline that writes it is stopped (or read the dead-letter feed instead).
 */
class BronzeSource implements DeadLetterSource {
  private warehouse: Queryable | undefined;

  constructor(
    readonly name: string,
    private readonly kind: "duckdb" | "bigquery",
    private readonly o: DeadLetterSourceOptions,
  ) {}

  private async open(): Promise<Queryable> {
    if (this.warehouse !== undefined) return this.warehouse;
    if (this.kind === "duckdb") {
      const path = this.name.replace(/^duckdb:(\/\/)?/, "");
      if (path === "" || !existsSync(path)) throw new Error(`${this.name}: no DuckDB file at ${JSON.stringify(path)}`);
      this.warehouse = await DuckDbWarehouse.create(path, { autoCreateUnder: dirname(resolve(path)) });
    } else {
      const { projectId, dataset } = BigQueryWarehouse.parseSpec(this.name);
      if (this.o.bigqueryEndpoint !== undefined) process.env.METADATA_SERVER_DETECTION ??= "none";
      this.warehouse = new BigQueryWarehouse({
        projectId,
        dataset,
        ...(this.o.bigqueryEndpoint === undefined ? {} : { apiEndpoint: this.o.bigqueryEndpoint }),
      });
    }
    return this.warehouse;
  }

  async read(): Promise<DeadLetterRecord[]> {
    const w = await this.open();
    if (this.kind === "bigquery") {
      const rows = await w.query("SELECT * FROM bronze_messages WHERE NOT valid ORDER BY publish_time, message_id");
      return rows.map((r) => fromBronzeRow(r, this.name));
    }
    // DuckDB's client decodes a VARCHAR with a default TextDecoder, which drops a leading byte order mark: the
    // payload is read as its bytes (encode: the VARCHAR's UTF-8) and made text again by Buffer, which keeps it.
    const rows = await w.query(
      `SELECT * EXCLUDE (payload), encode(payload) AS ${PAYLOAD_UTF8} FROM bronze_messages WHERE NOT valid ORDER BY publish_time, message_id`,
    );
    return rows.map((r) => {
      const { [PAYLOAD_UTF8]: utf8, ...row } = r;
      return fromBronzeRow({ ...row, payload: Buffer.from(utf8 as Uint8Array).toString("utf8") }, this.name);
    });
  }

  async replays(): Promise<ReadonlyMap<string, readonly string[]>> {
    const w = await this.open();
    const of =
      this.kind === "duckdb"
        ? `attributes->>'$.${REPLAY_OF_ATTRIBUTE}'`
        : `JSON_VALUE(attributes, '$.${REPLAY_OF_ATTRIBUTE}')`;
    const rows = await w.query(
      `SELECT ${of} AS replay_of, message_id FROM bronze_messages WHERE ${of} IS NOT NULL ORDER BY publish_time`,
    );
    const out = new Map<string, string[]>();
    for (const r of rows) {
      const key = String(r.replay_of);
      out.set(key, [...(out.get(key) ?? []), String(r.message_id)]);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.warehouse?.close();
    this.warehouse = undefined;
  }
}
