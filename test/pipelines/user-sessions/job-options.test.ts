import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import { BigQueryWarehouse } from "../../../io/bigquery/bigquery-warehouse.ts";
import {
  COMMIT_PHASES,
  checkMetricsPort,
  checkReadBounds,
  checkRunnerInputs,
  medallionOptions,
  openFeeds,
  openSource,
  openWarehouse,
  parseJobOptions,
  parseKillAt,
} from "../../../pipelines/user-sessions/job-options.ts";
import { pubsubClient } from "../../../io/pubsub/client.ts";
import { tenantCatchAllNames } from "../../../io/pubsub/tenant-topology.ts";
import { checkUiPort } from "../../../pipelines/user-sessions/dashboard.ts";
import { runnerNamed } from "../../../runners/runner.ts";
import {
  catchAllTenants,
  checkCatchAllSubscription,
  checkTenant,
  checkTenantCatchAll,
  checkTenantSubscription,
} from "../../../pipelines/user-sessions/tenant-options.ts";

// The command line's checks, called as `pipelines/user-sessions/cli.ts` calls them, before anything is opened.
// Dataflow's own (drain, cancel, update, wait, dry run, Pub/Sub in and BigQuery out) are in
// test/runners/dataflow/lifecycle.test.ts.

const parse = (...args: string[]) => parseJobOptions(args, {}).options;
const SUBSCRIPTION = "--input=pubsub://projects/p/subscriptions/s";
const FIXTURE = "test/fixtures/events-small.jsonl";
const KILL_AT_FORM =
  "--kill-at must be PHASE:N or PHASE+:N with PHASE one of writes-started, writes-done, checkpoint-written, " +
  "stable-input-written, finalized and N from 1, got";

describe("the job's option declarations", () => {
  it.each([
    [["--max-messages=0"], '--max-messages must be a whole number > 0, got "0"'],
    [["--max-messages=2.5"], '--max-messages must be a whole number > 0, got "2.5"'],
    [["--stop-when-idle=0"], '--stop-when-idle must be a positive number, got "0"'],
    [["--lease-seconds=-10"], '--lease-seconds must be a positive number, got "-10"'],
    [["--kill-seed=-1"], '--kill-seed must be a number >= 0, got "-1"'],
    [["--gold-trigger=eager"], '--gold-trigger must be one of early-late, watermark, got "eager"'],
    [["--bigquery-append=stream"], '--bigquery-append must be one of storage-write, insert-all, got "stream"'],
    [["--bigquery-upserts=merge"], '--bigquery-upserts must be one of transaction, cdc, got "merge"'],
    [["--kill-seeds=1"], "unknown option --kill-seeds (did you mean --kill-seed?); --help lists them"],
  ])("refuse %j: %s", (argv, message) => {
    expect(() => parse(...argv)).toThrow(message);
  });

  it("take each from the environment under its name, a flag winning", () => {
    const env = { TIDEMARK_MAX_MESSAGES: "7", TIDEMARK_KILL_SEED: "3", TIDEMARK_STOP_WHEN_IDLE: "2" };
    const o = parseJobOptions(["--stop-when-idle=5"], env).options;
    expect([o.maxMessages, o.killSeed, o.stopWhenIdle]).toEqual([7, 3, 5]);
    expect(() => parseJobOptions([], { TIDEMARK_MAX_MESSAGES: "many" })).toThrow(
      'TIDEMARK_MAX_MESSAGES (environment) must be a whole number > 0, got "many"',
    );
  });
});

describe("checkRunnerInputs on the local runners", () => {
  it.each([
    [["--cancel"], "--cancel applies to --runner=dataflow (a job running in Dataflow)"],
    [["--update"], "--update applies to --runner=dataflow (a job running in Dataflow)"],
    [["--wait"], "--wait applies to --runner=dataflow (a job running in Dataflow)"],
    [["--runner=prism", "--drain"], "--drain applies to --runner=dataflow (a job running in Dataflow)"],
    [
      ["--runner=dataflow", "--stop-when-idle=10", SUBSCRIPTION, "--warehouse=bigquery://p/d"],
      "--stop-when-idle bounds a local run: a Dataflow job runs until it is drained (--drain)",
    ],
    [["--runner=dataflow", "--dry-run=/tmp/x", "--update"], "--update needs a submission: --dry-run submits nothing"],
    [
      ["--runner=dataflow", "--transform-name-mapping={}", "--dry-run=/tmp/x"],
      "--transform-name-mapping applies to --update (renamed steps of the job it replaces)",
    ],
  ])("refuses %j: %s", (argv, message) => {
    expect(() => checkRunnerInputs(parse(...argv))).toThrow(message);
  });

  it("accepts a local run's bounds and checkpoints, and an update with its renamed steps", () => {
    for (const argv of [
      [SUBSCRIPTION, "--max-messages=100", "--stop-when-idle=5", "--checkpoint-dir=/tmp/c", "--kill-at=writes-done:2"],
      ["--runner=prism"],
      [
        "--runner=dataflow",
        SUBSCRIPTION,
        "--warehouse=bigquery://p/d",
        "--update",
        '--transform-name-mapping={"Old":"New"}',
        "--wait",
      ],
    ]) {
      expect(() => checkRunnerInputs(parse(...argv)), argv.join(" ")).not.toThrow();
    }
  });

  it("--checkpoint-dir is the direct runner's: Prism and Dataflow refuse it as they start, before running", () => {
    const prism = parse("--runner=prism", "--checkpoint-dir=/tmp/c");
    expect(() => runnerNamed(prism.runner).start(Pipeline.create(), prism)).toThrow(
      "--checkpoint-dir is the direct runner's: Prism keeps its state in memory, without checkpoints",
    );
    const dataflow = parse("--runner=dataflow", "--checkpoint-dir=/tmp/c");
    expect(() => runnerNamed(dataflow.runner).start(Pipeline.create(), dataflow)).toThrow(
      "--checkpoint-dir is the direct runner's: Dataflow keeps the job's state itself",
    );
  });
});

describe("--metrics-port and --ui-port on each runner", () => {
  it("--metrics-port serves a direct or a Prism run (Prism's followed through the Job API), not a Dataflow job", () => {
    for (const argv of [["--metrics-port=0"], ["--runner=prism", "--metrics-port=9464"]]) {
      const o = parse(...argv);
      expect(() => checkMetricsPort(o), argv.join(" ")).not.toThrow();
      expect(() => checkRunnerInputs(o), argv.join(" ")).not.toThrow();
    }
    expect(() => checkMetricsPort(parse("--runner=prism", "--metrics-port=65536"))).toThrow(
      "--metrics-port must be a TCP port, a whole number from 0 to 65535 (0: a free one), got 65536",
    );
    expect(() =>
      checkRunnerInputs(parse("--runner=dataflow", SUBSCRIPTION, "--warehouse=bigquery://p/d", "--metrics-port=0")),
    ).toThrow("--metrics-port serves a local run's metrics: a Dataflow job's are in Cloud Monitoring");
  });

  it("--ui-port shows a direct run: on Prism it is refused, naming what the Job API lacks and --metrics-port", () => {
    expect(() => checkUiPort(parse("--ui-port=0"))).not.toThrow();
    expect(() => checkUiPort(parse("--runner=prism", "--ui-port=0"))).toThrow(
      "--ui-port shows watermarks and their lag, open windows, checkpoints and the backlog, which Prism's Job API " +
        "does not report: on --runner=prism use --metrics-port",
    );
  });
});

describe("checkReadBounds: --max-messages and --stop-when-idle bound a Pub/Sub read", () => {
  it.each([
    [["--max-messages=10"], `--max-messages applies to a Pub/Sub input: the fixture ${FIXTURE} ends by itself`],
    [["--stop-when-idle=5"], `--stop-when-idle applies to a Pub/Sub input: the fixture ${FIXTURE} ends by itself`],
    [
      ["--input=data/x.jsonl", "--max-messages=10", "--stop-when-idle=5"],
      "--max-messages applies to a Pub/Sub input: the fixture data/x.jsonl ends by itself",
    ],
  ])("refuses %j with a fixture: %s", (argv, message) => {
    expect(() => checkReadBounds(parse(...argv))).toThrow(message);
  });

  it("accepts them on a subscription or a topic, and a fixture without them", () => {
    for (const argv of [
      [SUBSCRIPTION, "--max-messages=10", "--stop-when-idle=5"],
      ["--input=pubsub://projects/p/topics/t", "--stop-when-idle=5"],
      [],
    ]) {
      expect(() => checkReadBounds(parse(...argv)), argv.join(" ")).not.toThrow();
    }
  });
});

describe("parseKillAt: --kill-at and --kill-seed", () => {
  it("kills at the Nth commit's phase, or a seeded 0-19 ms after it: the same seed, the same delay", () => {
    expect(parseKillAt(parse(), 1)).toBeUndefined();
    expect(parseKillAt(parse("--kill-at=writes-done:2"), 1)).toEqual({ phase: "writes-done", nth: 2 });
    // The delay is the first draw of mulberry32 (the generator's Rng): 12 ms for seed 42, 7 ms for 123456.
    expect(parseKillAt(parse("--kill-at=stable-input-written+:2", "--kill-seed=42"), 1)).toEqual({
      phase: "stable-input-written",
      nth: 2,
      after: { delayMs: 12, seed: 42 },
    });
    expect(parseKillAt(parse("--kill-at=finalized+:12", "--kill-seed=123456"), 1)?.after).toEqual({
      delayMs: 7,
      seed: 123456,
    });
    // Without --kill-seed the caller's clock seed is used (and printed by the command line).
    expect(parseKillAt(parse("--kill-at=writes-started+:1"), 42)?.after).toEqual({ delayMs: 12, seed: 42 });
    expect(
      parseKillAt(parseJobOptions(["--kill-at=writes-started+:1"], { TIDEMARK_KILL_SEED: "42" }).options, 7),
    ).toMatchObject({ after: { delayMs: 12, seed: 42 } });
    // Every delay of 0-19 ms is drawn, and no other.
    const delays = new Set<number>();
    for (let seed = 0; seed < 1_000; seed++) {
      delays.add(parseKillAt(parse("--kill-at=writes-done+:1", `--kill-seed=${seed}`), 0)?.after?.delayMs ?? -1);
    }
    expect([...delays].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (const phase of COMMIT_PHASES) expect(parseKillAt(parse(`--kill-at=${phase}:1`), 0)?.phase).toBe(phase);
  });

  it.each([
    [["--kill-at=writes-done"], `${KILL_AT_FORM} writes-done`],
    [["--kill-at=committed:1"], `${KILL_AT_FORM} committed:1`],
    [["--kill-at=writes-done:0"], `${KILL_AT_FORM} writes-done:0`],
    [["--kill-at=writes-done+2"], `${KILL_AT_FORM} writes-done+2`],
    [["--kill-at=Writes-Done:1"], `${KILL_AT_FORM} Writes-Done:1`],
    [["--kill-seed=3"], "--kill-seed applies to --kill-at=PHASE+:N (the seed of its delay)"],
    [
      ["--kill-at=writes-done:1", "--kill-seed=3"],
      "--kill-seed applies to --kill-at=PHASE+:N (the seed of its delay), got writes-done:1",
    ],
    [["--kill-at=writes-done+:1", "--kill-seed=1.5"], "--kill-seed must be a whole number from 0 to 2^32 - 1, got 1.5"],
    [
      ["--kill-at=writes-done+:1", "--kill-seed=4294967296"],
      "--kill-seed must be a whole number from 0 to 2^32 - 1, got 4294967296",
    ],
    [
      ["--runner=prism", "--kill-at=writes-done:1"],
      "--kill-at applies to --runner=direct (its commits), not --runner=prism",
    ],
  ])("refuses %j: %s", (argv, message) => {
    expect(() => parseKillAt(parse(...argv), 1)).toThrow(message);
  });
});

describe("the input, warehouse and feeds the options name", () => {
  it("--input: a fixture file, or a Pub/Sub subscription or topic; anything else is refused", async () => {
    expect(openSource(parse()).pubsub).toBeUndefined();
    expect(() => openSource(parse("--input=test/fixtures/none.jsonl"))).toThrow(
      "cannot read fixture stream test/fixtures/none.jsonl",
    );
    for (const input of ["pubsub://projects/p/subs/s", "pubsub://p/subscriptions/s", "pubsub://projects/p/topics/"]) {
      expect(() => openSource(parse(`--input=${input}`))).toThrow(
        `--input=pubsub://... must be pubsub://projects/P/subscriptions/S or pubsub://projects/P/topics/T, got ${input}`,
      );
    }
    for (const input of [SUBSCRIPTION, "--input=pubsub://projects/p/topics/t"]) {
      const opened = openSource(parse(input, "--pubsub-endpoint=127.0.0.1:1"));
      expect(opened.stats?.()).toMatchObject({ received: 0, reconnects: 0 });
      await opened.pubsub?.close();
    }
  });

  it("--warehouse: DuckDB or BigQuery, and BigQuery's change data capture needs the Storage Write API", async () => {
    for (const spec of ["sqlite:x.db", "./x.duckdb", "bigquery:/p/d"]) {
      await expect(openWarehouse(parse(`--warehouse=${spec}`))).rejects.toThrow(
        `--warehouse must be duckdb:PATH or bigquery://PROJECT/DATASET, got ${JSON.stringify(spec)}`,
      );
    }
    await expect(openWarehouse(parse("--warehouse=bigquery://p"))).rejects.toThrow(
      'a BigQuery warehouse is bigquery://PROJECT/DATASET, got "bigquery://p"',
    );
    const cdcInsertAll = "BigQuery change data capture writes through the Storage Write API: it cannot use insertAll";
    await expect(
      openWarehouse(
        parse("--warehouse=bigquery://my-proj/ds", "--bigquery-upserts=cdc", "--bigquery-append=insert-all"),
      ),
    ).rejects.toThrow(cdcInsertAll);
    // cdc is Dataflow's default (many writers).
    await expect(
      openWarehouse(parse("--runner=dataflow", "--warehouse=bigquery://my-proj/ds", "--bigquery-append=insert-all")),
    ).rejects.toThrow(cdcInsertAll);
    const bigquery = await openWarehouse(
      parse("--warehouse=bigquery://my-proj/ds", "--bigquery-append=insert-all", "--bigquery-upserts=transaction"),
    );
    expect(bigquery).toBeInstanceOf(BigQueryWarehouse);
    expect((bigquery as BigQueryWarehouse).name).toBe("my-proj.ds");
    await bigquery.close();
  });

  it("--insights-topic and --dead-letter-topic name topics; a client is made only when a feed publishes", async () => {
    for (const [flag, spec] of [
      ["insights-topic", "pubsub://projects/p/subscriptions/s"],
      ["insights-topic", "projects/p/topics/t"],
      ["dead-letter-topic", "pubsub://projects/p/topics/t/extra"],
    ] as const) {
      expect(() => openFeeds(parse(`--${flag}=${spec}`))).toThrow(
        `--${flag} must be pubsub://projects/P/topics/T, got ${spec}`,
      );
    }
    expect(openFeeds(parse()).feeds).toEqual({});
    const opened = openFeeds(
      parse(
        "--insights-topic=pubsub://projects/p/topics/insights",
        "--dead-letter-topic=pubsub://projects/q/topics/invalid",
        "--pubsub-endpoint=127.0.0.1:1",
      ),
    );
    expect(opened.feeds.insights?.topic).toBe("projects/p/topics/insights");
    expect(opened.feeds.deadLetters?.topic).toBe("projects/q/topics/invalid");
    const publisher = opened.feeds.insights?.publisher();
    expect(publisher?.name).toBe("projects/p/topics/insights");
    expect(opened.feeds.insights?.publisher()).toBe(publisher);
    await opened.close();
  });

  it("Gold's trigger: watermark on Prism (which refuses early and per-element late firings), else early-late", () => {
    expect(medallionOptions(parse()).trigger).toBe("early-late");
    expect(medallionOptions(parse("--runner=prism")).trigger).toBe("watermark");
    expect(medallionOptions(parse("--runner=prism", "--gold-trigger=early-late")).trigger).toBe("early-late");
    expect(medallionOptions(parse("--gap-minutes=10", "--lateness-hours=2"))).toMatchObject({
      gapMs: 600_000,
      allowedLatenessMs: 7_200_000,
      earlyFiringMs: 5_000,
      dedupHorizonMs: 86_400_000,
    });
  });
});

// The subscription's filter, read from a real Pub/Sub server, is checked in tenant-pubsub.test.ts (the emulator).
describe("--tenant: a worker for one tenant", () => {
  const GRAMMAR = "must be 1 to 63 letters, digits, '_', '-' or '.', starting with a letter or a digit, got";

  it("is a tenant id, refused otherwise with what one is", () => {
    for (const tenant of ["acme corp", "acme:eu", "-acme", "x".repeat(64), ""]) {
      expect(() => checkTenant(parse(`--tenant=${tenant}`))).toThrow(`--tenant ${GRAMMAR} ${JSON.stringify(tenant)}`);
    }
    expect(() => checkTenant(parseJobOptions([], { TIDEMARK_TENANT: "a b" }).options)).toThrow(
      `--tenant ${GRAMMAR} "a b"`,
    );
  });

  it("reads a subscription (filtered on its tenant) or a fixture; a topic's temporary subscription would have no filter", () => {
    for (const argv of [["--tenant=acme", SUBSCRIPTION], ["--tenant=acme"], [SUBSCRIPTION], []]) {
      expect(() => checkTenant(parse(...argv)), argv.join(" ")).not.toThrow();
    }
    expect(() => checkTenant(parse("--tenant=acme", "--input=pubsub://projects/p/topics/user-events"))).toThrow(
      '--tenant=acme reads a subscription filtered on attributes.tenant_id = "acme" (npm run provision makes ' +
        "TOPIC-acme-worker): the temporary subscription of pubsub://projects/p/topics/user-events would have no filter",
    );
  });

  it("is refused on Dataflow, whose submission does not check the subscription's filter", () => {
    expect(() => checkTenant(parse("--tenant=acme", SUBSCRIPTION, "--runner=dataflow"))).toThrow(
      "--tenant=acme is not available with --runner=dataflow yet: the input subscription's filter is checked only by " +
        "a local run",
    );
    expect(() => checkTenant(parse(SUBSCRIPTION, "--runner=dataflow"))).not.toThrow();
  });

  it("goes to Bronze's check (medallionOptions), from the flag or the environment; without it, no tenant", () => {
    expect(medallionOptions(parse("--tenant=acme")).tenant).toBe("acme");
    expect(medallionOptions(parseJobOptions([], { TIDEMARK_TENANT: "globex" }).options).tenant).toBe("globex");
    expect("tenant" in medallionOptions(parse())).toBe(false);
  });

  it("asks Pub/Sub for the filter only with --tenant and a subscription", async () => {
    // Nothing answers at 127.0.0.1:1: a call would fail, so these resolve only because none is made.
    const pubsub = pubsubClient("p", "127.0.0.1:1");
    try {
      await expect(checkTenantSubscription(pubsub, parse(SUBSCRIPTION))).resolves.toBeUndefined();
      await expect(checkTenantSubscription(pubsub, parse("--tenant=acme"))).resolves.toBeUndefined();
    } finally {
      await pubsub.close();
    }
  });
});

// The catch-all's reader on the emulator, through the command line: tenant-catch-all-cli.test.ts.
describe("--tenant-catch-all: the reader of the tenants' catch-all", () => {
  const dir = mkdtempSync(join(tmpdir(), "tidemark-topology-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** A topology file with `tenants` on a topic with workers per tenant (or, with `workers: false`, without). */
  const topologyFile = (name: string, tenants: readonly string[], workers = true) => {
    const path = join(dir, `${name}.json`);
    const topic = { name: "user-events", ...(workers ? { tenantWorkers: { maxDeliveryAttempts: 5 } } : {}) };
    writeFileSync(path, JSON.stringify({ tenants, topics: [topic] }));
    return path;
  };
  const CATCH_ALL = "--input=pubsub://projects/p/subscriptions/user-events-tenant-catch-all-2e9ed323";

  it("takes its tenants from the topology provision and Terraform read (--topology), in their order", () => {
    expect(medallionOptions(parse("--tenant-catch-all", CATCH_ALL)).catchAllTenants).toEqual([
      "acme",
      "globex",
      "initech",
    ]);
    const env = { TIDEMARK_TENANT_CATCH_ALL: "true", TIDEMARK_TOPOLOGY: topologyFile("two", ["globex", "acme"]) };
    expect(medallionOptions(parseJobOptions([CATCH_ALL], env).options).catchAllTenants).toEqual(["globex", "acme"]);
    expect("catchAllTenants" in medallionOptions(parse(CATCH_ALL))).toBe(false);
    expect(() => checkTenantCatchAll(parse("--tenant-catch-all", CATCH_ALL))).not.toThrow();
    expect(() => checkTenantCatchAll(parse(CATCH_ALL))).not.toThrow();
    // A list on the command line is not the form: the topology is where the tenants are (the filter is made from it).
    expect(() => parse("--tenant-catch-all=acme,globex")).toThrow(
      '--tenant-catch-all must be true or false, got "acme,globex"',
    );
  });

  it("on a retired list's catch-all (its name carries the hash of that list's filter), takes that list", () => {
    const path = join(dir, "retired.json");
    const THREE = ["acme", "globex", "initech"];
    const topic = { name: "user-events", tenantWorkers: { maxDeliveryAttempts: 5 } };
    writeFileSync(
      path,
      JSON.stringify({ tenants: [...THREE, "umbrella"], retiredTenantLists: [THREE], topics: [topic] }),
    );
    const reading = (tenants: readonly string[]) =>
      medallionOptions(
        parse(
          "--tenant-catch-all",
          `--topology=${path}`,
          `--input=pubsub://projects/p/subscriptions/x-${tenantCatchAllNames("user-events", tenants).subscription}`,
        ),
      ).catchAllTenants;
    expect(reading(THREE)).toEqual(THREE);
    expect(reading([...THREE, "umbrella"])).toEqual([...THREE, "umbrella"]);
    // A hash of no list of the topology: the current list (the subscription's filter is then refused as the job starts).
    expect(reading(["acme"])).toEqual([...THREE, "umbrella"]);
  });

  it.each([
    [
      ["--tenant-catch-all", "--tenant=acme", CATCH_ALL],
      "--tenant-catch-all reads what no tenant's worker takes, and --tenant=acme one tenant's messages: one or the " +
        "other (run them as two jobs, each on its own subscription)",
    ],
    [
      ["--tenant-catch-all", "--input=pubsub://projects/p/topics/user-events"],
      "--tenant-catch-all reads the catch-all subscription (npm run provision makes TOPIC-tenant-catch-all-HASH, " +
        "filtered on what no tenant's worker takes): the temporary subscription of pubsub://projects/p/topics/user-events " +
        "would have no filter, and every tenant's messages would be dead-lettered",
    ],
    [
      ["--tenant-catch-all"],
      "--tenant-catch-all reads the catch-all subscription (npm run provision makes TOPIC-tenant-catch-all-HASH, " +
        `filtered on what no tenant's worker takes): the fixture ${FIXTURE} has no filter, and every message in it would be ` +
        "dead-lettered",
    ],
    [
      ["--tenant-catch-all", "--runner=dataflow", CATCH_ALL, "--warehouse=bigquery://p/d"],
      "--tenant-catch-all is not available with --runner=dataflow yet, as --tenant is not: the input subscription's " +
        "filter is checked only by a local run (and Terraform refuses the catch-all as the Dataflow job's input); " +
        "run the catch-all's reader locally",
    ],
    [
      ["--topology=deploy/pubsub/topology.json", CATCH_ALL],
      "--topology applies to --tenant-catch-all (the topology whose tenants' catch-all it reads)",
    ],
  ])("refuses %j: %s", (argv, message) => {
    expect(() => checkTenantCatchAll(parse(...argv))).toThrow(message);
  });

  it("refuses a topology with no catch-all to read, or whose tenants provision would refuse, naming the file", () => {
    const refusal = (path: string) => () =>
      checkTenantCatchAll(parse("--tenant-catch-all", CATCH_ALL, `--topology=${path}`));
    const missing = join(dir, "missing.json");
    expect(refusal(missing)).toThrow(`--tenant-catch-all: cannot read the topology ${missing}: ENOENT`);
    const none =
      "has no catch-all to read (npm run provision makes TOPIC-tenant-catch-all-HASH for a topology with tenants, on each topic with tenantWorkers)";
    for (const path of [topologyFile("no-tenants", []), topologyFile("no-workers", ["acme"], false)]) {
      expect(refusal(path)).toThrow(`--tenant-catch-all: the topology ${path} ${none}`);
    }
    const bad = topologyFile("bad", ["acme", "acme corp"]);
    expect(refusal(bad)).toThrow(
      `--tenant-catch-all: the topology ${bad}: tenant "acme corp": must be 1 to 63 letters, digits, '_', '-' or ` +
        `'.', starting with a letter or a digit, got "acme corp"`,
    );
    const many = topologyFile("many", ["acme", "globex", "initech", "umbrella", "hooli", "wonka", "stark", "wayne"]);
    expect(refusal(many)).toThrow(
      `--tenant-catch-all: the topology ${many}: subscription "${tenantCatchAllNames("user-events", ["acme", "globex", "initech", "umbrella", "hooli", "wonka", "stark", "wayne"]).subscription}": the filter that selects ` +
        "what none of the 8 tenants' workers takes is 307 bytes, over Pub/Sub's limit of 256 (list fewer tenants, or shorter tenant ids)",
    );
    expect(() => catchAllTenants({ topology: bad, input: CATCH_ALL.slice("--input=".length) })).toThrow(
      `--tenant-catch-all: the topology ${bad}: tenant "acme corp"`,
    );
  });

  it("asks Pub/Sub for the filter only with --tenant-catch-all and a subscription", async () => {
    // Nothing answers at 127.0.0.1:1: a call would fail, so these resolve only because none is made.
    const pubsub = pubsubClient("p", "127.0.0.1:1");
    try {
      await expect(checkCatchAllSubscription(pubsub, parse(CATCH_ALL))).resolves.toBeUndefined();
      await expect(
        checkCatchAllSubscription(pubsub, parse("--tenant-catch-all", "--input=pubsub://projects/p/topics/t")),
      ).resolves.toBeUndefined();
    } finally {
      await pubsub.close();
    }
  });
});
