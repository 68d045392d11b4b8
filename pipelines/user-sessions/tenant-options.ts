import { readFileSync } from "node:fs";
import type { PubSub } from "@google-cloud/pubsub";
import type { PubsubTopology } from "../../io/pubsub/provision.ts";
import { catchAllFilterHash, tenantLists } from "../../io/pubsub/tenant-topology.ts";
import { catchAllFilter, tenantFilter, tenantIdProblem } from "../../schemas/tenant.ts";
import type { Options } from "./job-options.ts";

/**
 * The command line's tenant modes, each reading a subscription filtered on the tenant attribute (`schemas/tenant.ts`):
 * - `--tenant=T`, a worker for one tenant, on `{topic}-T-worker` (filter `tenantFilter(T)`);
 * - `--tenant-catch-all`, the reader of a catch-all `{topic}-tenant-catch-all-{hash}` (filter
 *   `catchAllFilter(tenants)`): every message goes to Bronze and the dead letters with the tenant problem, none to
 *   Silver or Gold.
 * Each is checked twice: before anything is opened (`checkTenant`, `checkTenantCatchAll`: the flags, the runner, the
 * input's kind), and once the input subscription can be read (`checkTenantSubscription`, `checkCatchAllSubscription`:
 * its filter is the mode's). Both are refused on Dataflow, whose submission reads no subscription here.
 */

/** The topology `npm run provision` and Terraform read, where `--tenant-catch-all` takes its tenants by default. */
export const DEFAULT_TOPOLOGY = "deploy/pubsub/topology.json";

/** The subscription `--input` names (`pubsub://projects/P/subscriptions/S`), or undefined for a topic or a fixture. */
function inputSubscription(input: string): string | undefined {
  return /^pubsub:\/\/projects\/[^/]+\/subscriptions\/([^/]+)$/.exec(input)?.[1];
}

function isTopicInput(input: string): boolean {
  return /^pubsub:\/\/projects\/[^/]+\/topics\//.test(input);
}

/** A filter as compared: runs of spaces made one, and one space either side of `=` (how a hand-made one may differ). */
function normalisedFilter(filter: string): string {
  return filter
    .trim()
    .replace(/\s+/g, " ")
    .replace(/\s*=\s*/g, " = ");
}

/** The filter of the subscription `name` ("" when it has none); `flag` names the mode when it cannot be read. */
async function subscriptionFilter(
  pubsub: PubSub,
  name: string,
  flag: string,
): Promise<{ sub: string; filter: string }> {
  const sub = pubsub.subscription(name);
  try {
    const [meta] = await sub.getMetadata();
    return { sub: sub.name, filter: meta.filter ?? "" };
  } catch (e) {
    throw new Error(`${flag}: cannot read the subscription ${sub.name}: ${(e as Error).message}`);
  }
}

/**
 * `--tenant=T`, checked before anything is opened: T is a tenant id (`TENANT_ID`), and the input is a fixture (its
 * messages of other tenants are refused as a subscription's would be) or a subscription; a topic is refused, as the
 * temporary subscription read from it has no filter. The subscription's filter is checked once it can be read
 * (`checkTenantSubscription`).
 */
export function checkTenant(o: Pick<Options, "tenant" | "input" | "runner">): void {
  const tenant = o.tenant;
  if (tenant === undefined) return;
  const problem = tenantIdProblem(tenant);
  if (problem !== undefined) throw new Error(`--tenant ${problem}`);
  // The subscription's filter is checked by this process before it runs the job (checkTenantSubscription); a Dataflow
  // submission does not read the subscription here, so a worker pointed at the shared subscription would take (and
  // dead-letter) the other tenants' messages away from the shared job. Refused until the submission checks it.
  if (o.runner === "dataflow") {
    throw new Error(
      `--tenant=${tenant} is not available with --runner=dataflow yet: the input subscription's filter is checked ` +
        "only by a local run; run the tenant's worker locally, or the shared job on Dataflow",
    );
  }
  if (isTopicInput(o.input)) {
    throw new Error(
      `--tenant=${tenant} reads a subscription filtered on ${tenantFilter(tenant)} (npm run provision makes ` +
        `TOPIC-${tenant}-worker): the temporary subscription of ${o.input} would have no filter`,
    );
  }
}

/**
 * With `--tenant=T` and a subscription as `--input`, the subscription's filter must be `tenantFilter(T)` (spaces
 * around `=` aside): refused, naming the subscription and both filters, when it has no filter or another one.
 * Pub/Sub then delivers T's messages only; where it does not apply the filter (the emulator stores it and delivers
 * every message), Bronze's own check (`checkMessageTenant`) still refuses the others. `pubsub` is the input's client.
 */
export async function checkTenantSubscription(pubsub: PubSub, o: Pick<Options, "tenant" | "input">): Promise<void> {
  const tenant = o.tenant;
  const name = inputSubscription(o.input);
  if (tenant === undefined || name === undefined) return;
  const { sub, filter } = await subscriptionFilter(pubsub, name, `--tenant=${tenant}`);
  const wanted = tenantFilter(tenant);
  if (normalisedFilter(filter) !== wanted) {
    throw new Error(
      `--tenant=${tenant} reads a subscription filtered on ${wanted}: ${sub} has ` +
        `${filter === "" ? "no filter" : `the filter ${filter}`} (npm run provision makes one per tenant of the topology)`,
    );
  }
}

/**
 * The tenants whose catch-all `--tenant-catch-all` reads, from the topology `--topology` names (default
 * `DEFAULT_TOPOLOGY`), the file `npm run provision` and Terraform make the catch-alls' filters from, so the reader's
 * list is theirs, in their order (the filter is compared as a string): the list of `tenants`, or, when the input
 * subscription's name ends in the hash of a list of `retiredTenantLists` (`-tenant-catch-all-{hash}`: a catch-all
 * kept until it is read empty after the tenants changed), that list. A message of one of them reached the catch-all
 * only where filters are not applied, and is marked so (`CATCH_ALL_MISROUTED`); any other is dead-lettered as one no
 * worker of the list takes. Refused, naming the file: one that cannot be read; tenant lists `expandTenants` refuses
 * (not a tenant id, listed twice, a catch-all filter over Pub/Sub's 256 bytes), as provision would; a topology with
 * no catch-all (no tenants nor retired lists, or no topic with `tenantWorkers`).
 */
export function catchAllTenants(o: Pick<Options, "topology" | "input">): readonly string[] {
  const path = o.topology ?? DEFAULT_TOPOLOGY;
  let topology: PubsubTopology;
  try {
    topology = JSON.parse(readFileSync(path, "utf8")) as PubsubTopology;
  } catch (e) {
    throw new Error(`--tenant-catch-all: cannot read the topology ${path}: ${(e as Error).message}`);
  }
  let lists: readonly (readonly string[])[];
  try {
    lists = tenantLists(topology);
  } catch (e) {
    throw new Error(`--tenant-catch-all: the topology ${path}: ${(e as Error).message}`);
  }
  const current = lists[0];
  if (current === undefined || !topology.topics.some((t) => t.tenantWorkers !== undefined)) {
    throw new Error(
      `--tenant-catch-all: the topology ${path} has no catch-all to read (npm run provision makes ` +
        "TOPIC-tenant-catch-all-HASH for a topology with tenants, on each topic with tenantWorkers)",
    );
  }
  const hash = /-tenant-catch-all-([0-9a-f]{8})$/.exec(inputSubscription(o.input) ?? "")?.[1];
  return lists.find((list) => catchAllFilterHash(catchAllFilter(list)) === hash) ?? current;
}

/**
 * `--tenant-catch-all`, checked before anything is opened: not with `--tenant` (a tenant's worker is not the
 * catch-all's reader), not on Dataflow (as `--tenant`: the submission does not check the subscription's filter), and
 * the input is a subscription: a fixture or a topic's temporary subscription has no filter, and all of it would be
 * dead-lettered. `--topology` without it is refused rather than ignored. Then its tenants are read
 * (`catchAllTenants`); the subscription's filter is checked once it can be read (`checkCatchAllSubscription`).
 */
export function checkTenantCatchAll(
  o: Pick<Options, "tenantCatchAll" | "topology" | "tenant" | "input" | "runner">,
): void {
  if (!o.tenantCatchAll) {
    if (o.topology !== undefined) {
      throw new Error("--topology applies to --tenant-catch-all (the topology whose tenants' catch-all it reads)");
    }
    return;
  }
  if (o.tenant !== undefined) {
    throw new Error(
      `--tenant-catch-all reads what no tenant's worker takes, and --tenant=${o.tenant} one tenant's messages: ` +
        "one or the other (run them as two jobs, each on its own subscription)",
    );
  }
  if (o.runner === "dataflow") {
    throw new Error(
      "--tenant-catch-all is not available with --runner=dataflow yet, as --tenant is not: the input subscription's " +
        "filter is checked only by a local run (and Terraform refuses the catch-all as the Dataflow job's input); " +
        "run the catch-all's reader locally",
    );
  }
  const where = "npm run provision makes TOPIC-tenant-catch-all-HASH, filtered on what no tenant's worker takes";
  if (isTopicInput(o.input)) {
    throw new Error(
      `--tenant-catch-all reads the catch-all subscription (${where}): the temporary subscription of ${o.input} ` +
        "would have no filter, and every tenant's messages would be dead-lettered",
    );
  }
  if (!o.input.startsWith("pubsub://")) {
    throw new Error(
      `--tenant-catch-all reads the catch-all subscription (${where}): the fixture ${o.input} has no filter, and ` +
        "every message in it would be dead-lettered",
    );
  }
  catchAllTenants(o);
}

/**
 * With `--tenant-catch-all`, the input subscription's filter must be `catchAllFilter(tenants)` of the tenants it reads
 * for (`catchAllTenants`: the topology's, or a retired list's its name carries the hash of; runs of spaces and
 * spaces around `=` aside): refused, naming the subscription and both filters, when it has no filter or another one
 * (another subscription, or a catch-all made for a tenant list the topology has neither as `tenants` nor as a retired
 * list). `pubsub` is the input's client.
 */
export async function checkCatchAllSubscription(
  pubsub: PubSub,
  o: Pick<Options, "tenantCatchAll" | "topology" | "input">,
): Promise<void> {
  const name = inputSubscription(o.input);
  if (!o.tenantCatchAll || name === undefined) return;
  const wanted = catchAllFilter(catchAllTenants(o));
  const { sub, filter } = await subscriptionFilter(pubsub, name, "--tenant-catch-all");
  if (normalisedFilter(filter) !== normalisedFilter(wanted)) {
    throw new Error(
      `--tenant-catch-all reads the subscription filtered on ${wanted} (the catch-all of the tenants of ` +
        `${o.topology ?? DEFAULT_TOPOLOGY}): ${sub} has ${filter === "" ? "no filter" : `the filter ${filter}`} ` +
        "(npm run provision makes TOPIC-tenant-catch-all-HASH; after a change of tenants, the old one's list goes " +
        "to the topology's retiredTenantLists until it is read empty)",
    );
  }
}
