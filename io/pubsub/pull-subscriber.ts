import { EventEmitter } from "node:events";
import { type PubSub, type protos, v1 } from "@google-cloud/pubsub";

type ReceivedMessage = protos.google.pubsub.v1.IReceivedMessage;

/** gRPC status codes the subscriber tells apart. */
const DEADLINE_EXCEEDED = 4;
/** Worth another pull after a pause: the service (or an emulator) restarting, overloaded or briefly unreachable. */
const TRANSIENT = new Set([1 /* CANCELLED */, 2 /* UNKNOWN */, 8 /* RESOURCE_EXHAUSTED */, 10, 13, 14]);
/** Acknowledge and ModifyAckDeadline take at most this many ack ids per call (the service's request limit). */
const ACK_IDS_PER_CALL = 2_500;
/** Acknowledgements and nacks wait this long to be sent together. */
const ACK_BATCH_MS = 100;

/** A message pulled from a subscription: the fields the Pub/Sub source reads, and its settlement. */
export interface PulledMessage {
  readonly id: string;
  readonly publishTime: Date;
  readonly attributes: Readonly<Record<string, string>>;
  readonly data: Buffer;
  readonly orderingKey: string;
  /** Payload bytes (what `maxOutstandingBytes` counts). */
  readonly length: number;
  /** Acknowledges it (batched); it stops counting against flow control. A second ack or nack does nothing. */
  ack(): void;
  /** Gives it back for redelivery at once (a deadline of 0, batched); it stops counting against flow control. */
  nack(): void;
}

/** Options of {@link PullSubscriber}. */
export interface PullSubscriberOptions {
  /** Messages pulled and not yet acknowledged or nacked: no pull asks for more. */
  readonly maxOutstandingMessages: number;
  /** Payload bytes pulled and not yet acknowledged or nacked: no pull is made at or above this. */
  readonly maxOutstandingBytes: number;
  /** The deadline each lease is set to (10 to 600 s), at receipt and at each extension. */
  readonly leaseDeadlineSeconds: number;
  /** Leases are extended up to this long after receipt; then the message is left to expire (and is redelivered). */
  readonly maxLeaseExtensionMs: number;
  /** Most messages one Pull asks for. Default 1,000 (the emulator gives at most 100 a Pull). */
  readonly maxMessagesPerPull?: number;
  /**
   * Pulls in flight at once. Default 8: a Pull's answer waits for this process's event loop, which the pipeline keeps
   * busy, so one Pull at a time (100 messages from the emulator) starved the pipeline.
   */
  readonly concurrentPulls?: number;
  /**
   * The shortest deadline of a Pull. Default 2 s. A Pull's deadline is three times the longest a Pull that brought
   * messages took lately, and at least this: the deadline bounds how long an idle Pull waits (the emulator answers
   * an idle Pull just before its deadline) and so how long `close` waits for it, while a Pull the server takes long
   * to answer (the emulator serves Pulls one at a time, each costing time in proportion to the backlog) must not be
   * given up: a Pull given up on (or cancelled) after the server took its messages leaves them delivered to nobody
   * until their deadline passes, a delivery attempt counted.
   */
  readonly minPullDeadlineMs?: number;
}

interface Held {
  readonly message: PulledMessage;
  readonly ackId: string;
  readonly receivedAt: number;
}

/**
 * Reads a subscription by unary Pull, as Beam's PubsubIO does, each Pull asking for at most the room flow control
 * leaves (`maxOutstandingMessages` less the messages held and those the Pulls in flight may bring): the subscription
 * never has more than `maxOutstandingMessages` delivered to this subscriber and not settled (nor more than
 * `maxOutstandingBytes`, give or take the Pulls in flight), whatever the server does with StreamingPull's
 * flow-control fields. (The official emulator ignores them: it pushes a Pull's worth every 50 ms down each stream
 * whether the client reads or not, so a backlog was delivered far faster than it was processed, its leases expiring
 * in the emulator's send buffers.) Leases are extended here, in batches, until settled or
 * `maxLeaseExtensionMs`; acknowledgements and nacks are sent in batches.
 *
 * Events: `message` (a `PulledMessage`), `error` (a Pull failed with a status other than a transient one, e.g.
 * NOT_FOUND: the subscriber stops pulling). Transient failures (UNAVAILABLE and the like) are retried with backoff.
 */
export class PullSubscriber extends EventEmitter {
  private readonly client: v1.SubscriberClient;
  private readonly held = new Map<PulledMessage, Held>();
  private heldBytes = 0;
  private acks: string[] = [];
  private nacks: string[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly leaseTimer: NodeJS.Timeout;
  private readonly sends = new Set<Promise<void>>();
  private closed = false;
  private paused = false;
  /** After a Pull failed for good: no more Pulls. */
  private failed = false;
  private started = false;
  /** Pulls in flight, and the messages they asked for (room flow control keeps for them). */
  private readonly pulls = new Set<Promise<void>>();
  private reserved = 0;
  /** While set, Pulls wait out a transient failure. */
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  /** The deadline of the next Pull (see `minPullDeadlineMs`). */
  private pullDeadlineMs: number;

  constructor(
    pubsub: PubSub,
    /** The subscription's full name, `projects/P/subscriptions/S`. */
    readonly name: string,
    private readonly options: PullSubscriberOptions,
  ) {
    super();
    this.pullDeadlineMs = options.minPullDeadlineMs ?? 2_000;
    // The client's own settings (endpoint, credentials, the emulator's plaintext channel), as its subscriptions use.
    this.client = new v1.SubscriberClient(pubsub.options as ConstructorParameters<typeof v1.SubscriberClient>[0]);
    // Each lease is renewed at the latest two thirds into its deadline.
    this.leaseTimer = setInterval(() => this.extendLeases(), (options.leaseDeadlineSeconds * 1000) / 3);
    this.leaseTimer.unref();
  }

  /** Starts pulling. */
  start(): void {
    this.started = true;
    this.pump();
  }

  /** Stops asking for messages (the ones held keep their leases until settled or closed). */
  pause(): void {
    this.paused = true;
  }

  /**
   * Stops pulling, waits for the Pulls in flight (each within its timeout), then nacks every message still held
   * (theirs included), sends the acknowledgements and nacks waiting, and closes the client. Nacking before the Pulls
   * in flight return would hand a nacked message straight back to one of them: a delivery attempt counted (towards
   * the dead-letter topic) for a delivery nobody processes.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    await Promise.allSettled([...this.pulls]);
    clearInterval(this.leaseTimer);
    for (const h of [...this.held.values()]) h.message.nack();
    await this.flush();
    await this.client.close().catch(() => undefined);
  }

  /** Starts Pulls while there is room: fewer than `concurrentPulls` in flight, and messages and bytes to spare. */
  private pump(): void {
    const o = this.options;
    const concurrent = o.concurrentPulls ?? 8;
    while (this.started && !this.closed && !this.paused && !this.failed && this.retryTimer === undefined) {
      const room = o.maxOutstandingMessages - this.held.size - this.reserved;
      if (this.pulls.size >= concurrent || room <= 0 || this.heldBytes >= o.maxOutstandingBytes) return;
      const n = Math.min(o.maxMessagesPerPull ?? 1_000, room);
      this.reserved += n;
      const pull: Promise<void> = this.pullOnce(n).finally(() => {
        this.reserved -= n;
        this.pulls.delete(pull);
        this.pump();
      });
      this.pulls.add(pull);
    }
  }

  /** One Pull of up to `maxMessages`: its messages are held and given out (once closing, held for `close` to nack). */
  private async pullOnce(maxMessages: number): Promise<void> {
    let received: ReceivedMessage[];
    const started = Date.now();
    try {
      const [response] = await this.client.pull(
        { subscription: this.name, maxMessages },
        { timeout: this.pullDeadlineMs, retry: null },
      );
      received = response.receivedMessages ?? [];
      this.backoffMs = 0;
      // Only Pulls that brought messages tell how long the server takes (an idle one waits out its deadline). The
      // deadline follows the slowest lately: up at once, down by a tenth a Pull.
      if (received.length > 0) {
        const wanted = Math.max(this.options.minPullDeadlineMs ?? 2_000, 3 * (Date.now() - started));
        this.pullDeadlineMs = Math.min(60_000, Math.max(wanted, this.pullDeadlineMs * 0.9));
      }
    } catch (e) {
      if (this.closed || this.failed) return;
      const code = (e as { code?: number }).code;
      if (code === DEADLINE_EXCEEDED) return; // nothing to deliver within the timeout: the next Pull asks again
      if (code !== undefined && TRANSIENT.has(code)) {
        this.backoffMs = Math.min(5_000, Math.max(100, this.backoffMs * 2));
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.pump();
        }, this.backoffMs);
        return;
      }
      this.failed = true;
      this.emit("error", e);
      return;
    }
    const now = Date.now();
    const fresh: string[] = [];
    for (const r of received) {
      const m = this.received(r, now);
      if (m === undefined) continue;
      fresh.push(this.held.get(m)?.ackId as string);
      // Once closing, held for `close` to nack.
      if (!this.closed) this.emit("message", m);
    }
    if (this.closed) return;
    // The lease starts now, at the deadline asked for (not the subscription's), so a crashed reader's messages come
    // back after it.
    if (fresh.length > 0) this.send("modifyAckDeadline", fresh, this.options.leaseDeadlineSeconds);
    // An empty answer (nothing waiting): this slot asks again a moment later, not at once.
    else if (received.length === 0) await new Promise((r) => setTimeout(r, 100));
  }

  /** Wraps a received message and holds it; undefined for an entry without an ack id or message. */
  private received(r: ReceivedMessage, now: number): PulledMessage | undefined {
    const ackId = r.ackId;
    const pm = r.message;
    if (!ackId || !pm) return undefined;
    const raw = pm.data ?? new Uint8Array();
    const data =
      typeof raw === "string" ? Buffer.from(raw, "base64") : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    const t = pm.publishTime;
    const publishTime = new Date(Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6));
    const settle = (message: PulledMessage, queue: "acks" | "nacks") => {
      const h = this.held.get(message);
      if (h === undefined) return;
      this.held.delete(message);
      this.heldBytes -= message.length;
      this[queue].push(h.ackId);
      this.scheduleFlush();
      this.pump();
    };
    const message: PulledMessage = {
      id: pm.messageId ?? "",
      publishTime,
      attributes: { ...(pm.attributes ?? {}) },
      data,
      orderingKey: pm.orderingKey ?? "",
      length: data.length,
      ack: () => settle(message, "acks"),
      nack: () => settle(message, "nacks"),
    };
    this.held.set(message, { message, ackId, receivedAt: now });
    this.heldBytes += data.length;
    return message;
  }

  private scheduleFlush(): void {
    if (this.acks.length >= ACK_IDS_PER_CALL || this.nacks.length >= ACK_IDS_PER_CALL) {
      void this.flush();
      return;
    }
    this.flushTimer ??= setTimeout(() => void this.flush(), ACK_BATCH_MS);
  }

  /** Sends the acknowledgements and nacks waiting, and waits for every call sent so far. */
  private async flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const acks = this.acks;
    const nacks = this.nacks;
    this.acks = [];
    this.nacks = [];
    if (acks.length > 0) this.send("acknowledge", acks);
    if (nacks.length > 0) this.send("modifyAckDeadline", nacks, 0);
    await Promise.all(this.sends);
  }

  /** Renews the lease of every held message younger than `maxLeaseExtensionMs`; older ones are let go. */
  private extendLeases(): void {
    const now = Date.now();
    const renew: string[] = [];
    for (const h of [...this.held.values()]) {
      if (now - h.receivedAt < this.options.maxLeaseExtensionMs) {
        renew.push(h.ackId);
        continue;
      }
      // Past its extension: Pub/Sub delivers it again; it no longer counts against flow control.
      this.held.delete(h.message);
      this.heldBytes -= h.message.length;
    }
    if (renew.length > 0) this.send("modifyAckDeadline", renew, this.options.leaseDeadlineSeconds);
    this.pump();
  }

  /**
   * Acknowledges, or sets the deadline of, `ackIds` in calls of at most ACK_IDS_PER_CALL, each tried up to three
   * times on a transient failure. A settlement that fails for good is dropped: the message is delivered again
   * (at least once), and the pipeline's sinks are idempotent.
   */
  private send(method: "acknowledge" | "modifyAckDeadline", ackIds: readonly string[], deadlineSeconds = 0): void {
    for (let i = 0; i < ackIds.length; i += ACK_IDS_PER_CALL) {
      const batch = ackIds.slice(i, i + ACK_IDS_PER_CALL);
      const call = async () => {
        for (let attempt = 0; ; attempt++) {
          try {
            if (method === "acknowledge") {
              await this.client.acknowledge(
                { subscription: this.name, ackIds: batch },
                { timeout: 20_000, retry: null },
              );
            } else {
              await this.client.modifyAckDeadline(
                { subscription: this.name, ackIds: batch, ackDeadlineSeconds: deadlineSeconds },
                { timeout: 20_000, retry: null },
              );
            }
            return;
          } catch (e) {
            const code = (e as { code?: number }).code;
            if (attempt >= 2 || code === undefined || !TRANSIENT.has(code)) return;
            await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
          }
        }
      };
      const sent: Promise<void> = call().finally(() => this.sends.delete(sent));
      this.sends.add(sent);
    }
  }
}
