import { describe, expect, it } from "vitest";
import type { PubsubTopology } from "../../../io/pubsub/provision.ts";
import { expandTenants, tenantWorkerNames } from "../../../io/pubsub/tenant-topology.ts";

// What a topology's tenant list becomes, offline; provision.test.ts creates it on the emulator, and
// test/deploy/terraform.test.ts checks that Terraform's modules/environment writes the same out.

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
    expect(expandTenants(base)).toEqual({
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
          ],
        },
        { name: "other", subscriptions: [{ name: "other-sub" }] },
        { name: "user-events-acme-dlq", subscriptions: [{ name: "user-events-acme-dlq-inspect" }] },
        { name: "user-events-globex-dlq", subscriptions: [{ name: "user-events-globex-dlq-inspect" }] },
      ],
    });
    expect(tenantWorkerNames("user-events", "acme")).toEqual({
      subscription: "user-events-acme-worker",
      deadLetterTopic: "user-events-acme-dlq",
      deadLetterSubscription: "user-events-acme-dlq-inspect",
    });
  });

  it("without tenants (or without tenantWorkers), the topology is as declared", () => {
    const { tenants: _, ...none } = base;
    const expanded = expandTenants(none);
    expect(expanded.topics.map((t) => t.name)).toEqual(["user-events", "other"]);
    expect(expanded.topics[0]?.subscriptions).toEqual([{ name: "medallion" }]);
    expect(expanded.topics[0]).not.toHaveProperty("tenantWorkers");
    const noWorkers = expandTenants({ ...base, topics: [{ name: "other" }] });
    expect(noWorkers).toEqual({ prefix: "x-", topics: [{ name: "other" }] });
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
