import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { type PubsubTopology, provision } from "../../../io/pubsub/provision.ts";
import { PubsubPublisher } from "../../../io/pubsub/pubsub-sink.ts";
import { tenantCatchAllNames } from "../../../io/pubsub/tenant-topology.ts";
import type { InvalidMessage } from "../../../pipelines/user-sessions/insights-feed.ts";
import { parseJobOptions } from "../../../pipelines/user-sessions/job-options.ts";
import { checkCatchAllSubscription } from "../../../pipelines/user-sessions/tenant-options.ts";
import { CATCH_ALL_MISROUTED, catchAllFilter } from "../../../schemas/tenant.ts";
import { readMessages, useEmulator } from "../../io/pubsub/emulator-fixture.ts";
import { parsePubsubFilter } from "../../io/pubsub/pubsub-filter.ts";
import { cliOnPubsub } from "./cli-on-pubsub.ts";

// The tenants' catch-all read through the command line (`--tenant-catch-all`) on the official Pub/Sub emulator: the
// shipped topology provisioned as `npm run provision` does, the reader taking its tenants from the same file. Each
// message no tenant's worker takes lands in Bronze and the dead-letter feed with its tenant problem, and nothing in
// Silver or Gold; a subscription with another filter is refused as the job starts, naming both filters.

const PROJECT = "tidemark-catch-all";
const PREFIX = "cli-";
const pubsub = useEmulator(PROJECT);
const dir = mkdtempSync(join(tmpdir(), "tidemark-catch-all-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SHIPPED = JSON.parse(readFileSync("deploy/pubsub/topology.json", "utf8")) as PubsubTopology;
const TENANTS = SHIPPED.tenants ?? [];
const NO_WORKER = `no tenant's worker takes the message (tenants: ${TENANTS.join(", ")})`;
const sub = (name: string) => `projects/${PROJECT}/subscriptions/${PREFIX}${name}`;
/** The shipped tenants' catch-all, named after its filter. */
const CATCH_ALL = tenantCatchAllNames("user-events", TENANTS).subscription;

/** An event of `tenant` (valid: only its tenant attribute makes it a catch-all's message). */
const payload = (tenant: string, id: string) =>
  JSON.stringify({
    event_id: id,
    event_type: "page_view",
    user_id: "u1",
    tenant_id: tenant,
    event_time: new Date(Date.now() - 60_000).toISOString(),
    platform: "web",
    schema_version: 1,
    page: "/",
  });

const SENT: readonly { readonly as: string; readonly data: string; readonly tenant?: string }[] = [
  { as: "no-attribute", data: payload("acme", "n-1") },
  { as: "unknown", data: payload("umbrella", "u-1"), tenant: "umbrella" },
  { as: "malformed", data: payload("acme", "m-1"), tenant: "acme corp" },
  // Selected by acme's worker, not the catch-all: the emulator delivers it here too, as it applies no filter.
  { as: "acme", data: payload("acme", "a-1"), tenant: "acme" },
];

const EXPECTED = [
  {
    sent_as: "acme",
    error_reason:
      "is \"acme\": tenant acme's worker takes the message, not the catch-all's reader (whose filter leaves it out " +
      "where Pub/Sub applies filters)",
  },
  {
    sent_as: "malformed",
    error_reason:
      "must be 1 to 63 letters, digits, '_', '-' or '.', starting with a letter or a digit, got \"acme corp\": " +
      NO_WORKER,
  },
  { sent_as: "no-attribute", error_reason: `is missing: ${NO_WORKER}` },
  { sent_as: "unknown", error_reason: `is "umbrella", not one of the tenants: ${NO_WORKER}` },
].map((r) => ({
  ...r,
  valid: false,
  // acme's message is acme's worker's: marked, so that a replay of the dead letters skips this copy.
  error_field: r.sent_as === "acme" ? CATCH_ALL_MISROUTED : "attributes.tenant_id",
}));

describe("--tenant-catch-all on the Pub/Sub emulator", () => {
  it("reads the catch-all: each message lands in Bronze and the dead letters with its reason, none in Silver or Gold", async () => {
    await provision(pubsub.client(), { ...SHIPPED, prefix: PREFIX }, { tenantMode: "both" });
    const [meta] = await pubsub.client().subscription(`${PREFIX}${CATCH_ALL}`).getMetadata();
    expect(meta.filter).toBe(catchAllFilter(TENANTS));
    // Where Pub/Sub applies filters, the catch-all's selects the three messages no worker takes, and not acme's.
    const selects = parsePubsubFilter(meta.filter ?? "");
    expect(SENT.filter((m) => selects(m.tenant === undefined ? {} : { tenant_id: m.tenant })).map((m) => m.as)).toEqual(
      ["no-attribute", "unknown", "malformed"],
    );
    const db = join(dir, "catch-all.duckdb");
    const refusedDb = join(dir, "refused.duckdb");
    const cli = (subscription: string, warehouse: string, extra: readonly string[]) =>
      cliOnPubsub({
        project: PROJECT,
        subscription: `${PREFIX}${subscription}`,
        endpoint: pubsub.emulator().endpoint,
        args: [
          "--tenant-catch-all",
          `--warehouse=duckdb:${warehouse}`,
          `--max-messages=${SENT.length}`,
          "--stop-when-idle=30",
          "--log-format=text",
          ...extra,
        ],
      });
    // The reader, and beside it the same command line on acme's worker subscription, refused as it starts.
    const reader = cli(CATCH_ALL, db, [
      "--metrics-port=0",
      `--dead-letter-topic=pubsub://projects/${PROJECT}/topics/${PREFIX}invalid-events`,
    ]);
    const refused = cli("user-events-acme-worker", refusedDb, []);

    expect(await refused.exit, refused.output()).toBe(1);
    expect(refused.output()).toContain(
      `error: --tenant-catch-all reads the subscription filtered on ${catchAllFilter(TENANTS)} (the catch-all of the ` +
        `tenants of deploy/pubsub/topology.json): ${sub("user-events-acme-worker")} has the filter ` +
        'attributes.tenant_id = "acme" (npm run provision makes TOPIC-tenant-catch-all-HASH; after a change of ' +
        "tenants, the old one's list goes to the topology's retiredTenantLists until it is read empty)",
    );
    expect(existsSync(refusedDb)).toBe(false);

    // The reader says what it is, so that the dead-letter rate alert leaves it out (it dead-letters everything).
    const metrics = await (await fetch(`${await reader.address("metrics")}/metrics`)).text();
    expect(metrics).toMatch(/^medallion_tenant_catch_all_reader 1$/m);
    // The messages, once it reads.
    const publisher = new PubsubPublisher({ pubsub: pubsub.client(), topic: `${PREFIX}user-events` });
    for (const m of SENT) {
      publisher.publish({ data: m.data, attributes: { sent_as: m.as, ...(m.tenant ? { tenant_id: m.tenant } : {}) } });
    }
    await publisher.flush();

    expect(await reader.exit, reader.output()).toBe(0);
    expect(reader.output()).toContain(
      `dead-lettered: ${SENT.length}; sessions merged away: 0; Pub/Sub messages acknowledged: ${SENT.length}`,
    );
    const w = await DuckDbWarehouse.create(db, { autoCreateUnder: dir });
    try {
      const bronze = await w.query(
        "SELECT attributes->>'$.sent_as' AS sent_as, valid, error_field, error_reason FROM bronze_messages ORDER BY 1",
      );
      expect(bronze).toEqual(EXPECTED);
      const counts = await w.counts();
      expect([counts.silver_events, counts.gold_sessions, counts.gold_tenant_hourly]).toEqual([0, 0, 0]);
    } finally {
      await w.close();
    }
    // The dead-letter feed: every message, with Bronze's reason.
    const feed = await readMessages(pubsub.client(), `${PREFIX}invalid-events-repair`, SENT.length);
    const fed = feed.map((m) => ({ invalid: JSON.parse(m.data) as InvalidMessage, attributes: m.attributes }));
    expect(
      fed.map(({ invalid: m }) => ({ sent_as: m.attributes.sent_as, error_reason: m.error.reason })).sort(bySentAs),
    ).toEqual(EXPECTED.map(({ sent_as, error_reason }) => ({ sent_as, error_reason })));
    // The misrouted copy says so in its attributes too (a replay can filter on them without reading the data).
    expect(
      fed
        .filter(({ attributes }) => attributes.tidemark_catch_all_misrouted === "1")
        .map(({ invalid, attributes }) => [invalid.attributes.sent_as, attributes.tidemark_error_field]),
    ).toEqual([["acme", CATCH_ALL_MISROUTED]]);
  }, 60_000);

  it("refuses a catch-all made for another tenant list, or a subscription without a filter, naming both filters", async () => {
    // A topology of two of the tenants: its catch-all would select initech's messages, which the provisioned one
    // (made for three) leaves to initech's worker. Provisioned by the test above, or here when it runs alone.
    await provision(pubsub.client(), { ...SHIPPED, prefix: PREFIX }, { tenantMode: "both" });
    const two = join(dir, "two-tenants.json");
    writeFileSync(two, JSON.stringify({ ...SHIPPED, tenants: ["acme", "globex"] }));
    const check = (subscription: string, topology?: string) =>
      checkCatchAllSubscription(
        pubsub.client(),
        parseJobOptions(
          [
            "--tenant-catch-all",
            `--input=pubsub://projects/${PROJECT}/subscriptions/${PREFIX}${subscription}`,
            ...(topology === undefined ? [] : [`--topology=${topology}`]),
          ],
          {},
        ).options,
      );
    await expect(check(CATCH_ALL)).resolves.toBeUndefined();
    await expect(check(CATCH_ALL, two)).rejects.toThrow(
      `--tenant-catch-all reads the subscription filtered on ${catchAllFilter(["acme", "globex"])} (the catch-all of ` +
        `the tenants of ${two}): ${sub(CATCH_ALL)} has the filter ${catchAllFilter(TENANTS)} `,
    );
    // A tenant added, the shipped list retired: the old catch-all's reader, started again with the new topology, is
    // accepted on it (and reads it for the old list), until the list is removed from the retired ones.
    const four = join(dir, "four-tenants.json");
    writeFileSync(
      four,
      JSON.stringify({ ...SHIPPED, tenants: [...TENANTS, "umbrella"], retiredTenantLists: [TENANTS] }),
    );
    await expect(check(CATCH_ALL, four)).resolves.toBeUndefined();
    const drained = join(dir, "drained.json");
    writeFileSync(drained, JSON.stringify({ ...SHIPPED, tenants: [...TENANTS, "umbrella"] }));
    await expect(check(CATCH_ALL, drained)).rejects.toThrow(
      `--tenant-catch-all reads the subscription filtered on ${catchAllFilter([...TENANTS, "umbrella"])} (the ` +
        `catch-all of the tenants of ${drained}): ${sub(CATCH_ALL)} has the filter ${catchAllFilter(TENANTS)} `,
    );
    await expect(check("medallion")).rejects.toThrow(`${sub("medallion")} has no filter (npm run provision makes`);
    await expect(check("no-such-subscription")).rejects.toThrow(
      `--tenant-catch-all: cannot read the subscription ${sub("no-such-subscription")}: 5 NOT_FOUND`,
    );
  });
});

function bySentAs(a: { sent_as?: string }, b: { sent_as?: string }): number {
  return (a.sent_as ?? "").localeCompare(b.sent_as ?? "");
}
