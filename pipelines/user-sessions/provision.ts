import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { pubsubClient } from "../../io/pubsub/client.ts";
import { type PubsubTopology, provision } from "../../io/pubsub/provision.ts";

const HELP = `Usage: npm run provision -- --project=P [--config=FILE] [--prefix=NAME-] [--pubsub-endpoint=HOST:PORT]

Creates or updates the Pub/Sub topics and subscriptions of a declarative topology (default
deploy/pubsub/topology.json: the user-events topic, the medallion subscription with its retry policy and
dead-letter topic, and the session-insights feed), idempotently, and prints what it added, changed or left alone.
Per tenant of the topology's "tenants", a topic with "tenantWorkers" gets the subscription TOPIC-TENANT-worker
(filter attributes.tenant_id = "TENANT", what --tenant=TENANT reads) dead-lettering to the topic TOPIC-TENANT-dlq
(kept by its subscription TOPIC-TENANT-dlq-inspect).
--prefix replaces the config's name prefix (one config, one prefix per application and environment).
The endpoint defaults to $PUBSUB_EMULATOR_HOST, else Google Cloud.
Environment: TIDEMARK_PROJECT, TIDEMARK_CONFIG, TIDEMARK_PREFIX, TIDEMARK_PUBSUB_ENDPOINT.`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      project: { type: "string" },
      config: { type: "string" },
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
  const configPath = values.config ?? env.TIDEMARK_CONFIG ?? "deploy/pubsub/topology.json";
  let topology: PubsubTopology;
  try {
    topology = JSON.parse(readFileSync(configPath, "utf8")) as PubsubTopology;
  } catch (e) {
    throw new Error(`cannot read the topology ${configPath}: ${(e as Error).message}`);
  }
  const prefix = values.prefix ?? env.TIDEMARK_PREFIX;
  if (prefix !== undefined) topology = { ...topology, prefix };
  const endpoint = values["pubsub-endpoint"] ?? env.TIDEMARK_PUBSUB_ENDPOINT;
  const pubsub = pubsubClient(project, endpoint);
  try {
    const report = await provision(pubsub, topology);
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
