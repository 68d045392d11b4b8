import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// A fixture message's payload `encoding` (schemas/payload.ts: absent for text, "base64") is checked as the job reads
// it: an unknown one would have made the payload's bytes its text, and base64 with stray characters would have lost
// them (Buffer's base64 decoding skips what is not base64).

const dir = mkdtempSync(join(tmpdir(), "tidemark-fixture-encoding-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T = Date.UTC(2026, 0, 5, 9);
function run(name: string, value: Record<string, unknown>) {
  const fixture = join(dir, `${name}.jsonl`);
  const message = { messageId: "m1", publishTime: T, attributes: { tenant_id: "acme" }, data: "{}", ...value };
  writeFileSync(
    fixture,
    [
      JSON.stringify({ processingTime: T }),
      JSON.stringify({ input: [{ value: message, timestamp: T }] }),
      JSON.stringify({ watermark: "inf" }),
    ].join("\n"),
  );
  return spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "pipelines/user-sessions/cli.ts",
      `--input=${fixture}`,
      `--warehouse=duckdb:${join(dir, `${name}.duckdb`)}`,
    ],
    { encoding: "utf8" },
  );
}

describe("a fixture's payload encodings", () => {
  it("refuses an encoding that is not one, and base64 data that is not base64, naming the file, line and message", () => {
    const hex = run("hex", { data: "7b7d", encoding: "hex" });
    expect(hex.status).not.toBe(0);
    expect(hex.stderr).toContain(
      `hex.jsonl line 2: message \\"m1\\": encoding must be absent (UTF-8 text) or \\"base64\\"`,
    );
    const stray = run("stray", { data: "/wD DKA==", encoding: "base64" });
    expect(stray.status).not.toBe(0);
    expect(stray.stderr).toContain(`stray.jsonl line 2: message \\"m1\\": data is not base64 (encoding \\"base64\\")`);
    const ok = run("ok", { data: Buffer.from([0xff, 0x00, 0xc3, 0x28]).toString("base64"), encoding: "base64" });
    expect(ok.status, ok.stderr).toBe(0);
  }, 120_000);
});
