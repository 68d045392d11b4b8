import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { v1 } from "@google-cloud/pubsub";
import { afterAll, describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { type PubsubTopology, provision } from "../../../io/pubsub/provision.ts";
import { PubsubPublisher } from "../../../io/pubsub/pubsub-sink.ts";
import { tenantCatchAllNames } from "../../../io/pubsub/tenant-topology.ts";
import type { ShownDeadLetter } from "../../../pipelines/user-sessions/dead-letters.ts";
import { type GeneratedMessage, generateMessages } from "../../../pipelines/user-sessions/generate.ts";
import { tenantFilter } from "../../../schemas/tenant.ts";
import { useEmulator } from "../../io/pubsub/emulator-fixture.ts";
import { until } from "../../until.ts";
import { cliOnPubsub } from "./cli-on-pubsub.ts";
import { countBy, expectedField, json, tenantOfSent } from "./dead-letter-truth.ts";
import { deadLettersCli, deadLettersJson } from "./dead-letters-cli.ts";

// `npm run dead-letters` on the official Pub/Sub emulator. A worker for tenant acme (--tenant=acme) reads generated
// traffic of two tenants with known malformed payloads (the generator's ground truth): every malformed message and
// every globex message is dead-lettered, to Bronze and to the dead-letter feed. `list` counts them by field as the
// ground truth says (from the feed, twice: reading does not consume; and from Bronze), `show` gives each one's exact
// payload and attributes, `replay` republishes globex's to the input topic with the replay attributes, and a shared
// worker then reads the replays into the same warehouse: Bronze holds the original and the replay, globex's valid
// events land in Silver once each, the malformed ones are dead-lettered again for the same reason, and a second replay
// is refused (unless --force). Then Pub/Sub's own dead-letter topic (delivery attempts exceeded): binary bytes shown
// as base64 and replayed byte for byte.

const PROJECT = "tidemark-dead-letters";
const pubsub = useEmulator(PROJECT);
const dir = mkdtempSync(join(tmpdir(), "tidemark-dead-letters-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SHIPPED = JSON.parse(readFileSync("deploy/pubsub/topology.json", "utf8")) as PubsubTopology;
const GENERATED = generateMessages({
  users: 4,
  seed: 12,
  malformedRate: 0.15,
  duplicateRate: 0.05,
  tenants: ["acme", "globex"],
  startMs: Date.now() - 8 * 3_600_000,
});
/** Each message goes out with the attribute sent_as (its generated id), to find it again. */
const attributesSent = (g: GeneratedMessage) => ({ ...g.message.attributes, sent_as: g.message.messageId });
interface Listed {
  readonly total: number;
  readonly counts: readonly { readonly field: string; readonly reason: string; readonly count: number }[];
}
interface Replayed {
  readonly replayed: readonly { readonly message_id: string; readonly replay_id?: string }[];
  readonly failed: readonly unknown[];
  readonly skipped_misrouted: readonly string[];
  readonly skipped_already_replayed: readonly { readonly message_id: string; readonly replays: readonly string[] }[];
}
const byField = (l: Listed) => Object.fromEntries(l.counts.map((c) => [c.field, c.count]));
const sorted = (xs: readonly string[]) => [...xs].sort();

describe("npm run dead-letters on the Pub/Sub emulator", () => {
  it("lists, shows and replays a tenant worker's dead letters; the replays land in Bronze beside the originals", async () => {
    const ps = pubsub.client();
    const endpoint = `--pubsub-endpoint=${pubsub.emulator().endpoint}`;
    const [input] = await ps.createTopic("user-events");
    await input.createSubscription("acme-worker", { filter: tenantFilter("acme") });
    const [feed] = await ps.createTopic("invalid-events");
    await feed.createSubscription("invalid-events-repair");
    const publisher = new PubsubPublisher({ pubsub: ps, topic: "user-events" });
    const startedMs = Date.now();
    for (const g of GENERATED) await publisher.publish({ data: g.message.data, attributes: attributesSent(g) });
    await publisher.flush();

    const db = join(dir, "warehouse.duckdb");
    const run = (subscription: string, count: number, extra: readonly string[]) =>
      cliOnPubsub({
        project: PROJECT,
        subscription,
        endpoint: pubsub.emulator().endpoint,
        args: [
          `--warehouse=duckdb:${db}`,
          `--max-messages=${count}`,
          "--stop-when-idle=30",
          "--log-format=text",
          `--dead-letter-topic=pubsub://projects/${PROJECT}/topics/invalid-events`,
          ...extra,
        ],
      });
    const worker = run("acme-worker", GENERATED.length, ["--tenant=acme"]);
    expect(await worker.exit, worker.output()).toBe(0);

    const refused = GENERATED.filter((g) => expectedField(g, "acme") !== undefined);
    const expectedByField = countBy(refused.map((g) => expectedField(g, "acme") as string));
    expect(Object.keys(expectedByField).length).toBeGreaterThan(4);
    const FEED = `pubsub://projects/${PROJECT}/subscriptions/invalid-events-repair`;
    const BRONZE = `duckdb://${db}`;

    // list: the counts by field are the ground truth's, from the feed (twice: the first read consumed nothing) and
    // from Bronze.
    for (const from of [FEED, FEED, BRONZE]) {
      const listed = await deadLettersJson<Listed>(["list", `--from=${from}`, endpoint, "--by=field"]);
      expect(byField(listed), from).toEqual(expectedByField);
      expect(listed.total, from).toBe(refused.length);
    }
    // By reason class (the default), for people: globex's valid events refused by acme's worker count together.
    const globexValid = refused.filter((g) => g.origin.kind !== "malformed").length;
    const human = await deadLettersCli(["list", `--from=${FEED}`, endpoint]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`${refused.length} dead letters in ${FEED}\n`);
    expect(human.stdout).toMatch(new RegExp(`^ *${globexValid}  tenant_id +is "…", not this worker's tenant$`, "m"));
    // Filters: a tenant and a field; a time range on publish times.
    const globexTenant = await deadLettersJson<Listed>([
      "list",
      `--from=${BRONZE}`,
      "--tenant=globex",
      "--field=tenant_id",
    ]);
    expect(globexTenant.total).toBe(globexValid);
    const before = await deadLettersJson<Listed>(["list", `--from=${BRONZE}`, `--until=${startedMs - 60_000}`]);
    expect(before.total).toBe(0);
    const since = await deadLettersJson<Listed>([
      "list",
      `--from=${BRONZE}`,
      `--since=${new Date(startedMs - 60_000).toISOString()}`,
    ]);
    expect(since.total).toBe(refused.length);

    // show: every dead letter's exact payload and attributes, and its field, as sent.
    const shown = await deadLettersJson<ShownDeadLetter[]>([
      "show",
      `--from=${BRONZE}`,
      `--limit=${refused.length + 1}`,
    ]);
    const sent = new Map(GENERATED.map((g) => [g.message.messageId, g]));
    expect(sorted(shown.map((s) => s.attributes.sent_as as string))).toEqual(
      sorted(refused.map((g) => g.message.messageId)),
    );
    for (const s of shown) {
      const g = sent.get(s.attributes.sent_as as string) as GeneratedMessage;
      expect(s.payload_encoding).toBe("utf8");
      expect(s.payload).toBe(g.message.data);
      expect(s.payload_bytes).toBe(Buffer.byteLength(g.message.data, "utf8"));
      expect(s.attributes).toEqual(attributesSent(g));
      expect(s.error.field).toBe(expectedField(g, "acme"));
    }
    // By id, from the feed: the same two messages, the same bytes and attributes.
    const two = [shown[0] as ShownDeadLetter, shown[shown.length - 1] as ShownDeadLetter];
    const byId = await deadLettersJson<ShownDeadLetter[]>([
      "show",
      `--from=${FEED}`,
      endpoint,
      `--id=${two.map((s) => s.message_id).join(",")}`,
    ]);
    expect(sorted(byId.map((s) => JSON.stringify(s)))).toEqual(sorted(two.map((s) => JSON.stringify(s))));

    // replay: globex's dead letters to the input topic, read by a shared worker on a subscription made now.
    await input.createSubscription("shared");
    const globex = refused.filter((g) => tenantOfSent(g) === "globex");
    const replayArgs = [
      "replay",
      `--from=${FEED}`,
      `--to=pubsub://projects/${PROJECT}/topics/user-events`,
      endpoint,
      "--tenant=globex",
    ];
    const dry = await deadLettersJson<Replayed>([...replayArgs, "--dry-run"]);
    expect(dry.replayed.length).toBe(globex.length);
    // --keep: the replayed messages stay in the feed (without it they are acknowledged: the last test).
    const done = await deadLettersJson<Replayed>([...replayArgs, "--keep"]);
    expect(done.failed).toEqual([]);
    expect(done.replayed.length).toBe(globex.length);
    expect((await deadLettersJson<Listed>(["list", `--from=${FEED}`, endpoint])).total).toBe(refused.length);

    const shared = run("shared", globex.length, []);
    expect(await shared.exit, shared.output()).toBe(0);

    const w = await DuckDbWarehouse.create(db, { autoCreateUnder: dir });
    try {
      const rows = (await w.query(
        "SELECT message_id, attributes, payload, valid, error_field, error_reason FROM bronze_messages",
      )) as {
        message_id: string;
        attributes: Record<string, string>;
        payload: string;
        valid: boolean;
        error_field: string | null;
        error_reason: string | null;
      }[];
      const replays = rows.filter((r) => r.attributes.tidemark_replay_of !== undefined);
      const originals = new Map(
        rows.filter((r) => r.attributes.tidemark_replay_of === undefined).map((r) => [r.message_id, r]),
      );
      expect(originals.size).toBe(GENERATED.length);
      expect(replays.length).toBe(globex.length);
      expect(sorted(replays.map((r) => r.message_id))).toEqual(sorted(done.replayed.map((r) => r.replay_id as string)));
      for (const r of replays) {
        const { tidemark_replay_of: of, tidemark_replayed_at: at, ...attributes } = r.attributes;
        const original = originals.get(of as string);
        expect(original?.valid, `the original of ${r.message_id}`).toBe(false);
        expect(r.payload).toBe(original?.payload);
        expect(attributes).toEqual(original?.attributes);
        expect(Number.isFinite(Date.parse(at as string))).toBe(true);
        const g = sent.get(attributes.sent_as as string) as GeneratedMessage;
        if (g.origin.kind === "malformed") {
          // Still malformed: dead-lettered again, for the same reason.
          expect([r.valid, r.error_field, r.error_reason]).toEqual([
            false,
            original?.error_field,
            original?.error_reason,
          ]);
        } else {
          expect(r.valid).toBe(true);
        }
      }
      // Silver: globex's events once each (duplicates de-duplicated), all from the replays; acme's as before.
      const silver = (await w.query("SELECT tenant_id, event_id, message_id FROM silver_events")) as {
        tenant_id: string;
        event_id: string;
        message_id: string;
      }[];
      const events = (tenant: string) =>
        sorted([
          ...new Set(
            GENERATED.filter((g) => g.origin.kind !== "malformed" && json(g).tenant_id === tenant).map(
              (g) => json(g).event_id as string,
            ),
          ),
        ]);
      expect(sorted(silver.filter((s) => s.tenant_id === "globex").map((s) => s.event_id))).toEqual(events("globex"));
      expect(sorted(silver.filter((s) => s.tenant_id === "acme").map((s) => s.event_id))).toEqual(events("acme"));
      const replayIds = new Set(replays.map((r) => r.message_id));
      expect(silver.filter((s) => s.tenant_id === "globex" && !replayIds.has(s.message_id))).toEqual([]);
    } finally {
      await w.close();
    }

    // The malformed replays are in the feed again, carrying the replay attribute.
    const globexMalformed = globex.filter((g) => g.origin.kind === "malformed");
    const again = await deadLettersJson<ShownDeadLetter[]>([
      "show",
      `--from=${FEED}`,
      endpoint,
      "--tenant=globex",
      "--limit=1000",
    ]);
    expect(again.length).toBe(globex.length + globexMalformed.length);
    expect(again.filter((s) => s.attributes.tidemark_replay_of !== undefined).length).toBe(globexMalformed.length);

    // Replayed from the feed again, checked against Bronze (--bronze): the originals, which Bronze has a replay of,
    // are refused; the malformed replays' dead letters (not replayed themselves) would go.
    const fromFeed = await deadLettersJson<Replayed>([...replayArgs, `--bronze=duckdb://${db}`, "--dry-run"]);
    expect(sorted(fromFeed.skipped_already_replayed.map((s) => s.message_id))).toEqual(
      sorted(done.replayed.map((r) => r.message_id)),
    );
    expect(sorted(fromFeed.replayed.map((r) => r.message_id))).toEqual(
      sorted(again.filter((s) => s.attributes.tidemark_replay_of !== undefined).map((s) => s.message_id)),
    );
    // --ack consumes what list selected (globex's), and only that.
    await deadLettersJson<Listed>(["list", `--from=${FEED}`, endpoint, "--tenant=globex", "--ack"]);
    const left = await deadLettersJson<Listed>(["list", `--from=${FEED}`, endpoint, "--by=field"]);
    expect(left.total).toBe(refused.length - globex.length);

    // A second replay from Bronze is refused for each message Bronze has a replay of; the malformed replays (not
    // replayed themselves) would go; --force takes all.
    const bronzeReplay = [
      "replay",
      `--from=${BRONZE}`,
      `--to=pubsub://projects/${PROJECT}/topics/user-events`,
      endpoint,
      "--tenant=globex",
      "--dry-run",
    ];
    const refusedAgain = await deadLettersJson<Replayed>(bronzeReplay);
    const originalIds = sorted(done.replayed.map((r) => r.message_id));
    expect(sorted(refusedAgain.skipped_already_replayed.map((s) => s.message_id))).toEqual(originalIds);
    expect(refusedAgain.replayed.length).toBe(globexMalformed.length);
    const forced = await deadLettersJson<Replayed>([...bronzeReplay, "--force"]);
    expect(forced.skipped_already_replayed).toEqual([]);
    expect(forced.replayed.length).toBe(globex.length + globexMalformed.length);
    const said = await deadLettersCli(bronzeReplay);
    expect(said.stdout).toContain(
      `skipped ${globex.length} already replayed (Bronze has their replay; --force replays again)`,
    );
  }, 240_000);

  it("never replays the catch-all reader's misrouted copy of a message its tenant's worker takes, and says so", async () => {
    // The shipped topology provisioned as npm run provision does, its catch-all read with --tenant-catch-all: acme's
    // message reaches it here (the emulator applies no filter) and is marked; umbrella's (no worker) is not.
    await provision(pubsub.client(), { ...SHIPPED, prefix: "dl-" }, { tenantMode: "both" });
    const endpoint = `--pubsub-endpoint=${pubsub.emulator().endpoint}`;
    const db = join(dir, "catch-all.duckdb");
    const reader = cliOnPubsub({
      project: PROJECT,
      subscription: `dl-${tenantCatchAllNames("user-events", SHIPPED.tenants ?? []).subscription}`,
      endpoint: pubsub.emulator().endpoint,
      args: [
        "--tenant-catch-all",
        `--warehouse=duckdb:${db}`,
        "--max-messages=2",
        "--stop-when-idle=30",
        "--log-format=text",
        `--dead-letter-topic=pubsub://projects/${PROJECT}/topics/dl-invalid-events`,
      ],
    });
    const publisher = new PubsubPublisher({ pubsub: pubsub.client(), topic: "dl-user-events" });
    for (const tenant of ["acme", "umbrella"]) {
      const payload = { event_id: `${tenant}-1`, event_type: "page_view", user_id: "u1", tenant_id: tenant };
      const event = { ...payload, event_time: new Date().toISOString(), platform: "web", schema_version: 1 };
      await publisher.publish({ data: JSON.stringify(event), attributes: { tenant_id: tenant } });
    }
    await publisher.flush();
    expect(await reader.exit, reader.output()).toBe(0);

    const to = `--to=pubsub://projects/${PROJECT}/topics/dl-user-events`;
    for (const from of [`pubsub://projects/${PROJECT}/subscriptions/dl-invalid-events-repair`, `duckdb://${db}`]) {
      const shown = await deadLettersJson<ShownDeadLetter[]>(["show", `--from=${from}`, endpoint]);
      const idOf = (tenant: string) => shown.find((s) => s.tenant === tenant)?.message_id as string;
      expect(shown.map((s) => [s.tenant, s.misrouted]).sort()).toEqual([
        ["acme", true],
        ["umbrella", false],
      ]);
      const plan = await deadLettersJson<Replayed>(["replay", `--from=${from}`, to, endpoint, "--all", "--dry-run"]);
      expect([plan.replayed.map((r) => r.message_id), plan.skipped_misrouted], from).toEqual([
        [idOf("umbrella")],
        [idOf("acme")],
      ]);
      const said = await deadLettersCli(["replay", `--from=${from}`, to, endpoint, "--all", "--dry-run"]);
      expect(said.stdout).toContain(
        `skipped 1 copies marked tidemark_catch_all_misrouted (their tenant's worker has the message): ${idOf("acme")}`,
      );
    }
  }, 120_000);

  it("a message in the feed twice, as the catch-all's misrouted copy and as its tenant's worker's dead letter, is the worker's", async () => {
    // Both readers publish to the one feed (the catch-all's subscription still delivers a tenant's messages when the
    // tenant's worker was added after it: a filter cannot be changed): the same original message, refused by its
    // worker (malformed) and marked misrouted by the catch-all. The copy pulled first must not hide the dead letter.
    const ps = pubsub.client();
    const endpoint = `--pubsub-endpoint=${pubsub.emulator().endpoint}`;
    const [feed] = await ps.createTopic("two-copies-invalid-events");
    await feed.createSubscription("two-copies-repair");
    const [retry] = await ps.createTopic("two-copies-user-events");
    await retry.createSubscription("two-copies-check");
    const original = {
      message_id: "4242",
      publish_time: Date.now() - 60_000,
      attributes: { tenant_id: "acme" },
      data: '{"event_id":"e-1","tenant_id":"acme"',
    };
    const copies = [
      {
        error: { field: "tidemark_catch_all_misrouted", reason: 'is "acme", a tenant with its own worker' },
        misrouted: true,
      },
      { error: { field: "payload", reason: "is not JSON: Unexpected end of JSON input" }, misrouted: false },
    ];
    for (const c of copies) {
      await feed.publishMessage({
        data: Buffer.from(JSON.stringify({ ...original, error: c.error })),
        attributes: {
          tidemark_message_id: original.message_id,
          tidemark_error_field: c.error.field,
          ...(c.misrouted ? { tidemark_catch_all_misrouted: "1" } : {}),
        },
      });
    }
    const FROM = `--from=pubsub://projects/${PROJECT}/subscriptions/two-copies-repair`;
    const shown = await deadLettersJson<ShownDeadLetter[]>(["show", FROM, endpoint]);
    expect(shown.map((s) => [s.message_id, s.error.field, s.misrouted])).toEqual([["4242", "payload", false]]);
    const to = `--to=pubsub://projects/${PROJECT}/topics/two-copies-user-events`;
    const plan = await deadLettersJson<Replayed>(["replay", FROM, to, endpoint, "--all", "--dry-run"]);
    expect([plan.replayed.map((r) => r.message_id), plan.skipped_misrouted]).toEqual([["4242"], []]);
    const done = await deadLettersJson<Replayed>(["replay", FROM, to, endpoint, "--all"]);
    expect(done.replayed.map((r) => r.message_id)).toEqual(["4242"]);
    // Replayed once, and both copies acknowledged.
    const sub = new v1.SubscriberClient(ps.options as ConstructorParameters<typeof v1.SubscriberClient>[0]);
    const [r] = await sub.pull(
      { subscription: `projects/${PROJECT}/subscriptions/two-copies-check`, maxMessages: 10 },
      { timeout: 10_000 },
    );
    expect((r.receivedMessages ?? []).map((m) => Buffer.from(m.message?.data as Uint8Array).toString())).toEqual([
      original.data,
    ]);
    await sub.close();
    expect((await deadLettersJson<Listed>(["list", FROM, endpoint])).total).toBe(0);
  }, 120_000);

  it("a feed message it cannot read ends the read naming it, and every message pulled is given back at once", async () => {
    const ps = pubsub.client();
    const endpoint = `--pubsub-endpoint=${pubsub.emulator().endpoint}`;
    const [feed] = await ps.createTopic("unreadable-invalid-events");
    await feed.createSubscription("unreadable-repair");
    // First a message with the feed's attribute whose data is not a dead letter, then two that are: one Pull.
    const ids = [
      await feed.publishMessage({ data: Buffer.from("not json"), attributes: { tidemark_message_id: "1" } }),
    ];
    for (const id of ["2", "3"]) {
      const invalid = {
        message_id: id,
        publish_time: 1_000,
        attributes: {},
        data: "x",
        error: { field: "payload", reason: "r" },
      };
      ids.push(
        await feed.publishMessage({
          data: Buffer.from(JSON.stringify(invalid)),
          attributes: { tidemark_message_id: id },
        }),
      );
    }
    const FROM = `--from=pubsub://projects/${PROJECT}/subscriptions/unreadable-repair`;
    const run = await deadLettersCli(["show", FROM, endpoint, "--lease-seconds=600"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `error: pubsub://projects/${PROJECT}/subscriptions/unreadable-repair: message ${ids[0]} has the attribute tidemark_message_id but its data is not JSON`,
    );
    // Nothing is left held under the read's lease (600 s): all three are delivered again at once.
    const sub = new v1.SubscriberClient(ps.options as ConstructorParameters<typeof v1.SubscriberClient>[0]);
    const back = new Set<string>();
    await until(
      "the three messages delivered again",
      async () => {
        // An idle Pull ends in DEADLINE_EXCEEDED: nothing this time.
        const got = await sub
          .pull(
            { subscription: `projects/${PROJECT}/subscriptions/unreadable-repair`, maxMessages: 10 },
            { timeout: 3_000, retry: null },
          )
          .then(
            ([r]) => r.receivedMessages ?? [],
            () => [],
          );
        for (const m of got) back.add(String(m.message?.messageId));
        return back.size === 3;
      },
      { timeoutMs: 30_000, state: () => JSON.stringify([...back]) },
    );
    await sub.close();
  }, 120_000);

  it("reads a subscription's dead-letter topic: binary bytes shown as base64 and replayed byte for byte", async () => {
    const ps = pubsub.client();
    const endpoint = `--pubsub-endpoint=${pubsub.emulator().endpoint}`;
    const [dead] = await ps.createTopic("orders-dead-letter");
    await dead.createSubscription("orders-dead-letter-inspect");
    const [orders] = await ps.createTopic("orders");
    await orders.createSubscription("orders-worker", {
      deadLetterPolicy: { deadLetterTopic: dead.name, maxDeliveryAttempts: 5 },
    });
    const [retry] = await ps.createTopic("orders-retry");
    await retry.createSubscription("orders-retry-check");
    const binary = Buffer.from([0xff, 0x00, 0xc3, 0x28, 0x0a, 0x80, 0x7f]);
    const text = Buffer.from('{"event_id":"é-1"}', "utf8");
    await orders.publishMessage({ data: binary, attributes: { tenant_id: "acme", kind: "binary" } });
    await orders.publishMessage({ data: text, attributes: { tenant_id: "acme", kind: "text" } });

    // A consumer that never acknowledges: each message goes to the dead-letter topic after its 5th delivery.
    const sub = new v1.SubscriberClient(ps.options as ConstructorParameters<typeof v1.SubscriberClient>[0]);
    const worker = `projects/${PROJECT}/subscriptions/orders-worker`;
    const attempts = new Map<string, number>();
    await until(
      "both messages delivered 5 times, then none",
      async () => {
        const [r] = await sub
          .pull({ subscription: worker, maxMessages: 10 }, { timeout: 3_000, retry: null })
          .catch(() => [{ receivedMessages: [] }]);
        const got = r.receivedMessages ?? [];
        for (const m of got) attempts.set(String(m.message?.messageId), m.deliveryAttempt ?? 0);
        if (got.length > 0) {
          await sub.modifyAckDeadline({
            subscription: worker,
            ackIds: got.map((m) => m.ackId as string),
            ackDeadlineSeconds: 0,
          });
        }
        // The emulator moves a message to the dead-letter topic when it would deliver it a 6th time.
        return got.length === 0 && attempts.size === 2 && [...attempts.values()].every((n) => n >= 5);
      },
      { timeoutMs: 60_000, state: () => JSON.stringify([...attempts]) },
    );

    const FROM = `--from=pubsub://projects/${PROJECT}/subscriptions/orders-dead-letter-inspect`;
    let shown: ShownDeadLetter[] = [];
    await until(
      "both in the dead-letter topic",
      async () => {
        shown = await deadLettersJson<ShownDeadLetter[]>(["show", FROM, endpoint]);
        return shown.length === 2;
      },
      { timeoutMs: 60_000, state: () => JSON.stringify(shown) },
    );
    const b = shown.find((s) => s.attributes.kind === "binary") as ShownDeadLetter;
    const t = shown.find((s) => s.attributes.kind === "text") as ShownDeadLetter;
    expect([b.payload_encoding, Buffer.from(b.payload, "base64").equals(binary), b.payload_bytes]).toEqual([
      "base64",
      true,
      binary.length,
    ]);
    expect([t.payload_encoding, t.payload]).toEqual(["utf8", text.toString("utf8")]);
    // Pub/Sub's own attributes (the source subscription, the attempts) are not the message's: left out.
    expect(b.attributes).toEqual({ tenant_id: "acme", kind: "binary" });
    expect(b.error).toEqual({
      field: "delivery",
      reason: "not acknowledged within the maximum delivery attempts (5) of orders-worker",
    });

    const replayed = await deadLettersJson<Replayed>([
      "replay",
      FROM,
      endpoint,
      `--to=pubsub://projects/${PROJECT}/topics/orders-retry`,
      "--all",
    ]);
    expect(replayed.replayed.length).toBe(2);
    const [r] = await sub.pull(
      { subscription: `projects/${PROJECT}/subscriptions/orders-retry-check`, maxMessages: 10 },
      { timeout: 10_000 },
    );
    const got = (r.receivedMessages ?? []).map((m) => m.message ?? {});
    expect(got.length).toBe(2);
    for (const m of got) {
      const attributes = m.attributes ?? {};
      const original = attributes.kind === "binary" ? b : t;
      expect(Buffer.from(m.data as Uint8Array).equals(attributes.kind === "binary" ? binary : text)).toBe(true);
      const { tidemark_replay_of: of, tidemark_replayed_at: _at, ...rest } = attributes;
      expect([of, rest]).toEqual([original.message_id, original.attributes]);
    }
    // Replayed: acknowledged, the dead-letter subscription is empty.
    expect((await deadLettersJson<Listed>(["list", FROM, endpoint])).total).toBe(0);
    await sub.close();
  }, 180_000);
});
