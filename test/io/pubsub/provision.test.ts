import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PubSub } from "@google-cloud/pubsub";
import { describe, expect, it } from "vitest";
import { useEmulator } from "./emulator-fixture.ts";
import { type PubsubTopology, provision } from "../../../io/pubsub/provision.ts";
import { tenantCatchAllNames } from "../../../io/pubsub/tenant-topology.ts";

const PROJECT = "tidemark-test";
const fixture = useEmulator(PROJECT);
const pubsub = (): PubSub => fixture.client();

const topology = (prefix: string, ackDeadlineSeconds = 60): PubsubTopology => ({
  prefix,
  topics: [
    {
      name: "user-events",
      retentionSeconds: 86400,
      subscriptions: [
        {
          name: "medallion",
          ackDeadlineSeconds,
          retryPolicy: { minBackoffSeconds: 1, maxBackoffSeconds: 60 },
          deadLetter: { topic: "user-events-dlq", maxDeliveryAttempts: 5 },
          retentionSeconds: 3600,
        },
        { name: "acme-only", filter: 'attributes.tenant_id = "acme"', messageOrdering: true },
      ],
    },
    { name: "user-events-dlq", subscriptions: [{ name: "dlq-inspect" }] },
  ],
});

const full = (kind: "topics" | "subscriptions", name: string) => `projects/${PROJECT}/${kind}/${name}`;
/** The environment without TIDEMARK_ settings or the emulator's host (the command line's defaults are tested). */
const withoutTidemark = () =>
  Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("TIDEMARK_") && !k.startsWith("PUBSUB_EMULATOR")),
  );
/** The catch-alls of acme and globex, and of the three: named after their filters' hashes. */
const TWO = tenantCatchAllNames("user-events", ["acme", "globex"]).subscription;
const THREE = tenantCatchAllNames("user-events", ["acme", "globex", "initech"]).subscription;
const PER_TENANT = { tenantMode: "per_tenant" } as const;

describe("provision against the Pub/Sub emulator", () => {
  it("creates what is missing, then changes nothing on a second run", async () => {
    const first = await provision(pubsub(), topology("a-"));
    expect(first.added.sort()).toEqual(
      [
        full("topics", "a-user-events"),
        full("topics", "a-user-events-dlq"),
        full("subscriptions", "a-medallion"),
        full("subscriptions", "a-acme-only"),
        full("subscriptions", "a-dlq-inspect"),
      ].sort(),
    );
    const [meta] = await pubsub().subscription("a-medallion").getMetadata();
    // Every property the topology gives, as the emulator stores it.
    expect(meta).toMatchObject({
      topic: full("topics", "a-user-events"),
      ackDeadlineSeconds: 60,
      deadLetterPolicy: { deadLetterTopic: full("topics", "a-user-events-dlq"), maxDeliveryAttempts: 5 },
      retryPolicy: { minimumBackoff: { seconds: "1" }, maximumBackoff: { seconds: "60" } },
      messageRetentionDuration: { seconds: "3600" },
      enableMessageOrdering: false,
      filter: "",
    });
    const [topic] = await pubsub().topic("a-user-events").getMetadata();
    expect(topic.messageRetentionDuration).toMatchObject({ seconds: "86400" });
    const [acme] = await pubsub().subscription("a-acme-only").getMetadata();
    expect(acme).toMatchObject({ filter: 'attributes.tenant_id = "acme"', enableMessageOrdering: true });

    const second = await provision(pubsub(), topology("a-"));
    expect(second.added).toEqual([]);
    expect(second.changed).toEqual([]);
    expect(second.unchanged).toHaveLength(5);
  });

  it("changes a mutable property in place and says which", async () => {
    await provision(pubsub(), topology("b-"));
    const report = await provision(pubsub(), topology("b-", 120));
    expect(report.changed).toEqual([`${full("subscriptions", "b-medallion")} (ackDeadlineSeconds)`]);
    const [meta] = await pubsub().subscription("b-medallion").getMetadata();
    expect(meta.ackDeadlineSeconds).toBe(120);
  });

  it("refuses a change Pub/Sub cannot make in place, before writing anything", async () => {
    await provision(pubsub(), topology("c-"));
    const changed: PubsubTopology = {
      prefix: "c-",
      topics: [
        { name: "new-topic" },
        {
          name: "user-events",
          subscriptions: [{ name: "acme-only", filter: 'attributes.tenant_id = "globex"', messageOrdering: true }],
        },
      ],
    };
    await expect(provision(pubsub(), changed)).rejects.toThrow(
      `subscription ${full("subscriptions", "c-acme-only")}: filter "attributes.tenant_id = \\"acme\\"" cannot be changed`,
    );
    const unordered: PubsubTopology = {
      prefix: "c-",
      topics: [
        { name: "user-events", subscriptions: [{ name: "acme-only", filter: 'attributes.tenant_id = "acme"' }] },
      ],
    };
    await expect(provision(pubsub(), unordered)).rejects.toThrow(
      "message ordering is true and cannot be changed in place",
    );
    const [exists] = await pubsub().topic("c-new-topic").exists();
    expect(exists).toBe(false);
  });

  it("refuses an invalid topology naming the entry", async () => {
    await expect(
      provision(pubsub(), {
        topics: [
          {
            name: "events",
            subscriptions: [{ name: "sub-1", deadLetter: { topic: "missing", maxDeliveryAttempts: 5 } }],
          },
        ],
      }),
    ).rejects.toThrow('subscription "sub-1": dead-letter topic "missing" is not declared');
    await expect(
      provision(pubsub(), { topics: [{ name: "events", subscriptions: [{ name: "sub-2", ackDeadlineSeconds: 5 }] }] }),
    ).rejects.toThrow('subscription "sub-2": ackDeadlineSeconds must be 10 to 600, got 5');
  });

  it("npm run provision: by default (--tenant-mode=shared) no tenant's subscription, per_tenant the tenants' and not medallion; nothing deleted", async () => {
    // The shipped topology declares both readers of user-events: the shared job (medallion) and the tenants'.
    const run = (...args: string[]) =>
      spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          "pipelines/user-sessions/provision.ts",
          `--project=${PROJECT}`,
          `--pubsub-endpoint=${fixture.emulator().endpoint}`,
          ...args,
        ],
        { encoding: "utf8", env: withoutTidemark() },
      );
    const added = (r: ReturnType<typeof run>) => {
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      return r.stdout
        .split("\n")
        .filter((l) => l.startsWith("added "))
        .map((l) => l.slice("added ".length).trim().replace(`projects/${PROJECT}/`, ""))
        .sort();
    };
    const shared = added(run("--prefix=m-"));
    const subscriptions = (names: string[]) => names.filter((n) => n.startsWith("subscriptions/"));
    expect(subscriptions(shared)).toEqual(
      [
        "subscriptions/m-invalid-events-repair",
        "subscriptions/m-medallion",
        "subscriptions/m-session-insights-dashboard",
        "subscriptions/m-user-events-dead-letter-inspect",
      ].sort(),
    );
    const perTenant = added(run("--prefix=m-", "--tenant-mode=per_tenant"));
    const tenants = ["acme", "globex", "initech"];
    expect(subscriptions(perTenant)).toEqual(
      [
        ...tenants.flatMap((t) => [
          `subscriptions/m-user-events-${t}-worker`,
          `subscriptions/m-user-events-${t}-dlq-inspect`,
        ]),
        `subscriptions/m-${tenantCatchAllNames("user-events", tenants).subscription}`,
        "subscriptions/m-user-events-tenant-catch-all-dead-letter-inspect",
      ].sort(),
    );
    // medallion, left out of per_tenant, is still there: provision deletes nothing.
    expect((await pubsub().subscription("m-medallion").exists())[0]).toBe(true);
    const fresh = added(run("--prefix=p-", "--tenant-mode=per_tenant"));
    expect(fresh).not.toContain("subscriptions/p-medallion");
    expect(added(run("--prefix=m-", "--tenant-mode=both"))).toEqual([]);
    const wrong = run("--prefix=m-", "--tenant-mode=tenants");
    expect([wrong.status, wrong.stderr]).toEqual([
      1,
      'error: --tenant-mode must be one of shared, per_tenant, both, got "tenants"\n',
    ]);
    const env = spawnSync(
      process.execPath,
      ["--import", "tsx", "pipelines/user-sessions/provision.ts", `--pubsub-endpoint=${fixture.emulator().endpoint}`],
      {
        encoding: "utf8",
        env: {
          ...withoutTidemark(),
          TIDEMARK_PROJECT: PROJECT,
          TIDEMARK_TENANT_MODE: "per_tenant",
          TIDEMARK_PREFIX: "e-",
        },
      },
    );
    expect(env.stdout).toContain(`added     projects/${PROJECT}/subscriptions/e-user-events-acme-worker`);
    expect(env.stdout).not.toContain("e-medallion");
  }, 120_000);

  it("npm run provision takes the topology file as the pipeline does: --topology (TIDEMARK_TOPOLOGY); --config is its earlier name", () => {
    const dir = mkdtempSync(join(tmpdir(), "tidemark-provision-"));
    try {
      const file = (name: string, topic: string) => {
        const path = join(dir, `${name}.json`);
        writeFileSync(path, JSON.stringify({ topics: [{ name: topic }] }));
        return path;
      };
      const one = file("one", "from-topology");
      const two = file("two", "from-config");
      const run = (args: string[], env: Record<string, string> = {}) =>
        spawnSync(
          process.execPath,
          [
            "--import",
            "tsx",
            "pipelines/user-sessions/provision.ts",
            `--project=${PROJECT}`,
            `--pubsub-endpoint=${fixture.emulator().endpoint}`,
            ...args,
          ],
          { encoding: "utf8", env: { ...withoutTidemark(), ...env } },
        );
      const ok = (r: ReturnType<typeof run>) => {
        expect(r.stderr).toBe("");
        return r.stdout.trim();
      };
      expect(ok(run([`--topology=${one}`]))).toMatch(/ projects\/[^/]+\/topics\/from-topology$/);
      expect(ok(run([], { TIDEMARK_TOPOLOGY: one }))).toMatch(/^unchanged .*\/topics\/from-topology$/);
      expect(ok(run([`--config=${two}`]))).toMatch(/^added .*\/topics\/from-config$/);
      expect(ok(run([], { TIDEMARK_CONFIG: two }))).toMatch(/^unchanged .*\/topics\/from-config$/);
      expect(ok(run([`--topology=${one}`], { TIDEMARK_CONFIG: two }))).toMatch(/from-topology$/);
      expect(run([`--topology=${one}`, `--config=${two}`]).stderr).toBe(
        `error: --topology and --config (its earlier name): the topology is ${JSON.stringify(one)} and ${JSON.stringify(two)}: one or the other\n`,
      );
      expect(run([], { TIDEMARK_TOPOLOGY: one, TIDEMARK_CONFIG: two }).stderr).toContain(
        "error: TIDEMARK_TOPOLOGY and TIDEMARK_CONFIG (its earlier name): the topology is",
      );
      expect(run(["--help"]).stdout).toContain("[--topology=FILE]");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("a sharedSubscription that is not one of the topic's subscriptions is refused, naming it", async () => {
    await expect(
      provision(pubsub(), {
        tenants: ["acme"],
        topics: [
          {
            name: "events",
            subscriptions: [{ name: "shared" }],
            tenantWorkers: { maxDeliveryAttempts: 5, sharedSubscription: "medallion" },
          },
        ],
      }),
    ).rejects.toThrow('topic "events": tenantWorkers.sharedSubscription "medallion" is not one of its subscriptions');
  });

  it("per tenant: a worker subscription filtered on its tenant, dead-lettering to the tenant's own topic, and the catch-all", async () => {
    const tenants: PubsubTopology = {
      prefix: "t-",
      tenants: ["acme", "globex"],
      topics: [
        {
          name: "user-events",
          subscriptions: [{ name: "medallion" }],
          tenantWorkers: { retryPolicy: { minBackoffSeconds: 0, maxBackoffSeconds: 1 }, maxDeliveryAttempts: 5 },
        },
      ],
    };
    const first = await provision(pubsub(), tenants, PER_TENANT);
    expect(first.added.sort()).toEqual(
      [
        full("topics", "t-user-events"),
        full("topics", "t-user-events-acme-dlq"),
        full("topics", "t-user-events-globex-dlq"),
        full("subscriptions", "t-medallion"),
        full("subscriptions", "t-user-events-acme-worker"),
        full("subscriptions", "t-user-events-globex-worker"),
        full("subscriptions", "t-user-events-acme-dlq-inspect"),
        full("subscriptions", "t-user-events-globex-dlq-inspect"),
        full("topics", "t-user-events-tenant-catch-all-dead-letter"),
        full("subscriptions", `t-${TWO}`),
        full("subscriptions", "t-user-events-tenant-catch-all-dead-letter-inspect"),
      ].sort(),
    );
    // The catch-all: what neither tenant's filter selects (the emulator stores the filter; it does not apply it, so
    // which messages it selects is tested offline, tenant-topology.test.ts).
    const catchAllFilter =
      'NOT attributes:tenant_id OR NOT (attributes.tenant_id = "acme" OR attributes.tenant_id = "globex")';
    const [catchAll] = await pubsub().subscription(`t-${TWO}`).getMetadata();
    expect(catchAll).toMatchObject({
      topic: full("topics", "t-user-events"),
      filter: catchAllFilter,
      retryPolicy: { minimumBackoff: { seconds: "0" }, maximumBackoff: { seconds: "1" } },
      deadLetterPolicy: {
        deadLetterTopic: full("topics", "t-user-events-tenant-catch-all-dead-letter"),
        maxDeliveryAttempts: 5,
      },
    });
    for (const tenant of ["acme", "globex"]) {
      const [meta] = await pubsub().subscription(`t-user-events-${tenant}-worker`).getMetadata();
      expect(meta).toMatchObject({
        topic: full("topics", "t-user-events"),
        filter: `attributes.tenant_id = "${tenant}"`,
        deadLetterPolicy: { deadLetterTopic: full("topics", `t-user-events-${tenant}-dlq`), maxDeliveryAttempts: 5 },
      });
      const [dlq] = await pubsub().subscription(`t-user-events-${tenant}-dlq-inspect`).getMetadata();
      expect(dlq.topic).toBe(full("topics", `t-user-events-${tenant}-dlq`));
    }
    const again = await provision(pubsub(), tenants, PER_TENANT);
    expect([again.added, again.changed, again.unchanged.length]).toEqual([[], [], 11]);
    // A tenant added later changes the catch-all's filter, and so its name: the new tenant's worker and the new
    // catch-all are made beside the old one, which is left as it is (provision deletes nothing: it keeps its
    // messages for its reader to read it empty), with or without the old list in retiredTenantLists.
    const three = { ...tenants, tenants: ["acme", "globex", "initech"], retiredTenantLists: [["acme", "globex"]] };
    const more = await provision(pubsub(), three, PER_TENANT);
    expect(more.added.sort()).toEqual(
      [
        full("topics", "t-user-events-initech-dlq"),
        full("subscriptions", "t-user-events-initech-worker"),
        full("subscriptions", "t-user-events-initech-dlq-inspect"),
        full("subscriptions", `t-${THREE}`),
      ].sort(),
    );
    expect(more.changed).toEqual([]);
    expect(more.unchanged).toContain(full("subscriptions", `t-${TWO}`));
    const [wider] = await pubsub().subscription(`t-${THREE}`).getMetadata();
    expect(wider.filter).toBe(
      'NOT attributes:tenant_id OR NOT (attributes.tenant_id = "acme" OR attributes.tenant_id = "globex" OR ' +
        'attributes.tenant_id = "initech")',
    );
    const [old] = await pubsub().subscription(`t-${TWO}`).getMetadata();
    expect(old.filter).toBe(catchAllFilter);
    const { retiredTenantLists: _retired, ...drained } = three;
    const after = await provision(pubsub(), drained, PER_TENANT);
    expect([after.added, after.changed]).toEqual([[], []]);
    expect((await pubsub().subscription(`t-${TWO}`).exists())[0]).toBe(true);
    // Without tenants, no catch-all: nothing to catch.
    const { tenants: _none, ...untenanted } = tenants;
    const plain = await provision(pubsub(), { ...untenanted, prefix: "n-" }, PER_TENANT);
    expect(plain.added.sort()).toEqual([full("topics", "n-user-events"), full("subscriptions", "n-medallion")].sort());
    expect((await pubsub().getSubscriptions())[0].map((s) => s.name).filter((n) => n.includes("/n-"))).toEqual([
      full("subscriptions", "n-medallion"),
    ]);
    await expect(provision(pubsub(), { ...tenants, tenants: ["acme", "umbrella corp"] })).rejects.toThrow(
      'tenant "umbrella corp": must be 1 to 63 letters',
    );
    await expect(provision(pubsub(), { ...tenants, prefix: "u-", tenants: ["acme", "acme"] })).rejects.toThrow(
      'tenant "acme": listed twice',
    );
    expect((await pubsub().topic("u-user-events").exists())[0]).toBe(false);

    // A message acme's worker cannot process goes to acme's dead-letter topic after the attempts.
    await pubsub()
      .topic("t-user-events")
      .publishMessage({ data: Buffer.from("poison for acme"), attributes: { tenant_id: "acme" } });
    const worker = pubsub().subscription("t-user-events-acme-worker");
    const dlq = pubsub().subscription("t-user-events-acme-dlq-inspect");
    const attempts: number[] = [];
    try {
      const dead = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not dead-lettered after attempts ${attempts}`)), 60_000);
        worker.on("message", (m) => {
          attempts.push(m.deliveryAttempt);
          m.nack();
        });
        dlq.on("message", (m) => {
          m.ack();
          clearTimeout(timer);
          resolve(`${m.attributes.tenant_id}: ${m.data.toString()}`);
        });
      });
      expect(dead).toBe("acme: poison for acme");
      expect(attempts.length).toBeGreaterThanOrEqual(5);
    } finally {
      await worker.close();
      await dlq.close();
    }
  }, 90_000);

  it("a message nacked on every delivery reaches the dead-letter topic after the configured attempts", async () => {
    await provision(pubsub(), topology("d-"));
    await pubsub()
      .topic("d-user-events")
      .publishMessage({ data: Buffer.from("poison") });
    const sub = pubsub().subscription("d-medallion");
    const attempts: number[] = [];
    const dead = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not dead-lettered after attempts ${attempts}`)), 60_000);
      sub.on("message", (m) => {
        attempts.push(m.deliveryAttempt);
        m.nack();
      });
      const dlq = pubsub().subscription("d-dlq-inspect");
      dlq.on("message", (m) => {
        m.ack();
        clearTimeout(timer);
        resolve(m.data.toString());
      });
    });
    await sub.close();
    await pubsub().subscription("d-dlq-inspect").close();
    expect(dead).toBe("poison");
    expect(attempts.length).toBeGreaterThanOrEqual(5);
  }, 90_000);
});
