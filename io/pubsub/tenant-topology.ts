import { createHash } from "node:crypto";
import { catchAllFilter, tenantFilter, tenantIdProblem } from "../../schemas/tenant.ts";
import type { PubsubTopology, SubscriptionSpec, TopicSpec } from "./provision.ts";

/**
 * A topic's workers per tenant, as a topology declares them: for each tenant of the topology's `tenants`, a
 * subscription `{topic}-{tenant}-worker` filtered on the tenant's attribute (`attributes.tenant_id = "T"`), whose
 * messages go after `maxDeliveryAttempts` to the tenant's own dead-letter topic `{topic}-{tenant}-dlq` (kept by its
 * subscription `{topic}-{tenant}-dlq-inspect`: a topic without one drops what it is sent). Beside them the catch-all
 * `{topic}-tenant-catch-all-{hash}`, filtered on what none of the tenants' filters selects (`catchAllFilter`), with
 * its own dead-letter topic. The other properties are the subscriptions' (ack deadline, retry policy, retention,
 * ordering).
 */
export type TenantWorkersSpec = Omit<SubscriptionSpec, "name" | "filter" | "deadLetter"> & {
  readonly maxDeliveryAttempts: number;
  /**
   * The topic's subscription the shared job reads (one of its `subscriptions`, e.g. `medallion`): made in the
   * `shared` and `both` tenant modes, left out in `per_tenant`, where the tenants' workers and the catch-all read the
   * topic instead (`TenantMode`).
   */
  readonly sharedSubscription?: string;
};

/**
 * Who reads a topic with `tenantWorkers`, and so which of its input subscriptions are made (a subscription nothing
 * reads keeps its messages for its retention, and its backlog alerts fire for ever):
 * - `shared` (the default): the shared job alone, on `sharedSubscription`; no worker, no catch-all for the current
 *   `tenants` (those of `retiredTenantLists`, being read empty, stay);
 * - `per_tenant`: a worker per tenant and the catch-all, not `sharedSubscription`;
 * - `both`: all of them, while moving from one to the other (the old readers read theirs empty) or to try both.
 */
export type TenantMode = "shared" | "per_tenant" | "both";

export const TENANT_MODES: readonly TenantMode[] = ["shared", "per_tenant", "both"];

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
 * The hash a catch-all's name carries: the first 8 hex digits of the SHA-256 of its filter's UTF-8 (Terraform's
 * `substr(sha256(filter), 0, 8)`, which hashes the same bytes).
 */
export function catchAllFilterHash(filter: string): string {
  return createHash("sha256").update(filter, "utf8").digest("hex").slice(0, 8);
}

/**
 * The names of `topic`'s catch-all for the tenants `tenants`: the subscription of the messages none of their workers
 * takes, `{topic}-tenant-catch-all-{catchAllFilterHash(filter)}`, named after its filter so that another tenant list
 * (another filter, which Pub/Sub cannot change in place) makes a new subscription beside the old one instead of
 * replacing it; its dead-letter topic and that topic's subscription, one per topic whatever the list. None can be a
 * tenant's (those end in `-worker`, `-dlq` or `-dlq-inspect`).
 */
export function tenantCatchAllNames(
  topic: string,
  tenants: readonly string[],
): {
  readonly subscription: string;
  readonly filter: string;
  readonly deadLetterTopic: string;
  readonly deadLetterSubscription: string;
} {
  const filter = catchAllFilter(tenants);
  return {
    subscription: `${topic}-tenant-catch-all-${catchAllFilterHash(filter)}`,
    filter,
    deadLetterTopic: `${topic}-tenant-catch-all-dead-letter`,
    deadLetterSubscription: `${topic}-tenant-catch-all-dead-letter-inspect`,
  };
}

/**
 * The tenant lists whose catch-alls a topology keeps: its `tenants` (when there are some), then each of its
 * `retiredTenantLists` (earlier lists, whose catch-all is read empty before it is deleted), each list once. Each is
 * checked: tenant ids, each listed once, not empty (a retired list), and, when a topic has `tenantWorkers`, a
 * catch-all filter within Pub/Sub's limit (`PUBSUB_FILTER_MAX_BYTES`); refused naming the list, the tenant, or the
 * catch-all with the limit and the length.
 */
export function tenantLists(topology: PubsubTopology): readonly (readonly string[])[] {
  const lists: (readonly string[])[] = [];
  const filters = new Set<string>();
  const check = (tenants: readonly string[], where: string) => {
    const seen = new Set<string>();
    for (const tenant of tenants) {
      const problem = tenantIdProblem(tenant);
      if (problem !== undefined) throw new Error(`${where}tenant ${JSON.stringify(tenant)}: ${problem}`);
      if (seen.has(tenant)) throw new Error(`${where}tenant ${JSON.stringify(tenant)}: listed twice`);
      seen.add(tenant);
    }
    if (tenants.length === 0) return;
    const filter = catchAllFilter(tenants);
    const bytes = Buffer.byteLength(filter, "utf8");
    // Named after the first topic it would be made on (none: nothing is made, nothing to refuse).
    const topic = topology.topics.find((t) => t.tenantWorkers !== undefined)?.name;
    if (bytes > PUBSUB_FILTER_MAX_BYTES && topic !== undefined) {
      throw new Error(
        `${where}subscription ${JSON.stringify(tenantCatchAllNames(topic, tenants).subscription)}: the filter that ` +
          `selects what none of the ${tenants.length} tenants' workers takes is ${bytes} bytes, over Pub/Sub's ` +
          `limit of ${PUBSUB_FILTER_MAX_BYTES} (list fewer tenants, or shorter tenant ids)`,
      );
    }
    if (!filters.has(filter)) lists.push(tenants);
    filters.add(filter);
  };
  check(topology.tenants ?? [], "");
  (topology.retiredTenantLists ?? []).forEach((tenants, i) => {
    const where = `retiredTenantLists[${i}]: `;
    if (tenants.length === 0) throw new Error(`${where}no tenants (a retired list is the tenants of a catch-all made)`);
    check(tenants, where);
  });
  return lists;
}

/**
 * The topology with its tenants' workers written out as ordinary topics and subscriptions (what `provision` and
 * Terraform's `modules/environment` create) for the tenant mode `mode` (`TenantMode`: in `shared` the current
 * `tenants` get nothing; in `per_tenant` the `sharedSubscription` is left out). Each topic with `tenantWorkers` gains
 * a worker subscription per tenant of `tenants` and of the `retiredTenantLists` (a tenant no longer listed keeps its worker and dead-letter topic until
 * its retired list is removed), and a catch-all per list (`tenantLists`: the current one first; `catchAllFilter`,
 * what none of that list's workers selects, so that a message without the attribute or of an unknown tenant still
 * reaches a reader, which dead-letters it). A dead-letter topic per tenant, then the catch-alls' one, follow the
 * declared topics (topic order, then tenant order). The lists are checked as `tenantLists` says; a generated name
 * that is already declared is refused by `provision`'s checks as declared twice.
 *
 * Changing `tenants` changes the catch-all's filter, and so its name: the new catch-all is made beside the old one,
 * which is kept while the old list is in `retiredTenantLists` (its reader reads it empty; nothing is replaced, so no
 * message is lost). During that overlap a message no worker selects reaches both catch-alls: it may be dead-lettered
 * twice, never zero times.
 */
export function expandTenants(topology: PubsubTopology, mode: TenantMode = "shared"): PubsubTopology {
  const all = tenantLists(topology);
  // The current list is the first when there is one; in shared mode it has no subscriptions.
  const current = (topology.tenants ?? []).length > 0;
  const lists = mode === "shared" && current ? all.slice(1) : all;
  const workerTenants = [...new Set(lists.flat())];
  const deadLetterTopics: TopicSpec[] = [];
  const topics = topology.topics.map((t): TopicSpec => {
    const { tenantWorkers, ...topic } = t;
    if (tenantWorkers === undefined) return topic;
    const { maxDeliveryAttempts, sharedSubscription, ...properties } = tenantWorkers;
    const declared = t.subscriptions ?? [];
    if (sharedSubscription !== undefined && !declared.some((s) => s.name === sharedSubscription)) {
      throw new Error(
        `topic ${JSON.stringify(t.name)}: tenantWorkers.sharedSubscription ${JSON.stringify(sharedSubscription)} is ` +
          "not one of its subscriptions",
      );
    }
    const kept = mode === "per_tenant" ? declared.filter((s) => s.name !== sharedSubscription) : declared;
    if (lists.length === 0) return { ...topic, ...(t.subscriptions === undefined ? {} : { subscriptions: kept }) };
    const workers = workerTenants.map((tenant): SubscriptionSpec => {
      const names = tenantWorkerNames(t.name, tenant);
      deadLetterTopics.push({ name: names.deadLetterTopic, subscriptions: [{ name: names.deadLetterSubscription }] });
      return {
        name: names.subscription,
        ...properties,
        filter: tenantFilter(tenant),
        deadLetter: { topic: names.deadLetterTopic, maxDeliveryAttempts },
      };
    });
    const catchAlls = lists.map((tenants): SubscriptionSpec => {
      const names = tenantCatchAllNames(t.name, tenants);
      return {
        name: names.subscription,
        ...properties,
        filter: names.filter,
        deadLetter: { topic: names.deadLetterTopic, maxDeliveryAttempts },
      };
    });
    const names = tenantCatchAllNames(t.name, lists[0] as readonly string[]);
    deadLetterTopics.push({ name: names.deadLetterTopic, subscriptions: [{ name: names.deadLetterSubscription }] });
    return { ...topic, subscriptions: [...kept, ...workers, ...catchAlls] };
  });
  const { tenants: _listed, retiredTenantLists: _retired, ...rest } = topology;
  return { ...rest, topics: [...topics, ...deadLetterTopics] };
}
