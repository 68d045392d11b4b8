import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import { payloadBytes } from "../../../schemas/payload.ts";

// The README's example of schema versions, through the command line on a fixture (no server): test/fixtures/
// events-versions.jsonl (JSON, protobuf, a legacy shape, unknown versions, bytes that are not UTF-8) with
// --parsers=deploy/parsers/versions.json, into DuckDB.

const FIXTURE = "test/fixtures/events-versions.jsonl";
const dir = mkdtempSync(join(tmpdir(), "tidemark-versions-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: readonly string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "pipelines/user-sessions/cli.ts", ...args], { encoding: "utf8" });

/** The fixture's messages, as written (the reference for Bronze's bytes). */
function sent(): RawMessage[] {
  return readFileSync(FIXTURE, "utf8")
    .split("\n")
    .filter((l) => l.startsWith('{"input"'))
    .flatMap((l) => (JSON.parse(l) as { input: { value: RawMessage }[] }).input.map((e) => e.value));
}

describe("--parsers on a fixture: one parser per schema version", () => {
  it("each version's parser, unknown versions and binary payloads dead-lettered with their reason, bytes kept", async () => {
    const db = join(dir, "versions.duckdb");
    const r = cli([`--input=${FIXTURE}`, "--parsers=deploy/parsers/versions.json", `--warehouse=duckdb:${db}`]);
    expect(r.status, r.stderr).toBe(0);
    const w = await DuckDbWarehouse.create(db, { autoCreateUnder: dir });
    try {
      const bronze = await w.query(
        "SELECT message_id, attributes->>'sent_as' AS sent_as, payload, payload_encoding, valid, error_field, error_reason " +
          "FROM bronze_messages ORDER BY message_id",
      );
      const messages = sent();
      expect(bronze.map((b) => b.message_id)).toEqual(messages.map((m) => m.messageId));
      // Every payload's exact bytes, recovered from Bronze, equal the fixture's.
      for (const [i, b] of bronze.entries()) {
        const back = payloadBytes({
          data: String(b.payload),
          ...(b.payload_encoding === "base64" ? { encoding: "base64" as const } : {}),
        });
        expect(back.equals(payloadBytes(messages[i] as RawMessage)), String(b.sent_as)).toBe(true);
        expect(b.payload_encoding).toBe((messages[i] as RawMessage).encoding ?? null);
      }
      expect(
        bronze.map(({ sent_as, valid, error_field, error_reason }) => ({ sent_as, valid, error_field, error_reason })),
      ).toEqual([
        { sent_as: "v1-json", valid: true, error_field: null, error_reason: null },
        { sent_as: "v2-protobuf", valid: true, error_field: null, error_reason: null },
        { sent_as: "v3-legacy", valid: true, error_field: null, error_reason: null },
        { sent_as: "v3-by-payload", valid: true, error_field: null, error_reason: null },
        {
          sent_as: "v7-unknown",
          valid: false,
          error_field: "attributes.schema_version",
          error_reason: 'is "7", not a known schema version (known: 1, 2, 3)',
        },
        {
          sent_as: "v9-in-payload",
          valid: false,
          error_field: "schema_version",
          error_reason: "is 9, not a known schema version (known: 1, 2, 3)",
        },
        {
          sent_as: "binary",
          valid: false,
          error_field: "payload",
          error_reason: "is not UTF-8 text (5 bytes that are not valid UTF-8; Bronze keeps them in base64)",
        },
        {
          sent_as: "v2-truncated",
          valid: false,
          error_field: "payload",
          error_reason: "is not a protobuf tidemark.events.v1.UserEvent: premature EOF",
        },
      ]);
      const silver = await w.query(
        "SELECT event_id, event_type, user_id, tenant_id, schema_version, event_time_raw, epoch_ms(event_time) AS t, " +
          "amount, currency, button, platform, page, properties FROM silver_events ORDER BY event_id",
      );
      const T = Date.UTC(2026, 0, 5, 9, 0, 0);
      const row = (o: Record<string, unknown>) => ({
        tenant_id: "acme",
        amount: null,
        currency: null,
        button: null,
        platform: "web",
        page: null,
        properties: null,
        ...o,
      });
      expect(silver).toEqual([
        row({
          event_id: "3003",
          event_type: "purchase",
          user_id: "1",
          schema_version: 3,
          event_time_raw: String((T + 4 * 60_000) / 1000),
          t: T + 4 * 60_000,
          amount: 29,
          currency: "EUR",
          platform: "ios",
          page: "/checkout",
          properties: { order_id: "77" },
        }),
        row({
          event_id: "3004",
          event_type: "page_view",
          user_id: "2",
          schema_version: 3,
          event_time_raw: String((T + 6 * 60_000) / 1000),
          t: T + 6 * 60_000,
        }),
        row({
          event_id: "e-1",
          event_type: "page_view",
          user_id: "u-1",
          schema_version: 1,
          event_time_raw: "2026-01-05T09:00:00.000Z",
          t: T,
          page: "/pricing",
        }),
        row({
          event_id: "e-2",
          event_type: "button_click",
          user_id: "u-1",
          schema_version: 2,
          event_time_raw: "2026-01-05T09:02:00.000Z",
          t: T + 2 * 60_000,
          button: "cta",
          page: "/pricing",
        }),
      ]);
    } finally {
      await w.close();
    }
  }, 120_000);

  it("a --parsers file that cannot be used is refused before anything runs, naming the flag and the problem", () => {
    const missing = cli(["--parsers=nope.json", `--warehouse=duckdb:${join(dir, "x.duckdb")}`]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/--parsers=nope\.json: cannot read \S*nope\.json: ENOENT/);
    const notParsers = cli(["--parsers=package.json", `--warehouse=duckdb:${join(dir, "y.duckdb")}`]);
    expect(notParsers.status).not.toBe(0);
    // The log writes the message as JSON (its quotes escaped) when stderr is not a terminal.
    expect(notParsers.stderr).toContain("--parsers=package.json: unknown key");
    expect(notParsers.stderr).toContain("name");
    expect(notParsers.stderr).toContain("(known here: defaultVersion, versions)");
    const help = cli(["--help"]);
    expect(help.stdout).toMatch(/--parsers=FILE/);
  }, 120_000);
});
