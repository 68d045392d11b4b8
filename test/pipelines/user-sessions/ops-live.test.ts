/**
 * A newcomer's view: the command line on a Pub/Sub subscription (the official emulator) with `--metrics-port`, scraped
 * while it runs. The figures move as the messages are read, and end equal to the generator's ground truth and to the
 * tables the run wrote.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { provision } from "../../../io/pubsub/provision.ts";
import { PubsubPublisher } from "../../../io/pubsub/pubsub-sink.ts";
import { generateMessages } from "../../../pipelines/user-sessions/generate.ts";
import { useEmulator } from "../../io/pubsub/emulator-fixture.ts";
import { parseExposition } from "../../runners/observe/exposition.ts";
import { until } from "../../until.ts";
import { cliOnPubsub } from "./cli-on-pubsub.ts";

const PROJECT = "tidemark-ops";
const pubsub = useEmulator(PROJECT);

describe("the command line's --metrics-port on Pub/Sub", () => {
  it("is ready once it reads, shows the job move, and ends equal to the tables", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tidemark-ops-live-"));
    await provision(pubsub.client(), {
      topics: [{ name: "events", subscriptions: [{ name: "medallion", ackDeadlineSeconds: 10 }] }],
    });
    const messages = generateMessages({ users: 10, seed: 5, startMs: Date.now() });
    const half = Math.floor(messages.length / 2);
    const publisher = new PubsubPublisher({ pubsub: pubsub.client(), topic: "events" });
    const publish = async (part: typeof messages) => {
      for (const { message } of part) publisher.publish({ data: message.data, attributes: message.attributes });
      await publisher.flush();
    };
    await publish(messages.slice(0, half));
    const db = join(dir, "ops.duckdb");
    const run = cliOnPubsub({
      project: PROJECT,
      subscription: "medallion",
      endpoint: pubsub.emulator().endpoint,
      args: [
        `--warehouse=duckdb:${db}`,
        "--metrics-port=0",
        `--checkpoint-dir=${join(dir, "checkpoints")}`,
        "--checkpoint-seconds=1",
        `--max-messages=${messages.length}`,
        "--stop-when-idle=60",
      ],
    });
    const { child, exit } = run;
    const out = () => run.output();
    try {
      const url = await run.address("metrics");
      const scrape = async () => parseExposition(await (await fetch(`${url}/metrics`)).text());
      await until("ready", async () => (await fetch(`${url}/readyz`)).status === 200, { timeoutMs: 60_000 });
      // The first half read and acknowledged: the figures say so while the job waits for more.
      await until(
        "the first half acknowledged",
        async () => (await scrape()).value("tidemark_pubsub_acknowledged_total", {}) === half,
        { timeoutMs: 60_000, state: out },
      );
      const mid = await scrape();
      expect(mid.value("tidemark_step_elements_out_total", { step: "Read" })).toBe(half);
      expect(mid.value("tidemark_pubsub_connected", {})).toBe(1);
      expect(mid.value("tidemark_pubsub_outstanding_messages", {})).toBe(0);
      expect(mid.value("tidemark_checkpoints_total", {})).toBeGreaterThan(0);
      const lag = mid.value("tidemark_source_watermark_lag_seconds", { step: "Read" });
      expect(lag).toBeGreaterThan(0);
      expect(lag).toBeLessThan(24 * 3600);
      await publish(messages.slice(half));
      // It drains at --max-messages and closes its endpoints; its report has the same figures.
      expect(await exit).toBe(0);
      const w = await DuckDbWarehouse.create(db);
      try {
        const bronze = await w.query("SELECT count(*) AS n FROM bronze_messages");
        expect(Number(bronze[0]?.n)).toBe(messages.length);
      } finally {
        await w.close();
      }
      expect(out()).toMatch(new RegExp(`^${messages.length} messages in`, "m"));
      expect(out()).toContain(`Pub/Sub messages acknowledged: ${messages.length}`);
    } finally {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
