import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { generateMessages } from "../../../pipelines/user-sessions/generate.ts";
import { parseEvent } from "../../../schemas/event.ts";
import { encodeUserEvent, payloadInFormat } from "../../../schemas/parsers/event-protobuf.ts";
import { loadParsers, parsersFromConfig } from "../../../schemas/parsers/parsers-config.ts";
import { ProtobufDecoder } from "../../../schemas/parsers/protobuf-parser.ts";
import { payloadOfBytes } from "../../../schemas/payload.ts";

const SET = "schemas/proto/user-event.binpb";
const MESSAGE = "tidemark.events.v1.UserEvent";
const desc = ProtobufDecoder.fromFile(SET, MESSAGE).message;
// The job's own configuration (README's example): version 1 is protobuf.
const parser = loadParsers("deploy/parsers/protobuf.json");
const parse = (bytes: Uint8Array, attributes: Record<string, string> = { schema_version: "1" }) =>
  parser.parse(payloadOfBytes(bytes), attributes, { correlationId: "c-9" });

describe("protobuf parser (tidemark.events.v1.UserEvent from a descriptor set)", () => {
  it("the checked-in descriptor set is the one the protos build to (scripts/gen-event-protos.sh --check)", () => {
    const out = execFileSync("bash", ["scripts/gen-event-protos.sh", "--check"], { encoding: "utf8" });
    expect(out).toContain("up to date");
  });

  it("a message built field by field parses to the event the JSON parser makes of the same event", () => {
    const bytes = toBinary(
      desc,
      create(desc, {
        eventId: "e-1",
        eventType: "purchase",
        userId: "u-1",
        tenantId: "acme",
        eventTime: { case: "eventTimeIso", value: "2026-11-25T10:00:00.123+01:00" },
        platform: "ios",
        schemaVersion: 1,
        device: "iPhone15,2",
        page: "/checkout",
        properties: { plan: "pro", seats: 3, trial: false, tags: ["a", 1], nested: { x: null } },
        amount: 29,
        currency: "EUR",
        items: 1,
      }),
    );
    const json = {
      event_id: "e-1",
      event_type: "purchase",
      user_id: "u-1",
      tenant_id: "acme",
      event_time: "2026-11-25T10:00:00.123+01:00",
      platform: "ios",
      schema_version: 1,
      device: "iPhone15,2",
      page: "/checkout",
      properties: { plan: "pro", seats: 3, trial: false, tags: ["a", 1], nested: { x: null } },
      amount: 29,
      currency: "EUR",
      items: 1,
    };
    const reference = parseEvent(JSON.stringify(json), "c-9");
    expect(reference.ok).toBe(true);
    expect(parse(bytes)).toEqual(reference);
    // The generator's encoder writes the same bytes as the message built here.
    expect(Buffer.from(encodeUserEvent(json) as Uint8Array).equals(Buffer.from(bytes))).toBe(true);
  });

  it("epoch ms (int64) and the order's line items and actor id arrive as numbers", () => {
    const bytes = toBinary(
      desc,
      create(desc, {
        eventId: "o-1",
        eventType: "page_view",
        userId: "u-1",
        tenantId: "acme",
        eventTime: { case: "eventTimeMs", value: 1_764_000_000_123n },
        platform: "web",
      }),
    );
    const got = parse(bytes);
    // schema_version 0 (unset) is the version the message came as.
    expect(got).toEqual(
      parseEvent(
        JSON.stringify({
          event_id: "o-1",
          event_type: "page_view",
          user_id: "u-1",
          tenant_id: "acme",
          event_time: 1_764_000_000_123,
          platform: "web",
          schema_version: 1,
        }),
        "c-9",
      ),
    );
    const decoded = ProtobufDecoder.fromFile(SET, MESSAGE).decode(
      payloadOfBytes(
        toBinary(
          desc,
          create(desc, { actorId: 9_007_199_254_740_991n, lineItems: [{ sku: "S-1", quantity: 2, unitPrice: 4.5 }] }),
        ),
      ),
    );
    expect(decoded).toEqual({
      actor_id: 9_007_199_254_740_991,
      line_items: [{ sku: "S-1", quantity: 2, unit_price: 4.5 }],
    });
  });

  it("a nested message's fields at their proto3 default (a free line: unit_price 0) are its values, not missing", () => {
    // proto3 does not write a field of implicit presence at its default value (0, "", false): a LineItem with
    // unit_price 0 has no unit_price on the wire, and it means 0. The JSON parser accepts such an order.
    const order = {
      event_id: "o-2",
      event_type: "order",
      user_id: "u-1",
      tenant_id: "acme",
      event_time: "2026-11-25T10:00:00Z",
      platform: "web",
      schema_version: 1,
      order_id: "O-2",
      currency: "EUR",
      amount: 10,
      items: 3,
      line_items: [
        { sku: "A", quantity: 2, unit_price: 5 },
        { sku: "FREE", quantity: 1, unit_price: 0 },
      ],
    };
    const reference = parseEvent(JSON.stringify(order), "c-9");
    expect(reference.ok).toBe(true);
    expect(parse(encodeUserEvent(order) as Uint8Array)).toEqual(reference);
    // A line at quantity 0 is refused as the JSON parser refuses it (its value named), not as a missing field.
    const zero = {
      ...order,
      items: 2,
      line_items: [
        { sku: "A", quantity: 2, unit_price: 5 },
        { sku: "B", quantity: 0, unit_price: 1 },
      ],
    };
    expect(parse(encodeUserEvent(zero) as Uint8Array)).toEqual(parseEvent(JSON.stringify(zero), "c-9"));
    // The message's own fields at their default stay absent (an event without an id is refused as missing one).
    expect(parse(encodeUserEvent({ ...order, event_id: "" }) as Uint8Array)).toEqual({
      ok: false,
      error: { field: "event_id", reason: "is missing" },
    });
  });

  it("the generator's valid events, as protobuf, parse to what their JSON parses to", () => {
    let n = 0;
    for (const { message, origin } of generateMessages({ users: 6, seed: 3 })) {
      if (origin.kind !== "event") continue;
      const p = payloadInFormat(message.data, "protobuf");
      const json = parseEvent(message.data, message.attributes.correlation_id);
      if (!json.ok) continue; // a shape the fields of this build do not validate
      expect(p.data).not.toBe(message.data);
      expect(parser.parse(p, message.attributes, { correlationId: message.attributes.correlation_id })).toEqual(json);
      n++;
    }
    expect(n).toBeGreaterThan(100);
  });

  it("malformed bytes are dead-lettered with the decoder's reason; a message missing a field gets the validation's", () => {
    const good = toBinary(desc, create(desc, { eventId: "e", eventType: "page_view" }));
    expect(parse(good.subarray(0, good.length - 2))).toEqual({
      ok: false,
      error: { field: "payload", reason: `is not a protobuf ${MESSAGE}: premature EOF` },
    });
    // Field 1 (event_id, a string) holding bytes that are not UTF-8.
    expect(parse(Uint8Array.from([0x0a, 0x02, 0xff, 0xfe]))).toEqual({
      ok: false,
      error: {
        field: "payload",
        reason: `is not a protobuf ${MESSAGE}: The encoded data was not valid for encoding utf-8`,
      },
    });
    // A JSON event sent to a protobuf topic.
    expect(parse(Buffer.from('{"event_id":"e"}'))).toMatchObject({ ok: false, error: { field: "payload" } });
    // Wire type 7 does not exist.
    expect(parse(Uint8Array.from([0x0f]))).toEqual({
      ok: false,
      error: { field: "payload", reason: `is not a protobuf ${MESSAGE}: illegal tag: field no 1 wire type 7` },
    });
    // Decodes, but without a user: parseEvent's words.
    expect(parse(good)).toEqual({ ok: false, error: { field: "user_id", reason: "is missing" } });
  });

  it("a descriptor set that is not one, or without the message, is refused when the parsers are loaded", () => {
    expect(() => new ProtobufDecoder(Uint8Array.from([0xff, 0xff]), MESSAGE, "p")).toThrow(
      "p: not a FileDescriptorSet",
    );
    expect(() => ProtobufDecoder.fromFile(SET, "tidemark.events.v1.Nope", "p")).toThrow(
      `p (${SET}): no message "tidemark.events.v1.Nope" in the descriptor set (messages: `,
    );
    expect(() =>
      parsersFromConfig(
        { versions: { "1": { parser: "protobuf", descriptorSet: "missing.binpb", message: MESSAGE } } },
        "/tmp",
        "x",
      ),
    ).toThrow("x: versions.1: cannot read the descriptor set /tmp/missing.binpb");
    expect(readFileSync(SET).length).toBeGreaterThan(1000);
  });
});
