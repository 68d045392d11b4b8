import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import {
  countByReason,
  type DeadLetterRecord,
  fromBronzeRow,
  fromDelivered,
  isSelected,
  reasonClass,
  showPayload,
} from "../../../pipelines/user-sessions/dead-letter-record.ts";
import { planReplay, replayAttributes } from "../../../pipelines/user-sessions/dead-letter-replay.ts";
import { openDeadLetterSource } from "../../../pipelines/user-sessions/dead-letter-sources.ts";
import { parseDeadLetterArgs } from "../../../pipelines/user-sessions/dead-letters.ts";
import { payloadOfBytes } from "../../../schemas/payload.ts";

// The pieces of `npm run dead-letters` that need no server (the command itself runs on the Pub/Sub emulator in
// dead-letters-pubsub.test.ts): payloads shown exactly, reasons grouped, the feed's messages read, replays planned,
// the command line's refusals; and Bronze read from a DuckDB file (in process).

const record = (o: Partial<DeadLetterRecord> & { messageId: string }): DeadLetterRecord => ({
  publishTime: 0,
  attributes: {},
  data: Buffer.from("{}"),
  field: "payload",
  reason: "is not JSON",
  misrouted: false,
  origin: "bronze",
  ...o,
});

describe("showPayload", () => {
  it("shows UTF-8 bytes as text and any other bytes as base64, each giving back the same bytes", () => {
    const cases = [
      Buffer.from('{"page":"/caf\u00e9"} \u{1f600}', "utf8"),
      Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), // a BOM: kept
      Buffer.from([0xff, 0x00, 0xc3, 0x28]), // not UTF-8
      Buffer.from([0xc3]), // a sequence cut short
      Buffer.alloc(0),
    ];
    const shown = cases.map(showPayload);
    expect(shown.map((s) => s.encoding)).toEqual(["utf8", "utf8", "base64", "base64", "utf8"]);
    shown.forEach((s, i) => {
      expect(Buffer.from(s.payload, s.encoding === "utf8" ? "utf8" : "base64").equals(cases[i] as Buffer)).toBe(true);
    });
  });
});

describe("reasonClass and countByReason", () => {
  it("counts reasons that differ only in the values they quote together", () => {
    expect(reasonClass('is "globex", not this worker\'s tenant (--tenant=acme)')).toBe(
      'is "…", not this worker\'s tenant',
    );
    expect(reasonClass("is not JSON: Unexpected token 'e', \"event_type\"... is not valid JSON")).toBe("is not JSON");
    expect(reasonClass("must be a non-empty string, got 1234")).toBe("must be a non-empty string");
    expect(reasonClass("is missing")).toBe("is missing");
    const records = [
      record({ messageId: "1", field: "tenant_id", reason: 'is "globex", not this worker\'s tenant (--tenant=acme)' }),
      record({ messageId: "2", field: "tenant_id", reason: 'is "initech", not this worker\'s tenant (--tenant=acme)' }),
      record({ messageId: "3", field: "payload", reason: "is not JSON: Unexpected end of JSON input" }),
    ];
    expect(countByReason(records, "class")).toEqual([
      { field: "tenant_id", reason: 'is "…", not this worker\'s tenant', count: 2 },
      { field: "payload", reason: "is not JSON", count: 1 },
    ]);
    expect(countByReason(records, "field")).toEqual([
      { field: "tenant_id", reason: "", count: 2 },
      { field: "payload", reason: "", count: 1 },
    ]);
    expect(countByReason(records, "reason").map((c) => c.count)).toEqual([1, 1, 1]);
  });

  it("selects by id, field, reason text, tenant (the attribute, else the payload's) and publish time", () => {
    const a = record({ messageId: "a", publishTime: 1_000, attributes: { tenant_id: "acme" }, field: "event_time" });
    const b = record({ messageId: "b", publishTime: 2_000, data: Buffer.from('{"tenant_id":"globex"}') });
    const pick = (f: Parameters<typeof isSelected>[1]) =>
      [a, b].filter((r) => isSelected(r, f)).map((r) => r.messageId);
    expect(pick({ ids: ["b"] })).toEqual(["b"]);
    expect(pick({ field: "event_time" })).toEqual(["a"]);
    expect(pick({ reason: "JSON" })).toEqual(["a", "b"]);
    expect(pick({ tenant: "globex" })).toEqual(["b"]);
    expect(pick({ sinceMs: 1_500 })).toEqual(["b"]);
    expect(pick({ untilMs: 2_000 })).toEqual(["a"]);
  });
});

describe("fromDelivered", () => {
  const feedMessage = (data: unknown, attributes: Record<string, string> = {}) => ({
    id: "900",
    publishTime: 5,
    attributes: { tidemark_message_id: "17", tidemark_error_field: "payload", ...attributes },
    data: Buffer.from(typeof data === "string" ? data : JSON.stringify(data)),
  });
  it("reads the feed's dead letter: the original id, attributes and exact bytes (base64 when the feed says so)", () => {
    const bytes = Buffer.from([0xff, 0x01, 0x80]);
    const r = fromDelivered(
      feedMessage({
        message_id: "17",
        publish_time: 1234,
        attributes: { tenant_id: "acme" },
        data: bytes.toString("base64"),
        encoding: "base64",
        error: { field: "payload", reason: "is not JSON" },
      }),
      "SUB",
    );
    expect([r.messageId, r.publishTime, r.attributes, r.data.equals(bytes), r.misrouted, r.origin]).toEqual([
      "17",
      1234,
      { tenant_id: "acme" },
      true,
      false,
      "feed",
    ]);
  });

  it("refuses, naming the subscription and message, a feed message that is not a dead letter", () => {
    expect(() => fromDelivered(feedMessage("not json"), "SUB")).toThrow(
      "SUB: message 900 has the attribute tidemark_message_id but its data is not JSON",
    );
    expect(() => fromDelivered(feedMessage({ message_id: "17" }), "SUB")).toThrow(
      "SUB: message 900 is not a dead letter of the pipeline's feed",
    );
    const badEncoding = { message_id: "17", publish_time: 1, attributes: {}, data: "x", encoding: "hex" };
    expect(() => fromDelivered(feedMessage({ ...badEncoding, error: { field: "f", reason: "r" } }), "SUB")).toThrow(
      'SUB: message 900: payload encoding "hex" is not one known',
    );
  });
});

describe("fromBronzeRow", () => {
  it("reads an invalid Bronze row: its text, or its base64 bytes where payload_encoding says so; misrouted marked", () => {
    const bytes = Buffer.from([0x00, 0xfe, 0xff]);
    const row = {
      message_id: "42",
      publish_time: 1_000,
      attributes: '{"tenant_id":"acme"}',
      payload: bytes.toString("base64"),
      payload_encoding: "base64",
      valid: false,
      error_field: "tidemark_catch_all_misrouted",
      error_reason: "is acme",
    };
    const r = fromBronzeRow(row, "W");
    expect([r.messageId, r.publishTime, r.attributes, r.data.equals(bytes), r.misrouted]).toEqual([
      "42",
      1_000,
      { tenant_id: "acme" },
      true,
      true,
    ]);
    const text = fromBronzeRow({ ...row, payload: "caf\u00e9", payload_encoding: null, error_field: "payload" }, "W");
    expect([text.data.equals(Buffer.from("caf\u00e9", "utf8")), text.misrouted]).toEqual([true, false]);
    expect(() => fromBronzeRow({ ...row, payload_encoding: "hex" }, "W")).toThrow(
      'W: Bronze row 42: payload encoding "hex" is not one known',
    );
  });
});

describe("planReplay and replayAttributes", () => {
  it("skips misrouted copies, and messages with a replay unless forced", () => {
    const plain = record({ messageId: "1" });
    const misrouted = record({ messageId: "2", misrouted: true });
    const replayed = record({ messageId: "3" });
    const replays = new Map([["3", ["30"]]]);
    const plan = planReplay([plain, misrouted, replayed], replays, false);
    expect([plan.replay, plan.misrouted, plan.alreadyReplayed]).toEqual([
      [plain],
      [misrouted],
      [{ record: replayed, replays: ["30"] }],
    ]);
    const forced = planReplay([plain, misrouted, replayed], replays, true);
    expect([forced.replay, forced.misrouted, forced.alreadyReplayed]).toEqual([[plain, replayed], [misrouted], []]);
  });

  it("keeps the original attributes and adds the replay's (a replay of a replay gets this replay's)", () => {
    const r = record({ messageId: "7", attributes: { tenant_id: "acme", tidemark_replay_of: "3" } });
    expect(replayAttributes(r, new Date(Date.UTC(2026, 0, 5, 6)))).toEqual({
      tenant_id: "acme",
      tidemark_replay_of: "7",
      tidemark_replayed_at: "2026-01-05T06:00:00.000Z",
    });
  });
});

describe("parseDeadLetterArgs", () => {
  const parse = (...args: string[]) => parseDeadLetterArgs(args, {});
  it("reads a command line", () => {
    expect(
      parse("list", "--from=duckdb://x.duckdb", "--tenant=acme", "--since=2026-01-05T06:00:00Z", "--by=field"),
    ).toEqual(
      expect.objectContaining({
        command: "list",
        from: "duckdb://x.duckdb",
        by: "field",
        filter: { tenant: "acme", sinceMs: Date.UTC(2026, 0, 5, 6) },
      }),
    );
    expect(parse("show", "--id=1,2", "--id=3")?.filter).toEqual({ ids: ["1", "2", "3"] });
    expect(parse("--help")).toBeUndefined();
  });

  it("refuses what is wrong, naming it", () => {
    expect(() => parse()).toThrow('the command is list, show or replay, got ""');
    expect(() => parse("replay", "--all")).toThrow("replay needs --to=pubsub://projects/P/topics/T");
    expect(() => parse("replay", "--to=pubsub://projects/p/topics/t")).toThrow("replay needs a selection");
    expect(() => parse("replay", "--to=pubsub://projects/p/topics/t", "--all", "--tenant=a")).toThrow(
      "--all is every dead letter: not with a selection",
    );
    expect(() => parse("replay", "--to=pubsub://projects/p/topics/t", "--all", "--ack")).toThrow(
      "--ack is for list and show, not replay",
    );
    expect(() => parse("list", "--dry-run")).toThrow("--dry-run is for replay, not list");
    expect(() => parse("list", "--since=2026-01-05 06:00")).toThrow("--since must be ISO-8601 with an offset");
    expect(() => parse("list", "--by=tenant")).toThrow("--by must be class, field or reason, got tenant");
    expect(() => parse("list", "--lease-seconds=5")).toThrow("--lease-seconds must be a whole number 10 to 600");
    expect(() => parse("replay", "--to=pubsub://projects/p/topics/t", "--all", "--bronze=duckdb://x")).toThrow(
      "--bronze is for a replay from a subscription",
    );
    expect(() =>
      parse(
        "replay",
        "--from=pubsub://projects/p/subscriptions/s",
        "--to=pubsub://projects/p/topics/t",
        "--all",
        "--bronze=x",
      ),
    ).toThrow("--bronze must be duckdb://PATH or bigquery://PROJECT/DATASET, got x");
  });
});

describe("Bronze in DuckDB as a dead-letter source", () => {
  it("gives back each invalid row's exact bytes: a text payload with a leading BOM keeps it, base64 its bytes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tidemark-dead-letters-bronze-"));
    try {
      const path = join(dir, "w.duckdb");
      const w = await DuckDbWarehouse.create(path);
      await w.open();
      // A JSON payload sent with a byte order mark (refused: JSON.parse does not take one), a text one, and bytes that
      // are not UTF-8.
      const payloads = [
        Buffer.from('\ufeff{"event_id":"e1"}', "utf8"),
        Buffer.from("\ufeff", "utf8"),
        Buffer.from("caf\u00e9 \ufeff", "utf8"),
        Buffer.from([0xef, 0xbb, 0xbf, 0xff]),
      ];
      await w.appendBronze(
        payloads.map((bytes, i) => {
          const p = payloadOfBytes(bytes);
          return {
            message_id: `m${i}`,
            publish_time: 1_000 + i,
            ingest_time: 2_000,
            attributes: { tenant_id: "acme" },
            payload: p.data,
            valid: false,
            error_field: "payload",
            error_reason: "is not JSON",
            correlation_id: null,
            payload_encoding: p.encoding ?? null,
          };
        }),
      );
      await w.close();
      const source = openDeadLetterSource(`duckdb://${path}`);
      try {
        const read = await source.read();
        expect(read.map((r) => r.messageId)).toEqual(["m0", "m1", "m2", "m3"]);
        expect(read.map((r) => r.data.toString("hex"))).toEqual(payloads.map((b) => b.toString("hex")));
      } finally {
        await source.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
