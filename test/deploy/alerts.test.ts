/**
 * deploy/monitoring's alerts. The Prometheus rules: `promtool check rules` (every linter) and `promtool test rules`
 * over prometheus-rules.test.yml, where each alert fires on one series and not on another (promtool built from the
 * Prometheus module by scripts/go-tool.sh); every metric a rule reads, scraped from a real run of the command line on
 * the Pub/Sub emulator, with the labels the rule matches on. The Cloud Monitoring policies: the AlertPolicy resource
 * in the API's JSON, reading only Google's metrics for the Dataflow job and its subscription, with their documented
 * labels, and Dataflow user counters that the job really reports.
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PubsubTopology, provision } from "../../io/pubsub/provision.ts";
import { expandTenants, tenantCatchAllNames, tenantWorkerNames } from "../../io/pubsub/tenant-topology.ts";
import { PubsubPublisher } from "../../io/pubsub/pubsub-sink.ts";
import { generateMessages } from "../../pipelines/user-sessions/generate.ts";
import { useEmulator } from "../io/pubsub/emulator-fixture.ts";
import { type ParsedSample, parseExposition } from "../runners/observe/exposition.ts";
import { cliOnPubsub } from "../pipelines/user-sessions/cli-on-pubsub.ts";
import { until } from "../until.ts";
import {
  ALIGNERS,
  ALIGNERS_NOT_FOR_GAUGES,
  COMPARISONS,
  GOOGLE_METRICS,
  POLICY_FIELDS,
  promqlMetricName,
  RESOURCE_LABELS,
  REDUCERS,
} from "./google-metrics.ts";
import {
  asList,
  asObject,
  conditionsOf,
  holds,
  keysOf,
  policies,
  RULES_FILE,
  RULES_TEST_FILE,
  ROOT,
  readRules,
  unserved,
} from "./monitoring-files.ts";
import { promqlReads } from "./promql-names.ts";
import { parseYaml } from "./yaml-subset.ts";

let promtool = "";
const runPromtool = (...args: string[]) => spawnSync(promtool, args, { encoding: "utf8", cwd: ROOT });

beforeAll(() => {
  // The first build on a machine takes minutes (the binary is cached outside the clone afterwards).
  const built = spawnSync("bash", [join(ROOT, "scripts/go-tool.sh"), "promtool"], { encoding: "utf8" });
  if (built.status !== 0) throw new Error(`scripts/go-tool.sh promtool failed: ${built.stderr}`);
  promtool = built.stdout.trim();
}, 30 * 60_000);

describe("the Prometheus rules (deploy/monitoring/prometheus-rules.yml)", () => {
  const rules = readRules();

  it("pass promtool check rules with every linter", () => {
    const r = runPromtool("check", "rules", "--lint=all", "--lint-fatal", RULES_FILE);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    // The same count as read here: this file's reader sees every rule promtool sees.
    expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(rules.length).toBeGreaterThanOrEqual(12);
  });

  it("each has a for:, a severity, and a summary, a description and a runbook", () => {
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const r of rules) {
      expect(r.for, r.alert).toMatch(/^[1-9][0-9]*[mh]$/);
      expect(["critical", "warning"], r.alert).toContain(r.labels.severity);
      expect(Object.keys(r.annotations).sort(), r.alert).toEqual(["description", "runbook", "summary"]);
      for (const [k, text] of Object.entries(r.annotations)) expect(text.length, `${r.alert}.${k}`).toBeGreaterThan(30);
    }
  });

  it("each fires on one series and not on another (promtool test rules)", () => {
    const file = asObject(parseYaml(readFileSync(RULES_TEST_FILE, "utf8")), "rules test file");
    const cases = asList(file.tests, "tests").flatMap((t) =>
      asList(asObject(t, "test").alert_rule_test, "alert_rule_test").map((c) => asObject(c, "alert_rule_test")),
    );
    const names = new Set(rules.map((r) => r.alert));
    for (const c of cases) expect(names, "an alert the rules do not have").toContain(c.alertname);
    for (const alert of names) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(
        mine.some((c) => asList(c.exp_alerts, "exp_alerts").length > 0),
        `${alert} fires`,
      ).toBe(true);
      expect(
        mine.some((c) => asList(c.exp_alerts, "exp_alerts").length === 0),
        `${alert} stays quiet`,
      ).toBe(true);
    }
    const r = runPromtool("test", "rules", RULES_TEST_FILE);
    expect(`${r.stdout}${r.stderr}`).toContain("SUCCESS");
    expect(r.status).toBe(0);
  });

  it("promtool test rules fails when a rule no longer does what its tests say", () => {
    // The same tests against rules whose backlog threshold is ten times higher: the firing case must fail.
    const dir = mkdtempSync(join(tmpdir(), "tidemark-alerts-"));
    try {
      cpSync(RULES_TEST_FILE, join(dir, "prometheus-rules.test.yml"));
      const rulesText = readFileSync(RULES_FILE, "utf8");
      expect(rulesText).toContain(") > 50000");
      writeFileSync(join(dir, "prometheus-rules.yml"), rulesText.replace(") > 50000", ") > 500000"));
      const r = runPromtool("test", "rules", join(dir, "prometheus-rules.test.yml"));
      expect(r.status).toBe(1);
      expect(`${r.stdout}${r.stderr}`).toMatch(/alertname: TidemarkPubsubBacklogHigh, time: 25m/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the PromQL scanner the checks below use", () => {
  it("finds each selector with its matchers, and the grouping labels", () => {
    const reads = promqlReads(
      'sum without (field) (rate(a_total{step="Read", x=~"y.*"}[5m] offset 1m)) / on(job) group_left b:c' +
        ' > bool 0.5 and absent({__name__="d", e!="f"}) # g_total\nor max by (h) (i) unless topk(3, j)',
    );
    expect(reads.selectors).toEqual([
      {
        name: "a_total",
        matchers: [
          { label: "step", op: "=", value: "Read" },
          { label: "x", op: "=~", value: "y.*" },
        ],
      },
      { name: "b:c", matchers: [] },
      { name: "d", matchers: [{ label: "e", op: "!=", value: "f" }] },
      { name: "i", matchers: [] },
      { name: "j", matchers: [] },
    ]);
    expect(reads.groupingLabels).toEqual(["field", "job", "h"]);
  });
});

describe("the subscriptions the backlog alerts watch", () => {
  // Every subscription of the shipped topology as Terraform names it in prod, by what reads it: the job's inputs
  // (the shared medallion, each tenant's worker, the tenants' catch-all) must be watched; the dead-letter and feed
  // subscriptions, which hold messages for a person or a dashboard, must not.
  const topology = JSON.parse(readFileSync(join(ROOT, "deploy/pubsub/topology.json"), "utf8")) as PubsubTopology;
  const all = expandTenants(topology, "both").topics.flatMap((t) => (t.subscriptions ?? []).map((s) => s.name));
  const inputs = [
    "medallion",
    ...(topology.tenants ?? []).map((t) => tenantWorkerNames("user-events", t).subscription),
    tenantCatchAllNames("user-events", topology.tenants ?? []).subscription,
  ];
  const prod = (names: readonly string[]) => names.map((n) => `tidemark-prod-${n}`).sort();
  // Other subscriptions of the same project, none the topology's input: another application's worker or shared job,
  // another topic's, this application's dead-letter subscriptions, a name that only ends like an input.
  const FOREIGN = [
    "billing-worker",
    "tidemark-prod-billing-worker",
    "payments-medallion",
    "tidemark-prod-orders-acme-worker",
    "tidemark-prod-user-events-tenant-catch-all-dead-letter",
    "tidemark-prod-user-events-tenant-catch-all-2e9ed323-old",
    "x-tidemark-prod-medallion",
  ];
  // The local environment's names (npm run provision's prefix) are inputs too.
  const local = ["tidemark-local-medallion", "tidemark-local-user-events-acme-worker"];
  const watchedBy = (selects: (subscription: string) => boolean) =>
    [...prod(all), ...FOREIGN, ...local].filter(selects);

  it("the shipped topology has the subscriptions this test expects", () => {
    expect(inputs).toEqual([
      "medallion",
      "user-events-acme-worker",
      "user-events-globex-worker",
      "user-events-initech-worker",
      "user-events-tenant-catch-all-2e9ed323",
    ]);
    for (const name of inputs) expect(all).toContain(name);
    expect(all.length - inputs.length).toBeGreaterThanOrEqual(6);
  });

  it("Prometheus: the backlog and oldest-unacknowledged rules select exactly the inputs", () => {
    const rules = readRules().filter((r) => r.group === "tidemark-pubsub-backlog");
    expect(rules.map((r) => r.alert).sort()).toEqual([
      "TidemarkPubsubBacklogHigh",
      "TidemarkPubsubOldestUnackedAgeCritical",
      "TidemarkPubsubOldestUnackedAgeHigh",
    ]);
    for (const r of rules) {
      const matchers = promqlReads(r.expr).selectors.flatMap((sel) =>
        sel.matchers.filter((m) => m.label === "subscription_id"),
      );
      expect(matchers, r.alert).toHaveLength(1);
      const m = matchers[0] as (typeof matchers)[number];
      expect(
        watchedBy((name) => holds(m, name)),
        r.alert,
      ).toEqual([...prod(inputs), ...local]);
    }
  });

  it("Cloud Monitoring: the pubsub_subscription policies select exactly the inputs", () => {
    const onSubscriptions = policies().filter(({ policy }) =>
      conditionsOf(policy).some((c) => c.conditionThreshold?.filter.includes('resource.type = "pubsub_subscription"')),
    );
    expect(onSubscriptions.map((p) => p.file)).toEqual([
      "pubsub-backlog.alert.json",
      "pubsub-oldest-unacked-critical.alert.json",
      "pubsub-oldest-unacked.alert.json",
    ]);
    for (const { file, policy } of onSubscriptions) {
      for (const c of conditionsOf(policy)) {
        const filter = c.conditionThreshold?.filter ?? "";
        // The one form used: Monitoring's documented full-match of an RE2 expression (this one is plain ECMAScript too).
        const re = /resource\.label\.subscription_id = monitoring\.regex\.full_match\("((?:[^"\\]|\\.)*)"\)/.exec(
          filter,
        );
        expect(re, `${file}: ${filter}`).not.toBeNull();
        const full = new RegExp(`^(?:${re?.[1] ?? ""})$`);
        expect(
          watchedBy((name) => full.test(name)),
          file,
        ).toEqual([...prod(inputs), ...local]);
      }
    }
  });
});

const PROJECT = "tidemark-alerts";
const pubsub = useEmulator(PROJECT);

describe("what the alerts read, against a running job", () => {
  let samples: ParsedSample[] = [];
  let child: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), "tidemark-alerts-run-"));

  beforeAll(async () => {
    await provision(pubsub.client(), {
      topics: [{ name: "events", subscriptions: [{ name: "medallion", ackDeadlineSeconds: 10 }] }],
    });
    // A fifth of the messages malformed: the dead-letter counter has samples.
    const messages = generateMessages({ users: 4, seed: 11, startMs: Date.now(), malformedRate: 0.2 });
    const publisher = new PubsubPublisher({ pubsub: pubsub.client(), topic: "events" });
    for (const { message } of messages) publisher.publish({ data: message.data, attributes: message.attributes });
    await publisher.flush();
    const run = cliOnPubsub({
      project: PROJECT,
      subscription: "medallion",
      endpoint: pubsub.emulator().endpoint,
      cwd: ROOT,
      args: [
        `--warehouse=duckdb:${join(dir, "alerts.duckdb")}`,
        "--metrics-port=0",
        `--checkpoint-dir=${join(dir, "checkpoints")}`,
        "--checkpoint-seconds=1",
        "--early-seconds=1",
        "--stop-when-idle=120",
      ],
    });
    child = run.child;
    const out = () => run.output();
    const url = await run.address("metrics");
    const scrape = async () => parseExposition(await (await fetch(`${url}/metrics`)).text());
    // Everything read and acknowledged (so checkpointed), and Gold written: the job has done each thing once.
    await until(
      "every message acknowledged and Gold written",
      async () => {
        const m = await scrape();
        return (
          m.samples("tidemark_pubsub_acknowledged_total")[0]?.value === messages.length &&
          m.samples("medallion_gold_newest_event_ms").length > 0
        );
      },
      { timeoutMs: 90_000, pollMs: 500, state: out },
    );
    const text = await (await fetch(`${url}/metrics`)).text();
    const names = [...new Set(text.split("\n").flatMap((l) => /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(l)?.[1] ?? []))];
    samples = names.flatMap((n) => parseExposition(text).samples(n));
  }, 180_000);

  afterAll(async () => {
    const proc = child;
    if (proc !== undefined && proc.exitCode === null) {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("serves every metric a Prometheus rule reads, with the labels the rule matches and groups on", () => {
    const rules = readRules();
    const problems = rules.flatMap((r) => {
      const reads = promqlReads(r.expr);
      expect(reads.selectors.length, r.alert).toBeGreaterThan(0);
      return unserved(reads.selectors, reads.groupingLabels, samples).map((p) => `${r.alert}: ${p}`);
    });
    expect(problems).toEqual([]);
    // A shared job is not the tenants' catch-all's reader: the dead-letter rate alert applies to it.
    expect(samples.filter((s) => s.name === "medallion_tenant_catch_all_reader").map((s) => s.value)).toEqual([0]);
    // The check catches a rule on a metric that does not exist, or on a label value no series has.
    const typo = promqlReads('sum without (step) (rate(tidemark_sink_write_error_total{sink="gold"}[5m]))');
    expect(unserved(typo.selectors, typo.groupingLabels, samples)).toEqual([
      "tidemark_sink_write_error_total: not served",
      "label step: on no series read",
    ]);
    const wrongStep = promqlReads('tidemark_source_watermark_lag_seconds{step="ReadPubsub"}');
    expect(unserved(wrongStep.selectors, [], samples)).toHaveLength(1);
  });

  it("reports the Dataflow user counters the policies read (metric_name: the counter's name, with its labels)", () => {
    // A user counter NAMESPACE/NAME {labels} is served as NAMESPACE_NAME_total {step, labels}; on Dataflow it is
    // job/user_counter with metric_name NAME, or NAME{k=v,...} with its labels (runners/portable's monitoring infos),
    // and ptransform its step.
    const userCounters = samples.flatMap((s) => {
      const m = /^([a-z]+)_(.+)_total$/.exec(s.name);
      if (m === null || s.labels.step === undefined || s.name.startsWith("tidemark_step_")) return [];
      const { step, ...labels } = s.labels;
      const name = m[2] as string;
      const withLabels = `${name}{${Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(",")}}`;
      return [{ served: s.name, step, dataflowNames: Object.keys(labels).length === 0 ? [name] : [name, withLabels] }];
    });
    const read = policies().flatMap(({ file, policy }) =>
      conditionsOf(policy).flatMap((c) => {
        const query = c.conditionPrometheusQueryLanguage?.query;
        if (query === undefined) return [];
        return promqlReads(query)
          .selectors.filter((s) => s.name === promqlMetricName("dataflow.googleapis.com/job/user_counter"))
          .map((s) => ({ file, matchers: s.matchers }));
      }),
    );
    const found = read.flatMap(({ file, matchers }) => {
      expect(
        matchers.map((m) => m.label),
        file,
      ).toContain("metric_name");
      const hits = userCounters.filter((c) =>
        matchers.every((m) =>
          m.label === "metric_name"
            ? c.dataflowNames.some((n) => holds(m, n))
            : m.label === "ptransform"
              ? holds(m, c.step)
              : true,
        ),
      );
      expect(hits.length, `${file}: ${JSON.stringify(matchers)}`).toBeGreaterThan(0);
      return hits.map((h) => h.served);
    });
    expect([...new Set(found)].sort()).toEqual([
      "medallion_dead_letters_total",
      "tidemark_sink_rows_written_total",
      "tidemark_sink_write_errors_total",
    ]);
  });
});

describe("the Cloud Monitoring alert policies (deploy/monitoring/*.alert.json)", () => {
  const files = policies();

  it("are AlertPolicy resources in the API's JSON: documentation, conditions, combiner, severity, alertStrategy", () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const { file, policy } of files) {
      for (const k of Object.keys(policy)) expect(POLICY_FIELDS, `${file}: ${k}`).toContain(k);
      for (const k of keysOf(policy)) expect(k, `${file}: the API's names are camelCase`).toMatch(/\.[a-z][a-zA-Z]*$/);
      expect(policy.displayName, file).toMatch(/^Tidemark: .{10,}/);
      const doc = policy.documentation as { content: string; mimeType: string; subject?: string };
      expect(doc.mimeType, file).toBe("text/markdown");
      expect(doc.content, file).toContain("**What to do.**");
      expect((doc.subject ?? "").length, file).toBeLessThanOrEqual(255);
      expect(["AND", "OR", "AND_WITH_MATCHING_RESOURCE"], file).toContain(policy.combiner);
      expect(["CRITICAL", "ERROR", "WARNING"], file).toContain(policy.severity);
      expect((policy.alertStrategy as { autoClose?: string }).autoClose, file).toMatch(/^[0-9]+s$/);
      const conditions = conditionsOf(policy);
      expect(conditions.length, file).toBeGreaterThan(0);
      for (const c of conditions) {
        expect(c.displayName, file).toBeTruthy();
        const kinds = Object.keys(c).filter((k) => k !== "displayName");
        expect(kinds, file).toHaveLength(1);
        expect(["conditionThreshold", "conditionAbsent", "conditionPrometheusQueryLanguage"], file).toContain(kinds[0]);
        const body = (c.conditionThreshold ?? c.conditionAbsent ?? c.conditionPrometheusQueryLanguage) as Record<
          string,
          unknown
        >;
        expect(body.duration, file).toMatch(/^[0-9]+s$/);
        if (c.conditionThreshold !== undefined) {
          expect(COMPARISONS, file).toContain(c.conditionThreshold.comparison);
          expect(typeof c.conditionThreshold.thresholdValue, file).toBe("number");
        }
        if (c.conditionPrometheusQueryLanguage !== undefined) {
          expect(c.conditionPrometheusQueryLanguage.evaluationInterval ?? "60s", file).toMatch(/^[0-9]+s$/);
        }
      }
    }
  });

  it("read only Google's metrics for the Dataflow job and its subscription, with their documented labels", () => {
    const used = new Set<string>();
    for (const { file, policy } of files) {
      for (const c of conditionsOf(policy)) {
        const filtered = c.conditionThreshold ?? c.conditionAbsent;
        if (filtered !== undefined) {
          const types = [...filtered.filter.matchAll(/metric\.type\s*=\s*"([^"]+)"/g)].map((m) => m[1] as string);
          expect(types, file).toHaveLength(1);
          const type = types[0] as string;
          const metric = GOOGLE_METRICS[type];
          expect(metric, `${file}: ${type}`).toBeDefined();
          if (metric === undefined) continue;
          used.add(type);
          expect(
            [...filtered.filter.matchAll(/resource\.type\s*=\s*"([^"]+)"/g)].map((m) => m[1]),
            file,
          ).toEqual([metric.resource]);
          const aggregations = (filtered.aggregations ?? []) as Record<string, unknown>[];
          const refs = [
            ...[...filtered.filter.matchAll(/\b(resource|metric)\.labels?\.(\w+)/g)].map((m) => [m[1], m[2]]),
            ...aggregations.flatMap((a) =>
              ((a.groupByFields ?? []) as string[]).map((f) => /^(resource|metric)\.labels?\.(\w+)$/.exec(f)?.slice(1)),
            ),
          ];
          for (const ref of refs) {
            const [scope, label] = ref ?? ["?", "?"];
            const known = scope === "resource" ? RESOURCE_LABELS[metric.resource] : metric.labels;
            expect(known, `${file}: ${scope}.label.${label}`).toContain(label);
          }
          for (const a of aggregations) {
            expect(ALIGNERS, file).toContain(a.perSeriesAligner);
            if (metric.kind === "GAUGE") expect(ALIGNERS_NOT_FOR_GAUGES, file).not.toContain(a.perSeriesAligner);
            if (a.crossSeriesReducer !== undefined) expect(REDUCERS, file).toContain(a.crossSeriesReducer);
          }
        }
        const query = c.conditionPrometheusQueryLanguage?.query;
        if (query !== undefined) {
          const reads = promqlReads(query);
          expect(reads.selectors.length, file).toBeGreaterThan(0);
          for (const s of reads.selectors) {
            const type = Object.keys(GOOGLE_METRICS).find((t) => promqlMetricName(t) === s.name);
            expect(type, `${file}: ${s.name}`).toBeDefined();
            const metric = GOOGLE_METRICS[type ?? ""];
            if (type === undefined || metric === undefined) continue;
            used.add(type);
            const known = [...metric.labels, ...RESOURCE_LABELS[metric.resource], "monitored_resource"];
            for (const m of s.matchers) expect(known, `${file}: ${s.name}{${m.label}}`).toContain(m.label);
            expect(s.matchers.find((m) => m.label === "monitored_resource")?.value, file).toBe(metric.resource);
          }
          const labels = [...RESOURCE_LABELS.dataflow_job, ...RESOURCE_LABELS.pubsub_subscription, "metric_name"];
          for (const l of reads.groupingLabels) expect(labels, `${file}: by ${l}`).toContain(l);
        }
      }
    }
    // Every metric of the list has a policy; no policy on checkpoints (Dataflow checkpoints itself).
    expect([...used].sort()).toEqual(Object.keys(GOOGLE_METRICS).sort());
    for (const { file } of files) expect(file).not.toMatch(/checkpoint/);
  });
});
