import { type PubSub, protos, type Subscription } from "@google-cloud/pubsub";
import type { CheckpointMark, Source, SourceEvent, SourceReader } from "../../core/source.ts";
import { MAX_TIMESTAMP, MIN_TIMESTAMP } from "../../core/time/instant.ts";
import { type PulledMessage, PullSubscriber } from "./pull-subscriber.ts";
import { type PayloadEncoding, payloadOfBytes } from "../../schemas/payload.ts";
import { SeenIds } from "./seen-ids.ts";
import { WatermarkEstimator } from "./watermark-estimator.ts";

/** The gRPC status of a missing resource. */
const NOT_FOUND = 5;

/** A Pub/Sub message as the pipeline sees it (Bronze stores every field). */
export interface PubsubMessage {
  readonly messageId: string;
  /** Epoch ms. */
  readonly publishTime: number;
  readonly attributes: Readonly<Record<string, string>>;
  /** The payload as text (UTF-8), or its bytes in base64 when they are not UTF-8 (`encoding`: see `Payload`). */
  readonly data: string;
  /** `base64` when the payload's bytes are not UTF-8 text (`data` is then base64), else absent. */
  readonly encoding?: PayloadEncoding;
  readonly orderingKey?: string;
}

/** Options of {@link pubsubSource}, as Beam's PubsubIO.Read has them, plus flow control and the watermark. */
export interface PubsubReadOptions {
  readonly pubsub: PubSub;
  /** A subscription name or `projects/P/subscriptions/S`. Exactly one of subscription and topic. */
  readonly subscription?: string;
  /** A topic: the source reads through a temporary subscription, created at start and deleted at close. */
  readonly topic?: string;
  /**
   * The attribute holding each message's event time (epoch ms digits, or RFC 3339); by default the publish time.
   * A message whose attribute is missing or unreadable keeps its publish time and is counted (`badTimestamps`).
   */
  readonly timestampAttribute?: string;
  /**
   * The attribute whose value identifies a message across re-publications: a later message with an id seen in the
   * last `dedupWindowMs` is dropped (and acknowledged). By default the message id with its publish time, which
   * drops re-deliveries.
   */
  readonly idAttribute?: string;
  /** How long ids are remembered. Default 10 minutes (as Dataflow's PubsubIO). */
  readonly dedupWindowMs?: number;
  /** When false, attributes are not passed on (an empty record). Default true. */
  readonly withAttributes?: boolean;
  /** Flow control: messages received and not yet acknowledged. Default 10,000. */
  readonly maxOutstandingMessages?: number;
  /** Flow control: bytes received and not yet acknowledged. Default 100 MiB. */
  readonly maxOutstandingBytes?: number;
  /** Leases of held messages are extended up to this long. Default 60 minutes. */
  readonly maxLeaseExtensionMs?: number;
  /**
   * The deadline of each lease extension, in seconds (10 to 600). It is how long the messages a crashed reader held
   * stay invisible before Pub/Sub delivers them again. Default 60 s.
   */
  readonly leaseDeadlineSeconds?: number;
  /** Watermark: see WatermarkEstimator. Default 10 s out of order, idle after 30 s. */
  readonly maxOutOfOrdernessMs?: number;
  readonly idleMs?: number;
  /** Most messages per bundle. Default 1,000. */
  readonly maxBundleSize?: number;
  /** How long a read waits for a message before reporting the watermark instead (a heartbeat). Default 200 ms. */
  readonly heartbeatMs?: number;
  /**
   * Drain: when aborted, the source stops pulling, gives the messages it already holds and ends (the pipeline then
   * fires every window's final pane, as a Dataflow drain does).
   */
  readonly signal?: AbortSignal;
  /**
   * How long the reader waits for its subscription (or, reading a topic, the topic) to be back when it disappears
   * mid-run, as when an emulator restarts empty and the topology is provisioned again. Default 60 s; then the run
   * fails naming it.
   */
  readonly missingGraceMs?: number;
  /** Wall clock, for tests. Default Date.now. */
  readonly now?: () => number;
}

/** What a Pub/Sub reader has done, for metrics and the progress line. */
export interface PubsubSourceStats {
  received: number;
  duplicatesDropped: number;
  badTimestamps: number;
  acked: number;
  /** Nacked at close (taken and never acknowledged). */
  nacked: number;
  /** Received and not yet acknowledged. */
  outstanding: number;
  watermark: number;
  /** Times the subscription went away mid-run and the reader reconnected (or waited to). */
  reconnects: number;
  /** Reading its subscription now: false before the first read, while it waits for a subscription to come back, and once closed. */
  connected: boolean;
}

/**
 * An unbounded source reading a Pub/Sub subscription by Pull (`PullSubscriber`). Messages are acknowledged only when
 * the runner finalizes a checkpoint mark covering them (after their effects are durable); until then their leases are
 * extended, and flow control asks for no more than `maxOutstandingMessages`/`maxOutstandingBytes` unacknowledged, so a
 * backlog of millions is read at the pipeline's pace. A subscription that does not exist is an error naming it, at
 * the first read.
 */
export function pubsubSource(
  options: PubsubReadOptions,
  name = "PubsubRead",
): Source<PubsubMessage> & {
  /** The stats of the reader opened last. */
  stats(): PubsubSourceStats;
} {
  if ((options.subscription === undefined) === (options.topic === undefined)) {
    throw new Error("pubsubSource: give exactly one of subscription and topic");
  }
  let last: PubsubReader | undefined;
  const project = options.pubsub.projectId;
  const path = (kind: "subscriptions" | "topics", n: string) =>
    n.startsWith("projects/") ? n : `projects/${project}/${kind}/${n}`;
  return {
    name,
    bounded: false,
    native: {
      kind: "pubsub",
      ...(options.subscription === undefined ? {} : { subscription: path("subscriptions", options.subscription) }),
      ...(options.topic === undefined ? {} : { topic: path("topics", options.topic) }),
      ...(options.timestampAttribute === undefined ? {} : { timestampAttribute: options.timestampAttribute }),
      ...(options.idAttribute === undefined ? {} : { idAttribute: options.idAttribute }),
      decode: decodePubsubMessage,
    },
    open(restored?: unknown): SourceReader<PubsubMessage> {
      last = new PubsubReader(options, restored as PubsubReaderSnapshot | undefined);
      return last;
    },
    stats: () => last?.stats ?? emptyStats(),
  };
}

/**
 * A Pub/Sub message as a runner reading Pub/Sub natively delivers it (Beam's `pubsub_read` with attributes: an
 * encoded `google.pubsub.v1.PubsubMessage`), as this source's element: the payload as a `Payload`, the publish time in
 * epoch ms.
 */
export function decodePubsubMessage(bytes: Uint8Array): PubsubMessage {
  const m = protos.google.pubsub.v1.PubsubMessage.decode(bytes);
  const t = m.publishTime;
  const publishTime =
    t === null || t === undefined ? 0 : Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
  return {
    messageId: m.messageId,
    publishTime,
    attributes: { ...m.attributes },
    ...(typeof m.data === "string" ? { data: m.data } : payloadOfBytes(m.data)),
    ...(m.orderingKey === "" ? {} : { orderingKey: m.orderingKey }),
  };
}

function emptyStats(): PubsubSourceStats {
  return {
    received: 0,
    duplicatesDropped: 0,
    badTimestamps: 0,
    acked: 0,
    nacked: 0,
    outstanding: 0,
    watermark: Number.NEGATIVE_INFINITY,
    reconnects: 0,
    connected: false,
  };
}

/** What a reader keeps across a restart: the ids it has seen (to drop re-deliveries) and its watermark. */
interface PubsubReaderSnapshot {
  readonly seen: readonly (readonly [string, number])[];
  readonly estimator: { maxSeen: number; watermark: number };
  readonly reportedWatermark: number;
  /** The reader's clock when the snapshot was taken (absent in a checkpoint of an earlier version). */
  readonly takenAt?: number;
}

class PubsubReader implements SourceReader<PubsubMessage> {
  readonly stats: PubsubSourceStats = emptyStats();
  private readonly now: () => number;
  private readonly estimator: WatermarkEstimator;
  private readonly queue: PulledMessage[] = [];
  /** Messages given to the runner (or dropped as duplicates) and not yet covered by a checkpoint mark. */
  private unmarked: PulledMessage[] = [];
  /** The messages of marks taken and not yet finalized. */
  private readonly pendingMarks = new Set<PulledMessage[]>();
  private readonly seen: SeenIds;
  private subscription: Subscription | undefined;
  /** What pulls `subscription`'s messages (flow control, leases, acknowledgements). */
  private puller: PullSubscriber | undefined;
  private temporary = false;
  private started: Promise<void> | undefined;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private reportedWatermark = Number.NEGATIVE_INFINITY;
  private draining = false;
  private reconnecting: Promise<void> | undefined;

  constructor(
    private readonly options: PubsubReadOptions,
    restored?: PubsubReaderSnapshot,
  ) {
    this.now = options.now ?? Date.now;
    this.estimator = new WatermarkEstimator(
      { maxOutOfOrdernessMs: options.maxOutOfOrdernessMs ?? 10_000, idleMs: options.idleMs ?? 30_000 },
      this.now(),
    );
    this.seen = new SeenIds(this.now());
    if (restored !== undefined) {
      // The time a job was down does not count against the ids it restores: the messages of its last checkpoint
      // were not all acknowledged when it stopped, and Pub/Sub delivers them again when it is back, however late (a
      // restart 11 minutes after a crash let them through as new messages: each a second row in the archive,
      // `io/archive/`). So the ids move forward by the time since the snapshot: each is remembered as long after the
      // restart as it had left at the snapshot. A snapshot of an earlier version has no time: its newest id's time
      // stands for it (at or before the snapshot: every id is then kept at least as long).
      const takenAt = restored.takenAt ?? restored.seen.at(-1)?.[1];
      const downMs = takenAt === undefined ? 0 : Math.max(0, this.now() - takenAt);
      this.seen.restore(downMs === 0 ? restored.seen : restored.seen.map(([id, at]) => [id, at + downMs] as const));
      this.estimator.restore(restored.estimator);
      this.reportedWatermark = restored.reportedWatermark;
    }
  }

  /**
   * The ids seen within the de-duplication window and the watermark: a message given before the checkpoint and
   * delivered again after a restart (it was not acknowledged yet) is then dropped, since its effects are in the
   * checkpoint.
   */
  snapshot(): PubsubReaderSnapshot {
    return {
      seen: this.seen.entries(),
      estimator: this.estimator.snapshot(),
      reportedWatermark: this.reportedWatermark,
      takenAt: this.now(),
    };
  }

  async next(): Promise<SourceEvent<PubsubMessage> | undefined> {
    this.started ??= this.start();
    await this.started;
    for (;;) {
      if (this.failure) throw this.failure;
      if (!this.draining && this.options.signal?.aborted) await this.drain();
      const watermark = this.estimator.current(this.now());
      this.stats.watermark = watermark;
      if (watermark > this.reportedWatermark && watermark > MIN_TIMESTAMP) {
        this.reportedWatermark = watermark;
        return { kind: "watermark", watermark: Math.min(Math.floor(watermark), MAX_TIMESTAMP) };
      }
      if (this.queue.length > 0) {
        const bundle = this.bundle();
        if (bundle !== undefined) return bundle;
        continue;
      }
      if (this.draining) return undefined;
      if (!(await this.waitForMessage())) {
        // A heartbeat: the runner moves processing time on and sees that the source is alive.
        return { kind: "watermark", watermark: Math.max(this.reportedWatermark, MIN_TIMESTAMP) };
      }
    }
  }

  checkpointMark(): CheckpointMark {
    const covered = this.unmarked;
    this.unmarked = [];
    this.pendingMarks.add(covered);
    let finalized = false;
    return {
      size: covered.length,
      finalize: async () => {
        if (finalized) return;
        finalized = true;
        this.pendingMarks.delete(covered);
        for (const m of covered) m.ack();
        this.stats.acked += covered.length;
        this.stats.outstanding -= covered.length;
      },
    };
  }

  /**
   * Closes the stream. Every message this reader took and did not acknowledge (its run failed, or ended before the
   * marks covering them were finalized) is nacked: Pub/Sub delivers it again at once (after the subscription's
   * retry backoff), counting the delivery attempt, so a message whose processing keeps failing reaches the
   * subscription's dead-letter topic after its maximum attempts. The puller nacks them (with whatever else it holds)
   * once its Pulls in flight have returned: nacked earlier, a message would be delivered to one of them, an attempt
   * counted for a delivery nobody processes.
   */
  async close(): Promise<void> {
    const sub = this.subscription;
    this.subscription = undefined;
    this.stats.connected = false;
    if (sub === undefined) return;
    const puller = this.puller;
    this.puller = undefined;
    puller?.removeAllListeners("message");
    const unacknowledged = [...this.queue, ...this.unmarked, ...[...this.pendingMarks].flat()];
    this.queue.length = 0;
    this.unmarked = [];
    this.pendingMarks.clear();
    this.stats.nacked += unacknowledged.length;
    await puller?.close();
    if (this.temporary) await sub.delete().catch(() => undefined);
  }

  private async start(): Promise<void> {
    const { pubsub } = this.options;
    let sub: Subscription;
    if (this.options.topic !== undefined) {
      const topic = pubsub.topic(this.options.topic);
      const [exists] = await topic.exists();
      if (!exists) throw new Error(`Pub/Sub topic ${topic.name} does not exist`);
      sub = await this.temporarySubscription();
    } else {
      sub = pubsub.subscription(this.options.subscription as string);
      const [exists] = await sub.exists();
      if (!exists) {
        throw new Error(
          `Pub/Sub subscription ${sub.name} does not exist (create it with \`npm run provision\`, or read a topic ` +
            `through a temporary subscription)`,
        );
      }
    }
    this.attach(sub);
  }

  private async temporarySubscription(): Promise<Subscription> {
    const topic = this.options.pubsub.topic(this.options.topic as string);
    const tempName = `tidemark-tmp-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const [sub] = await topic.createSubscription(tempName);
    this.temporary = true;
    return sub;
  }

  private attach(sub: Subscription): void {
    const puller = new PullSubscriber(this.options.pubsub, sub.name, {
      maxOutstandingMessages: this.options.maxOutstandingMessages ?? 10_000,
      maxOutstandingBytes: this.options.maxOutstandingBytes ?? 100 * 2 ** 20,
      maxLeaseExtensionMs: this.options.maxLeaseExtensionMs ?? 60 * 60_000,
      leaseDeadlineSeconds: this.options.leaseDeadlineSeconds ?? 60,
    });
    this.stats.connected = true;
    puller.on("message", (m: PulledMessage) => {
      if (this.draining || this.subscription !== sub) return;
      this.queue.push(m);
      this.stats.outstanding++;
      this.wake?.();
    });
    // The puller retries UNAVAILABLE and the like itself, so a service or emulator restart is ridden out. NOT_FOUND
    // after a good start means the subscription went away (an emulator restarted empty, a topology re-provisioned):
    // the reader waits up to `missingGraceMs` for it to be back, then reconnects. Any other error ends the run.
    puller.on("error", (e: Error & { code?: number }) => {
      if (this.subscription !== sub) return;
      if (e.code === NOT_FOUND && !this.draining && this.reconnecting === undefined) {
        this.stats.reconnects++;
        this.stats.connected = false;
        this.reconnecting = this.reconnect(sub).finally(() => {
          this.reconnecting = undefined;
        });
        return;
      }
      this.failure = new Error(`Pub/Sub subscription ${sub.name}: ${e.message}`, { cause: e });
      this.wake?.();
    });
    this.subscription = sub;
    this.puller = puller;
    puller.start();
  }

  /** Closes a subscription that went away and opens it again once it (or, for a temporary one, its topic) exists. */
  private async reconnect(lost: Subscription): Promise<void> {
    const puller = this.puller;
    this.puller = undefined;
    puller?.removeAllListeners("message");
    await puller?.close().catch(() => undefined);
    const deadline = this.now() + (this.options.missingGraceMs ?? 60_000);
    const { pubsub } = this.options;
    for (;;) {
      if (this.subscription !== lost) return; // closed meanwhile
      const awaited = this.temporary ? pubsub.topic(this.options.topic as string) : pubsub.subscription(lost.name);
      const [back] = await awaited.exists().catch(() => [false]);
      if (back) {
        const next = this.temporary ? await this.temporarySubscription() : pubsub.subscription(lost.name);
        if (this.subscription !== lost) {
          // Closed while the new subscription was being made.
          if (this.temporary) await next.delete().catch(() => undefined);
          return;
        }
        this.attach(next);
        return;
      }
      if (this.now() >= deadline) {
        const what = this.temporary ? `topic ${this.options.topic}` : `subscription ${lost.name}`;
        this.failure = new Error(
          `Pub/Sub ${what} does not exist any more (still missing after ${this.options.missingGraceMs ?? 60_000} ms)`,
        );
        this.wake?.();
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Up to maxBundleSize queued messages as a bundle; undefined when all were duplicates. */
  private bundle(): SourceEvent<PubsubMessage> | undefined {
    const n = Math.min(this.queue.length, this.options.maxBundleSize ?? 1_000);
    const taken = this.queue.splice(0, n);
    const now = this.now();
    this.forgetOldIds(now);
    const values: PubsubMessage[] = [];
    const timestamps: number[] = [];
    for (const m of taken) {
      this.unmarked.push(m);
      this.stats.received++;
      const publishTime = m.publishTime.getTime();
      // A re-delivery has the same message id and publish time (an id alone is unique only within a topic, and an
      // emulator restarted empty reuses ids).
      const id =
        (this.options.idAttribute !== undefined ? m.attributes[this.options.idAttribute] : undefined) ??
        `${m.id}@${publishTime}`;
      if (this.seen.has(id)) {
        this.stats.duplicatesDropped++;
        continue;
      }
      this.seen.add(id, now);
      let timestamp = publishTime;
      if (this.options.timestampAttribute !== undefined) {
        const t = parseTimestamp(m.attributes[this.options.timestampAttribute]);
        if (t === undefined) this.stats.badTimestamps++;
        else timestamp = t;
      }
      this.estimator.observe(timestamp, now);
      const message: PubsubMessage = {
        messageId: m.id,
        publishTime,
        attributes: this.options.withAttributes === false ? {} : { ...m.attributes },
        ...payloadOfBytes(m.data),
        ...(m.orderingKey ? { orderingKey: m.orderingKey } : {}),
      };
      values.push(message);
      timestamps.push(timestamp);
    }
    return values.length === 0 ? undefined : { kind: "elements", values, timestamps };
  }

  private forgetOldIds(now: number): void {
    this.seen.forgetBefore(now - (this.options.dedupWindowMs ?? 10 * 60_000));
  }

  /** Waits until a message arrives (true) or a heartbeat is due (false). */
  private waitForMessage(): Promise<boolean> {
    return new Promise((resolve) => {
      const signal = this.options.signal;
      const settle = (arrived: boolean) => {
        clearTimeout(timer);
        this.wake = undefined;
        signal?.removeEventListener("abort", onAbort);
        resolve(arrived);
      };
      const onAbort = () => settle(true);
      const timer = setTimeout(() => settle(false), this.options.heartbeatMs ?? 200);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.wake = () => settle(true);
    });
  }

  /**
   * Stops taking messages; what is already queued is still given out. The stream stays open until close, so the
   * leases of messages given out last are kept until their checkpoint is finalized; messages that arrive meanwhile
   * are not taken, and are nacked at close (Pub/Sub delivers them again to the next reader).
   */
  private async drain(): Promise<void> {
    this.draining = true;
    this.puller?.pause();
  }
}

/** Epoch ms digits or an RFC 3339 date-time; undefined otherwise. */
function parseTimestamp(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (/^-?\d+$/.test(raw)) {
    const ms = Number(raw);
    return Number.isSafeInteger(ms) && ms >= MIN_TIMESTAMP && ms <= MAX_TIMESTAMP ? ms : undefined;
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([zZ]|[+-]\d{2}:\d{2})$/.test(raw)) return undefined;
  const ms = Date.parse(raw);
  return Number.isNaN(ms) ? undefined : ms;
}
