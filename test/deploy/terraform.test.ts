import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import type { PubSub } from "@google-cloud/pubsub";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { primaryKey } from "../../io/bigquery/cdc.ts";
import { type PubsubTopology, provision } from "../../io/pubsub/provision.ts";
import { catchAllFilterHash, type TenantMode, tenantCatchAllNames } from "../../io/pubsub/tenant-topology.ts";
import { checkRunnerInputs, parseJobOptions } from "../../pipelines/user-sessions/job-options.ts";
import { checkDataflowOptions } from "../../runners/dataflow/options.ts";
import {
  PipelineSchema,
  PubSubReadPayloadSchema,
  PubSubWritePayloadSchema,
} from "../../runners/portable/proto/generated/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.ts";
import { URNS } from "../../runners/portable/urns.ts";
import { bigQuerySchema, bigQueryTable } from "../../schemas/table-schema.ts";
import { TABLES, WRITE_ERRORS } from "../../schemas/tables.ts";
import { catchAllFilter } from "../../schemas/tenant.ts";

/**
 * deploy/terraform, checked offline with Terraform (v1.5.7, built by scripts/go-tool.sh) on a copy of deploy/:
 * fmt, and validate of modules/environment, the provider-free module that reads the deploy files and derives every
 * name, role and flag; its outputs, planned without credentials, against the project's own code: provision.ts (on a
 * recording Pub/Sub client), the schema generator and the CDC key, the README's roles, and the job's command line
 * (parsed by the job's option parser, then run as a Dataflow dry run).
 * Not validated here: the root module's resources against the Google provider's schema (`terraform validate`
 * needs the provider, which cannot be installed offline: not from the Terraform registry, and the Go module proxy
 * serves no buildable version of github.com/hashicorp/terraform-provider-google); a test below asserts that this
 * is the only thing missing, and the root's references are checked statically instead.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PROJECT = "my-proj";
const REGION = "europe-west1";

let terraform = "";
let work = "";
let envDir = "";
let tfEnv: NodeJS.ProcessEnv = {};

function tf(args: readonly string[], cwd: string, dataDir = "env"): { status: number; out: string; err: string } {
  const r = spawnSync(terraform, [...args], {
    cwd,
    env: { ...tfEnv, TF_DATA_DIR: join(work, `data-${dataDir}`) },
    encoding: "utf8",
  });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

type Grant = { member: string; scope: string; target: string | null; role: string };
interface Environment {
  problems: string[];
  prefix: string;
  topics: Record<string, { name: string; message_retention_duration: string | null }>;
  subscriptions: Record<string, unknown>;
  dead_letter_topics: string[];
  tables: Record<string, Record<string, unknown>>;
  alert_policies: Record<string, unknown>;
  names: Record<string, string>;
  grants: Record<string, Grant>;
  pipeline_flags: Record<string, string | null>;
  pipeline_command: string | null;
}

/** modules/environment's outputs for these variables: planned (no credentials, no resource), read from the plan. */
function planEnvironment(vars: Record<string, unknown> = {}): Environment {
  const dir = mkdtempSync(join(work, "plan-"));
  const all = {
    project: PROJECT,
    region: REGION,
    environment: "prod",
    topology_file: join(work, "deploy/pubsub/topology.json"),
    bigquery_dir: join(work, "deploy/bigquery"),
    monitoring_dir: join(work, "deploy/monitoring"),
    ...vars,
  };
  writeFileSync(join(dir, "vars.tfvars.json"), JSON.stringify(all));
  const plan = tf(
    ["plan", "-lock=false", "-no-color", `-var-file=${dir}/vars.tfvars.json`, `-out=${dir}/plan`],
    envDir,
  );
  expect(plan.err).toBe("");
  const shown = JSON.parse(tf(["show", "-json", `${dir}/plan`], envDir).out);
  const outputs = shown.planned_values.outputs as Record<string, { value: unknown }>;
  return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value])) as unknown as Environment;
}

const topologyOf = (path: string) => JSON.parse(readFileSync(path, "utf8")) as PubsubTopology;

/** The shipped topology's catch-all: named after the SHA-256 of its filter (tenant-topology.ts). */
const SHIPPED_CATCH_ALL = "user-events-tenant-catch-all-2e9ed323";

/** What provision.ts creates for `topology` under `prefix`, recorded from a Pub/Sub client on which nothing exists. */
async function provisioned(topology: PubsubTopology, prefix: string, tenantMode: TenantMode = "shared") {
  const topics: { name: string; messageRetentionDuration?: { seconds: number } }[] = [];
  const subscriptions: { topic: string; name: string; options: Record<string, unknown> }[] = [];
  const path = (kind: string, name: string) => `projects/${PROJECT}/${kind}/${name}`;
  const client = {
    topic: (name: string) => ({
      name: path("topics", name),
      exists: async () => [false],
      createSubscription: async (sub: string, options: Record<string, unknown>) => {
        subscriptions.push({ topic: name, name: sub, options });
        return [];
      },
    }),
    subscription: (name: string) => ({ name: path("subscriptions", name), exists: async () => [false] }),
    createTopic: async (t: (typeof topics)[number]) => {
      topics.push(t);
      return [];
    },
  };
  await provision(client as unknown as PubSub, { ...topology, prefix }, { tenantMode });
  return { topics, subscriptions };
}

/** provision.ts's calls in the shape of modules/environment's outputs (topics by their topology name). */
async function expectedPubsub(topology: PubsubTopology, prefix: string, tenantMode: TenantMode = "shared") {
  const { topics, subscriptions } = await provisioned(topology, prefix, tenantMode);
  const unprefix = (full: string) => full.replace(`projects/${PROJECT}/topics/${prefix}`, "");
  const seconds = (d: unknown) => `${(d as { seconds: number }).seconds}s`;
  return {
    topics: Object.fromEntries(
      topics.map((t) => [
        unprefix(t.name),
        {
          name: t.name.replace(`projects/${PROJECT}/topics/`, ""),
          message_retention_duration: t.messageRetentionDuration ? seconds(t.messageRetentionDuration) : null,
        },
      ]),
    ),
    subscriptions: Object.fromEntries(
      subscriptions.map(({ topic, name, options: o }) => {
        const rp = o.retryPolicy as { minimumBackoff: unknown; maximumBackoff: unknown } | null;
        const dl = o.deadLetterPolicy as { deadLetterTopic: string; maxDeliveryAttempts: number } | null;
        return [
          name.slice(prefix.length),
          {
            name,
            topic: topic.slice(prefix.length),
            ack_deadline_seconds: o.ackDeadlineSeconds,
            message_retention_duration: seconds(o.messageRetentionDuration),
            enable_message_ordering: o.enableMessageOrdering === true,
            filter: o.filter ?? null,
            retry_policy: rp
              ? { minimum_backoff: seconds(rp.minimumBackoff), maximum_backoff: seconds(rp.maximumBackoff) }
              : null,
            dead_letter_policy: dl
              ? { topic: unprefix(dl.deadLetterTopic), max_delivery_attempts: dl.maxDeliveryAttempts }
              : null,
          },
        ];
      }),
    ),
  };
}

const grantList = (grants: Record<string, Grant>) =>
  Object.values(grants)
    .map((g) => [g.member, g.scope, g.target ?? "-", g.role].join(" "))
    .sort();

beforeAll(() => {
  const built = spawnSync("bash", [join(ROOT, "scripts/go-tool.sh"), "terraform"], { encoding: "utf8" });
  if (built.status !== 0) throw new Error(`scripts/go-tool.sh terraform failed: ${built.stderr}`);
  terraform = built.stdout.trim();
  work = mkdtempSync(join(tmpdir(), "tidemark-terraform-"));
  for (const dir of ["terraform", "pubsub", "bigquery", "monitoring"]) {
    if (existsSync(join(ROOT, "deploy", dir)))
      cpSync(join(ROOT, "deploy", dir), join(work, "deploy", dir), { recursive: true });
  }
  envDir = join(work, "deploy/terraform/modules/environment");
  // Providers only from an (empty) local mirror: nothing is fetched, nothing is asked of the network.
  mkdirSync(join(work, "mirror"));
  writeFileSync(
    join(work, "cli.tfrc"),
    `provider_installation {\n  filesystem_mirror {\n    path    = "${join(work, "mirror")}"\n    include = ["registry.terraform.io/*/*"]\n  }\n  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n}\n`,
  );
  tfEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TF_CLI_CONFIG_FILE: join(work, "cli.tfrc"),
    CHECKPOINT_DISABLE: "1",
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
  };
  const init = tf(["init", "-backend=false", "-no-color"], envDir);
  if (init.status !== 0) throw new Error(`terraform init of modules/environment failed: ${init.err}`);
}, 600_000);

afterAll(() => {
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

describe("deploy/terraform: checked offline", () => {
  it("is formatted (terraform fmt -check -recursive) and modules/environment validates", () => {
    const fmt = tf(["fmt", "-check", "-recursive", "-no-color"], join(work, "deploy/terraform"));
    expect(fmt).toEqual({ status: 0, out: "", err: "" });
    const validate = tf(["validate", "-no-color"], envDir);
    expect(validate.err).toBe("");
    expect(validate.out).toContain("Success! The configuration is valid.");
  });

  it("the root module needs only hashicorp/google, which is all that stops validate here (not installable offline)", () => {
    const dir = join(work, "deploy/terraform");
    const init = tf(["init", "-backend=false", "-no-color"], dir, "root");
    expect(init.status).toBe(1);
    expect(init.out).toContain("- environment in modules/environment");
    expect(init.err.replace(/\s+/g, " ")).toContain(
      "provider registry.terraform.io/hashicorp/google was not found in any of the search locations",
    );
    const providers = tf(["providers", "-no-color"], dir, "root").out;
    expect(providers.match(/provider\[[^\]]+\]/g)?.sort()).toEqual([
      "provider[registry.terraform.io/hashicorp/google]",
      "provider[terraform.io/builtin/terraform]",
    ]);
    expect(providers).toContain("provider[registry.terraform.io/hashicorp/google] >= 6.0.0, < 8.0.0");
  });

  it("the root module refers only to what exists (what validate would check, but the providers' schemas)", () => {
    const dir = join(work, "deploy/terraform");
    const read = (d: string) =>
      readdirSync(d)
        .filter((f) => f.endsWith(".tf"))
        .map((f) => readFileSync(join(d, f), "utf8"))
        .join("\n");
    const root = read(dir);
    const mod = read(envDir);
    const all = (text: string, re: RegExp) => new Set([...text.matchAll(re)].map((m) => m.slice(1).join(".")));
    const subset = (used: Set<string>, declared: Set<string>) => [...used].filter((u) => !declared.has(u));
    expect(subset(all(root, /module\.environment\.(\w+)/g), all(mod, /^output "(\w+)"/gm))).toEqual([]);
    expect(subset(all(root, /\bvar\.(\w+)/g), all(root, /^variable "(\w+)"/gm))).toEqual([]);
    const rootLocals = all(root, /^locals \{\n([\s\S]*?)^\}/gm);
    expect(subset(all(root, /\blocal\.(\w+)/g), all([...rootLocals].join("\n"), /^ {2}(\w+)\s+=/gm))).toEqual([]);
    const resources = all(root, /^resource "(\w+)" "(\w+)"/gm);
    expect(subset(all(root, /(?<![\w."])(google_\w+|terraform_data)\.(\w+)/g), resources)).toEqual([]);
    expect(subset(all(root, /\bdata\.(\w+)\.(\w+)/g), all(root, /^data "(\w+)" "(\w+)"/gm))).toEqual([]);
    const iterators = all(root, /dynamic "(\w+)"/g).add("each");
    expect(subset(all(root, /(?<![\w.])(\w+)\.value\b/g), iterators)).toEqual([]);
    const call = /module "environment" \{\n([\s\S]*?)^\}/m.exec(root)?.[1] ?? "";
    const args = all(call, /^ {2}(\w+)\s+=/gm);
    args.delete("source");
    const variables = all(mod, /^variable "(\w+)"/gm);
    expect(subset(args, variables)).toEqual([]);
    const required = [...mod.matchAll(/^variable "(\w+)" \{\n([\s\S]*?)^\}/gm)].filter(
      (m) => !/default\s+=/.test(m[2] ?? ""),
    );
    expect(subset(new Set(required.map((m) => m[1] as string)), args)).toEqual([]);
  });
});

describe("deploy/terraform: the environment it creates", () => {
  let prod: Environment;
  beforeAll(() => {
    prod = planEnvironment();
  });

  it("topics and subscriptions are deploy/pubsub/topology.json's, each property as provision.ts sets it, in each tenant mode", async () => {
    expect(prod.problems).toEqual([]);
    expect(prod.prefix).toBe("tidemark-prod-");
    const shipped = topologyOf(join(work, "deploy/pubsub/topology.json"));
    const expected = await expectedPubsub(shipped, "tidemark-prod-");
    expect(prod.topics).toEqual(expected.topics);
    expect(prod.subscriptions).toEqual(expected.subscriptions);
    const both = planEnvironment({ tenant_mode: "both" });
    const all = await expectedPubsub(shipped, "tidemark-prod-", "both");
    expect(both.problems).toEqual([]);
    expect(both.topics).toEqual(all.topics);
    expect(both.subscriptions).toEqual(all.subscriptions);
    // The topology's tenants each have a worker subscription (filtered on the tenant) and a dead-letter topic; the
    // catch-all takes what none of their filters selects.
    const tenants = ["acme", "globex", "initech"];
    expect(Object.keys(both.subscriptions).sort()).toEqual(
      [
        "invalid-events-repair",
        "medallion",
        "session-insights-dashboard",
        "user-events-dead-letter-inspect",
        ...tenants.flatMap((t) => [`user-events-${t}-worker`, `user-events-${t}-dlq-inspect`]),
        SHIPPED_CATCH_ALL,
        "user-events-tenant-catch-all-dead-letter-inspect",
      ].sort(),
    );
    expect(both.subscriptions["user-events-globex-worker"]).toMatchObject({
      name: "tidemark-prod-user-events-globex-worker",
      topic: "user-events",
      filter: 'attributes.tenant_id = "globex"',
      dead_letter_policy: { topic: "user-events-globex-dlq", max_delivery_attempts: 5 },
    });
    expect(both.subscriptions[SHIPPED_CATCH_ALL]).toMatchObject({
      name: `tidemark-prod-${SHIPPED_CATCH_ALL}`,
      topic: "user-events",
      filter:
        "NOT attributes:tenant_id OR NOT (" +
        'attributes.tenant_id = "acme" OR attributes.tenant_id = "globex" OR attributes.tenant_id = "initech")',
      dead_letter_policy: { topic: "user-events-tenant-catch-all-dead-letter", max_delivery_attempts: 5 },
    });
    expect(both.dead_letter_topics).toEqual(
      [
        "user-events-dead-letter",
        ...tenants.map((t) => `user-events-${t}-dlq`),
        "user-events-tenant-catch-all-dead-letter",
      ].sort(),
    );
  });

  it("by default (tenant_mode shared) no input subscription is made that nothing reads; per_tenant has neither medallion nor a Dataflow job", async () => {
    // Every subscription is an input something reads (the job's), or holds messages for a person or a dashboard by
    // design: dead letters and feeds, which no backlog alert watches.
    const waiting = ["invalid-events-repair", "session-insights-dashboard", "user-events-dead-letter-inspect"];
    expect(Object.keys(prod.subscriptions).sort()).toEqual(["medallion", ...waiting].sort());
    expect(prod.pipeline_flags.input).toBe("pubsub://projects/my-proj/subscriptions/tidemark-prod-medallion");
    const shipped = topologyOf(join(work, "deploy/pubsub/topology.json"));
    const perTenant = planEnvironment({ tenant_mode: "per_tenant" });
    expect(perTenant.problems).toEqual([]);
    const expected = await expectedPubsub(shipped, "tidemark-prod-", "per_tenant");
    expect(perTenant.subscriptions).toEqual(expected.subscriptions);
    expect(perTenant.topics).toEqual(expected.topics);
    const tenants = shipped.tenants ?? [];
    const inputs = [...tenants.map((t) => `user-events-${t}-worker`), SHIPPED_CATCH_ALL];
    expect(Object.keys(perTenant.subscriptions).sort()).toEqual(
      [
        ...inputs,
        ...waiting,
        ...tenants.map((t) => `user-events-${t}-dlq-inspect`),
        "user-events-tenant-catch-all-dead-letter-inspect",
      ].sort(),
    );
    // No Dataflow job: its readers run outside Dataflow, as the worker service account (which may read each input).
    expect(perTenant.pipeline_command).toBeNull();
    expect(perTenant.pipeline_flags.input).toBeNull();
    const reads = (env: Environment) =>
      grantList(env.grants)
        .filter((g) => g.startsWith("worker subscription ") || g.startsWith("worker topic user-events "))
        .sort();
    expect(reads(perTenant)).toEqual(
      [
        ...inputs.map((s) => `worker subscription ${s} roles/pubsub.subscriber`),
        "worker topic user-events roles/pubsub.viewer",
      ].sort(),
    );
    expect(reads(prod)).toEqual([
      "worker subscription medallion roles/pubsub.subscriber",
      "worker topic user-events roles/pubsub.viewer",
    ]);
    expect(reads(planEnvironment({ tenant_mode: "both" }))).toEqual(
      [
        ...["medallion", ...inputs].map((s) => `worker subscription ${s} roles/pubsub.subscriber`),
        "worker topic user-events roles/pubsub.viewer",
      ].sort(),
    );
  });

  it("the Dataflow job may not take a tenant's worker subscription or the catch-all as its input", () => {
    // Their readers (--tenant=T, the catch-all's) run outside Dataflow for now: a job submitted on one would read it
    // as the shared job does.
    const problems = (input: string) => planEnvironment({ input_subscription: input }).problems;
    expect(problems("user-events-acme-worker")).toEqual([
      'input_subscription: "user-events-acme-worker" is tenant acme\'s worker subscription (read with --tenant=acme, ' +
        "not available with --runner=dataflow yet): run that reader outside Dataflow",
    ]);
    expect(problems(SHIPPED_CATCH_ALL)).toEqual([
      `input_subscription: "${SHIPPED_CATCH_ALL}" is a tenants' catch-all (its reader dead-letters every ` +
        "message, which the Dataflow job does not): run that reader outside Dataflow",
    ]);
    expect(problems("invalid-events-repair")).toEqual([]);
  });

  it("a catch-all is named after its filter: Terraform's sha256 is Node's, byte for byte (terraform console)", () => {
    const strings = [
      catchAllFilter(["acme", "globex", "initech"]),
      catchAllFilter(["acme", "globex", "initech", "umbrella"]),
      catchAllFilter(["a", "b-2", "c.eu", "D_4"]),
      "",
      "caf\u00e9 \u65e5\u672c \u{1f642}",
      'quote " backslash \\ tab \t newline \n',
    ];
    // HCL's string escapes are JSON's (\" \\ \t \n \uNNNN); non-ASCII goes in as UTF-8.
    const literal = (x: string) => JSON.stringify(x).replaceAll("${", "$${").replaceAll("%{", "%%{");
    const dir = mkdtempSync(join(work, "console-"));
    const r = spawnSync(terraform, ["console", "-no-color"], {
      cwd: dir,
      env: { ...tfEnv, TF_DATA_DIR: join(dir, ".terraform") },
      input: `join(",", [${strings.map((x) => `sha256(${literal(x)})`).join(", ")}])\n`,
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    const fromTerraform = JSON.parse(r.stdout.trim()) as string;
    const fromNode = strings.map((x) => createHash("sha256").update(x, "utf8").digest("hex"));
    expect(fromTerraform.split(",")).toEqual(fromNode);
    expect(fromNode.map((h) => h.slice(0, 8)).slice(0, 2)).toEqual(
      ["acme,globex,initech", "acme,globex,initech,umbrella"].map((l) =>
        catchAllFilterHash(catchAllFilter(l.split(","))),
      ),
    );
    expect(tenantCatchAllNames("user-events", ["acme", "globex", "initech"]).subscription).toBe(SHIPPED_CATCH_ALL);
  });

  it("retired tenant lists keep their catch-alls and their tenants' workers, named as provision names them", async () => {
    const shipped = topologyOf(join(work, "deploy/pubsub/topology.json"));
    const changed: PubsubTopology = {
      ...shipped,
      tenants: ["acme", "globex", "umbrella"],
      retiredTenantLists: [["acme", "globex", "initech"], ["acme", "globex", "umbrella"], ["acme"]],
    };
    const file = join(work, "retired.json");
    writeFileSync(file, JSON.stringify(changed));
    const env = planEnvironment({ topology_file: file, tenant_mode: "both" });
    expect(env.problems).toEqual([]);
    const expected = await expectedPubsub(changed, "tidemark-prod-", "both");
    expect(env.subscriptions).toEqual(expected.subscriptions);
    expect(env.topics).toEqual(expected.topics);
    // The current list's catch-all, then each retired one's (a list equal to the current one is the same catch-all);
    // initech, no longer listed, keeps its worker until its list is removed.
    const catchAlls = [["acme", "globex", "umbrella"], ["acme", "globex", "initech"], ["acme"]].map(
      (l) => tenantCatchAllNames("user-events", l).subscription,
    );
    expect(
      Object.keys(env.subscriptions).filter((k) => k.includes("-tenant-catch-all-") && !k.endsWith("inspect")),
    ).toEqual([...catchAlls].sort());
    expect(Object.keys(env.subscriptions).filter((k) => k.endsWith("-worker"))).toEqual(
      ["acme", "globex", "initech", "umbrella"].map((t) => `user-events-${t}-worker`),
    );
    // A retired list provision would refuse is refused here too, with provision's words.
    const faults: PubsubTopology[] = [
      { ...shipped, retiredTenantLists: [["acme", "umbrella corp"]] },
      { ...shipped, retiredTenantLists: [["acme", "globex", "acme"]] },
      { ...shipped, retiredTenantLists: [[]] },
      {
        ...shipped,
        retiredTenantLists: [
          ["acme"],
          ["acme", "globex", "initech", "hooli", "initrode", "massive", "soylent", "wayne"],
        ],
      },
    ];
    for (const fault of faults) {
      const refused = await provisioned(fault, "tidemark-prod-").then(
        () => "accepted",
        (e: Error) => e.message,
      );
      const faulty = join(work, "retired-fault.json");
      writeFileSync(faulty, JSON.stringify(fault));
      expect(planEnvironment({ topology_file: faulty }).problems).toEqual([refused]);
    }
  });

  it("without tenants there is no worker and no catch-all", async () => {
    const { tenants: _, ...topology } = topologyOf(join(work, "deploy/pubsub/topology.json"));
    const file = join(work, "untenanted.json");
    writeFileSync(file, JSON.stringify(topology));
    const env = planEnvironment({ topology_file: file });
    expect(env.problems).toEqual([]);
    const expected = await expectedPubsub(topology, "tidemark-prod-");
    expect(env.subscriptions).toEqual(expected.subscriptions);
    expect(env.topics).toEqual(expected.topics);
    expect(Object.keys(env.subscriptions).filter((s) => /worker|catch-all|dlq/.test(s))).toEqual([]);
  });

  it("ordering, filters and a custom prefix reach the subscriptions too", async () => {
    const topology = topologyOf(join(work, "deploy/pubsub/topology.json"));
    const changed: PubsubTopology = {
      ...topology,
      topics: topology.topics.map((t) => ({
        ...t,
        subscriptions: (t.subscriptions ?? []).map((s) =>
          s.name === "session-insights-dashboard"
            ? { ...s, messageOrdering: true, filter: 'attributes.tenant_id = "acme"' }
            : s,
        ),
      })),
    };
    const file = join(work, "ordered.json");
    writeFileSync(file, JSON.stringify(changed));
    const env = planEnvironment({ topology_file: file, pubsub_prefix: "acme-dev-" });
    const expected = await expectedPubsub(changed, "acme-dev-");
    expect(env.subscriptions).toEqual(expected.subscriptions);
    expect(env.subscriptions["session-insights-dashboard"]).toMatchObject({
      name: "acme-dev-session-insights-dashboard",
      enable_message_ordering: true,
      filter: 'attributes.tenant_id = "acme"',
    });
  });

  it("a topology provision.ts refuses is refused too, with provision's words", async () => {
    const base = topologyOf(join(work, "deploy/pubsub/topology.json"));
    const faults: ((t: PubsubTopology) => PubsubTopology)[] = [
      (t) => sub(t, "medallion", { ackDeadlineSeconds: 5 }),
      (t) => sub(t, "medallion", { deadLetter: { topic: "nowhere", maxDeliveryAttempts: 5 } }),
      (t) =>
        sub(t, "invalid-events-repair", { deadLetter: { topic: "user-events-dead-letter", maxDeliveryAttempts: 3 } }),
      (t) => sub(t, "session-insights-dashboard", { retryPolicy: { minBackoffSeconds: 60, maxBackoffSeconds: 10 } }),
      (t) => ({ ...t, topics: [...t.topics, { name: "more", subscriptions: [{ name: "medallion" }] }] }),
      (t) => ({ ...t, topics: [...t.topics, { name: "x!" }] }),
      (t) => ({ ...t, tenants: [...(t.tenants ?? []), "umbrella corp"] }),
      (t) => ({ ...t, tenants: [...(t.tenants ?? []), "acme"] }),
      // Five more tenants make the catch-all's filter 314 bytes, over Pub/Sub's 256.
      (t) => ({ ...t, tenants: [...(t.tenants ?? []), "hooli", "initrode", "massive", "soylent", "vandelay"] }),
    ];
    const messages: string[] = [];
    for (const fault of faults) {
      const refused = await provisioned(fault(base), "tidemark-prod-").then(
        () => "accepted",
        (e: Error) => e.message,
      );
      messages.push(refused);
    }
    const file = join(work, "faulty.json");
    writeFileSync(file, JSON.stringify(faults.reduce((t, f) => f(t), base)));
    const env = planEnvironment({ topology_file: file });
    expect(messages).not.toContain("accepted");
    expect(messages.at(-1)).toBe(
      'subscription "user-events-tenant-catch-all-37be2fd6": the filter that selects what none of the 8 tenants\' ' +
        "workers " +
        "takes is 314 bytes, over Pub/Sub's limit of 256 (list fewer tenants, or shorter tenant ids)",
    );
    for (const m of messages) expect(env.problems).toContain(m);
    expect(env.problems).toHaveLength(messages.length);
  });

  it("tables are deploy/bigquery's, with the primary key and max_staleness the warehouse gives CDC tables", () => {
    const source = readFileSync(join(ROOT, "io/bigquery/bigquery-warehouse.ts"), "utf8");
    const staleness = /const CDC_MAX_STALENESS = "([^"]+)"/.exec(source)?.[1];
    expect(staleness).toBe("0-0 0 0:15:0");
    const all = [...TABLES, WRITE_ERRORS];
    expect(Object.keys(prod.tables).sort()).toEqual(all.map((t) => t.name).sort());
    for (const t of all) {
      const resource = bigQueryTable(t);
      const cdc = t !== WRITE_ERRORS;
      const { schema, ...rest } = prod.tables[t.name] as { schema: string };
      expect(JSON.parse(schema)).toEqual(bigQuerySchema(t));
      expect(rest).toEqual({
        table_id: t.name,
        description: resource.description,
        time_partitioning: resource.timePartitioning ?? null,
        clustering: resource.clustering?.fields ?? null,
        primary_key: cdc ? primaryKey(t).primaryKey.columns : null,
        max_staleness: cdc ? staleness : null,
      });
    }
  });

  it("grants the README's roles, least privilege, and Pub/Sub's service agent what dead-lettering needs", () => {
    expect(grantList(prod.grants)).toEqual(
      [
        "worker project - roles/dataflow.worker",
        "worker bucket - roles/storage.objectAdmin",
        "worker repository - roles/artifactregistry.reader",
        "worker subscription medallion roles/pubsub.subscriber",
        "worker topic user-events roles/pubsub.viewer",
        "worker topic session-insights roles/pubsub.publisher",
        "worker topic invalid-events roles/pubsub.publisher",
        "worker dataset - roles/bigquery.dataEditor",
        "submitter project - roles/dataflow.developer",
        "submitter service_account worker roles/iam.serviceAccountUser",
        "submitter bucket - roles/storage.objectAdmin",
        "submitter dataset - roles/bigquery.dataEditor",
        "pubsub_agent topic user-events-dead-letter roles/pubsub.publisher",
        "pubsub_agent subscription medallion roles/pubsub.subscriber",
      ].sort(),
    );
    // With the tenants' subscriptions, each tenant's worker dead-letters to the tenant's own topic, the catch-all to
    // its own (and without medallion, nothing to user-events-dead-letter).
    const agent = (env: Environment) => grantList(env.grants).filter((g) => g.startsWith("pubsub_agent "));
    expect(agent(planEnvironment({ tenant_mode: "per_tenant" }))).toEqual(
      [
        ...["acme", "globex", "initech"].flatMap((t) => [
          `pubsub_agent topic user-events-${t}-dlq roles/pubsub.publisher`,
          `pubsub_agent subscription user-events-${t}-worker roles/pubsub.subscriber`,
        ]),
        "pubsub_agent topic user-events-tenant-catch-all-dead-letter roles/pubsub.publisher",
        `pubsub_agent subscription ${SHIPPED_CATCH_ALL} roles/pubsub.subscriber`,
      ].sort(),
    );
    // With DML upserts the workers run BigQuery jobs; without feeds they publish nowhere.
    const other = planEnvironment({ bigquery_upserts: "transaction", insights_topic: null, dead_letter_topic: null });
    const worker = grantList(other.grants).filter((g) => g.startsWith("worker "));
    expect(worker).toContain("worker project - roles/bigquery.jobUser");
    expect(worker.filter((g) => g.endsWith("roles/pubsub.publisher"))).toEqual([]);
    expect(other.pipeline_command).not.toContain("--insights-topic");
    expect(other.pipeline_command).toContain("--bigquery-upserts=transaction");
  });

  it("the command line is the job's: its own parser and checks accept it, and a Dataflow dry run builds the job", () => {
    const words = (prod.pipeline_command ?? "").split(" ");
    expect(words.slice(0, 4)).toEqual(["npm", "run", "pipeline", "--"]);
    const args = words.slice(4);
    const { options } = parseJobOptions(args, {});
    expect(() => checkRunnerInputs(options)).not.toThrow();
    const checked = checkDataflowOptions(options);
    // The image is the one the runner would default to: the repository cloudbuild.yaml pushes to.
    expect(checked.sdkContainerImage).toBe(
      checkDataflowOptions({ project: PROJECT, region: REGION, tempLocation: checked.tempLocation }).sdkContainerImage,
    );
    expect(options).toMatchObject({
      runner: "dataflow",
      project: PROJECT,
      region: REGION,
      input: `pubsub://projects/${PROJECT}/subscriptions/tidemark-prod-medallion`,
      warehouse: `bigquery://${PROJECT}/tidemark_prod`,
      serviceAccount: `tidemark-worker-prod@${PROJECT}.iam.gserviceaccount.com`,
      tempLocation: `gs://${PROJECT}-tidemark-prod/tmp`,
      stagingLocation: `gs://${PROJECT}-tidemark-prod/staging`,
    });
    expect(prod.names.worker_email).toBe(options.serviceAccount);

    const dir = join(work, "dry-run");
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith("TIDEMARK_") && !k.startsWith("PUBSUB_EMULATOR")),
    );
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", "pipelines/user-sessions/cli.ts", ...args, `--dry-run=${dir}`],
      { cwd: ROOT, env: clean, encoding: "utf8" },
    );
    expect(run.stderr).toContain("dry run: the job request is");
    expect(run.status).toBe(0);
    const job = JSON.parse(readFileSync(join(dir, "job.json"), "utf8"));
    expect(job).toMatchObject({ projectId: PROJECT, location: REGION, name: "user-sessions-prod" });
    expect(job.labels).toEqual({ environment: "prod" });
    expect(job.environment.serviceAccountEmail).toBe(prod.names.worker_email);
    expect(job.environment.tempStoragePrefix).toBe(prod.pipeline_flags["temp-location"]);
    expect(job.environment.workerPools[0].sdkHarnessContainerImages[0].containerImage).toBe(prod.names.image);
    const url = job.environment.sdkPipelineOptions.fields.options.structValue.fields.pipelineUrl.stringValue;
    expect(url.startsWith(`${prod.pipeline_flags["staging-location"]}/`)).toBe(true);
    const pipeline = fromBinary(PipelineSchema, readFileSync(join(dir, "pipeline.pb")));
    const transforms = Object.values(pipeline.components?.transforms ?? {});
    const payloads = (urn: string | undefined) =>
      transforms.filter((t) => t.spec?.urn === urn).map((t) => t.spec?.payload);
    const reads = payloads(URNS.composites.PUBSUB_READ).map((p) =>
      fromBinary(PubSubReadPayloadSchema, p ?? new Uint8Array()),
    );
    const input = (prod.subscriptions.medallion as { name: string }).name;
    expect(reads.map((r) => r.subscription)).toEqual([`projects/${PROJECT}/subscriptions/${input}`]);
    const writes = payloads(URNS.composites.PUBSUB_WRITE).map((p) =>
      fromBinary(PubSubWritePayloadSchema, p ?? new Uint8Array()),
    );
    expect(writes.map((w) => w.topic).sort()).toEqual(
      [prod.topics["invalid-events"]?.name, prod.topics["session-insights"]?.name].map(
        (n) => `projects/${PROJECT}/topics/${n}`,
      ),
    );
  });

  it("the subscription policies watch exactly this environment's input subscriptions, by their full names, in each tenant mode", () => {
    const filters = (env: Environment) =>
      Object.entries(env.alert_policies).flatMap(([name, p]) =>
        (p as { conditions: { condition_threshold: { filter: string } | null }[] }).conditions.flatMap((c) => {
          const filter = c.condition_threshold?.filter ?? "";
          return filter.includes('resource.type = "pubsub_subscription"') ? [{ name, filter }] : [];
        }),
      );
    // Every subscription of every mode, and other applications' subscriptions of the same project.
    const everything = [
      ...Object.values(planEnvironment({ tenant_mode: "both" }).subscriptions).map((s) => (s as { name: string }).name),
      "billing-worker",
      "tidemark-prod-billing-worker",
      "tidemark-dev-medallion",
      "tidemark-prod-medallion-old",
    ];
    const watched = (env: Environment) => {
      const all = filters(env);
      expect(all.map((f) => f.name).sort()).toEqual([
        "pubsub-backlog",
        "pubsub-oldest-unacked",
        "pubsub-oldest-unacked-critical",
      ]);
      const selected = all.map(({ filter }) => {
        const re = /resource\.label\.subscription_id = monitoring\.regex\.full_match\("([^"\\]*)"\)/.exec(filter);
        expect(re, filter).not.toBeNull();
        const full = new RegExp(`^(?:${re?.[1] ?? ""})$`);
        return everything.filter((s) => full.test(s)).sort();
      });
      for (const s of selected) expect(s).toEqual(selected[0]);
      return selected[0];
    };
    const tenants = ["acme", "globex", "initech"].map((t) => `tidemark-prod-user-events-${t}-worker`);
    expect(watched(prod)).toEqual(["tidemark-prod-medallion"]);
    expect(watched(planEnvironment({ tenant_mode: "per_tenant" }))).toEqual(
      [...tenants, `tidemark-prod-${SHIPPED_CATCH_ALL}`].sort(),
    );
    expect(watched(planEnvironment({ tenant_mode: "both" }))).toEqual(
      ["tidemark-prod-medallion", ...tenants, `tidemark-prod-${SHIPPED_CATCH_ALL}`].sort(),
    );
    // A tenant id with a dot: matched literally, not as any character.
    const dotted = join(work, "dotted.json");
    writeFileSync(
      dotted,
      JSON.stringify({ ...topologyOf(join(work, "deploy/pubsub/topology.json")), tenants: ["c.eu"] }),
    );
    const env = planEnvironment({ topology_file: dotted, tenant_mode: "per_tenant" });
    expect(filters(env)[0]?.filter).toContain("tidemark-prod-user-events-c[.]eu-worker");
    // The rest of a policy is the file's.
    expect(filters(prod)[0]?.filter).toMatch(
      /^resource\.type = "pubsub_subscription" AND resource\.label\.subscription_id = /,
    );
  });

  it("each deploy/monitoring/*.alert.json becomes an alert policy, in the provider's names; unsupported fields are named", () => {
    const shipped = existsSync(join(ROOT, "deploy/monitoring"))
      ? readdirSync(join(ROOT, "deploy/monitoring")).filter((f) => f.endsWith(".alert.json"))
      : [];
    expect(Object.keys(prod.alert_policies).sort()).toEqual(shipped.map((f) => f.replace(/\.alert\.json$/, "")).sort());

    const dir = join(work, "alerts");
    mkdirSync(dir);
    writeFileSync(join(dir, "backlog.alert.json"), JSON.stringify(BACKLOG_ALERT));
    writeFileSync(
      join(dir, "odd.alert.json"),
      JSON.stringify({
        displayName: "odd",
        snooze: true,
        conditions: [
          { displayName: "c", conditionSql: { query: "SELECT 1" } },
          { conditionThreshold: { filter: "f" } },
        ],
      }),
    );
    const env = planEnvironment({ monitoring_dir: dir });
    expect(env.alert_policies.backlog).toEqual(BACKLOG_POLICY);
    expect(env.problems).toEqual([
      expect.stringContaining("alert odd: field snooze is not supported"),
      expect.stringContaining("alert odd: conditions[0].conditionSql is not supported"),
      "alert odd: conditions[0] needs exactly one condition kind",
      "alert odd: conditions[1].displayName is required",
      "alert odd: conditions[1].conditionThreshold.comparison is required",
      "alert odd: conditions[1].conditionThreshold.duration is required",
    ]);
  });
});

describe("deploy/terraform: changing the tenants replaces no subscription (a plan against an applied state)", () => {
  // The root module's google_pubsub_subscription.subscription and google_pubsub_topic.topic, as the state sees them:
  // one instance per key of the same for_each, replaced (destroyed, with its unacknowledged messages, then created)
  // when an argument the Google provider cannot update changes: for a subscription its name, topic, filter and
  // enable_message_ordering (ForceNew), for a topic its name. terraform_data is Terraform's own resource, so the state
  // is applied and planned offline, as the provider would plan it.
  let dir = "";
  const tfIn = (args: readonly string[]) => tf(args, dir, "harness");
  const topologyFile = (name: string, topology: PubsubTopology) => {
    const file = join(work, `${name}.json`);
    writeFileSync(file, JSON.stringify(topology));
    return file;
  };
  /** The plan's changes from the applied state to `topology`: the keys created and the keys destroyed, per resource. */
  const planTo = (name: string, topology: PubsubTopology) => {
    const file = topologyFile(name, topology);
    const plan = tfIn(["plan", "-lock=false", "-no-color", `-var=topology_file=${file}`, `-out=${dir}/${name}.plan`]);
    expect(plan.err).toBe("");
    const shown = JSON.parse(tfIn(["show", "-json", `${dir}/${name}.plan`]).out) as {
      resource_changes?: { type: string; name: string; index: string; change: { actions: string[] } }[];
    };
    const changes = shown.resource_changes ?? [];
    const keys = (action: string, resource: string) =>
      changes
        .filter((c) => c.name === resource && c.change.actions.includes(action))
        .map((c) => c.index)
        .sort();
    return {
      created: keys("create", "subscription"),
      destroyed: keys("delete", "subscription"),
      topicsCreated: keys("create", "topic"),
      topicsDestroyed: keys("delete", "topic"),
    };
  };
  const apply = (name: string, topology: PubsubTopology) => {
    const file = topologyFile(name, topology);
    const r = tfIn(["apply", "-auto-approve", "-lock=false", "-no-color", `-var=topology_file=${file}`]);
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
  };
  const shipped = () => topologyOf(join(work, "deploy/pubsub/topology.json"));
  const THREE = ["acme", "globex", "initech"];
  const FOUR = [...THREE, "umbrella"];
  const catchAll = (tenants: readonly string[]) => tenantCatchAllNames("user-events", tenants).subscription;

  beforeAll(() => {
    const root = readFileSync(join(work, "deploy/terraform/pubsub.tf"), "utf8");
    // The harness stands for these resources: same for_each, the same arguments from each.value.
    expect(root).toMatch(
      /resource "google_pubsub_subscription" "subscription" \{\n\s+for_each = module\.environment\.subscriptions\n/,
    );
    for (const arg of ["name", "topic", "filter", "enable_message_ordering"]) {
      expect(root).toMatch(new RegExp(`\\n\\s+${arg}\\s+= (google_pubsub_topic\\.topic\\[)?each\\.value\\.${arg}`));
    }
    expect(root).toMatch(/resource "google_pubsub_topic" "topic" \{\n\s+for_each = module\.environment\.topics\n/);
    dir = join(work, "deploy/terraform/harness");
    mkdirSync(dir);
    writeFileSync(
      join(dir, "main.tf"),
      [
        'variable "topology_file" { type = string }',
        'module "environment" {',
        '  source         = "../modules/environment"',
        `  project        = "${PROJECT}"`,
        `  region         = "${REGION}"`,
        '  environment    = "prod"',
        '  tenant_mode    = "per_tenant"',
        "  topology_file  = var.topology_file",
        `  bigquery_dir   = "${join(work, "deploy/bigquery")}"`,
        `  monitoring_dir = "${join(work, "deploy/monitoring")}"`,
        "}",
        'resource "terraform_data" "topic" {',
        "  for_each         = module.environment.topics",
        "  triggers_replace = [each.value.name]",
        "}",
        'resource "terraform_data" "subscription" {',
        "  for_each         = module.environment.subscriptions",
        "  triggers_replace = [each.value.name, each.value.topic, each.value.filter, each.value.enable_message_ordering]",
        "}",
        "",
      ].join("\n"),
    );
    const init = tfIn(["init", "-no-color"]);
    if (init.status !== 0) throw new Error(`terraform init of the harness failed: ${init.err}`);
    apply("three", shipped());
  }, 300_000);

  it("a tenant added, the old list retired: the new worker and catch-all are created beside the old, nothing destroyed", () => {
    const added = planTo("added", { ...shipped(), tenants: FOUR, retiredTenantLists: [THREE] });
    expect(added).toEqual({
      created: ["user-events-umbrella-dlq-inspect", "user-events-umbrella-worker", catchAll(FOUR)].sort(),
      destroyed: [],
      topicsCreated: ["user-events-umbrella-dlq"],
      topicsDestroyed: [],
    });
  });

  it("without the retired list the old catch-all would be destroyed: that is what the list prevents", () => {
    // (Before the catch-all was named after its filter, adding a tenant replaced it: the same key, a new filter.)
    expect(planTo("unretired", { ...shipped(), tenants: FOUR }).destroyed).toEqual([catchAll(THREE)]);
  });

  it("once drained and removed from the retired lists, only the old catch-all goes; a tenant removed keeps its worker while retired", () => {
    apply("four", { ...shipped(), tenants: FOUR, retiredTenantLists: [THREE] });
    expect(planTo("drained", { ...shipped(), tenants: FOUR })).toEqual({
      created: [],
      destroyed: [catchAll(THREE)],
      topicsCreated: [],
      topicsDestroyed: [],
    });
    // initech removed: its worker and dead-letter topic stay while the list that had it is retired.
    const removed = planTo("removed", {
      ...shipped(),
      tenants: ["acme", "globex", "umbrella"],
      retiredTenantLists: [THREE, FOUR],
    });
    expect(removed).toEqual({
      created: [catchAll(["acme", "globex", "umbrella"])],
      destroyed: [],
      topicsCreated: [],
      topicsDestroyed: [],
    });
  });
});

function sub(t: PubsubTopology, name: string, change: object): PubsubTopology {
  return {
    ...t,
    topics: t.topics.map((topic) => ({
      ...topic,
      subscriptions: (topic.subscriptions ?? []).map((s) => (s.name === name ? { ...s, ...change } : s)),
    })),
  };
}

/** An AlertPolicy in the Cloud Monitoring API's JSON, and the provider's arguments it must become. */
const BACKLOG_ALERT = {
  displayName: "Tidemark: input backlog",
  combiner: "OR",
  severity: "WARNING",
  userLabels: { team: "data" },
  documentation: { content: "The medallion subscription is falling behind.", mimeType: "text/markdown" },
  alertStrategy: { autoClose: "1800s" },
  conditions: [
    {
      displayName: "oldest unacked message older than 10 min",
      conditionThreshold: {
        filter: 'metric.type = "pubsub.googleapis.com/subscription/oldest_unacked_message_age"',
        comparison: "COMPARISON_GT",
        thresholdValue: 600,
        duration: "300s",
        aggregations: [{ alignmentPeriod: "60s", perSeriesAligner: "ALIGN_MAX" }],
        trigger: { count: 1 },
      },
    },
  ],
};
const BACKLOG_POLICY = {
  display_name: "Tidemark: input backlog",
  combiner: "OR",
  enabled: true,
  severity: "WARNING",
  user_labels: { team: "data" },
  notification_channels: [],
  documentation: {
    content: "The medallion subscription is falling behind.",
    mime_type: "text/markdown",
    subject: null,
  },
  alert_strategy: { auto_close: "1800s", notification_rate_limit: null, notification_channel_strategy: [] },
  conditions: [
    {
      display_name: "oldest unacked message older than 10 min",
      condition_threshold: {
        filter: 'metric.type = "pubsub.googleapis.com/subscription/oldest_unacked_message_age"',
        comparison: "COMPARISON_GT",
        threshold_value: 600,
        duration: "300s",
        denominator_filter: null,
        evaluation_missing_data: null,
        trigger: { count: 1, percent: null },
        aggregations: [
          {
            alignment_period: "60s",
            per_series_aligner: "ALIGN_MAX",
            cross_series_reducer: null,
            group_by_fields: null,
          },
        ],
        denominator_aggregations: [],
      },
      condition_absent: null,
      condition_matched_log: null,
      condition_monitoring_query_language: null,
      condition_prometheus_query_language: null,
    },
  ],
};
