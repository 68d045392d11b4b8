import { catchAllFilter, tenantFilter, tenantIdProblem } from "../../schemas/tenant.ts";
import type { PubsubTopology, SubscriptionSpec, TopicSpec } from "./provision.ts";

/**
 * A topic's workers per tenant, as a topology declares them: for each tenant of the topology's `tenants`, a
 * subscription `{topic}-{tenant}-worker` filtered on the tenant's attribute (`attributes.tenant_id = "T"`), whose
 * messages go after `maxDeliveryAttempts` to the tenant's own dead-letter topic `{topic}-{tenant}-dlq` (kept by its
 * subscription `{topic}-{tenant}-dlq-inspect`: a topic without one drops what it is sent). Beside them the catch-all
 * `{topic}-tenant-catch-all`, filtered on what none of the tenants' filters selects (`catchAllFilter`), with its own
 * dead-letter topic. The other properties are the subscriptions' (ack deadline, retry policy, retention, ordering).
 */
export type TenantWorkersSpec = Omit<SubscriptionSpec, "name" | "filter" | "deadLetter"> & {
  readonly maxDeliveryAttempts: number;
};

/** Pub/Sub's limit on a subscription's filter, in bytes (of its UTF-8). */
export const PUBSUB_FILTER_MAX_BYTES = 256;

/** The names a tenant's worker gets on `topic`. */
export function tenantWorkerNames(
  topic: string,
  tenant: string,
): { readonly subscription: string; readonly deadLetterTopic: string; readonly deadLetterSubscription: string } {
  return {
    subscription: `${topic}-${tenant}-worker`,
    deadLetterTopic: `${topic}-${tenant}-dlq`,
    deadLetterSubscription: `${topic}-${tenant}-dlq-inspect`,
  };
}

/**
 * The names of `topic`'s catch-all: the subscription of the messages no tenant's worker takes, its dead-letter topic
 * and that topic's subscription. None can be a tenant's (those end in `-worker`, `-dlq` or `-dlq-inspect`).
 */
export function tenantCatchAllNames(topic: string): {
  readonly subscription: string;
  readonly deadLetterTopic: string;
  readonly deadLetterSubscription: string;
} {
  return {
    subscription: `${topic}-tenant-catch-all`,
    deadLetterTopic: `${topic}-tenant-catch-all-dead-letter`,
    deadLetterSubscription: `${topic}-tenant-catch-all-dead-letter-inspect`,
  };
}

/**
 * The topology with its tenants' workers written out as ordinary topics and subscriptions (what `provision` and
 * Terraform's `modules/environment` create): each topic with `tenantWorkers` gains a worker subscription per tenant
 * and, when there are tenants, the catch-all subscription (`catchAllFilter`: what no worker's filter selects, so that
 * a message without the attribute or of an unknown tenant still reaches a reader, which dead-letters it); a
 * dead-letter topic per tenant, then the catch-all's, follow the declared topics (topic order, then tenant order). A
 * tenant that is not a tenant id (`TENANT_ID`) or is listed twice is refused, naming it, and so is a tenant list
 * whose catch-all filter is longer than Pub/Sub's limit (`PUBSUB_FILTER_MAX_BYTES`), naming the limit and the length;
 * a generated name that is already declared is refused by `provision`'s checks as declared twice.
 */
export function expandTenants(topology: PubsubTopology): PubsubTopology {
  const tenants = topology.tenants ?? [];
  const seen = new Set<string>();
  for (const tenant of tenants) {
    const problem = tenantIdProblem(tenant);
    if (problem !== undefined) throw new Error(`tenant ${JSON.stringify(tenant)}: ${problem}`);
    if (seen.has(tenant)) throw new Error(`tenant ${JSON.stringify(tenant)}: listed twice`);
    seen.add(tenant);
  }
  const deadLetterTopics: TopicSpec[] = [];
  const topics = topology.topics.map((t): TopicSpec => {
    const { tenantWorkers, ...topic } = t;
    if (tenantWorkers === undefined || tenants.length === 0) return topic;
    const { maxDeliveryAttempts, ...properties } = tenantWorkers;
    const workers = tenants.map((tenant): SubscriptionSpec => {
      const names = tenantWorkerNames(t.name, tenant);
      deadLetterTopics.push({ name: names.deadLetterTopic, subscriptions: [{ name: names.deadLetterSubscription }] });
      return {
        name: names.subscription,
        ...properties,
        filter: tenantFilter(tenant),
        deadLetter: { topic: names.deadLetterTopic, maxDeliveryAttempts },
      };
    });
    const catchAll = tenantCatchAllNames(t.name);
    const filter = catchAllFilter(tenants);
    const bytes = Buffer.byteLength(filter, "utf8");
    if (bytes > PUBSUB_FILTER_MAX_BYTES) {
      throw new Error(
        `subscription ${JSON.stringify(catchAll.subscription)}: the filter that selects what none of the ` +
          `${tenants.length} tenants' workers takes is ${bytes} bytes, over Pub/Sub's limit of ` +
          `${PUBSUB_FILTER_MAX_BYTES} (list fewer tenants, or shorter tenant ids)`,
      );
    }
    deadLetterTopics.push({
      name: catchAll.deadLetterTopic,
      subscriptions: [{ name: catchAll.deadLetterSubscription }],
    });
    const catchAllSubscription: SubscriptionSpec = {
      name: catchAll.subscription,
      ...properties,
      filter,
      deadLetter: { topic: catchAll.deadLetterTopic, maxDeliveryAttempts },
    };
    return { ...topic, subscriptions: [...(t.subscriptions ?? []), ...workers, catchAllSubscription] };
  });
  const { tenants: _listed, ...rest } = topology;
  return { ...rest, topics: [...topics, ...deadLetterTopics] };
}
