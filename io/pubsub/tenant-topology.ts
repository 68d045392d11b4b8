import { tenantFilter, tenantIdProblem } from "../../schemas/tenant.ts";
import type { PubsubTopology, SubscriptionSpec, TopicSpec } from "./provision.ts";

/**
 * A topic's workers per tenant, as a topology declares them: for each tenant of the topology's `tenants`, a
 * subscription `{topic}-{tenant}-worker` filtered on the tenant's attribute (`attributes.tenant_id = "T"`), whose
 * messages go after `maxDeliveryAttempts` to the tenant's own dead-letter topic `{topic}-{tenant}-dlq` (kept by its
 * subscription `{topic}-{tenant}-dlq-inspect`: a topic without one drops what it is sent). The other properties are
 * the subscriptions' (ack deadline, retry policy, retention, ordering).
 */
export type TenantWorkersSpec = Omit<SubscriptionSpec, "name" | "filter" | "deadLetter"> & {
  readonly maxDeliveryAttempts: number;
};

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
 * The topology with its tenants' workers written out as ordinary topics and subscriptions (what `provision` and
 * Terraform's `modules/environment` create): each topic with `tenantWorkers` gains a worker subscription per tenant,
 * and a dead-letter topic per tenant follows the declared topics (topic order, then tenant order). A tenant that is
 * not a tenant id (`TENANT_ID`) or is listed twice is refused, naming it; a generated name that is already declared
 * is refused by `provision`'s checks as declared twice.
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
    if (tenantWorkers === undefined) return topic;
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
    return { ...topic, subscriptions: [...(t.subscriptions ?? []), ...workers] };
  });
  const { tenants: _listed, ...rest } = topology;
  return { ...rest, topics: [...topics, ...deadLetterTopics] };
}
