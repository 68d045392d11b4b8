import type { ValidationError } from "./event.ts";

/**
 * Tenants: who an event belongs to. The tenant is part of every key the medallion keeps (Silver's de-duplication,
 * Gold's sessions and hours, the feature view's entity), and a message says its tenant twice: in the payload
 * (`tenant_id`, the event's own) and in the Pub/Sub attribute `tenant_id` (what subscriptions filter on). The two
 * must agree, and a worker for one tenant (`--tenant`) takes that tenant's messages only.
 */

/** The message attribute that names the tenant (per-tenant subscriptions filter on it). */
export const TENANT_ATTRIBUTE = "tenant_id";

/**
 * What a tenant id may be: 1 to 63 ASCII letters, digits, `_`, `-` or `.`, starting with a letter or a digit. It goes
 * into Pub/Sub names (`{topic}-{tenant}-worker`), into a filter's string literal without escaping, and into keys
 * beside a separator it cannot contain (`\u0000` in the pipeline, `:` in the feature view's entity id).
 */
export const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Why `value` is not a tenant id (said after the name of what holds it), or undefined when it is one. */
export function tenantIdProblem(value: string): string | undefined {
  if (TENANT_ID.test(value)) return undefined;
  return (
    "must be 1 to 63 letters, digits, '_', '-' or '.', starting with a letter or a digit, got " + JSON.stringify(value)
  );
}

/** The Pub/Sub filter of a subscription that delivers `tenant`'s messages only. */
export function tenantFilter(tenant: string): string {
  return `attributes.${TENANT_ATTRIBUTE} = "${tenant}"`;
}

/**
 * The Pub/Sub filter of the catch-all subscription of a topic with workers for `tenants`: it selects exactly the
 * messages that no tenant's filter (`tenantFilter`) selects, those without the attribute and those whose attribute is
 * none of the tenants (an unknown tenant, an id that is not one, an empty value). The first clause is redundant where
 * a comparison with a missing attribute is false (as Pub/Sub documents `=`), and keeps a message without the
 * attribute selected whatever `NOT` makes of such a comparison. `tenants` must be tenant ids, each once (checked:
 * so their literals never need escaping, and a quote cannot end one early), and not empty: with no tenant there is
 * no worker to catch for. Each refusal names the tenant.
 */
export function catchAllFilter(tenants: readonly string[]): string {
  if (tenants.length === 0) throw new Error("catchAllFilter: no tenants (nothing to catch what their workers leave)");
  const seen = new Set<string>();
  for (const tenant of tenants) {
    const problem = tenantIdProblem(tenant);
    if (problem !== undefined) throw new Error(`catchAllFilter: tenant ${JSON.stringify(tenant)}: ${problem}`);
    if (seen.has(tenant)) throw new Error(`catchAllFilter: tenant ${JSON.stringify(tenant)}: listed twice`);
    seen.add(tenant);
  }
  return `NOT attributes:${TENANT_ATTRIBUTE} OR NOT (${tenants.map(tenantFilter).join(" OR ")})`;
}

/**
 * The `error_field` of a dead letter of the catch-all's reader whose message a tenant's worker takes (it reached the
 * catch-all only where filters are not applied, as on the emulator): that worker has the message, so this copy is
 * not one to repair or replay. The dead-letter feed also gives such a message the attribute
 * `tidemark_catch_all_misrouted=1`. A replay of the dead letters (Bronze's invalid rows or the feed) skips both.
 */
export const CATCH_ALL_MISROUTED = "tidemark_catch_all_misrouted";

/**
 * Why a message that came to the reader of the catch-all subscription (`catchAllFilter(tenants)`) is dead-lettered:
 * every message is, with the reason none of the tenants' workers takes it, as a message no worker takes must land in
 * Bronze and the dead letters rather than under some tenant. In the order checked: the attribute is missing; it is
 * not a tenant id; it names no tenant of `tenants`; it names one of them: a message its worker takes, marked with the
 * field `CATCH_ALL_MISROUTED` rather than the attribute's (not a message to repair or replay).
 */
export function checkCatchAllTenant(
  attributes: Readonly<Record<string, string>>,
  tenants: readonly string[],
): ValidationError {
  const field = `attributes.${TENANT_ATTRIBUTE}`;
  const attribute = attributes[TENANT_ATTRIBUTE];
  const noWorker = `no tenant's worker takes the message (tenants: ${tenants.join(", ")})`;
  if (attribute === undefined) return { field, reason: `is missing: ${noWorker}` };
  const problem = tenantIdProblem(attribute);
  if (problem !== undefined) return { field, reason: `${problem}: ${noWorker}` };
  if (!tenants.includes(attribute)) {
    return { field, reason: `is ${JSON.stringify(attribute)}, not one of the tenants: ${noWorker}` };
  }
  return {
    field: CATCH_ALL_MISROUTED,
    reason:
      `is ${JSON.stringify(attribute)}: tenant ${attribute}'s worker takes the message, not the catch-all's reader ` +
      "(whose filter leaves it out where Pub/Sub applies filters)",
  };
}

/**
 * Whether a parsed event may be written under its tenant, given the message's attributes and, for a worker of one
 * tenant (`--tenant`), that tenant; the reason when not (it then goes to the dead letters, and stays in Bronze):
 * 1. the attribute `tenant_id`, when the message has one, equals the payload's `tenant_id` (otherwise one of them is
 *    forged or wrong, and the event is written under neither tenant);
 * 2. for a tenant's worker, the payload's tenant is the worker's;
 * 3. for a tenant's worker, the message has the attribute (its subscription's filter selects on it: a message
 *    without it reaches the worker only where the filter is not applied).
 */
export function checkMessageTenant(
  attributes: Readonly<Record<string, string>>,
  payloadTenant: string,
  workerTenant?: string,
): ValidationError | undefined {
  const attribute = attributes[TENANT_ATTRIBUTE];
  if (attribute !== undefined && attribute !== payloadTenant) {
    return {
      field: `attributes.${TENANT_ATTRIBUTE}`,
      reason:
        `is ${JSON.stringify(attribute)} but the payload's tenant_id is ${JSON.stringify(payloadTenant)}: ` +
        "written under neither tenant",
    };
  }
  if (workerTenant === undefined) return undefined;
  if (payloadTenant !== workerTenant) {
    return {
      field: "tenant_id",
      reason: `is ${JSON.stringify(payloadTenant)}, not this worker's tenant (--tenant=${workerTenant})`,
    };
  }
  if (attribute === undefined) {
    return {
      field: `attributes.${TENANT_ATTRIBUTE}`,
      reason:
        `is missing: this worker (--tenant=${workerTenant}) takes only the messages its subscription's filter ` +
        `selects (${tenantFilter(workerTenant)})`,
    };
  }
  return undefined;
}
