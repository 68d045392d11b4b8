import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseEvent } from "../../../schemas/event.ts";
import { encodeUserEvent } from "../../../schemas/parsers/event-protobuf.ts";
import { JSON_PARSER } from "../../../schemas/parsers/parser.ts";
import { loadParsers, parsersFromConfig } from "../../../schemas/parsers/parsers-config.ts";
import { payloadOfBytes } from "../../../schemas/payload.ts";

const dir = mkdtempSync(join(tmpdir(), "tidemark-parsers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EVENT = {
  event_id: "e-1",
  event_type: "page_view",
  user_id: "u-1",
  tenant_id: "acme",
  event_time: "2026-11-25T10:00:00Z",
  platform: "web",
  page: "/",
};
// The shipped example: 1 JSON (the default), 2 protobuf, 3 a legacy shape through deploy/parsers/legacy-mapping.json.
const versions = loadParsers("deploy/parsers/versions.json");
const ctx = { correlationId: undefined };

describe("schema versions: one parser each (--parsers)", () => {
  it("the schema_version attribute picks the parser", () => {
    const v1 = versions.parse({ data: JSON.stringify({ ...EVENT, schema_version: 1 }) }, { schema_version: "1" }, ctx);
    expect(v1).toEqual(parseEvent(JSON.stringify({ ...EVENT, schema_version: 1 })));
    const proto = payloadOfBytes(encodeUserEvent(EVENT) as Uint8Array);
    const v2 = versions.parse(proto, { schema_version: "2" }, ctx);
    expect(v2).toEqual({ ok: true, event: { ...(v1.ok ? v1.event : {}), schema_version: 2 } });
    const legacy = { id: 12, type: "page_view", user: { id: 3 }, client: { path: "/" }, ts: 1_764_000_000 };
    const v3 = versions.parse({ data: JSON.stringify(legacy) }, { schema_version: "3", tenant_id: "acme" }, ctx);
    expect(v3).toEqual({
      ok: true,
      event: {
        event_id: "12",
        event_type: "page_view",
        user_id: "3",
        tenant_id: "acme",
        platform: "web",
        page: "/",
        event_time_ms: 1_764_000_000_000,
        event_time_raw: "1764000000",
        schema_version: 3,
      },
    });
  });

  it("without the attribute a JSON payload's schema_version picks it, else the default version", () => {
    const legacy = { id: 12, type: "page_view", user: { id: 3 }, ts: 1_764_000_000, schema_version: 3 };
    const byPayload = versions.parse({ data: JSON.stringify(legacy) }, { tenant_id: "acme" }, ctx);
    expect(byPayload.ok && byPayload.event.schema_version).toBe(3);
    // No version anywhere: the default (1, JSON), whose check asks for one in the payload (parseEvent's words).
    expect(versions.parse({ data: JSON.stringify(EVENT) }, {}, ctx)).toEqual(parseEvent(JSON.stringify(EVENT)));
    expect(versions.parse({ data: JSON.stringify(EVENT) }, {}, ctx)).toEqual({
      ok: false,
      error: { field: "schema_version", reason: "must be one of 1, got undefined" },
    });
  });

  it("an unknown version is dead-lettered naming it and the known ones", () => {
    expect(versions.parse({ data: "{}" }, { schema_version: "7" }, ctx)).toEqual({
      ok: false,
      error: { field: "attributes.schema_version", reason: 'is "7", not a known schema version (known: 1, 2, 3)' },
    });
    expect(versions.parse({ data: JSON.stringify({ ...EVENT, schema_version: 9 }) }, {}, ctx)).toEqual({
      ok: false,
      error: { field: "schema_version", reason: "is 9, not a known schema version (known: 1, 2, 3)" },
    });
    expect(versions.parse({ data: JSON.stringify({ ...EVENT, schema_version: "1" }) }, {}, ctx)).toEqual({
      ok: false,
      error: { field: "schema_version", reason: 'is "1", not a known schema version (known: 1, 2, 3)' },
    });
    // Without a default: a message naming no version is refused.
    const noDefault = parsersFromConfig({ versions: { "1": { parser: "json" }, "4": { parser: "json" } } }, dir);
    expect(noDefault.parse({ data: JSON.stringify(EVENT) }, {}, ctx)).toEqual({
      ok: false,
      error: {
        field: "schema_version",
        reason:
          "is missing: no schema_version attribute, the payload names none, and there is no defaultVersion (known: 1, 4)",
      },
    });
    // The attribute and the payload disagree: the attribute's parser refuses the payload's version.
    expect(
      noDefault.parse({ data: JSON.stringify({ ...EVENT, schema_version: 1 }) }, { schema_version: "4" }, ctx),
    ).toEqual({
      ok: false,
      error: { field: "schema_version", reason: "must be one of 4, got 1" },
    });
  });

  it("the default parser (no --parsers) is parseEvent; bytes that are not UTF-8 are refused as such, and so is size", () => {
    const text = JSON.stringify({ ...EVENT, schema_version: 1 });
    expect(JSON_PARSER.parse({ data: text }, {}, { correlationId: "c" })).toEqual(parseEvent(text, "c"));
    expect(JSON_PARSER.parse(payloadOfBytes(Uint8Array.from([0x7b, 0xff, 0x7d])), {}, ctx)).toEqual({
      ok: false,
      error: {
        field: "payload",
        reason: "is not UTF-8 text (3 bytes that are not valid UTF-8; Bronze keeps them in base64)",
      },
    });
    const big = new Uint8Array(70_000).fill(0xff);
    expect(JSON_PARSER.parse(payloadOfBytes(big), {}, ctx)).toEqual({
      ok: false,
      error: { field: "payload", reason: "is larger than 65536 bytes (70000)" },
    });
  });

  it("a YAML parsers file and a YAML mapping (by their names) parse as the shipped JSON ones do", () => {
    // deploy/parsers/versions.json and legacy-mapping.json written by hand in YAML (comments, flow and block styles).
    writeFileSync(
      join(dir, "legacy-mapping.yaml"),
      [
        "# the legacy shape: ids as integers, time in epoch seconds",
        "fields:",
        "  event_id: { from: id, type: string }",
        "  event_type: { from: type }",
        "  user_id: { from: user.id, type: string }",
        "  tenant_id: { from: user.tenant, attribute: tenant_id }",
        "  platform: { from: client.os, default: web }",
        "  page: { from: client.path }",
        "  amount: { from: total, type: number }",
        "  currency: { from: cur }",
        "  event_time: { from: ts, format: epoch_s }",
        "  properties.order_id: { from: order.id, type: string }",
        "keepUnmapped: false",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "versions.yml"),
      [
        "defaultVersion: 1",
        "versions:",
        "  '1': { parser: json }",
        "  '3':",
        "    parser: mapping",
        "    mapping: legacy-mapping.yaml",
        "",
      ].join("\n"),
    );
    const yaml = loadParsers(join(dir, "versions.yml"), "--parsers=versions.yml");
    const legacy = {
      id: 12,
      type: "purchase",
      user: { id: 3 },
      client: { path: "/buy", os: "ios" },
      total: "19.5",
      cur: "EUR",
      order: { id: 77 },
      ts: 1_764_000_000,
    };
    for (const [data, attributes] of [
      [JSON.stringify(legacy), { schema_version: "3", tenant_id: "acme" }],
      [JSON.stringify({ ...legacy, ts: "soon" }), { schema_version: "3", tenant_id: "acme" }],
      [JSON.stringify({ ...EVENT, schema_version: 1 }), {}],
    ] as const) {
      const fromYaml = yaml.parse({ data }, attributes, ctx);
      expect(fromYaml).toEqual(versions.parse({ data }, attributes, ctx));
    }
    expect(yaml.parse({ data: JSON.stringify(legacy) }, { schema_version: "3", tenant_id: "acme" }, ctx)).toMatchObject(
      { ok: true, event: { event_id: "12", amount: 19.5, properties: { order_id: "77" } } },
    );
  });

  it("a bad parsers file is refused naming the file, the key and the problem", () => {
    const file = (name: string, content: string) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    };
    const refused = (config: unknown) => () => loadParsers(file("p.json", JSON.stringify(config)), "--parsers=p.json");
    expect(() => loadParsers(join(dir, "none.json"), "--parsers=none.json")).toThrow(
      `--parsers=none.json: cannot read ${join(dir, "none.json")}: ENOENT`,
    );
    expect(() => loadParsers(file("bad.json", "{"), "--parsers=bad.json")).toThrow(
      `--parsers=bad.json: ${join(dir, "bad.json")} is not JSON`,
    );
    // YAML by the file's name: its error has the line and column; a repeated key is refused, not overwritten.
    expect(() => loadParsers(file("bad.yaml", "versions:\n  1: [\n"), "--parsers=bad.yaml")).toThrow(
      /--parsers=bad\.yaml: .*bad\.yaml is not YAML: .*line 3/,
    );
    expect(() =>
      loadParsers(file("twice.yml", "versions:\n  1: {parser: json}\n  1: {parser: mapping}\n"), "--parsers=twice.yml"),
    ).toThrow(/--parsers=twice\.yml: .*twice\.yml is not YAML: Map keys must be unique/);
    expect(refused({ versions: {} })).toThrow("--parsers=p.json: versions names no schema version");
    expect(refused({ versions: { v1: { parser: "json" } } })).toThrow(
      '--parsers=p.json: versions.v1: a schema version is a whole number from 1, got "v1"',
    );
    expect(refused({ versions: { "1": { parser: "xml" } } })).toThrow(
      '--parsers=p.json: versions.1: parser must be one of json, mapping, protobuf, got "xml"',
    );
    expect(refused({ versions: { "1": { parser: "mapping" } } })).toThrow(
      '--parsers=p.json: versions.1: a mapping parser needs "mapping" (an object or a file)',
    );
    expect(refused({ versions: { "1": { parser: "json", mapping: { fields: {} } } } })).toThrow(
      '--parsers=p.json: versions.1: unknown key "mapping" (known here: parser)',
    );
    expect(refused({ versions: { "1": { parser: "mapping", mapping: "nope.json" } } })).toThrow(
      `--parsers=p.json: versions.1: mapping: cannot read ${join(dir, "nope.json")}`,
    );
    expect(refused({ defaultVersion: 2, versions: { "1": { parser: "json" } } })).toThrow(
      "--parsers=p.json: defaultVersion must be one of the versions (1), got 2",
    );
    expect(refused({ version: {} })).toThrow(
      '--parsers=p.json: unknown key "version" (known here: defaultVersion, versions)',
    );
  });
});
