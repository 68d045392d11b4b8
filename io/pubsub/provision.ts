import type { PubSub } from "@google-cloud/pubsub";
import { expandTenants, type TenantMode, type TenantWorkersSpec } from "./tenant-topology.ts";

/** A subscription as declared: what `provision` makes the subscription look like. */
export interface SubscriptionSpec {
  readonly name: string;
  /** Seconds a delivered message may go unacknowledged before redelivery (10 to 600). Default 60. */
  readonly ackDeadlineSeconds?: number;
  /** Delivery in publish order per ordering key. Fixed at creation. Default false. */
  readonly messageOrdering?: boolean;
  /** A Pub/Sub filter on attributes, e.g. `attributes.tenant_id = "acme"`. Fixed at creation. */
  readonly filter?: string;
  /** Redelivery backoff after a nack or an expired deadline. */
  readonly retryPolicy?: { readonly minBackoffSeconds: number; readonly maxBackoffSeconds: number };
  /** After this many delivery attempts a message goes to the dead-letter topic (a topic of the same config). */
  readonly deadLetter?: { readonly topic: string; readonly maxDeliveryAttempts: number };
  /** How long unacknowledged messages are kept. Default 7 days. */
  readonly retentionSeconds?: number;
}

export interface TopicSpec {
  readonly name: string;
  /** How long the topic keeps published messages (for seeking). Unset: not kept beyond subscriptions. */
  readonly retentionSeconds?: number;
  readonly subscriptions?: readonly SubscriptionSpec[];
  /** A worker subscription and a dead-letter topic per tenant of the topology's `tenants` (`expandTenants`). */
  readonly tenantWorkers?: TenantWorkersSpec;
}

/** The declarative Pub/Sub topology of an application in one environment. */
export interface PubsubTopology {
  /** Prepended to every topic and subscription name, e.g. `tidemark-dev-`: one config, an environment per prefix. */
  readonly prefix?: string;
  /** The tenants, each with its own worker subscription on the topics that declare `tenantWorkers`. */
  readonly tenants?: readonly string[];
  /**
   * Earlier values of `tenants` whose subscriptions are kept until their readers have read them empty: each list's
   * catch-all (named after its filter, so not the current one's), and the worker and dead-letter topic of each of its
   * tenants (`expandTenants`). Remove a list once its catch-all is drained (README, "Tenant isolation").
   */
  readonly retiredTenantLists?: readonly (readonly string[])[];
  readonly topics: readonly TopicSpec[];
}

/** What provisioning did, by full resource name. */
export interface ProvisionReport {
  readonly added: string[];
  readonly changed: string[];
  readonly unchanged: string[];
}

/**
 * Creates or updates topics and subscriptions to match `topology` (its tenants' workers written out by
 * `expandTenants` for `options.tenantMode`, default `shared`: who reads the topics with `tenantWorkers`),
 * idempotently: a second run changes nothing. Nothing is deleted (a subscription left out, by another tenant mode or
 * tenant list, stays with its messages until someone deletes it). Properties Pub/Sub cannot change in place (filter,
 * message ordering) are not touched on an existing subscription: a difference there is an error naming the
 * subscription and the property, before anything else is written.
 */
export async function provision(
  pubsub: PubSub,
  declared: PubsubTopology,
  options: { readonly tenantMode?: TenantMode } = {},
): Promise<ProvisionReport> {
  const topology = expandTenants(declared, options.tenantMode ?? "shared");
  validate(topology);
  const report: ProvisionReport = { added: [], changed: [], unchanged: [] };
  const prefix = topology.prefix ?? "";
  // Check the fixed properties of every existing subscription first, so a bad config writes nothing.
  const existing = new Map<string, Record<string, unknown>>();
  for (const t of topology.topics) {
    for (const s of t.subscriptions ?? []) {
      const sub = pubsub.subscription(prefix + s.name);
      const [exists] = await sub.exists();
      if (!exists) continue;
      const [meta] = await sub.getMetadata();
      const m = meta as unknown as Record<string, unknown>;
      existing.set(s.name, m);
      if (Boolean(m.enableMessageOrdering) !== (s.messageOrdering ?? false)) {
        throw new Error(
          `subscription ${sub.name}: message ordering is ${Boolean(m.enableMessageOrdering)} and cannot be changed in ` +
            `place (delete the subscription to recreate it)`,
        );
      }
      if ((m.filter || "") !== (s.filter ?? "")) {
        throw new Error(
          `subscription ${sub.name}: filter ${JSON.stringify(m.filter || "")} cannot be changed in place to ` +
            `${JSON.stringify(s.filter ?? "")} (delete the subscription to recreate it)`,
        );
      }
    }
  }
  for (const t of topology.topics) {
    const topic = pubsub.topic(prefix + t.name);
    const [exists] = await topic.exists();
    const retention = t.retentionSeconds === undefined ? undefined : { seconds: t.retentionSeconds };
    if (!exists) {
      await pubsub.createTopic({ name: topic.name, ...(retention ? { messageRetentionDuration: retention } : {}) });
      report.added.push(topic.name);
    } else {
      const [meta] = await topic.getMetadata();
      const current = seconds(meta.messageRetentionDuration);
      if (t.retentionSeconds !== undefined && current !== t.retentionSeconds) {
        await topic.setMetadata({ messageRetentionDuration: retention });
        report.changed.push(topic.name);
      } else report.unchanged.push(topic.name);
    }
  }
  for (const t of topology.topics) {
    for (const s of t.subscriptions ?? []) {
      const sub = pubsub.subscription(prefix + s.name);
      const wanted = subscriptionMetadata(pubsub, prefix, s);
      const current = existing.get(s.name);
      if (current === undefined) {
        await pubsub.topic(prefix + t.name).createSubscription(prefix + s.name, {
          ...wanted,
          ...(s.messageOrdering ? { enableMessageOrdering: true } : {}),
          ...(s.filter ? { filter: s.filter } : {}),
        });
        report.added.push(sub.name);
        continue;
      }
      const changes = differences(current, wanted);
      if (changes.length === 0) {
        report.unchanged.push(sub.name);
        continue;
      }
      await sub.setMetadata(Object.fromEntries(changes.map((k) => [k, wanted[k]])));
      report.changed.push(`${sub.name} (${changes.join(", ")})`);
    }
  }
  return report;
}

/** The mutable properties of a subscription, in the API's shape. */
function subscriptionMetadata(pubsub: PubSub, prefix: string, s: SubscriptionSpec): Record<string, unknown> {
  return {
    ackDeadlineSeconds: s.ackDeadlineSeconds ?? 60,
    messageRetentionDuration: { seconds: s.retentionSeconds ?? 7 * 24 * 3600 },
    retryPolicy: s.retryPolicy
      ? {
          minimumBackoff: { seconds: s.retryPolicy.minBackoffSeconds },
          maximumBackoff: { seconds: s.retryPolicy.maxBackoffSeconds },
        }
      : null,
    deadLetterPolicy: s.deadLetter
      ? {
          deadLetterTopic: pubsub.topic(prefix + s.deadLetter.topic).name,
          maxDeliveryAttempts: s.deadLetter.maxDeliveryAttempts,
        }
      : null,
  };
}

/** The keys of `wanted` whose values differ from the subscription's current metadata. */
function differences(current: Record<string, unknown>, wanted: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (Number(current.ackDeadlineSeconds) !== wanted.ackDeadlineSeconds) out.push("ackDeadlineSeconds");
  if (seconds(current.messageRetentionDuration) !== seconds(wanted.messageRetentionDuration)) {
    out.push("messageRetentionDuration");
  }
  const rp = current.retryPolicy as { minimumBackoff?: unknown; maximumBackoff?: unknown } | null | undefined;
  const wrp = wanted.retryPolicy as { minimumBackoff: unknown; maximumBackoff: unknown } | null;
  const rpSame =
    wrp === null
      ? rp == null
      : rp != null &&
        seconds(rp.minimumBackoff) === seconds(wrp.minimumBackoff) &&
        seconds(rp.maximumBackoff) === seconds(wrp.maximumBackoff);
  if (!rpSame) out.push("retryPolicy");
  const dl = current.deadLetterPolicy as { deadLetterTopic?: string; maxDeliveryAttempts?: number } | null | undefined;
  const wdl = wanted.deadLetterPolicy as { deadLetterTopic: string; maxDeliveryAttempts: number } | null;
  const dlSame =
    wdl === null
      ? dl == null || !dl.deadLetterTopic
      : dl != null && dl.deadLetterTopic === wdl.deadLetterTopic && dl.maxDeliveryAttempts === wdl.maxDeliveryAttempts;
  if (!dlSame) out.push("deadLetterPolicy");
  return out;
}

/** Seconds of a protobuf Duration (`{seconds, nanos}`, seconds possibly a string or Long), or undefined. */
function seconds(d: unknown): number | undefined {
  if (d == null || typeof d !== "object") return undefined;
  const s = (d as { seconds?: unknown }).seconds;
  return s == null ? undefined : Number(s);
}

/** Refuses a topology Pub/Sub would refuse, before any call, naming the entry. */
function validate(topology: PubsubTopology): void {
  const topics = new Set(topology.topics.map((t) => t.name));
  const names = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;
  const seen = new Set<string>();
  const seenTopics = new Set<string>();
  for (const t of topology.topics) {
    const full = (topology.prefix ?? "") + t.name;
    if (!names.test(full) || full.startsWith("goog"))
      throw new Error(`topic ${JSON.stringify(full)}: not a valid name`);
    if (seenTopics.has(t.name)) throw new Error(`topic ${JSON.stringify(full)}: declared twice`);
    seenTopics.add(t.name);
    for (const s of t.subscriptions ?? []) {
      const where = `subscription ${JSON.stringify((topology.prefix ?? "") + s.name)}`;
      if (!names.test((topology.prefix ?? "") + s.name)) throw new Error(`${where}: not a valid name`);
      if (seen.has(s.name)) throw new Error(`${where}: declared twice`);
      seen.add(s.name);
      const ack = s.ackDeadlineSeconds;
      if (ack !== undefined && !(Number.isInteger(ack) && ack >= 10 && ack <= 600)) {
        throw new Error(`${where}: ackDeadlineSeconds must be 10 to 600, got ${ack}`);
      }
      if (s.deadLetter) {
        if (!topics.has(s.deadLetter.topic)) {
          throw new Error(`${where}: dead-letter topic ${JSON.stringify(s.deadLetter.topic)} is not declared`);
        }
        const a = s.deadLetter.maxDeliveryAttempts;
        if (!(Number.isInteger(a) && a >= 5 && a <= 100)) {
          throw new Error(`${where}: maxDeliveryAttempts must be 5 to 100, got ${a}`);
        }
      }
      if (s.retryPolicy) {
        const { minBackoffSeconds: lo, maxBackoffSeconds: hi } = s.retryPolicy;
        if (!(lo >= 0 && hi <= 600 && lo <= hi)) {
          throw new Error(`${where}: retryPolicy needs 0 <= minBackoffSeconds <= maxBackoffSeconds <= 600`);
        }
      }
    }
  }
}
