import type { PubSub, Topic } from "@google-cloud/pubsub";

/** A message to publish. */
export interface OutgoingMessage {
  readonly data: string | Uint8Array;
  readonly attributes?: Readonly<Record<string, string>>;
  /** Messages with one ordering key are delivered in publish order (the topic's subscription must enable ordering). */
  readonly orderingKey?: string;
}

/** Options of {@link PubsubPublisher}. */
export interface PubsubPublishOptions {
  readonly pubsub: PubSub;
  /** A topic name or `projects/P/topics/T`. */
  readonly topic: string;
  /** Client-side batching: a batch is sent at this many messages, bytes or milliseconds. Defaults 1,000 / 1 MiB / 10 ms. */
  readonly batchMessages?: number;
  readonly batchBytes?: number;
  readonly batchDelayMs?: number;
  /** Most messages being published (sent, not yet confirmed) at once. Default 10,000. */
  readonly maxInFlight?: number;
}

/**
 * Publishes messages to a topic with batching, ordering keys and a bound on messages in flight (so a fast producer
 * waits instead of filling memory). A publish that fails for an ordering key pauses that key in the client; it is
 * resumed so later messages of the key can go on, and the failure is reported by `flush`.
 */
export class PubsubPublisher {
  private readonly topic: Topic;
  private readonly inFlight = new Set<Promise<unknown>>();
  private failure: Error | undefined;
  published = 0;

  constructor(private readonly options: PubsubPublishOptions) {
    this.topic = options.pubsub.topic(options.topic, {
      batching: {
        maxMessages: options.batchMessages ?? 1_000,
        maxBytes: options.batchBytes ?? 2 ** 20,
        maxMilliseconds: options.batchDelayMs ?? 10,
      },
      messageOrdering: true,
    });
  }

  /** The topic's full name. */
  get name(): string {
    return this.topic.name;
  }

  /** Fails with a message naming the topic when it does not exist. */
  async checkExists(): Promise<void> {
    const [exists] = await this.topic.exists();
    if (!exists)
      throw new Error(`Pub/Sub topic ${this.topic.name} does not exist (create it with \`npm run provision\`)`);
  }

  /** Queues one message; waits while `maxInFlight` messages are unconfirmed. */
  async publish(message: OutgoingMessage): Promise<void> {
    this.rethrow();
    while (this.inFlight.size >= (this.options.maxInFlight ?? 10_000)) await Promise.race(this.inFlight);
    const data = typeof message.data === "string" ? Buffer.from(message.data, "utf8") : Buffer.from(message.data);
    const sent = this.topic
      .publishMessage({
        data,
        ...(message.attributes ? { attributes: { ...message.attributes } } : {}),
        ...(message.orderingKey ? { orderingKey: message.orderingKey } : {}),
      })
      .then(
        () => {
          this.published++;
        },
        (e: Error) => {
          if (message.orderingKey) this.topic.resumePublishing(message.orderingKey);
          this.failure ??= new Error(`publishing to ${this.topic.name} failed: ${e.message}`, { cause: e });
        },
      )
      .finally(() => this.inFlight.delete(sent));
    this.inFlight.add(sent);
  }

  /**
   * Sends what is batched and waits for every publish; rethrows the first failure since the last one reported (once:
   * the publisher goes on, so a retried bundle can publish again).
   */
  async flush(): Promise<void> {
    try {
      await this.topic.flush();
    } catch (e) {
      this.failure ??= new Error(`publishing to ${this.topic.name} failed: ${(e as Error).message}`, { cause: e });
    }
    await Promise.all(this.inFlight);
    this.rethrow();
  }

  /** Throws the failure not yet reported, and forgets it. */
  private rethrow(): void {
    const failure = this.failure;
    this.failure = undefined;
    if (failure !== undefined) throw failure;
  }
}

/**
 * Publishes `messages` in order at about `ratePerSec` (all at once when undefined), and flushes. Returns the count
 * published. The pace is kept by the wall clock in 10 ms steps.
 */
export async function publishAtRate(
  publisher: PubsubPublisher,
  messages: Iterable<OutgoingMessage>,
  ratePerSec?: number,
  now: () => number = performance.now.bind(performance),
): Promise<number> {
  const started = now();
  let sent = 0;
  for (const m of messages) {
    if (ratePerSec !== undefined) {
      const due = started + (sent / ratePerSec) * 1000;
      const wait = due - now();
      if (wait > 10) await new Promise((r) => setTimeout(r, wait));
    }
    await publisher.publish(m);
    sent++;
  }
  await publisher.flush();
  return sent;
}
