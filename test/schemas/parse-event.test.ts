import { describe, expect, it } from "vitest";
import { MAX_PAYLOAD_BYTES, parseEvent } from "../../schemas/event.ts";

const ok = {
  event_id: "e1",
  event_type: "purchase",
  user_id: "u1",
  tenant_id: "acme",
  event_time: "2026-01-05T08:00:00Z",
  platform: "ios",
  schema_version: 1,
  amount: 12.5,
};
const parse = (o: unknown) => parseEvent(typeof o === "string" ? o : JSON.stringify(o));
const rejected = (o: unknown) => {
  const r = parse(o);
  if (r.ok) throw new Error(`accepted: ${JSON.stringify(o)}`);
  return r.error;
};

describe("parseEvent: every rejection names the field and says why, word for word", () => {
  it("accepts a well-formed event", () => {
    expect(parse(ok)).toMatchObject({
      ok: true,
      event: { event_id: "e1", amount: 12.5, event_time_ms: Date.UTC(2026, 0, 5, 8) },
    });
  });

  it.each<[string, unknown, { field: string; reason: string }]>([
    [
      "too large",
      `{"p":"${"x".repeat(MAX_PAYLOAD_BYTES)}"}`,
      { field: "payload", reason: `is larger than 65536 bytes (${MAX_PAYLOAD_BYTES + 8})` },
    ],
    ["not JSON", "{oops", { field: "payload", reason: `is not JSON: ${jsonError("{oops")}` }],
    ["an array", "[1]", { field: "payload", reason: "is not a JSON object" }],
    ["null", "null", { field: "payload", reason: "is not a JSON object" }],
    ["a missing required string", { ...ok, user_id: undefined }, { field: "user_id", reason: "is missing" }],
    ["a null required string", { ...ok, event_id: null }, { field: "event_id", reason: "is missing" }],
    [
      "a number for a string",
      { ...ok, tenant_id: 7 },
      { field: "tenant_id", reason: "must be a non-empty string, got 7" },
    ],
    ["an empty string", { ...ok, event_id: "" }, { field: "event_id", reason: 'must be a non-empty string, got ""' }],
    [
      "an overlong string",
      { ...ok, user_id: "u".repeat(513) },
      { field: "user_id", reason: "is longer than 512 characters (513)" },
    ],
    [
      "a lone surrogate",
      '{"event_id":"a\\ud800"}',
      { field: "event_id", reason: 'is not valid Unicode (a lone surrogate): "a\\ud800"' },
    ],
    [
      "an unknown event type",
      { ...ok, event_type: "click" },
      {
        field: "event_type",
        reason:
          'is not a known event type: "click" (known: page_view, button_click, purchase, user_signup, session_start, app_background, order, inventory, user_activity)',
      },
    ],
    [
      "an unknown platform",
      { ...ok, platform: "tv" },
      { field: "platform", reason: 'must be one of web, ios, android, got "tv"' },
    ],
    [
      "an unknown schema version",
      { ...ok, schema_version: 2 },
      { field: "schema_version", reason: "must be one of 1, got 2" },
    ],
    [
      "a schema version as text",
      { ...ok, schema_version: "1" },
      { field: "schema_version", reason: 'must be one of 1, got "1"' },
    ],
    [
      "a missing schema version",
      { ...ok, schema_version: undefined },
      { field: "schema_version", reason: "must be one of 1, got undefined" },
    ],
    [
      "a fractional epoch time",
      { ...ok, event_time: 1.5 },
      { field: "event_time", reason: "is not epoch milliseconds: 1.5" },
    ],
    [
      "a negative epoch time",
      { ...ok, event_time: -1 },
      { field: "event_time", reason: "is not epoch milliseconds: -1" },
    ],
    [
      "an object for a time",
      { ...ok, event_time: {} },
      { field: "event_time", reason: "must be an ISO-8601 string or epoch ms, got {}" },
    ],
    [
      "a time without offset",
      { ...ok, event_time: "2026-01-05T08:00:00" },
      { field: "event_time", reason: 'has no UTC offset: "2026-01-05T08:00:00"' },
    ],
    [
      "an impossible date",
      { ...ok, event_time: "2026-02-30T00:00:00Z" },
      { field: "event_time", reason: 'is not ISO-8601: "2026-02-30T00:00:00Z" (unit out of range)' },
    ],
    [
      "properties that are a list",
      { ...ok, properties: [1] },
      { field: "properties", reason: "must be a JSON object" },
    ],
    ["a negative amount", { ...ok, amount: -1 }, { field: "amount", reason: "must be a non-negative number, got -1" }],
    [
      "an amount as text",
      { ...ok, amount: "9.99" },
      { field: "amount", reason: 'must be a non-negative number, got "9.99"' },
    ],
    ["negative items", { ...ok, items: -2 }, { field: "items", reason: "must be a non-negative number, got -2" }],
    [
      "a purchase without amount",
      { ...ok, amount: undefined },
      { field: "amount", reason: "is required for purchase events" },
    ],
    [
      "an order without amount",
      { ...ok, event_type: "order", amount: undefined },
      { field: "amount", reason: "is required for order events" },
    ],
  ])("%s", (_, input, want) => {
    expect(rejected(input)).toEqual(want);
  });
});

/** What JSON.parse says of `text` (the reason quotes the parser's own message). */
function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("valid JSON");
}
