import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { PubsubPublisher } from "../../../io/pubsub/pubsub-sink.ts";
import { generateMessages } from "../../../pipelines/user-sessions/generate.ts";
import type { InvalidMessage } from "../../../pipelines/user-sessions/insights-feed.ts";
import { parseEvent } from "../../../schemas/event.ts";
import { payloadInFormat } from "../../../schemas/parsers/event-protobuf.ts";
import { payloadBytes } from "../../../schemas/payload.ts";
import { readMessages, useEmulator } from "../../io/pubsub/emulator-fixture.ts";
import { type CliRun, cliOnPubsub } from "./cli-on-pubsub.ts";

// Payloads as bytes and protobuf events, through the command line on the official Pub/Sub emulator: the generator's
// events published once as JSON and once as protobuf (tidemark.events.v1.UserEvent, --parsers=deploy/parsers/
// protobuf.json) give the same Silver; a payload that is not UTF-8 keeps its exact bytes in Bronze and in the
// dead-letter feed; a malformed protobuf message is dead-lettered with the decoder's reason.

const PROJECT = "tidemark-parsers";
const pubsub = useEmulator(PROJECT);
const dir = mkdtempSync(join(tmpdir(), "tidemark-parsers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Not UTF-8: a lone continuation byte, a truncated sequence, NUL and 0xff. */
const BINARY = Buffer.from([0x7b, 0x80, 0x00, 0xff, 0xe2, 0x82, 0x7d, 0x0a]);
/** A UserEvent cut short: field 1 says 36 bytes follow, 2 do. */
const TRUNCATED = Buffer.from([0x0a, 0x24, 0x61, 0x62]);

function run(subscription: string, db: string, count: number, extra: readonly string[]): CliRun {
  return cliOnPubsub({
    project: PROJECT,
    subscription,
    endpoint: pubsub.emulator().endpoint,
    args: [`--warehouse=duckdb:${db}`, `--max-messages=${count}`, "--stop-when-idle=30", ...extra],
  });
}

async function tables(db: string) {
  const w = await DuckDbWarehouse.create(db, { autoCreateUnder: dir });
  try {
    return {
      silver: await w.query(
        "SELECT * EXCLUDE (ingest_time, lateness_ms, is_late, message_id) FROM silver_events ORDER BY tenant_id, event_id",
      ),
      bronze: await w.query(
        "SELECT attributes->>'$.sent_as' AS sent_as, payload, payload_encoding, valid, error_field, error_reason " +
          "FROM bronze_messages ORDER BY 1",
      ),
    };
  } finally {
    await w.close();
  }
}

describe("parsers on the Pub/Sub emulator", () => {
  it("protobuf payloads give the Silver of the same events sent as JSON; binary payloads keep their bytes", async () => {
    const ps = pubsub.client();
    const [jsonTopic] = await ps.createTopic("events-json");
    await jsonTopic.createSubscription("events-json-medallion");
    const [protoTopic] = await ps.createTopic("events-proto");
    await protoTopic.createSubscription("events-proto-medallion");
    const [feed] = await ps.createTopic("invalid-events");
    await feed.createSubscription("invalid-events-repair");

    // The generator's events (valid and malformed ones, duplicates), each published once as JSON, once as protobuf.
    const generated = generateMessages({ users: 5, seed: 23, startMs: Date.now() - 3 * 3_600_000 });
    const sent = new Map<string, Buffer>();
    const json = new PubsubPublisher({ pubsub: ps, topic: "events-json" });
    const proto = new PubsubPublisher({ pubsub: ps, topic: "events-proto" });
    for (const [i, { message }] of generated.entries()) {
      const attributes = { ...message.attributes, sent_as: `m${String(i).padStart(4, "0")}` };
      const bytes = payloadBytes(payloadInFormat(message.data, "protobuf"));
      sent.set(attributes.sent_as, bytes);
      json.publish({ data: message.data, attributes });
      proto.publish({ data: bytes, attributes });
    }
    json.publish({ data: BINARY, attributes: { sent_as: "binary" } });
    proto.publish({ data: TRUNCATED, attributes: { sent_as: "truncated", schema_version: "1" } });
    await Promise.all([json.flush(), proto.flush()]);
    const n = generated.length + 1;

    const jsonDb = join(dir, "json.duckdb");
    const protoDb = join(dir, "proto.duckdb");
    const runs = [
      run("events-json-medallion", jsonDb, n, [
        `--dead-letter-topic=pubsub://projects/${PROJECT}/topics/invalid-events`,
      ]),
      run("events-proto-medallion", protoDb, n, ["--parsers=deploy/parsers/protobuf.json"]),
    ];
    for (const r of runs) expect(await r.exit, r.output()).toBe(0);
    const [j, p] = [await tables(jsonDb), await tables(protoDb)];

    // Silver: the same rows, column for column; as many as the distinct valid events by parseEvent (the reference).
    const valid = new Set<string>();
    for (const { message } of generated) {
      const e = parseEvent(message.data);
      if (e.ok) valid.add(`${e.event.tenant_id}/${e.event.event_id}`);
    }
    expect(j.silver.length).toBe(valid.size);
    expect(valid.size).toBeGreaterThan(100);
    expect(p.silver).toEqual(j.silver);

    // Bronze of the protobuf run: every message's exact bytes, recovered from payload and payload_encoding.
    expect(p.bronze).toHaveLength(n);
    const binaryRows = p.bronze.filter((r) => r.payload_encoding === "base64").length;
    expect(binaryRows).toBeGreaterThan(0); // most protobuf payloads are not UTF-8
    for (const r of p.bronze) {
      const back = payloadBytes({
        data: String(r.payload),
        ...(r.payload_encoding === "base64" ? { encoding: "base64" as const } : {}),
      });
      expect(back.toString("hex"), String(r.sent_as)).toBe(
        (r.sent_as === "truncated" ? TRUNCATED : sent.get(String(r.sent_as)))?.toString("hex"),
      );
    }
    expect(p.bronze.find((r) => r.sent_as === "truncated")).toMatchObject({
      valid: false,
      error_field: "payload",
      error_reason: "is not a protobuf tidemark.events.v1.UserEvent: premature EOF",
    });
    // Each run refuses the same generated messages (malformed ones) for the same fields.
    const refusals = (rows: typeof p.bronze) =>
      rows.filter((r) => !r.valid && r.sent_as !== "binary" && r.sent_as !== "truncated").map((r) => r.sent_as);
    expect(refusals(p.bronze).length).toBeGreaterThan(0);

    // The JSON run: the binary payload in Bronze as base64 of its exact bytes, refused as not UTF-8 ...
    expect(j.bronze.find((r) => r.sent_as === "binary")).toEqual({
      sent_as: "binary",
      payload: BINARY.toString("base64"),
      payload_encoding: "base64",
      valid: false,
      error_field: "payload",
      error_reason: "is not UTF-8 text (8 bytes that are not valid UTF-8; Bronze keeps them in base64)",
    });
    expect(j.bronze.filter((r) => r.sent_as !== "binary").every((r) => r.payload_encoding === null)).toBe(true);
    // ... and in the dead-letter feed, whose data gives back the same bytes.
    const dead = await readMessages(ps, "invalid-events-repair", refusals(j.bronze).length + 1);
    const binary = dead
      .map((m) => JSON.parse(m.data) as InvalidMessage)
      .find((m) => m.attributes.sent_as === "binary") as InvalidMessage;
    expect(binary.encoding).toBe("base64");
    expect(payloadBytes(binary).toString("hex")).toBe(BINARY.toString("hex"));
  }, 240_000);
});
