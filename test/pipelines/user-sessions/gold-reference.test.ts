import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import { type GenerateOptions, generateMessages, generateStream } from "../../../pipelines/user-sessions/generate.ts";
import { medallion } from "../../../pipelines/user-sessions/pipeline.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { stepMetrics } from "../../../runners/direct/metrics.ts";
import type { RawMessage } from "../../../schemas/event.ts";

/**
 * Gold computed with SQL over Silver, from the columns' definitions (schemas/tables.ts), sharing no code with the
 * pipeline: sessions are gaps-and-islands (an event 30 minutes or more after the previous one starts a session);
 * ties in event time are broken by event id wherever "first" or "last" is asked for.
 */
const STEP = `CASE
  WHEN event_type = 'purchase' THEN 'purchase'
  WHEN event_type = 'user_signup' THEN 'signup_attempt'
  WHEN event_type = 'button_click' AND button = 'cta' THEN 'landing_cta'
  WHEN event_type = 'button_click' AND button = 'plan_select' THEN 'plan_selection'
  WHEN event_type = 'button_click' AND button = 'signup_submit' THEN 'signup_attempt'
  WHEN event_type = 'button_click' AND button = 'checkout' THEN 'purchase_attempt'
END`;

const GAP_MS = 30 * 60 * 1000;

const REFERENCE_SESSIONS = `
WITH e AS (
  SELECT *, epoch_ms(event_time) AS t, ${STEP} AS step FROM silver_events
), ordered AS (
  SELECT *, CASE WHEN lag(t) OVER w IS NULL OR t - lag(t) OVER w >= ${GAP_MS} THEN 1 ELSE 0 END AS starts
  FROM e WINDOW w AS (PARTITION BY tenant_id, user_id ORDER BY t, event_id)
), numbered AS (
  SELECT *, sum(starts) OVER (PARTITION BY tenant_id, user_id ORDER BY t, event_id ROWS UNBOUNDED PRECEDING) AS n
  FROM ordered
)
SELECT tenant_id, user_id,
  min(t) AS session_start,
  max(t) + ${GAP_MS} AS session_end,
  max(t) - min(t) AS duration_ms,
  count(*) AS event_count,
  count(*) FILTER (WHERE event_type = 'page_view') AS page_views,
  count(*) FILTER (WHERE event_type = 'button_click') AS clicks,
  count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
  coalesce(sum(amount) FILTER (WHERE event_type = 'purchase'), 0) AS revenue,
  arg_min(page, (t, event_id)) FILTER (WHERE page IS NOT NULL) AS entry_page,
  arg_max(page, (t, event_id)) FILTER (WHERE page IS NOT NULL) AS exit_page,
  list_sort(list_distinct(list(platform))) AS platforms,
  list_filter(['landing_cta', 'plan_selection', 'signup_attempt', 'purchase_attempt', 'purchase'],
              s -> list_contains(list(step), s)) AS funnel_steps,
  bool_or(event_type = 'purchase') AS converted,
  arg_min(acquisition_source, (t, event_id))
    FILTER (WHERE event_type = 'user_signup' AND acquisition_source IS NOT NULL) AS acquisition_source,
  arg_max(correlation_id, (t, event_id)) FILTER (WHERE correlation_id IS NOT NULL) AS last_correlation_id
FROM numbered GROUP BY tenant_id, user_id, n`;

const REFERENCE_HOURLY = `
WITH e AS (SELECT *, ${STEP} AS step FROM silver_events)
SELECT tenant_id,
  epoch_ms(time_bucket(INTERVAL 1 HOUR, event_time)) AS hour_start,
  count(*) AS events,
  count(DISTINCT user_id) AS active_users,
  count(*) FILTER (WHERE event_type = 'session_start') AS sessions_started,
  coalesce(sum(amount) FILTER (WHERE event_type = 'purchase'), 0) AS revenue,
  count(DISTINCT user_id) FILTER (WHERE step = 'landing_cta') AS funnel_landing_cta,
  count(DISTINCT user_id) FILTER (WHERE step = 'plan_selection') AS funnel_plan_selection,
  count(DISTINCT user_id) FILTER (WHERE step = 'signup_attempt') AS funnel_signup_attempt,
  count(DISTINCT user_id) FILTER (WHERE step = 'purchase_attempt') AS funnel_purchase_attempt,
  count(DISTINCT user_id) FILTER (WHERE step = 'purchase') AS funnel_purchase
FROM e GROUP BY ALL`;

const SESSION_COLUMNS = [
  "tenant_id",
  "user_id",
  "session_start",
  "session_end",
  "duration_ms",
  "event_count",
  "page_views",
  "clicks",
  "purchases",
  "revenue",
  "entry_page",
  "exit_page",
  "platforms",
  "funnel_steps",
  "converted",
  "acquisition_source",
  "last_correlation_id",
];
const HOURLY_COLUMNS = [
  "tenant_id",
  "hour_start",
  "events",
  "active_users",
  "sessions_started",
  "revenue",
  "funnel_landing_cta",
  "funnel_plan_selection",
  "funnel_signup_attempt",
  "funnel_purchase_attempt",
  "funnel_purchase",
];

/**
 * Rows as sorted JSON lines of the columns named. Revenue is a float sum whose last bits depend on the order of the
 * additions (the pipeline adds in arrival order, SQL in its own): compared to a millionth.
 */
function lines(rows: readonly Record<string, unknown>[], columns: readonly string[]): string[] {
  return rows
    .map((r) =>
      JSON.stringify(
        columns.map((c) => (c === "revenue" ? Math.round(Number(r[c]) * 1e6) / 1e6 : r[c])),
        (_, v) => (typeof v === "bigint" ? Number(v) : v),
      ),
    )
    .sort();
}

/** Runs the medallion over a fixture file into DuckDB; Gold against the SQL reference, every business column. */
async function goldAgainstReference(fixture: string): Promise<Record<string, number>> {
  const warehouse = await DuckDbWarehouse.create(":memory:");
  await warehouse.open();
  const p = Pipeline.create();
  medallion(p, fixtureFileSource<RawMessage>(fixture), warehouse);
  const metrics = await new DirectRunner().run(p, { maxBundleMs: 1_000 });
  // Nothing came beyond the allowed lateness (24 h): Gold is the full truth, with no event left out.
  expect(stepMetrics(metrics, "GoldSessions/Aggregate").droppedLate).toBe(0);
  expect(stepMetrics(metrics, "GoldHourly/Aggregate").droppedLate).toBe(0);
  const cols = SESSION_COLUMNS.join(", ");
  const gold = lines(await warehouse.query(`SELECT ${cols} FROM gold_sessions`), SESSION_COLUMNS);
  const reference = lines(await warehouse.query(REFERENCE_SESSIONS), SESSION_COLUMNS);
  expect(gold.length).toBe(reference.length);
  expect(gold).toEqual(reference);
  const hourly = lines(
    await warehouse.query(`SELECT ${HOURLY_COLUMNS.join(", ")} FROM gold_tenant_hourly`),
    HOURLY_COLUMNS,
  );
  expect(hourly).toEqual(lines(await warehouse.query(REFERENCE_HOURLY), HOURLY_COLUMNS));
  // Every Gold session is final once the stream has ended.
  expect((await warehouse.query("SELECT count(*) AS n FROM gold_sessions WHERE NOT is_final"))[0]?.n).toBe(0);
  const counts = await warehouse.counts();
  const invalid = Number((await warehouse.query("SELECT count(*) AS n FROM bronze_messages WHERE NOT valid"))[0]?.n);
  const correlated = Number(
    (await warehouse.query("SELECT count(*) AS n FROM gold_sessions WHERE last_correlation_id IS NOT NULL"))[0]?.n,
  );
  await warehouse.close();
  return { ...counts, invalid, sessions: gold.length, hours: hourly.length, correlated };
}

/** The exact table sizes the generator's ground truth gives: every message, each event once, the malformed apart. */
function groundTruthCounts(options: Partial<GenerateOptions>): { bronze: number; silver: number; invalid: number } {
  const messages = generateMessages(options);
  return {
    bronze: messages.length,
    silver: messages.filter((m) => m.origin.kind === "event").length,
    invalid: messages.filter((m) => m.origin.kind === "malformed").length,
  };
}

describe("every Gold column against an independent SQL reference over Silver", () => {
  it("the shipped fixture: sessions and hourly rows equal, column by column; table sizes exact", async () => {
    const counts = await goldAgainstReference("test/fixtures/events-small.jsonl");
    const truth = groundTruthCounts({});
    expect(counts.bronze_messages).toBe(truth.bronze);
    expect(counts.silver_events).toBe(truth.silver);
    expect(counts.invalid).toBe(truth.invalid);
    expect(counts.sessions).toBeGreaterThan(100);
  }, 60_000);

  it("a generated stream of over 100,000 messages (2,000 users): the same, exactly", async () => {
    const options = { users: 2_000, seed: 20_261_207 };
    const dir = mkdtempSync(join(tmpdir(), "tidemark-gold-ref-"));
    try {
      const fixture = join(dir, "events.jsonl");
      writeFileSync(fixture, `${[...generateStream(options)].join("\n")}\n`);
      const truth = groundTruthCounts(options);
      expect(truth.bronze).toBeGreaterThan(100_000);
      const counts = await goldAgainstReference(fixture);
      expect(counts.bronze_messages).toBe(truth.bronze);
      expect(counts.silver_events).toBe(truth.silver);
      expect(counts.invalid).toBe(truth.invalid);
      expect(counts.sessions).toBeGreaterThan(5_000);
      // The generator's messages carry a correlation id: every session has its latest one.
      expect(counts.correlated).toBe(counts.sessions);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
