import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { pubsubClient } from "../../io/pubsub/client.ts";
import { type PubsubTopology, provision } from "../../io/pubsub/provision.ts";
import { TENANT_MODES, type TenantMode } from "../../io/pubsub/tenant-topology.ts";
import { DEFAULT_TOPOLOGY } from "./tenant-options.ts";

const HELP = `Usage: npm run provision -- --project=P [--topology=FILE] [--tenant-mode=shared|per_tenant|both]
                         [--prefix=NAME-] [--pubsub-endpoint=HOST:PORT]

Creates or updates the Pub/Sub topics and subscriptions of a declarative topology (--topology, the file
--tenant-catch-all reads too; default deploy/pubsub/topology.json: the user-events topic, the medallion subscription with its retry policy and
dead-letter topic, and the session-insights feed), idempotently, and prints what it added, changed or left alone.
It deletes nothing.
--tenant-mode says who reads a topic with "tenantWorkers" (as Terraform's tenant_mode):
  shared (default)  the shared job, on the topic's tenantWorkers.sharedSubscription (medallion); no tenant's
                    worker, no catch-all, so no subscription is made that nothing reads;
  per_tenant        per tenant of the topology's "tenants", the subscription TOPIC-TENANT-worker (filter
                    attributes.tenant_id = "TENANT", what --tenant=TENANT reads) dead-lettering to the topic
                    TOPIC-TENANT-dlq (kept by TOPIC-TENANT-dlq-inspect), and the catch-all TOPIC-tenant-catch-all-HASH
                    (what --tenant-catch-all reads); not the sharedSubscription;
  both              all of them (while moving from one to the other).
The workers and catch-alls of "retiredTenantLists" are kept in every mode.
--prefix replaces the topology's name prefix (one topology, one prefix per application and environment).
--config (TIDEMARK_CONFIG), the earlier name of --topology, is still accepted.
The endpoint defaults to $PUBSUB_EMULATOR_HOST, else Google Cloud.
Environment: TIDEMARK_PROJECT, TIDEMARK_TOPOLOGY, TIDEMARK_TENANT_MODE, TIDEMARK_PREFIX, TIDEMARK_PUBSUB_ENDPOINT.`;

/**
 * The topology file: `--topology` (`TIDEMARK_TOPOLOGY`), the pipeline's name for the same file, or its earlier name
 * here, `--config` (`TIDEMARK_CONFIG`); two that differ are refused rather than one silently chosen. The command line
 * wins over the environment.
 */
function topologyPath(
  values: { readonly topology?: string | undefined; readonly config?: string | undefined },
  env: NodeJS.ProcessEnv,
): string {
  const given = (topology: string | undefined, config: string | undefined, where: string) => {
    if (topology !== undefined && config !== undefined && topology !== config) {
      throw new Error(
        `${where}: the topology is ${JSON.stringify(topology)} and ${JSON.stringify(config)}: one or the other`,
      );
    }
    return topology ?? config;
  };
  return (
    given(values.topology, values.config, "--topology and --config (its earlier name)") ??
    given(env.TIDEMARK_TOPOLOGY, env.TIDEMARK_CONFIG, "TIDEMARK_TOPOLOGY and TIDEMARK_CONFIG (its earlier name)") ??
    DEFAULT_TOPOLOGY
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      project: { type: "string" },
      topology: { type: "string" },
      config: { type: "string" },
      "tenant-mode": { type: "string" },
      prefix: { type: "string" },
      "pubsub-endpoint": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const env = process.env;
  const project = values.project ?? env.TIDEMARK_PROJECT;
  if (project === undefined)
    throw new Error("--project is required (the Google Cloud project, any name on the emulator)");
  const path = topologyPath(values, env);
  let topology: PubsubTopology;
  try {
    topology = JSON.parse(readFileSync(path, "utf8")) as PubsubTopology;
  } catch (e) {
    throw new Error(`cannot read the topology ${path}: ${(e as Error).message}`);
  }
  const tenantMode = values["tenant-mode"] ?? env.TIDEMARK_TENANT_MODE ?? "shared";
  if (!(TENANT_MODES as readonly string[]).includes(tenantMode)) {
    throw new Error(`--tenant-mode must be one of ${TENANT_MODES.join(", ")}, got ${JSON.stringify(tenantMode)}`);
  }
  const prefix = values.prefix ?? env.TIDEMARK_PREFIX;
  if (prefix !== undefined) topology = { ...topology, prefix };
  const endpoint = values["pubsub-endpoint"] ?? env.TIDEMARK_PUBSUB_ENDPOINT;
  const pubsub = pubsubClient(project, endpoint);
  try {
    const report = await provision(pubsub, topology, { tenantMode: tenantMode as TenantMode });
    for (const [what, names] of Object.entries(report)) {
      for (const name of names as string[]) process.stdout.write(`${what.padEnd(9)} ${name}\n`);
    }
  } finally {
    await pubsub.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
