import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { type PubsubTopology, provision } from "../../../io/pubsub/provision.ts";
import { PubsubPublisher } from "../../../io/pubsub/pubsub-sink.ts";
import { pubsubSource } from "../../../io/pubsub/pubsub-source.ts";
import { tenantCatchAllNames } from "../../../io/pubsub/tenant-topology.ts";
import type { InvalidMessage } from "../../../pipelines/user-sessions/insights-feed.ts";
import { parseJobOptions } from "../../../pipelines/user-sessions/job-options.ts";
import { runMedallion } from "../../../pipelines/user-sessions/run.ts";
import { checkTenantSubscription } from "../../../pipelines/user-sessions/tenant-options.ts";
import { stepMetrics } from "../../../runners/direct/metrics.ts";
import { CATCH_ALL_MISROUTED } from "../../../schemas/tenant.ts";
import { readMessages, useEmulator } from "../../io/pubsub/emulator-fixture.ts";
import { type CliRun, cliOnPubsub } from "./cli-on-pubsub.ts";

// Tenant isolation on the official Pub/Sub emulator, through the command line: the shipped topology's per-tenant
// worker subscriptions (deploy/pubsub/topology.json, provisioned as `npm run provision` does), workers with
// --tenant on them, and the shared worker on the unfiltered subscription. The emulator stores a subscription's
// filter but does not apply it (measured below: a tenant's worker receives every tenant's messages), so what keeps
// tenants apart here is the worker's own check; on Google Cloud the filter holds too. The catch-all subscription
// (what no tenant's filter selects) read by the medallion in its catch-all mode: each message it takes lands in
// Bronze and the dead letters, with its tenant problem.

const PROJECT = "tidemark-tenants";
const PREFIX = "tenants-";
const pubsub = useEmulator(PROJECT);
const dir = mkdtempSync(join(tmpdir(), "tidemark-tenants-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Event times just before now: nothing is behind the wall-clock watermark, so every session reaches Gold. */
const T0 = Date.now() - 10 * 60_000;

interface Sent {
  readonly id: string;
  readonly tenant: string;
  /** The tenant_id attribute; absent: none. */
  readonly attribute?: string;
  readonly user: string;
  readonly atMs: number;
}

const SENT: readonly Sent[] = [
  { id: "shared-1", tenant: "acme", attribute: "acme", user: "u1", atMs: 0 },
  { id: "a-2", tenant: "acme", attribute: "acme", user: "u1", atMs: 60_000 },
  // globex uses the same event id and the same user id as acme: another event, another user.
  { id: "shared-1", tenant: "globex", attribute: "globex", user: "u1", atMs: 30_000 },
  { id: "g-2", tenant: "globex", attribute: "globex", user: "u2", atMs: 120_000 },
  // Forged: the attribute names one tenant, the payload another (each way round).
  { id: "forged-1", tenant: "globex", attribute: "acme", user: "u1", atMs: 180_000 },
  { id: "forged-2", tenant: "acme", attribute: "globex", user: "u1", atMs: 200_000 },
  // No attribute: a filtered subscription would not deliver it; the shared worker takes it.
  { id: "plain-1", tenant: "acme", user: "u1", atMs: 240_000 },
];

const MISMATCH = (attribute: string, payload: string) => ({
  error_field: "attributes.tenant_id",
  error_reason: `is "${attribute}" but the payload's tenant_id is "${payload}": written under neither tenant`,
});
const OTHER_TENANT = (tenant: string, worker: string) => ({
  error_field: "tenant_id",
  error_reason: `is "${tenant}", not this worker's tenant (--tenant=${worker})`,
});

async function publishAll(): Promise<void> {
  const publisher = new PubsubPublisher({ pubsub: pubsub.client(), topic: `${PREFIX}user-events` });
  for (const s of SENT) {
    const payload = {
      event_id: s.id,
      event_type: "page_view",
      user_id: s.user,
      tenant_id: s.tenant,
      event_time: new Date(T0 + s.atMs).toISOString(),
      platform: "web",
      schema_version: 1,
      page: "/",
    };
    publisher.publish({
      data: JSON.stringify(payload),
      attributes: { ...(s.attribute === undefined ? {} : { tenant_id: s.attribute }), sent_as: `${s.tenant}/${s.id}` },
    });
  }
  await publisher.flush();
}

/** The command line on `subscription` until it has read every message sent (or, failing that, 30 s idle). */
function worker(subscription: string, db: string, extra: readonly string[] = []): CliRun {
  return cliOnPubsub({
    project: PROJECT,
    subscription: `${PREFIX}${subscription}`,
    endpoint: pubsub.emulator().endpoint,
    args: [`--warehouse=duckdb:${db}`, `--max-messages=${SENT.length}`, "--stop-when-idle=30", ...extra],
  });
}

async function tablesOf(db: string) {
  const w = await DuckDbWarehouse.create(db, { autoCreateUnder: dir });
  try {
    return {
      bronze: await w.query(
        "SELECT attributes->>'$.sent_as' AS sent_as, valid, error_field, error_reason FROM bronze_messages ORDER BY 1",
      ),
      silver: await w.query("SELECT tenant_id, event_id, user_id FROM silver_events ORDER BY ALL"),
      gold: await w.query("SELECT tenant_id, user_id, event_count::INT AS events FROM gold_sessions ORDER BY ALL"),
    };
  } finally {
    await w.close();
  }
}

async function ended(run: CliRun, db: string) {
  const code = await run.exit;
  expect(code, run.output()).toBe(0);
  return tablesOf(db);
}

const valid = (sent_as: string) => ({ sent_as, valid: true, error_field: null, error_reason: null });
const refused = (sent_as: string, e: { error_field: string; error_reason: string }) => ({
  sent_as,
  valid: false,
  ...e,
});

describe("tenant isolation on the Pub/Sub emulator", () => {
  it("tenants' workers on their filtered subscriptions, and the shared worker, each keep what is theirs", async () => {
    const topology = JSON.parse(readFileSync("deploy/pubsub/topology.json", "utf8")) as PubsubTopology;
    expect(topology.tenants).toEqual(["acme", "globex", "initech"]);
    await provision(pubsub.client(), { ...topology, prefix: PREFIX }, { tenantMode: "both" });
    const [meta] = await pubsub.client().subscription(`${PREFIX}user-events-acme-worker`).getMetadata();
    expect(meta.filter).toBe('attributes.tenant_id = "acme"');
    await publishAll();

    const db = (name: string) => join(dir, `${name}.duckdb`);
    const [acme, globex, shared] = await Promise.all([
      ended(worker("user-events-acme-worker", db("acme"), ["--tenant=acme"]), db("acme")),
      ended(worker("user-events-globex-worker", db("globex"), ["--tenant=globex"]), db("globex")),
      ended(worker("medallion", db("shared")), db("shared")),
    ]);

    // Measured: the emulator delivered every message to acme's subscription, though its filter selects acme's only
    // (it stores filters and does not apply them). Google Cloud would have delivered three (acme's two, and the
    // message forged with acme's attribute); here all seven came, and the worker's own check refused four.
    expect(acme.bronze.map((r) => r.sent_as)).toHaveLength(SENT.length);
    expect(acme.bronze).toEqual([
      valid("acme/a-2"),
      refused("acme/forged-2", MISMATCH("globex", "acme")),
      refused("acme/plain-1", {
        error_field: "attributes.tenant_id",
        error_reason:
          "is missing: this worker (--tenant=acme) takes only the messages its subscription's filter selects " +
          '(attributes.tenant_id = "acme")',
      }),
      valid("acme/shared-1"),
      refused("globex/forged-1", MISMATCH("acme", "globex")),
      refused("globex/g-2", OTHER_TENANT("globex", "acme")),
      refused("globex/shared-1", OTHER_TENANT("globex", "acme")),
    ]);
    expect(acme.silver).toEqual([
      { tenant_id: "acme", event_id: "a-2", user_id: "u1" },
      { tenant_id: "acme", event_id: "shared-1", user_id: "u1" },
    ]);
    expect(acme.gold).toEqual([{ tenant_id: "acme", user_id: "u1", events: 2 }]);

    expect(globex.bronze.filter((r) => r.valid).map((r) => r.sent_as)).toEqual(["globex/g-2", "globex/shared-1"]);
    expect(globex.bronze.find((r) => r.sent_as === "acme/shared-1")).toEqual(
      refused("acme/shared-1", OTHER_TENANT("acme", "globex")),
    );
    expect(globex.silver).toEqual([
      { tenant_id: "globex", event_id: "g-2", user_id: "u2" },
      { tenant_id: "globex", event_id: "shared-1", user_id: "u1" },
    ]);
    expect(globex.gold).toEqual([
      { tenant_id: "globex", user_id: "u1", events: 1 },
      { tenant_id: "globex", user_id: "u2", events: 1 },
    ]);

    // The shared worker: both tenants' "shared-1" are kept (Silver de-duplicates on tenant and event id), acme's u1
    // and globex's u1 are two users in Gold, and the forged messages are written under neither tenant.
    expect(shared.silver).toEqual([
      { tenant_id: "acme", event_id: "a-2", user_id: "u1" },
      { tenant_id: "acme", event_id: "plain-1", user_id: "u1" },
      { tenant_id: "acme", event_id: "shared-1", user_id: "u1" },
      { tenant_id: "globex", event_id: "g-2", user_id: "u2" },
      { tenant_id: "globex", event_id: "shared-1", user_id: "u1" },
    ]);
    expect(shared.gold).toEqual([
      { tenant_id: "acme", user_id: "u1", events: 3 },
      { tenant_id: "globex", user_id: "u1", events: 1 },
      { tenant_id: "globex", user_id: "u2", events: 1 },
    ]);
    expect(shared.bronze.filter((r) => !r.valid)).toEqual([
      refused("acme/forged-2", MISMATCH("globex", "acme")),
      refused("globex/forged-1", MISMATCH("acme", "globex")),
    ]);
  }, 180_000);

  it("--tenant refuses a subscription without its tenant's filter, naming it and the filter it has", async () => {
    const check = (tenant: string, subscription: string) =>
      checkTenantSubscription(
        pubsub.client(),
        parseJobOptions(
          [`--tenant=${tenant}`, `--input=pubsub://projects/${PROJECT}/subscriptions/${subscription}`],
          {},
        ).options,
      );
    const name = (s: string) => `projects/${PROJECT}/subscriptions/${s}`;
    await expect(check("acme", `${PREFIX}user-events-acme-worker`)).resolves.toBeUndefined();
    await expect(check("globex", `${PREFIX}user-events-acme-worker`)).rejects.toThrow(
      `--tenant=globex reads a subscription filtered on attributes.tenant_id = "globex": ` +
        `${name(`${PREFIX}user-events-acme-worker`)} has the filter attributes.tenant_id = "acme" (npm run provision ` +
        "makes one per tenant of the topology)",
    );
    await expect(check("acme", `${PREFIX}no-such-subscription`)).rejects.toThrow(
      `--tenant=acme: cannot read the subscription ${name(`${PREFIX}no-such-subscription`)}: 5 NOT_FOUND`,
    );
    // The command line stops there, before it opens the warehouse or reads a message.
    const db = join(dir, "refused.duckdb");
    const run = worker("medallion", db, ["--tenant=acme", "--log-format=text"]);
    expect(await run.exit, run.output()).toBe(1);
    expect(run.output()).toContain(
      `error: --tenant=acme reads a subscription filtered on attributes.tenant_id = "acme": ${name(`${PREFIX}medallion`)} ` +
        "has no filter (npm run provision makes one per tenant of the topology)",
    );
    expect(existsSync(db)).toBe(false);
  }, 120_000);
});

describe("the catch-all on the Pub/Sub emulator", () => {
  it("its reader keeps each message no tenant's worker takes in Bronze and the dead-letter feed, with the reason", async () => {
    const prefix = "catch-";
    const topology = JSON.parse(readFileSync("deploy/pubsub/topology.json", "utf8")) as PubsubTopology;
    const tenants = topology.tenants ?? [];
    await provision(pubsub.client(), { ...topology, prefix }, { tenantMode: "per_tenant" });
    const catchAll = tenantCatchAllNames("user-events", tenants).subscription;
    const [meta] = await pubsub.client().subscription(`${prefix}${catchAll}`).getMetadata();
    expect(meta.filter).toBe(
      "NOT attributes:tenant_id OR NOT (" +
        'attributes.tenant_id = "acme" OR attributes.tenant_id = "globex" OR attributes.tenant_id = "initech")',
    );
    const payload = (tenant: string, id: string) =>
      JSON.stringify({
        event_id: id,
        event_type: "page_view",
        user_id: "u1",
        tenant_id: tenant,
        event_time: new Date(T0).toISOString(),
        platform: "web",
        schema_version: 1,
        page: "/",
      });
    const sent: { as: string; data: string; tenant?: string }[] = [
      { as: "no-attribute", data: payload("acme", "n-1") },
      { as: "unknown", data: payload("umbrella", "u-1"), tenant: "umbrella" },
      { as: "malformed", data: payload("acme", "m-1"), tenant: "acme corp" },
      { as: "not-json", data: "{oops" },
      // Selected by acme's worker, not the catch-all; the emulator delivers it here too (it applies no filter).
      { as: "acme", data: payload("acme", "a-1"), tenant: "acme" },
    ];
    const publisher = new PubsubPublisher({ pubsub: pubsub.client(), topic: `${prefix}user-events` });
    for (const m of sent) {
      publisher.publish({ data: m.data, attributes: { sent_as: m.as, ...(m.tenant ? { tenant_id: m.tenant } : {}) } });
    }
    await publisher.flush();

    const drain = new AbortController();
    const source = pubsubSource({
      pubsub: pubsub.client(),
      subscription: `${prefix}${catchAll}`,
      signal: drain.signal,
      heartbeatMs: 50,
    });
    const w = await DuckDbWarehouse.create(":memory:");
    await w.open();
    const run = await runMedallion(
      source,
      w,
      {
        catchAllTenants: tenants,
        feeds: {
          deadLetters: {
            topic: `projects/${PROJECT}/topics/${prefix}invalid-events`,
            publisher: () => new PubsubPublisher({ pubsub: pubsub.client(), topic: `${prefix}invalid-events` }),
          },
        },
      },
      {
        onStep: (running) => {
          if (stepMetrics(running.metrics(), "Read").elementsOut >= sent.length) drain.abort();
        },
      },
    );
    expect(run.written.acknowledged).toBe(sent.length);
    const noWorker = `no tenant's worker takes the message (tenants: ${tenants.join(", ")})`;
    const bronze = await w.query(
      "SELECT attributes->>'$.sent_as' AS sent_as, valid, error_field, error_reason FROM bronze_messages ORDER BY 1",
    );
    expect(bronze).toEqual([
      refused("acme", {
        error_field: CATCH_ALL_MISROUTED,
        error_reason:
          "is \"acme\": tenant acme's worker takes the message, not the catch-all's reader (whose filter leaves it " +
          "out where Pub/Sub applies filters)",
      }),
      refused("malformed", {
        error_field: "attributes.tenant_id",
        error_reason:
          "must be 1 to 63 letters, digits, '_', '-' or '.', starting with a letter or a digit, got \"acme corp\": " +
          noWorker,
      }),
      refused("no-attribute", { error_field: "attributes.tenant_id", error_reason: `is missing: ${noWorker}` }),
      expect.objectContaining({ sent_as: "not-json", valid: false, error_field: "payload" }),
      refused("unknown", {
        error_field: "attributes.tenant_id",
        error_reason: `is "umbrella", not one of the tenants: ${noWorker}`,
      }),
    ]);
    const counts = await w.counts();
    expect([counts.silver_events, counts.gold_sessions]).toEqual([0, 0]);
    await w.close();
    // The dead-letter feed (invalid-events): each message, with the same reason, for whoever repairs them.
    const feed = await readMessages(pubsub.client(), `${prefix}invalid-events-repair`, sent.length);
    const fed = feed.map((m) => JSON.parse(m.data) as InvalidMessage);
    const reasonOf = new Map(bronze.map((r) => [r.sent_as as string, r.error_reason]));
    expect(fed.map((m) => [m.attributes.sent_as, m.error.reason]).sort()).toEqual([...reasonOf.entries()].sort());
  }, 120_000);
});
