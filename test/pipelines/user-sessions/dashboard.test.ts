import { afterEach, describe, expect, it } from "vitest";
import type { UserMetric } from "../../../core/metrics.ts";
import { MIN_TIMESTAMP } from "../../../core/time/instant.ts";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import type { PubsubSourceStats } from "../../../io/pubsub/pubsub-source.ts";
import {
  checkUiPort,
  type MedallionDashboard,
  startMedallionDashboard,
} from "../../../pipelines/user-sessions/dashboard.ts";
import type { MetricsSnapshot } from "../../../runners/direct/metrics.ts";
import { CommitStats } from "../../../runners/observe/commit-stats.ts";
import type { ChangeView, DashboardView } from "../../../runners/observe/ui/dashboard-view.ts";
import { session } from "../../io/warehouse-contract.ts";

/** The first `view` event, and the first `changes` event if `changes` (read from the dashboard's stream). */
async function firstEvents(
  url: string,
  changes: boolean,
): Promise<{ view: DashboardView; changes?: { total: number; changes: ChangeView[] } }> {
  const res = await fetch(`${url}/events`);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  const parse = (event: string) => {
    const m = new RegExp(`^event: ${event}\\ndata: (.*)$`, "m").exec(text);
    return m === null ? undefined : JSON.parse(m[1] as string);
  };
  try {
    while (parse("view") === undefined || (changes && parse("changes") === undefined)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel();
  }
  return { view: parse("view"), changes: parse("changes") };
}

const counter = (step: string, namespace: string, name: string, labels: Record<string, string>, value: number) =>
  ({ step, namespace, name, labels, kind: "counter", value }) as const satisfies UserMetric;

describe("the medallion's dashboard", () => {
  let dashboard: MedallionDashboard | undefined;
  afterEach(async () => {
    await dashboard?.close();
    dashboard = undefined;
  });

  it("shows the job's backlog, dead letters by field, rows per table and Gold's freshness", async () => {
    const stats: PubsubSourceStats = {
      received: 12,
      duplicatesDropped: 0,
      badTimestamps: 0,
      acked: 9,
      nacked: 0,
      outstanding: 3,
      watermark: MIN_TIMESTAMP,
      reconnects: 0,
      connected: true,
    };
    dashboard = await startMedallionDashboard({
      port: 0,
      host: "127.0.0.1",
      pubsub: () => stats,
      input: "pubsub://projects/p/subscriptions/s",
      commits: new CommitStats(() => 100_000),
      now: () => 100_000,
    });
    const snap: MetricsSnapshot = {
      steps: [],
      processingTime: 0,
      sourceEvents: 0,
      user: [
        counter("CountDeadLetters", "medallion", "dead_letters", { field: "event_time" }, 2),
        counter("CountDeadLetters", "medallion", "dead_letters", { field: "data" }, 1),
        counter("WriteSessions", "tidemark", "sink_rows_written", { sink: "gold_sessions" }, 5),
        counter("WriteBronze", "tidemark", "sink_rows_written", { sink: "bronze_messages" }, 12),
        {
          step: "WriteSessions",
          namespace: "medallion",
          name: "gold_newest_event_ms",
          labels: {},
          kind: "gauge",
          value: 40_000,
          timestampMs: 0,
        },
      ],
    };
    dashboard.watch(() => snap);
    const { view } = await firstEvents(dashboard.url, false);
    expect(view).toMatchObject({ title: "user-sessions", subtitle: "pubsub://projects/p/subscriptions/s" });
    const figures = Object.fromEntries(view.figures.map((f) => [f.id, f.value]));
    expect(figures).toEqual({
      backlog: 3,
      acknowledged: 9,
      "dead-letters": 3,
      "gold-written": 5,
      "gold-freshness": 60,
    });
    expect(view.breakdowns).toMatchObject([
      {
        id: "dead-letters",
        rows: [
          { label: "data", value: 1 },
          { label: "event_time", value: 2 },
        ],
      },
      {
        id: "rows-written",
        rows: [
          { label: "bronze_messages", value: 12 },
          { label: "gold_sessions", value: 5 },
        ],
      },
    ]);
  });

  it("pushes the Gold sessions a warehouse write committed, and none of a write that failed", async () => {
    dashboard = await startMedallionDashboard({
      port: 0,
      host: "127.0.0.1",
      commits: new CommitStats(() => 7),
      now: () => 7,
    });
    const warehouse = dashboard.tap(await DuckDbWarehouse.create(":memory:"));
    try {
      await warehouse.open();
      await warehouse.writeSessions(
        [session("s1", { event_count: 4, revenue: 12.5 }), session("s2")],
        ["s0"],
        new Map([
          ["s1", 3],
          ["s2", 1],
          ["s0", 2],
        ]),
      );
      const rows = await warehouse.query("SELECT session_id, event_count FROM gold_sessions ORDER BY 1");
      expect(rows.map((r) => [r.session_id, Number(r.event_count)])).toEqual([
        ["s1", 4],
        ["s2", 1],
      ]);
      await warehouse.close();
      await expect(warehouse.writeSessions([session("s3")], [])).rejects.toThrow();
      const { changes } = await firstEvents(dashboard.url, true);
      expect(changes?.total).toBe(3);
      expect(changes?.changes.map((c) => [c.key, c.kind])).toEqual([
        ["s1", "upsert"],
        ["s2", "upsert"],
        ["s0", "delete"],
      ]);
      const s1 = changes?.changes[0];
      expect(s1).toMatchObject({ atMs: 7, title: "t1 · u1" });
      expect(Object.fromEntries((s1?.fields ?? []).map((f) => [f.name, f.text]))).toMatchObject({
        event_count: "4",
        revenue: "12.50",
        pane_timing: "EARLY",
        seq: "3",
      });
    } finally {
      await warehouse.close().catch(() => undefined);
    }
  });

  it("refuses --ui-port that is not a port, or on Dataflow", () => {
    expect(() => checkUiPort({ uiPort: 8080, runner: "direct" })).not.toThrow();
    expect(() => checkUiPort({ uiPort: 65_536, runner: "direct" })).toThrow(/--ui-port must be a TCP port/);
    expect(() => checkUiPort({ uiPort: 1.5, runner: "direct" })).toThrow(/--ui-port must be a TCP port/);
    expect(() => checkUiPort({ uiPort: 0, runner: "dataflow" })).toThrow(/--ui-port shows a local run/);
  });
});
