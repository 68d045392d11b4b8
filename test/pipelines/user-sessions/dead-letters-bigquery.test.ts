import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDeadLetterSource } from "../../../pipelines/user-sessions/dead-letter-sources.ts";
import type { ShownDeadLetter } from "../../../pipelines/user-sessions/dead-letters.ts";
import {
  type GeneratedMessage,
  type GenerateOptions,
  generateMessages,
  generateStream,
} from "../../../pipelines/user-sessions/generate.ts";
import { payloadOfBytes } from "../../../schemas/payload.ts";
import { DATASET, useBigQueryEmulator } from "../../io/bigquery/emulator-fixture.ts";
import { countBy, expectedField } from "./dead-letter-truth.ts";
import { deadLettersJson } from "./dead-letters-cli.ts";

// `npm run dead-letters` over Bronze's invalid rows in BigQuery (the BigQuery emulator): a generated fixture with
// known malformed payloads run by the command line into the emulator's dataset; `list`'s counts by field are the
// generator's ground truth, `show` gives each payload and attributes as generated, and a replay's plan takes every
// one of them but the one the fixture also holds a replay of (found through the replay attribute in BigQuery).

const bq = useBigQueryEmulator();
const dir = mkdtempSync(join(tmpdir(), "tidemark-dead-letters-bq-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OPTIONS: Partial<GenerateOptions> = { users: 3, seed: 12, malformedRate: 0.2, tenants: ["acme", "globex"] };

/** The pipeline's command line on `fixture` into the emulator's dataset; resolves with its exit code and output. */
function pipeline(fixture: string): Promise<{ code: number | null; text: string }> {
  const e = bq.emulator();
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "pipelines/user-sessions/cli.ts",
      `--input=${fixture}`,
      `--warehouse=bigquery://${e.projectId}/${DATASET}`,
      `--bigquery-endpoint=${e.apiEndpoint}`,
      `--bigquery-storage-endpoint=${e.grpcEndpoint}`,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let text = "";
  child.stdout.on("data", (b: Buffer) => {
    text += b.toString();
  });
  child.stderr.on("data", (b: Buffer) => {
    text += b.toString();
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, text })));
}

describe("npm run dead-letters on the BigQuery emulator", () => {
  it("lists and shows Bronze's invalid rows, and plans their replay (refusing one replayed already)", async () => {
    await bq.warehouse();
    const generated = generateMessages(OPTIONS);
    const originals = generated.filter((g) => g.origin.kind === "malformed");
    expect(originals.length).toBeGreaterThan(5);
    // At the end of the stream, a replay of the first malformed message, as `replay` publishes it: the same bytes
    // and attributes, and the replay's; malformed still, so it is dead-lettered too.
    const first = originals[0] as GeneratedMessage;
    const last = generated[generated.length - 1] as GeneratedMessage;
    const replay: GeneratedMessage = {
      message: {
        ...first.message,
        messageId: "replay-1",
        publishTime: last.message.publishTime + 1_000,
        attributes: {
          ...first.message.attributes,
          tidemark_replay_of: first.message.messageId,
          tidemark_replayed_at: new Date(last.message.publishTime).toISOString(),
        },
      },
      origin: first.origin,
    };
    const lines = [...generateStream(OPTIONS)];
    const end = lines.pop();
    lines.push(
      JSON.stringify({ processingTime: replay.message.publishTime + 1_000 }),
      JSON.stringify({ input: [{ value: replay.message, timestamp: replay.message.publishTime }] }),
      end as string,
    );
    const fixture = join(dir, "events.jsonl");
    writeFileSync(fixture, `${lines.join("\n")}\n`);
    const run = await pipeline(fixture);
    expect(run.code, run.text).toBe(0);
    const malformed = [...originals, replay];
    const e = bq.emulator();
    const from = [`--from=bigquery://${e.projectId}/${DATASET}`, `--bigquery-endpoint=${e.apiEndpoint}`];

    const listed = await deadLettersJson<{ total: number; counts: { field: string; count: number }[] }>([
      "list",
      ...from,
      "--by=field",
    ]);
    expect(Object.fromEntries(listed.counts.map((c) => [c.field, c.count]))).toEqual(
      countBy(malformed.map((g) => expectedField(g) as string)),
    );
    expect(listed.total).toBe(malformed.length);

    const shown = await deadLettersJson<ShownDeadLetter[]>(["show", ...from, "--limit=1000"]);
    const byId = new Map(malformed.map((g) => [g.message.messageId, g]));
    expect(shown.map((s) => s.message_id).sort()).toEqual([...byId.keys()].sort());
    for (const s of shown) {
      const g = byId.get(s.message_id);
      expect([s.payload_encoding, s.payload, s.attributes, s.error.field]).toEqual([
        "utf8",
        g?.message.data,
        g?.message.attributes,
        g === undefined ? undefined : expectedField(g),
      ]);
    }

    const plan = await deadLettersJson<{ replayed: { message_id: string }[]; skipped_already_replayed: unknown[] }>([
      "replay",
      ...from,
      "--to=pubsub://projects/tidemark-nowhere/topics/user-events",
      "--all",
      "--dry-run",
    ]);
    // The message Bronze holds a replay of is refused (the query on the replay attribute found it); the replay itself
    // is not replayed yet, so it may be.
    expect(plan.replayed.map((r) => r.message_id).sort()).toEqual(
      [...byId.keys()].filter((id) => id !== first.message.messageId).sort(),
    );
    expect(plan.skipped_already_replayed).toEqual([{ message_id: first.message.messageId, replays: ["replay-1"] }]);
  }, 180_000);

  it("reads each invalid row's exact bytes: a text payload with a leading BOM keeps it, base64 its bytes", async () => {
    const w = await bq.warehouse();
    const payloads = [
      Buffer.from('\ufeff{"event_id":"e1"}', "utf8"),
      Buffer.from("\ufeff", "utf8"),
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
    const e = bq.emulator();
    const source = openDeadLetterSource(`bigquery://${e.projectId}/${DATASET}`, { bigqueryEndpoint: e.apiEndpoint });
    try {
      const read = await source.read();
      expect(read.map((r) => [r.messageId, r.data.toString("hex")])).toEqual(
        payloads.map((b, i) => [`m${i}`, b.toString("hex")]),
      );
    } finally {
      await source.close();
    }
  }, 60_000);
});
