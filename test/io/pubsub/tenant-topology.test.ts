import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { PubsubTopology, SubscriptionSpec } from "../../../io/pubsub/provision.ts";
import {
  expandTenants,
  PUBSUB_FILTER_MAX_BYTES,
  tenantCatchAllNames,
  TENANT_MODES,
  type TenantMode,
  tenantLists,
  tenantWorkerNames,
} from "../../../io/pubsub/tenant-topology.ts";
import { type MissingAttribute, parsePubsubFilter } from "./pubsub-filter.ts";

// What a topology's tenant list becomes, offline; provision.test.ts creates it on the emulator, and
// test/deploy/terraform.test.ts checks that Terraform's modules/environment writes the same out. Which messages the
// generated filters select is decided by pubsub-filter.ts (the emulator does not apply filters).

const base: PubsubTopology = {
  prefix: "x-",
  tenants: ["acme", "globex"],
  topics: [
    {
      name: "user-events",
      retentionSeconds: 3600,
      subscriptions: [{ name: "medallion" }],
      tenantWorkers: {
        ackDeadlineSeconds: 30,
        retryPolicy: { minBackoffSeconds: 1, maxBackoffSeconds: 60 },
        maxDeliveryAttempts: 5,
      },
    },
    { name: "other", subscriptions: [{ name: "other-sub" }] },
  ],
};

describe("expandTenants: a worker subscription and a dead-letter topic per tenant", () => {
  it("writes them out as ordinary topics and subscriptions, with the tenant's filter", () => {
    expect(expandTenants(base, "both")).toEqual({
      prefix: "x-",
      topics: [
        {
          name: "user-events",
          retentionSeconds: 3600,
          subscriptions: [
            { name: "medallion" },
            {
              name: "user-events-acme-worker",
              ackDeadlineSeconds: 30,
              retryPolicy: { minBackoffSeconds: 1, maxBackoffSeconds: 60 },
              filter: 'attributes.tenant_id = "acme"',
              deadLetter: { topic: "user-events-acme-dlq", maxDeliveryAttempts: 5 },
            },
            {
              name: "user-events-globex-worker",
              ackDeadlineSeconds: 30,
              retryPolicy: { minBackoffSeconds: 1, maxBackoffSeconds: 60 },
              filter: 'attributes.tenant_id = "globex"',
              deadLetter: { topic: "user-events-globex-dlq", maxDeliveryAttempts: 5 },
            },
            {
              // Named after the SHA-256 of its filter: another tenant list is another catch-all.
              name: "user-events-tenant-catch-all-84b49f42",
              ackDeadlineSeconds: 30,
              retryPolicy: { minBackoffSeconds: 1, maxBackoffSeconds: 60 },
              filter:
                'NOT attributes:tenant_id OR NOT (attributes.tenant_id = "acme" OR attributes.tenant_id = "globex")',
              deadLetter: { topic: "user-events-tenant-catch-all-dead-letter", maxDeliveryAttempts: 5 },
            },
          ],
        },
        { name: "other", subscriptions: [{ name: "other-sub" }] },
        { name: "user-events-acme-dlq", subscriptions: [{ name: "user-events-acme-dlq-inspect" }] },
        { name: "user-events-globex-dlq", subscriptions: [{ name: "user-events-globex-dlq-inspect" }] },
        {
          name: "user-events-tenant-catch-all-dead-letter",
          subscriptions: [{ name: "user-events-tenant-catch-all-dead-letter-inspect" }],
        },
      ],
    });
    expect(tenantWorkerNames("user-events", "acme")).toEqual({
      subscription: "user-events-acme-worker",
      deadLetterTopic: "user-events-acme-dlq",
      deadLetterSubscription: "user-events-acme-dlq-inspect",
    });
  });

  it("without tenants (or without tenantWorkers), the topology is as declared: no worker, no catch-all", () => {
    const { tenants: _, ...none } = base;
    for (const topology of [none, { ...base, tenants: [] }]) {
      const expanded = expandTenants(topology);
      expect(expanded.topics.map((t) => t.name)).toEqual(["user-events", "other"]);
      expect(expanded.topics[0]?.subscriptions).toEqual([{ name: "medallion" }]);
      expect(expanded.topics[0]).not.toHaveProperty("tenantWorkers");
    }
    const noWorkers = expandTenants({ ...base, topics: [{ name: "other" }] });
    expect(noWorkers).toEqual({ prefix: "x-", topics: [{ name: "other" }] });
    const filter = 'NOT attributes:tenant_id OR NOT (attributes.tenant_id = "acme" OR attributes.tenant_id = "globex")';
    expect(tenantCatchAllNames("user-events", ["acme", "globex"])).toEqual({
      subscription: `user-events-tenant-catch-all-${createHash("sha256").update(filter).digest("hex").slice(0, 8)}`,
      filter,
      deadLetterTopic: "user-events-tenant-catch-all-dead-letter",
      deadLetterSubscription: "user-events-tenant-catch-all-dead-letter-inspect",
    });
  });

  it("refuses a tenant that is not a tenant id, or one listed twice, naming it", () => {
    expect(() => expandTenants({ ...base, tenants: ["acme", "globex corp"] })).toThrow(
      "tenant \"globex corp\": must be 1 to 63 letters, digits, '_', '-' or '.', starting with a letter or a " +
        'digit, got "globex corp"',
    );
    expect(() => expandTenants({ ...base, tenants: ["acme", "globex", "acme"] })).toThrow(
      'tenant "acme": listed twice',
    );
  });
});

describe("the tenant mode: who reads a topic with tenantWorkers, so that no input subscription is made that nothing reads", () => {
  const shared = {
    ...base,
    topics: base.topics.map((t) =>
      t.tenantWorkers ? { ...t, tenantWorkers: { ...t.tenantWorkers, sharedSubscription: "medallion" } } : t,
    ),
  };
  const names = (t: PubsubTopology, mode: TenantMode) =>
    expandTenants(t, mode).topics.flatMap((x) => (x.subscriptions ?? []).map((s) => s.name));
  const catchAll = tenantCatchAllNames("user-events", ["acme", "globex"]).subscription;

  it("shared (the default): the shared job's subscription alone; per_tenant: the workers and the catch-all, not it; both: all", () => {
    expect(names(shared, "shared")).toEqual(["medallion", "other-sub"]);
    expect(expandTenants(shared)).toEqual(expandTenants(shared, "shared"));
    expect(names(shared, "per_tenant")).toEqual([
      "user-events-acme-worker",
      "user-events-globex-worker",
      catchAll,
      "other-sub",
      "user-events-acme-dlq-inspect",
      "user-events-globex-dlq-inspect",
      "user-events-tenant-catch-all-dead-letter-inspect",
    ]);
    expect(names(shared, "both")).toEqual(["medallion", ...names(shared, "per_tenant")]);
    // Without a sharedSubscription, per_tenant leaves every declared subscription.
    expect(names(base, "per_tenant")[0]).toBe("medallion");
  });

  it("a retired list's subscriptions stay in every mode; the tenants are checked in every mode", () => {
    const retired = { ...shared, tenants: ["acme", "globex", "initech"], retiredTenantLists: [["acme", "globex"]] };
    expect(names(retired, "shared")).toEqual([
      "medallion",
      "user-events-acme-worker",
      "user-events-globex-worker",
      catchAll,
      "other-sub",
      "user-events-acme-dlq-inspect",
      "user-events-globex-dlq-inspect",
      "user-events-tenant-catch-all-dead-letter-inspect",
    ]);
    expect(() => expandTenants({ ...shared, tenants: ["acme corp"] }, "shared")).toThrow('tenant "acme corp"');
    expect(() =>
      expandTenants({
        ...shared,
        topics: [{ name: "user-events", tenantWorkers: { maxDeliveryAttempts: 5, sharedSubscription: "nope" } }],
      }),
    ).toThrow('topic "user-events": tenantWorkers.sharedSubscription "nope" is not one of its subscriptions');
  });

  it("the shipped topology names medallion as user-events' shared subscription", () => {
    const shipped = JSON.parse(readFileSync("deploy/pubsub/topology.json", "utf8")) as PubsubTopology;
    expect(shipped.topics.find((t) => t.name === "user-events")?.tenantWorkers?.sharedSubscription).toBe("medallion");
    expect(TENANT_MODES).toEqual(["shared", "per_tenant", "both"]);
  });
});

describe("a change of tenants: the new catch-all beside the old, kept while its list is retired", () => {
  const THREE = ["acme", "globex", "initech"];
  const catchAll = (tenants: readonly string[]) => tenantCatchAllNames("user-events", tenants).subscription;
  const subscriptions = (t: PubsubTopology) =>
    (expandTenants(t, "both").topics.find((x) => x.name === "user-events")?.subscriptions ?? []).map((s) => s.name);

  it("another list is another catch-all, by name: a tenant added makes a new one and leaves the old name free", () => {
    expect(catchAll(THREE)).toBe("user-events-tenant-catch-all-2e9ed323");
    expect(catchAll([...THREE, "umbrella"])).not.toBe(catchAll(THREE));
    // The order is the filter's: another order is another filter, another catch-all (the reader reads the file).
    expect(catchAll(["globex", "acme", "initech"])).not.toBe(catchAll(THREE));
  });

  it("a retired list keeps its catch-all and its tenants' workers and dead-letter topics; each list once", () => {
    const changed: PubsubTopology = {
      ...base,
      tenants: ["acme", "umbrella"],
      retiredTenantLists: [
        ["acme", "globex"],
        ["acme", "umbrella"],
        ["acme", "globex"],
      ],
    };
    expect(subscriptions(changed)).toEqual([
      "medallion",
      "user-events-acme-worker",
      "user-events-umbrella-worker",
      "user-events-globex-worker",
      catchAll(["acme", "umbrella"]),
      catchAll(["acme", "globex"]),
    ]);
    const expanded = expandTenants(changed, "both");
    expect(expanded.topics.map((t) => t.name)).toEqual([
      "user-events",
      "other",
      "user-events-acme-dlq",
      "user-events-umbrella-dlq",
      "user-events-globex-dlq",
      "user-events-tenant-catch-all-dead-letter",
    ]);
    expect(expanded).not.toHaveProperty("retiredTenantLists");
    // The retired catch-all is exactly the one provisioned for that list before.
    const before = expandTenants(base, "both").topics[0]?.subscriptions?.find(
      (s) => s.name === catchAll(["acme", "globex"]),
    );
    expect(expanded.topics[0]?.subscriptions?.find((s) => s.name === catchAll(["acme", "globex"]))).toEqual(before);
    expect(tenantLists(changed)).toEqual([
      ["acme", "umbrella"],
      ["acme", "globex"],
    ]);
  });

  it("refuses a retired list that is not one, naming it", () => {
    const refused = (retiredTenantLists: string[][]) => () => expandTenants({ ...base, retiredTenantLists });
    expect(refused([["acme"], []])).toThrow("retiredTenantLists[1]: no tenants");
    expect(refused([["acme", "globex corp"]])).toThrow('retiredTenantLists[0]: tenant "globex corp": must be 1 to 63');
    expect(refused([["acme", "acme"]])).toThrow('retiredTenantLists[0]: tenant "acme": listed twice');
    const long = Array.from({ length: 8 }, (_, i) => `t${i}0`);
    expect(refused([long])).toThrow(
      `retiredTenantLists[0]: subscription "${catchAll(long)}": the filter that selects what none of the 8 tenants'`,
    );
  });

  it("with a retired list only (no tenants now), its subscriptions are still kept", () => {
    expect(subscriptions({ ...base, tenants: [], retiredTenantLists: [["acme"]] })).toEqual([
      "medallion",
      "user-events-acme-worker",
      catchAll(["acme"]),
    ]);
  });
});

/** The subscriptions of `topic` that filter on the tenant: its workers and its catch-all. */
const routing = (topology: PubsubTopology, topic: string): SubscriptionSpec[] =>
  (expandTenants(topology, "per_tenant").topics.find((t) => t.name === topic)?.subscriptions ?? []).filter(
    (s) => s.filter !== undefined,
  );

/** Message shapes, by their attributes: every way a tenant_id attribute can be there, or not. */
const SHAPES = (tenants: readonly string[]): [string, Record<string, string>][] => [
  ["no attribute at all", {}],
  ["other attributes only", { correlation_id: "r1", sent_as: "acme" }],
  ...tenants.map((t): [string, Record<string, string>] => [`tenant ${t}`, { tenant_id: t, correlation_id: "r1" }]),
  ["an unknown tenant", { tenant_id: "umbrella" }],
  ["a known tenant's prefix", { tenant_id: (tenants[0] ?? "acme").slice(0, -1) }],
  ["a known tenant with more after it", { tenant_id: `${tenants[0] ?? "acme"}x` }],
  ["a known tenant in another case", { tenant_id: (tenants[0] ?? "acme").toUpperCase() }],
  ["a malformed id (a space)", { tenant_id: "acme corp" }],
  ["a malformed id (a quote)", { tenant_id: 'ac"me' }],
  ["a malformed id (trailing space)", { tenant_id: `${tenants[0] ?? "acme"} ` }],
  ["an empty id", { tenant_id: "" }],
  ["the attribute under another case", { TENANT_ID: tenants[0] ?? "acme" }],
];

/** The subscriptions among `subs` whose filter selects each shape, evaluated with `missing` (pubsub-filter.ts). */
const selecting = (subs: readonly SubscriptionSpec[], tenants: readonly string[], missing: MissingAttribute) => {
  const filters = subs.map((s) => ({ name: s.name, selects: parsePubsubFilter(s.filter as string, missing) }));
  return SHAPES(tenants).map(([shape, attributes]) => ({
    shape: `${shape}: ${JSON.stringify(attributes)}`,
    attributes,
    selected: filters.filter((f) => f.selects(attributes)).map((f) => f.name),
  }));
};

describe("the catch-all: what no tenant's worker selects", () => {
  // Whether Pub/Sub takes a comparison on a missing attribute as false (as documented for `=`) or as unknown (so
  // that NOT of it is not true either), each message shape reaches exactly one subscription.
  it.each<MissingAttribute>(["false", "unknown"])(
    "selects every message shape no worker does, and no other: exactly one subscription selects each (a comparison on a missing attribute: %s)",
    (missing) => {
      const shipped = JSON.parse(readFileSync("deploy/pubsub/topology.json", "utf8")) as PubsubTopology;
      for (const topology of [base, shipped, { ...base, tenants: ["a", "b-2", "c.eu", "D_4"] }]) {
        const subs = routing(topology, "user-events");
        const tenants = topology.tenants ?? [];
        expect(subs.map((s) => s.name)).toEqual([
          ...tenants.map((t) => `user-events-${t}-worker`),
          tenantCatchAllNames("user-events", tenants).subscription,
        ]);
        for (const { shape, attributes, selected } of selecting(subs, tenants, missing)) {
          const tenant = attributes.tenant_id;
          const expected =
            tenant !== undefined && tenants.includes(tenant)
              ? `user-events-${tenant}-worker`
              : tenantCatchAllNames("user-events", tenants).subscription;
          expect(selected, shape).toEqual([expected]);
        }
      }
    },
  );

  it("needs its first clause, NOT attributes:tenant_id: without it a message without the attribute reaches no subscription where a comparison on a missing attribute is unknown", () => {
    const subs = routing(base, "user-events");
    const tenants = base.tenants ?? [];
    const catchAll = subs.at(-1) as SubscriptionSpec;
    const clause = "NOT attributes:tenant_id OR ";
    expect(catchAll.filter?.startsWith(clause)).toBe(true);
    const without = subs.map((s) => (s === catchAll ? { ...s, filter: (s.filter as string).slice(clause.length) } : s));
    const unselected = (missing: MissingAttribute) =>
      selecting(without, tenants, missing)
        .filter((r) => r.selected.length === 0)
        .map((r) => r.shape);
    // Where the comparison is false the clause is redundant; where it is unknown these shapes would be lost.
    expect(unselected("false")).toEqual([]);
    expect(unselected("unknown")).toEqual([
      "no attribute at all: {}",
      'other attributes only: {"correlation_id":"r1","sent_as":"acme"}',
      'the attribute under another case: {"TENANT_ID":"acme"}',
    ]);
  });

  it("the shipped topology's catch-all filter, within Pub/Sub's 256-byte limit", () => {
    const shipped = JSON.parse(readFileSync("deploy/pubsub/topology.json", "utf8")) as PubsubTopology;
    const catchAll = routing(shipped, "user-events").at(-1);
    expect(catchAll?.filter).toBe(
      "NOT attributes:tenant_id OR NOT (" +
        'attributes.tenant_id = "acme" OR attributes.tenant_id = "globex" OR attributes.tenant_id = "initech")',
    );
    expect(PUBSUB_FILTER_MAX_BYTES).toBe(256);
    expect(Buffer.byteLength(catchAll?.filter ?? "")).toBe(134);
  });

  it("refuses a tenant list whose catch-all filter is over the limit, naming the limit and the length", () => {
    // Each tenant costs 29 bytes plus its id (a comparison and " OR "); 34 bytes of the rest.
    const ids = (n: number, length: number) =>
      Array.from({ length: n }, (_, i) => `t${String(i).padStart(length - 1, "0")}`);
    const at = (tenants: string[]) => ({ ...base, tenants });
    const fits = routing(at(ids(7, 3)), "user-events").at(-1)?.filter ?? "";
    expect(fits.length).toBe(34 + 7 * (29 + 3) - 4);
    expect(fits.length).toBeLessThanOrEqual(256);
    expect(() => expandTenants(at(ids(8, 3)))).toThrow(
      `subscription "${tenantCatchAllNames("user-events", ids(8, 3)).subscription}": the filter that selects what ` +
        "none of the 8 tenants' workers " +
        "takes is 286 bytes, over Pub/Sub's limit of 256 (list fewer tenants, or shorter tenant ids)",
    );
    // Exactly at the limit is accepted, one byte more is not.
    const exact = [...ids(6, 3), "x".repeat(256 - (34 + 6 * (29 + 3) + 29 - 4))];
    expect(routing(at(exact), "user-events").at(-1)?.filter).toHaveLength(256);
    expect(() => expandTenants(at([...exact.slice(0, -1), `${exact.at(-1)}y`]))).toThrow(
      "is 257 bytes, over Pub/Sub's limit of 256",
    );
  });
});

describe("the filter evaluator the tests use (pubsub-filter.ts)", () => {
  it("evaluates the documented forms, NOT binding to the term after it", () => {
    const f = (filter: string, attributes: Record<string, string>) => parsePubsubFilter(filter)(attributes);
    expect(f("attributes:a", { a: "" })).toBe(true);
    expect(f("attributes:a", { b: "1" })).toBe(false);
    expect(f('attributes.a = "x"', { a: "x" })).toBe(true);
    expect(f('attributes.a = "x"', {})).toBe(false);
    expect(f('NOT attributes.a = "x"', {})).toBe(true);
    expect(f('hasPrefix(attributes.a, "ac")', { a: "acme" })).toBe(true);
    expect(f('hasPrefix(attributes.a, "ac")', {})).toBe(false);
    expect(f('attributes.a = "say \\"hi\\""', { a: 'say "hi"' })).toBe(true);
    expect(f("NOT attributes:a OR attributes:b", { a: "1" })).toBe(false);
    expect(f("NOT (attributes:a OR attributes:b)", { b: "1" })).toBe(false);
    expect(f("NOT attributes:a AND NOT attributes:b", {})).toBe(true);
    expect(f("(attributes:a OR attributes:b) AND attributes:c", { b: "1", c: "1" })).toBe(true);
  });

  it("with a comparison on a missing attribute unknown: NOT keeps it unknown, OR and AND as SQL's three values", () => {
    const f = (filter: string, attributes: Record<string, string>) => parsePubsubFilter(filter, "unknown")(attributes);
    expect(f('attributes.a = "x"', {})).toBe(false);
    expect(f('NOT attributes.a = "x"', {})).toBe(false);
    expect(f('NOT attributes.a = "x"', { a: "y" })).toBe(true);
    expect(f('NOT hasPrefix(attributes.a, "ac")', {})).toBe(false);
    expect(f('NOT (attributes.a = "x" OR attributes.a = "y")', {})).toBe(false);
    expect(f('NOT attributes:a OR NOT (attributes.a = "x")', {})).toBe(true);
    expect(f('attributes.a = "x" OR attributes:b', { b: "1" })).toBe(true);
    expect(f('NOT (attributes.a = "x" AND attributes:b)', {})).toBe(true);
    expect(f('NOT (attributes.a = "x" AND attributes:b)', { b: "1" })).toBe(false);
    expect(f("NOT attributes:a", {})).toBe(true);
  });

  it("refuses what is outside the subset, and AND with OR without parentheses", () => {
    for (const [filter, error] of [
      ["attributes:a AND attributes:b OR attributes:c", "filter: AND and OR at 30 without parentheses"],
      ['attributes.a != "x"', '"!" at 13 is not in the subset'],
      ["-attributes:a", '"-attributes" at 0 is not in the subset'],
      ['hasSuffix(attributes.a, "x")', '"hasSuffix" at 0 is not in the subset'],
      ["not attributes:a", '"not" at 0 is not in the subset'],
      ["(attributes:a", "expected ), found the end"],
      ['attributes.a = "x', "unterminated string at 15"],
    ]) {
      expect(() => parsePubsubFilter(filter as string), filter).toThrow(error as string);
    }
  });
});
