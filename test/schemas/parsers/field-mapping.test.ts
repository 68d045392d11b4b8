import { DateTime } from "luxon";
import { describe, expect, it } from "vitest";
import { parseEvent } from "../../../schemas/event.ts";
import { coerce, FieldMapping, readTime } from "../../../schemas/parsers/field-mapping.ts";
import { parsersFromConfig } from "../../../schemas/parsers/parsers-config.ts";

const ATTRS = { tenant_id: "acme", schema_version: "2" };

/** A version-2 mapping parser of `fields` (through the --parsers config, as the job makes it). */
const mapping = (fields: Record<string, unknown>, keepUnmapped?: boolean) =>
  parsersFromConfig(
    {
      versions: {
        "2": { parser: "mapping", mapping: { fields, ...(keepUnmapped === undefined ? {} : { keepUnmapped }) } },
      },
    },
    ".",
  );
const parse = (
  fields: Record<string, unknown>,
  payload: unknown,
  attributes: Record<string, string> = ATTRS,
  keepUnmapped?: boolean,
) => mapping(fields, keepUnmapped).parse({ data: JSON.stringify(payload) }, attributes, { correlationId: "c-1" });

/** A legacy client's payload: other names, an integer id, nested user and client, epoch seconds. */
const LEGACY = {
  id: 4217,
  type: "purchase",
  user: { id: 991, tier: "gold" },
  client: { os: "ios", path: "/checkout" },
  total: "12.50",
  cur: "EUR",
  ts: 1_764_000_000,
  order: { id: 77 },
};
const LEGACY_FIELDS = {
  event_id: { from: "id", type: "string" },
  event_type: { from: "type" },
  user_id: { from: "user.id", type: "string" },
  tenant_id: { from: "user.tenant", attribute: "tenant_id" },
  platform: { from: "client.os", default: "web" },
  page: { from: "client.path" },
  amount: { from: "total", type: "number" },
  currency: { from: "cur" },
  event_time: { from: "ts", format: "epoch_s" },
  "properties.order_id": { from: "order.id", type: "string" },
};

describe("field mapping: renames, coercions, times, defaults", () => {
  it("maps a legacy payload to the event the JSON parser makes of the same event written its way", () => {
    const got = parse(LEGACY_FIELDS, LEGACY, ATTRS, false);
    // The reference: the same event as a JSON event, through parseEvent (the one validation).
    const reference = parseEvent(
      JSON.stringify({
        event_id: "4217",
        event_type: "purchase",
        user_id: "991",
        tenant_id: "acme",
        platform: "ios",
        page: "/checkout",
        amount: 12.5,
        currency: "EUR",
        event_time: 1_764_000_000_000,
        properties: { order_id: "77" },
        schema_version: 1,
      }),
      "c-1",
    );
    expect(reference.ok).toBe(true);
    // The same event, but of schema version 2 (the mapping's) and with the time as the legacy client sent it.
    expect(got).toEqual({
      ok: true,
      event: { ...(reference.ok ? reference.event : {}), schema_version: 2, event_time_raw: "1764000000" },
    });
    expect(got.ok && got.event.event_time_ms).toBe(Date.UTC(2025, 10, 24, 16));
  });

  it("the payload's own value wins over the attribute, and the constant is the last resort", () => {
    const withTenant = parse(LEGACY_FIELDS, { ...LEGACY, user: { id: 1, tenant: "globex" } }, ATTRS, false);
    expect(withTenant.ok && withTenant.event.tenant_id).toBe("globex");
    const noAttr = parse(LEGACY_FIELDS, LEGACY, { schema_version: "2" }, false);
    expect(noAttr).toEqual({ ok: false, error: { field: "tenant_id", reason: "is missing" } });
    const noOs = parse(LEGACY_FIELDS, { ...LEGACY, client: {} }, ATTRS, false);
    expect(noOs.ok && noOs.event.platform).toBe("web");
  });

  it("keepUnmapped keeps the source's other fields; a list of paths takes the first present", () => {
    const fields = { event_time: { from: ["event_time_iso", "event_time_ms"] } };
    const base = { event_id: "e", event_type: "page_view", user_id: "u", tenant_id: "acme", platform: "web" };
    const iso = parse(fields, { ...base, event_time_iso: "2026-11-25T10:00:00+01:00" });
    expect(iso.ok && [iso.event.event_time_ms, iso.event.event_time_raw]).toEqual([
      Date.UTC(2026, 10, 25, 9),
      "2026-11-25T10:00:00+01:00",
    ]);
    const ms = parse(fields, { ...base, event_time_ms: 1_764_000_000_123 });
    expect(ms.ok && [ms.event.event_time_ms, ms.event.event_time_raw]).toEqual([1_764_000_000_123, "1764000000123"]);
    // Neither: the target is missing (not the source's event_time under the target's name).
    expect(parse(fields, { ...base, event_time: "2026-11-25T10:00:00Z" })).toEqual({
      ok: false,
      error: { field: "event_time", reason: "must be an ISO-8601 string or epoch ms, got undefined" },
    });
  });

  it("the source object is never changed (a nested target is copied on the way)", () => {
    const source = { properties: { a: 1 }, order: { id: 5 } };
    const frozen = JSON.stringify(source);
    const m = new FieldMapping({ fields: { "properties.order_id": { from: "order.id" } } });
    const out = m.apply(source, {});
    expect(out).toEqual({ object: { properties: { a: 1, order_id: 5 }, order: { id: 5 } } });
    expect(JSON.stringify(source)).toBe(frozen);
  });

  it("coercions: integer to string, numeric strings to numbers, booleans; anything else refused", () => {
    expect(coerce(42, "string")).toBe("42");
    expect(coerce("x", "string")).toBe("x");
    expect(coerce(1.5, "string")).toBeUndefined();
    expect(coerce(2 ** 53, "string")).toBeUndefined(); // not exact
    expect(coerce({ a: 1 }, "string")).toBeUndefined();
    expect(coerce(" 12.50 ", "number")).toBe(12.5);
    expect(coerce("1e3", "number")).toBe(1000);
    expect(coerce("12,50", "number")).toBeUndefined();
    expect(coerce("", "number")).toBeUndefined();
    expect(coerce("-7", "integer")).toBe(-7);
    expect(coerce("7.5", "integer")).toBeUndefined();
    expect(coerce(7.5, "integer")).toBeUndefined();
    expect(coerce("true", "boolean")).toBe(true);
    expect(coerce("yes", "boolean")).toBeUndefined();
  });

  it("event time formats: ISO-8601, epoch ms, epoch s, and a luxon format in a zone, each against luxon or Date.UTC", () => {
    expect(readTime("2026-11-25T10:00:00.5Z", "iso8601")).toEqual({
      ms: Date.UTC(2026, 10, 25, 10, 0, 0, 500),
      raw: "2026-11-25T10:00:00.5Z",
    });
    expect(readTime("1764000000123", "epoch_ms")).toEqual({ ms: 1_764_000_000_123, raw: "1764000000123" });
    expect(readTime(1_764_000_000.25, "epoch_s")).toEqual({ ms: 1_764_000_000_250, raw: "1764000000.25" });
    // Paris is UTC+1 in November: 10:00 there is 09:00 UTC.
    expect(readTime("25/11/2026 10:00:00", "dd/MM/yyyy HH:mm:ss", "Europe/Paris")).toEqual({
      ms: Date.UTC(2026, 10, 25, 9),
      raw: "25/11/2026 10:00:00",
    });
    // And in July, UTC+2 (the zone's rules, not a fixed offset): the reference is luxon's own zone arithmetic.
    const july = DateTime.fromObject({ year: 2026, month: 7, day: 1, hour: 10 }, { zone: "Europe/Paris" }).toMillis();
    expect(readTime("01/07/2026 10:00:00", "dd/MM/yyyy HH:mm:ss", "Europe/Paris")).toEqual({
      ms: july,
      raw: "01/07/2026 10:00:00",
    });
    expect(july).toBe(Date.UTC(2026, 6, 1, 8));
    // Without a zone: UTC; an offset in the text wins.
    expect(readTime("2026-11-25 10:00", "yyyy-MM-dd HH:mm")).toEqual({
      ms: Date.UTC(2026, 10, 25, 10),
      raw: "2026-11-25 10:00",
    });
    expect(readTime("2026-11-25 10:00 +0530", "yyyy-MM-dd HH:mm ZZZ", "Europe/Paris")).toMatchObject({
      ms: Date.UTC(2026, 10, 25, 4, 30),
    });
  });

  it("every rejection says the field, the value and where it came from", () => {
    const base = {
      event_type: "page_view",
      user_id: "u",
      tenant_id: "acme",
      platform: "web",
      event_time: "2026-11-25T10:00:00Z",
    };
    expect(parse({ event_id: { from: "id", type: "string" } }, { ...base, id: { n: 1 } })).toEqual({
      ok: false,
      error: { field: "event_id", reason: 'cannot be made a string: {"n":1} (from id)' },
    });
    expect(parse({ amount: { from: "total", type: "number" } }, { ...base, event_id: "e", total: "12,50" })).toEqual({
      ok: false,
      error: { field: "amount", reason: 'cannot be made a number: "12,50" (from total)' },
    });
    expect(
      parse({ items: { attribute: "n", type: "integer" } }, { ...base, event_id: "e" }, { ...ATTRS, n: "2.5" }),
    ).toEqual({
      ok: false,
      error: { field: "items", reason: 'cannot be made an integer: "2.5" (from the attribute n)' },
    });
    expect(parse({ items: { default: "x", type: "integer" } }, { ...base, event_id: "e" })).toEqual({
      ok: false,
      error: { field: "items", reason: 'cannot be made an integer: "x" (the default)' },
    });
    const t = (format: string, value: unknown, zone?: string) =>
      parse(
        { event_time: { from: "ts", format, ...(zone === undefined ? {} : { zone }) } },
        { ...base, event_id: "e", ts: value },
      );
    expect(t("epoch_s", "soon")).toEqual({
      ok: false,
      error: { field: "event_time", reason: 'is not epoch seconds: "soon" (from ts)' },
    });
    expect(t("epoch_ms", 1.5)).toEqual({
      ok: false,
      error: { field: "event_time", reason: "is not epoch milliseconds: 1.5 (from ts)" },
    });
    expect(t("iso8601", 5)).toEqual({
      ok: false,
      error: { field: "event_time", reason: "must be an ISO-8601 string, got 5 (from ts)" },
    });
    expect(t("iso8601", "2026-11-25T10:00:00")).toEqual({
      ok: false,
      error: { field: "event_time", reason: 'has no UTC offset: "2026-11-25T10:00:00" (from ts)' },
    });
    expect(t("dd/MM/yyyy", "2026-11-25", "Europe/Paris")).toEqual({
      ok: false,
      error: {
        field: "event_time",
        reason: `does not match the format "dd/MM/yyyy": "2026-11-25" (the input "2026-11-25" can't be parsed as format dd/MM/yyyy) (from ts)`,
      },
    });
    expect(t("dd/MM/yyyy", 20261125)).toEqual({
      ok: false,
      error: { field: "event_time", reason: 'must be a string in the format "dd/MM/yyyy", got 20261125 (from ts)' },
    });
    // The validation after the mapping keeps parseEvent's words.
    expect(parse({}, { ...base, event_id: "e", platform: "tv" })).toEqual({
      ok: false,
      error: { field: "platform", reason: 'must be one of web, ios, android, got "tv"' },
    });
  });

  it("a bad mapping is refused when loaded, naming the field and the problem", () => {
    const bad =
      (fields: unknown, extra: Record<string, unknown> = {}) =>
      () =>
        new FieldMapping({ fields, ...extra }, "m");
    expect(bad({ "a..b": {} })).toThrow('m: field "a..b": not a field path (names joined by dots)');
    expect(bad({ a: "x" })).toThrow('m: field "a": the rule must be an object');
    expect(bad({ a: { rename: "b" } })).toThrow(
      'm: field "a": unknown key "rename" (known: from, attribute, default, type, format, zone)',
    );
    expect(bad({ a: { from: 3 } })).toThrow(
      'm: field "a": from must be a field path (names joined by dots) or a list of them, got 3',
    );
    expect(bad({ a: { type: "date" } })).toThrow(
      'm: field "a": type must be one of string, number, integer, boolean, got "date"',
    );
    expect(bad({ a: { format: "epoch_s" } })).toThrow('m: field "a": format applies to event_time only');
    expect(bad({ event_time: { format: "yyyy", zone: "Mars/Olympus" } })).toThrow(
      'm: field "event_time": zone must be an IANA zone or UTC+H, got "Mars/Olympus"',
    );
    expect(bad({ event_time: { format: "epoch_s", zone: "UTC" } })).toThrow(
      'm: field "event_time": zone applies to a luxon format only',
    );
    expect(bad({ a: { default: { x: 1 } } })).toThrow('m: field "a": default must be a string, a number or a boolean');
    expect(bad({}, { keep: true })).toThrow('m: unknown key "keep" (known: fields, keepUnmapped)');
    expect(() => new FieldMapping([], "m")).toThrow('m: must be a JSON object with "fields", got []');
  });
});
