import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BigQueryWarehouse } from "../../io/bigquery/bigquery-warehouse.ts";
import { fixtureFileSource } from "../../io/test-stream/jsonl.ts";
import { runMedallion } from "../../pipelines/user-sessions/run.ts";
import type { RawMessage } from "../../schemas/event.ts";
import type { GoldHourlyRow, GoldSessionRow, SilverRow } from "../../schemas/rows.ts";
import type { TableSchema } from "../../schemas/table-schema.ts";
import { FUNNEL_STEPS, GOLD_HOURLY, GOLD_SESSIONS } from "../../schemas/tables.ts";
import { DATASET, useBigQueryEmulator } from "../io/bigquery/emulator-fixture.ts";

/**
 * The consumers of the Gold tables in deploy/: the SQL behind the Looker tiles (deploy/looker/queries.sql), the
 * Vertex AI feature view's source (deploy/vertex-ai/feature_view.sql), run on the BigQuery emulator over the
 * pipeline's output and checked against the same numbers computed here from the rows; and the LookML views checked
 * against schemas/tables.ts.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FIXTURE = "test/fixtures/events-small.jsonl";
const read = (path: string) => readFileSync(`${ROOT}${path}`, "utf8");

const QUERIES = namedQueries(read("deploy/looker/queries.sql"));
const FEATURE_VIEW_SQL = read("deploy/vertex-ai/feature_view.sql");

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const WINDOW_MS = 7 * DAY_MS;

/** The columns of feature_view.sql, in order: the entity id, the timestamp, then the features. */
const FEATURE_COLUMNS = [
  "entity_id",
  "feature_timestamp",
  "tenant_id",
  "user_id",
  "sessions_7d",
  "avg_session_seconds_7d",
  "purchases_7d",
  "revenue_7d",
  "conversion_rate_7d",
  "last_platform",
];

const bq = useBigQueryEmulator();

// --- the SQL files

/** The statements of a file of `-- name: <name>` sections, comments stripped. */
function namedQueries(text: string): Map<string, string> {
  const parts = text.split(/^-- name: *(\S+) *$/m);
  const out = new Map<string, string>();
  for (let i = 1; i < parts.length; i += 2) {
    const name = parts[i] as string;
    if (out.has(name)) throw new Error(`queries.sql names ${name} twice`);
    out.set(name, stripComments(parts[i + 1] as string).trim());
  }
  return out;
}

/** `sql` without its `--` comments (quotes respected). */
function stripComments(sql: string): string {
  let out = "";
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i] as string;
    if (ch === "'" || ch === '"' || ch === "`") {
      const end = sql.indexOf(ch, i + 1);
      out += sql.slice(i, end + 1);
      i = end;
    } else if (ch === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? sql.length : end - 1;
    } else {
      out += ch;
    }
  }
  return out;
}

function query(name: string): string {
  const sql = QUERIES.get(name);
  if (sql === undefined) throw new Error(`deploy/looker/queries.sql has no query ${name}`);
  return sql;
}

/** Fractions to 10 significant digits, recursively: SQL and TypeScript sum floats in different orders. */
function rounded(value: unknown): unknown {
  if (typeof value === "number") return Number.isInteger(value) ? value : Number(value.toPrecision(10));
  if (Array.isArray(value)) return value.map(rounded);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rounded(v)]));
  }
  return value;
}

// --- the same numbers, computed from the rows

interface SessionMeasures {
  sessions: number;
  users: number;
  avg_duration_seconds: number;
  conversion_rate: number;
  revenue: number;
  revenue_per_session: number;
}

/** A user is a tenant's: the same user id under two tenants is two users (and two entities of the feature view). */
const tenantUser = (s: Pick<GoldSessionRow, "tenant_id" | "user_id">): string => `${s.tenant_id}:${s.user_id}`;

function measuresOf(sessions: readonly GoldSessionRow[]): SessionMeasures {
  const n = sessions.length;
  const revenue = sessions.reduce((sum, s) => sum + s.revenue, 0);
  return {
    sessions: n,
    users: new Set(sessions.map(tenantUser)).size,
    avg_duration_seconds: sessions.reduce((sum, s) => sum + s.duration_ms, 0) / n / 1000,
    conversion_rate: sessions.filter((s) => s.converted).length / n,
    revenue,
    revenue_per_session: revenue / n,
  };
}

/** NULL first, then by value: BigQuery's ascending order. */
function compareNullable(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** Sessions grouped under each key `keysOf` gives them (a session under several keys counts under each). */
function breakdown(
  sessions: readonly GoldSessionRow[],
  column: string,
  keysOf: (s: GoldSessionRow) => readonly (string | null)[],
): Record<string, unknown>[] {
  const groups = new Map<string | null, GoldSessionRow[]>();
  for (const s of sessions) {
    for (const key of keysOf(s)) groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups]
    .map(([key, group]): Record<string, unknown> & SessionMeasures => ({ [column]: key, ...measuresOf(group) }))
    .sort((a, b) => b.sessions - a.sessions || compareNullable(a[column] as string | null, b[column] as string | null));
}

/** Platforms as the SQL's LEFT JOIN UNNEST sees them: a session without any shows once, under NULL. */
const platformsOf = (s: GoldSessionRow): readonly (string | null)[] => (s.platforms.length > 0 ? s.platforms : [null]);

function funnelOf(sessions: readonly GoldSessionRow[]): Record<string, unknown>[] {
  return FUNNEL_STEPS.map((step, i) => {
    const reached = sessions.filter((s) => s.funnel_steps.includes(step));
    return {
      step_number: i + 1,
      step,
      sessions: reached.length,
      users: new Set(reached.map(tenantUser)).size,
      share_of_sessions: reached.length / sessions.length,
      converted_sessions: reached.filter((s) => s.converted).length,
    };
  });
}

function tenantHourlyOf(rows: readonly GoldHourlyRow[]): Record<string, unknown>[] {
  const sorted = [...rows].sort((a, b) => compareNullable(a.tenant_id, b.tenant_id) || a.hour_start - b.hour_start);
  const dayToDate = new Map<string, number>();
  return sorted.map((h) => {
    const day = `${h.tenant_id}|${Math.floor(h.hour_start / DAY_MS)}`;
    const revenueDayToDate = (dayToDate.get(day) ?? 0) + h.revenue;
    dayToDate.set(day, revenueDayToDate);
    return {
      tenant_id: h.tenant_id,
      hour_start: h.hour_start,
      events: h.events,
      active_users: h.active_users,
      sessions_started: h.sessions_started,
      revenue: h.revenue,
      funnel_landing_cta: h.funnel_landing_cta,
      funnel_plan_selection: h.funnel_plan_selection,
      funnel_signup_attempt: h.funnel_signup_attempt,
      funnel_purchase_attempt: h.funnel_purchase_attempt,
      funnel_purchase: h.funnel_purchase,
      purchases_per_landing_cta: h.funnel_landing_cta === 0 ? null : h.funnel_purchase / h.funnel_landing_cta,
      revenue_day_to_date: revenueDayToDate,
      pane_timing: h.pane_timing,
    };
  });
}

type SilverPlatformRow = Pick<SilverRow, "tenant_id" | "user_id" | "event_time" | "platform">;

interface UserFeatures {
  entity_id: string;
  feature_timestamp: number;
  tenant_id: string;
  user_id: string;
  sessions_7d: number;
  avg_session_seconds_7d: number;
  purchases_7d: number;
  revenue_7d: number;
  conversion_rate_7d: number;
  last_platform: string | null;
}

/** The feature view's rows as documented in feature_view.sql (a user is a tenant's), sorted by entity_id. */
function userFeaturesOf(sessions: readonly GoldSessionRow[], silver: readonly SilverPlatformRow[]): UserFeatures[] {
  const byUser = new Map<string, GoldSessionRow[]>();
  for (const s of sessions) byUser.set(tenantUser(s), [...(byUser.get(tenantUser(s)) ?? []), s]);
  const out: UserFeatures[] = [];
  for (const [entity, own] of byUser) {
    const user = (own[0] as GoldSessionRow).user_id;
    const latest = [...own].sort(
      (a, b) =>
        b.session_end - a.session_end ||
        b.session_start - a.session_start ||
        (a.session_id < b.session_id ? 1 : a.session_id > b.session_id ? -1 : 0),
    )[0] as GoldSessionRow;
    const at = latest.session_end;
    const week = own.filter((s) => s.session_end > at - WINDOW_MS && s.session_end <= at);
    let lastPlatform = latest.platforms[0] ?? null;
    if (latest.platforms.length > 1) {
      const lastEvent = silver
        .filter(
          (e) =>
            e.user_id === user &&
            e.tenant_id === latest.tenant_id &&
            e.event_time >= latest.session_start &&
            e.event_time < latest.session_end &&
            latest.platforms.includes(e.platform),
        )
        .sort((a, b) => b.event_time - a.event_time || compareNullable(a.platform, b.platform))[0];
      lastPlatform = lastEvent?.platform ?? lastPlatform;
    }
    const m = measuresOf(week);
    out.push({
      entity_id: entity,
      feature_timestamp: at,
      tenant_id: latest.tenant_id,
      user_id: user,
      sessions_7d: m.sessions,
      avg_session_seconds_7d: m.avg_duration_seconds,
      purchases_7d: week.reduce((sum, s) => sum + s.purchases, 0),
      revenue_7d: m.revenue,
      conversion_rate_7d: m.conversion_rate,
      last_platform: lastPlatform,
    });
  }
  return out.sort((a, b) => compareNullable(a.entity_id, b.entity_id));
}

const byEntity = (rows: Record<string, unknown>[]) =>
  [...rows].sort((a, b) => compareNullable(a.entity_id as string, b.entity_id as string));

interface Tables {
  sessions: GoldSessionRow[];
  hourly: GoldHourlyRow[];
  silver: SilverPlatformRow[];
}

async function readTables(w: BigQueryWarehouse): Promise<Tables> {
  return {
    sessions: (await w.query("SELECT * FROM gold_sessions")) as unknown as GoldSessionRow[],
    hourly: (await w.query("SELECT * FROM gold_tenant_hourly")) as unknown as GoldHourlyRow[],
    silver: (await w.query(
      "SELECT tenant_id, user_id, event_time, platform FROM silver_events",
    )) as unknown as SilverPlatformRow[],
  };
}

// --- the tests

describe("the Looker and Vertex AI queries over the fixture's run into BigQuery (emulator)", () => {
  let t: Tables;
  /** Reads the tables the run left (the fixture closes the run's warehouse after the first test, and empties tables). */
  let reader: BigQueryWarehouse;

  beforeAll(async () => {
    const w = await bq.warehouse();
    await runMedallion(fixtureFileSource<RawMessage>(FIXTURE), w, {}, { flushRows: 400 });
    t = await readTables(w);
    const e = bq.emulator();
    reader = new BigQueryWarehouse({
      projectId: e.projectId,
      dataset: DATASET,
      apiEndpoint: e.apiEndpoint,
      storageEndpoint: e.grpcEndpoint,
    });
  }, 180_000);
  afterAll(() => reader?.close());

  it("the fixture's Gold tables have what the queries break down (or their checks would prove little)", () => {
    expect(t.sessions.length).toBeGreaterThan(100);
    expect(t.sessions.some((s) => s.platforms.length > 1)).toBe(true);
    expect(t.sessions.some((s) => s.acquisition_source !== null)).toBe(true);
    expect(t.sessions.some((s) => s.acquisition_source === null)).toBe(true);
    expect(t.sessions.some((s) => s.converted)).toBe(true);
    for (const step of FUNNEL_STEPS) {
      const reached = t.sessions.filter((s) => s.funnel_steps.includes(step)).length;
      expect(reached, step).toBeGreaterThan(0);
      expect(reached, step).toBeLessThan(t.sessions.length);
    }
    expect(new Set(t.sessions.map((s) => s.user_id)).size).toBeGreaterThan(10);
    expect(t.hourly.some((h) => h.funnel_landing_cta === 0)).toBe(true);
    expect(t.hourly.filter((h) => h.revenue > 0).length).toBeGreaterThan(3);
  });

  it("queries.sql holds the tiles' queries, each named once", () => {
    expect([...QUERIES.keys()]).toEqual([
      "sessions_by_platform",
      "sessions_by_acquisition_source",
      "funnel",
      "tenant_hourly",
    ]);
  });

  it("sessions_by_platform: per platform of each session, its sessions, users, duration, conversion and revenue", async () => {
    const rows = await reader.query(query("sessions_by_platform"));
    expect(rounded(rows)).toEqual(rounded(breakdown(t.sessions, "platform", platformsOf)));
    // A session on several platforms counts under each: the column sums to more than the sessions.
    const total = rows.reduce((sum, r) => sum + (r.sessions as number), 0);
    expect(total).toBe(t.sessions.reduce((sum, s) => sum + s.platforms.length, 0));
    expect(total).toBeGreaterThan(t.sessions.length);
  });

  it("sessions_by_acquisition_source: the same measures per acquisition source, NULL for sessions without a signup", async () => {
    const rows = await reader.query(query("sessions_by_acquisition_source"));
    expect(rounded(rows)).toEqual(rounded(breakdown(t.sessions, "acquisition_source", (s) => [s.acquisition_source])));
    expect(rows.reduce((sum, r) => sum + (r.sessions as number), 0)).toBe(t.sessions.length);
    const converted = rows.reduce((sum, r) => sum + (r.conversion_rate as number) * (r.sessions as number), 0);
    expect(Math.round(converted)).toBe(t.sessions.filter((s) => s.converted).length);
  });

  it("funnel: one row per step in funnel order, the sessions whose funnel_steps contain it", async () => {
    const rows = await reader.query(query("funnel"));
    expect(rows.map((r) => r.step)).toEqual([...FUNNEL_STEPS]);
    expect(rounded(rows)).toEqual(rounded(funnelOf(t.sessions)));
  });

  it("tenant_hourly: the hourly rows per tenant in order, with purchases per landing CTA and revenue day to date", async () => {
    const rows = await reader.query(query("tenant_hourly"));
    expect(rows).toHaveLength(t.hourly.length);
    expect(rounded(rows)).toEqual(rounded(tenantHourlyOf(t.hourly)));
  });

  it("feature_view.sql: one row per user, the 7-day features as of the end of their latest session", async () => {
    const rows = byEntity(await reader.query(FEATURE_VIEW_SQL));
    expect(Object.keys(rows[0] ?? {})).toEqual(FEATURE_COLUMNS);
    const ids = rows.map((r) => r.entity_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(t.sessions.map(tenantUser)));
    expect(rounded(rows)).toEqual(rounded(userFeaturesOf(t.sessions, t.silver)));
  });

  it("README.md's CREATE VIEW recipe qualifies every table, and the view serves the query's rows", async () => {
    const e = bq.emulator();
    const sed = /^\s*(sed -E .*deploy\/vertex-ai\/feature_view\.sql)\s*$/m.exec(
      read("deploy/vertex-ai/README.md"),
    )?.[1];
    expect(sed).toBeDefined();
    const body = execFileSync("sh", ["-c", sed as string], {
      cwd: ROOT,
      env: { ...process.env, PROJECT: e.projectId, DATASET },
      encoding: "utf8",
    });
    // Every FROM or JOIN names a CTE or a fully qualified table: a view resolves nothing else.
    const ctes = new Set([...stripComments(body).matchAll(/(?:WITH|,)\s+(\w+)\s+AS\s*\(/g)].map((m) => m[1]));
    const targets = [...stripComments(body).matchAll(/\b(?:FROM|JOIN)\s+([^\s(]+)/g)].map((m) => m[1] as string);
    const qualified = targets.filter((target) => target.startsWith(`\`${e.projectId}.${DATASET}.`));
    expect(qualified.length).toBe(3);
    expect(targets.filter((target) => !ctes.has(target) && !qualified.includes(target))).toEqual([]);
    await reader.bq.query({ query: `CREATE VIEW \`${e.projectId}.${DATASET}.user_features\` AS\n${body}` });
    const viewRows = byEntity(await reader.query("SELECT * FROM user_features"));
    expect(viewRows).toHaveLength(new Set(t.sessions.map(tenantUser)).size);
    expect(rounded(viewRows)).toEqual(rounded(userFeaturesOf(t.sessions, t.silver)));
  });
});

// --- hand-made sessions: the 7-day window's bounds, the last platform of a session on several, empty platforms

const T = Date.UTC(2026, 0, 20, 12, 0, 0);

function session(
  p: Pick<GoldSessionRow, "session_id" | "user_id" | "session_start" | "session_end"> & Partial<GoldSessionRow>,
): GoldSessionRow {
  return {
    tenant_id: "acme",
    duration_ms: 10 * MINUTE_MS,
    event_count: 5,
    page_views: 3,
    clicks: 1,
    purchases: 0,
    revenue: 0,
    entry_page: "/",
    exit_page: "/pricing",
    platforms: ["web"],
    funnel_steps: ["landing_cta"],
    converted: false,
    acquisition_source: null,
    pane_index: 0,
    pane_timing: "ON_TIME",
    is_final: true,
    updated_at: p.session_end + MINUTE_MS,
    last_correlation_id: null,
    ...p,
  };
}

function event(id: string, user: string, tenant: string, at: number, platform: string): SilverRow {
  return {
    event_id: id,
    event_type: "page_view",
    tenant_id: tenant,
    user_id: user,
    event_time: at,
    event_time_raw: new Date(at).toISOString(),
    ingest_time: at + 1000,
    lateness_ms: 1000,
    is_late: false,
    platform,
    schema_version: 1,
    device: null,
    page: "/",
    amount: null,
    currency: null,
    items: null,
    acquisition_source: null,
    button: null,
    properties: null,
    message_id: `m-${id}`,
    correlation_id: null,
  };
}

const HAND_MADE_SESSIONS: GoldSessionRow[] = [
  // u_a: sessions ending 10 days and exactly 7 days before the latest one are outside its window.
  session({
    session_id: "a-old",
    user_id: "u_a",
    session_start: T - 10 * DAY_MS - 30 * MINUTE_MS,
    session_end: T - 10 * DAY_MS,
    duration_ms: 20 * MINUTE_MS,
    purchases: 1,
    revenue: 50,
    converted: true,
    funnel_steps: ["landing_cta", "purchase"],
  }),
  session({
    session_id: "a-edge",
    user_id: "u_a",
    session_start: T - WINDOW_MS - 30 * MINUTE_MS,
    session_end: T - WINDOW_MS,
    purchases: 1,
    revenue: 20,
    converted: true,
    funnel_steps: ["purchase"],
  }),
  session({
    session_id: "a-recent",
    user_id: "u_a",
    session_start: T - 6 * DAY_MS - 30 * MINUTE_MS,
    session_end: T - 6 * DAY_MS,
    duration_ms: 10 * MINUTE_MS,
    platforms: ["android"],
  }),
  session({
    session_id: "a-latest",
    user_id: "u_a",
    session_start: T - 60 * MINUTE_MS,
    session_end: T,
    duration_ms: 20 * MINUTE_MS,
    purchases: 2,
    revenue: 30.5,
    converted: true,
    platforms: ["android", "ios", "web"],
    funnel_steps: ["landing_cta", "purchase_attempt", "purchase"],
    acquisition_source: "newsletter",
  }),
  // u_b: one session, one platform, no Silver events.
  session({
    session_id: "b-only",
    user_id: "u_b",
    tenant_id: "globex",
    session_start: T - 3 * DAY_MS - 60 * MINUTE_MS,
    session_end: T - 3 * DAY_MS,
    duration_ms: 45 * MINUTE_MS,
    platforms: ["ios"],
    funnel_steps: [],
  }),
  // u_c: a session without platforms; the latest on two platforms with no Silver events to tell which came last.
  session({
    session_id: "c-none",
    user_id: "u_c",
    tenant_id: "initech",
    session_start: T - 2 * DAY_MS - 60 * MINUTE_MS,
    session_end: T - 2 * DAY_MS,
    duration_ms: 5 * MINUTE_MS,
    platforms: [],
  }),
  session({
    session_id: "c-latest",
    user_id: "u_c",
    tenant_id: "initech",
    session_start: T - DAY_MS - 60 * MINUTE_MS,
    session_end: T - DAY_MS,
    duration_ms: 15 * MINUTE_MS,
    platforms: ["android", "web"],
    funnel_steps: ["landing_cta", "signup_attempt"],
    acquisition_source: "organic",
  }),
];

const HAND_MADE_EVENTS: SilverRow[] = [
  event("e1", "u_a", "acme", T - 60 * MINUTE_MS, "android"),
  event("e2", "u_a", "acme", T - 50 * MINUTE_MS, "web"),
  event("e3", "u_a", "acme", T - 45 * MINUTE_MS, "ios"), // the latest event of a-latest on one of its platforms
  event("e4", "u_a", "acme", T - 44 * MINUTE_MS, "tv"), // not one of the session's platforms
  event("e5", "u_a", "globex", T - 43 * MINUTE_MS, "web"), // another tenant
  event("e6", "u_a", "acme", T + 5 * MINUTE_MS, "web"), // after the session
  event("e7", "u_a", "acme", T - 10 * DAY_MS - 20 * MINUTE_MS, "web"),
];

/** u_a of globex: the same user id as acme's u_a, another user (its session must not count in acme's u_a's week). */
const OTHER_TENANTS_U_A = session({
  session_id: "ga-only",
  user_id: "u_a",
  tenant_id: "globex",
  session_start: T - 2 * 60 * MINUTE_MS,
  session_end: T - 30 * MINUTE_MS,
  purchases: 1,
  revenue: 99,
  converted: true,
  funnel_steps: ["purchase"],
});

describe("the queries on hand-made sessions (emulator)", () => {
  it("feature_view.sql: the window excludes sessions that ended 7 days or more before; the last platform comes from Silver; a user is a tenant's", async () => {
    const w = await bq.warehouse();
    await w.writeSessions([...HAND_MADE_SESSIONS, OTHER_TENANTS_U_A], []);
    await w.appendSilver(HAND_MADE_EVENTS);
    const rows = byEntity(await w.query(FEATURE_VIEW_SQL));
    expect(rounded(rows)).toEqual([
      {
        entity_id: "acme:u_a",
        feature_timestamp: T,
        tenant_id: "acme",
        user_id: "u_a",
        sessions_7d: 2,
        avg_session_seconds_7d: 900,
        purchases_7d: 2,
        revenue_7d: 30.5,
        conversion_rate_7d: 0.5,
        last_platform: "ios",
      },
      {
        entity_id: "globex:u_a",
        feature_timestamp: T - 30 * MINUTE_MS,
        tenant_id: "globex",
        user_id: "u_a",
        sessions_7d: 1,
        avg_session_seconds_7d: 600,
        purchases_7d: 1,
        revenue_7d: 99,
        conversion_rate_7d: 1,
        last_platform: "web",
      },
      {
        entity_id: "globex:u_b",
        feature_timestamp: T - 3 * DAY_MS,
        tenant_id: "globex",
        user_id: "u_b",
        sessions_7d: 1,
        avg_session_seconds_7d: 2700,
        purchases_7d: 0,
        revenue_7d: 0,
        conversion_rate_7d: 0,
        last_platform: "ios",
      },
      {
        entity_id: "initech:u_c",
        feature_timestamp: T - DAY_MS,
        tenant_id: "initech",
        user_id: "u_c",
        sessions_7d: 2,
        avg_session_seconds_7d: 600,
        purchases_7d: 0,
        revenue_7d: 0,
        conversion_rate_7d: 0,
        last_platform: "android",
      },
    ]);
    const t = await readTables(w);
    expect(t.sessions).toHaveLength(HAND_MADE_SESSIONS.length + 1);
    expect(rounded(rows)).toEqual(rounded(userFeaturesOf(t.sessions, t.silver)));
    // The tiles count users the same way: on the web, acme's u_a and globex's u_a are two of the three users.
    const web = (await w.query(query("sessions_by_platform"))).find((r) => r.platform === "web");
    expect(web).toMatchObject({ sessions: 5, users: 3 });
  });

  it("sessions_by_platform keeps a session without platforms (under NULL); funnel lists a step no session reached", async () => {
    const w = await bq.warehouse();
    await w.writeSessions(HAND_MADE_SESSIONS, []);
    const { sessions } = await readTables(w);
    const byPlatform = await w.query(query("sessions_by_platform"));
    expect(byPlatform.map((r) => [r.platform, r.sessions])).toEqual([
      ["web", 4],
      ["android", 3],
      ["ios", 2],
      [null, 1],
    ]);
    expect(rounded(byPlatform)).toEqual(rounded(breakdown(sessions, "platform", platformsOf)));
    const funnel = await w.query(query("funnel"));
    expect(funnel.map((r) => [r.step, r.sessions])).toEqual([
      ["landing_cta", 5],
      ["plan_selection", 0],
      ["signup_attempt", 1],
      ["purchase_attempt", 1],
      ["purchase", 3],
    ]);
    expect(rounded(funnel)).toEqual(rounded(funnelOf(sessions)));
  });
});

// --- the LookML, against schemas/tables.ts

const LOOKML = {
  model: read("deploy/looker/tidemark.model.lkml"),
  manifest: read("deploy/looker/manifest.lkml"),
  sessions: read("deploy/looker/gold_sessions.view.lkml"),
  hourly: read("deploy/looker/gold_tenant_hourly.view.lkml"),
};

interface LookmlBlock {
  readonly kind: string;
  readonly name: string;
  /** The text between the braces. */
  readonly body: string;
}

/**
 * The blocks `kind: name { ... }` at the top level of `text`. Throws on unbalanced braces, an unterminated string or
 * a `sql` parameter without its closing `;;`: the structure LookML needs. Skips comments, strings and SQL.
 */
function lookmlBlocks(text: string): LookmlBlock[] {
  const blocks: LookmlBlock[] = [];
  let depth = 0;
  let start = -1;
  let header: { kind: string; name: string } | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    const sql = /^(\w*sql\w*):/.exec(text.slice(i, i + 40));
    if (sql !== null && /[\s{]/.test(text[i - 1] ?? " ")) {
      const end = text.indexOf(";;", i);
      if (end === -1) throw new Error(`${sql[1]} at ${i} has no closing ;;`);
      i = end + 1;
    } else if (ch === "#") {
      const end = text.indexOf("\n", i);
      i = end === -1 ? text.length : end;
    } else if (ch === '"') {
      const end = text.indexOf('"', i + 1);
      if (end === -1) throw new Error(`unterminated string at ${i}`);
      i = end;
    } else if (ch === "{") {
      if (depth === 0) {
        const m = /(\w+):\s*(\w*)\s*$/.exec(text.slice(0, i));
        if (m === null) throw new Error(`a block at ${i} without a kind`);
        header = { kind: m[1] as string, name: m[2] as string };
        start = i + 1;
      }
      depth++;
    } else if (ch === "}") {
      depth--;
      if (depth < 0) throw new Error(`unbalanced } at ${i}`);
      if (depth === 0 && header !== undefined) blocks.push({ ...header, body: text.slice(start, i) });
    }
  }
  if (depth !== 0) throw new Error(`${depth} unclosed {`);
  return blocks;
}

function view(text: string, name: string): LookmlBlock {
  const v = lookmlBlocks(text).find((b) => b.kind === "view" && b.name === name);
  if (v === undefined) throw new Error(`no view ${name}`);
  return v;
}

const sqlOf = (b: LookmlBlock) => /\bsql:\s*([\s\S]*?)\s*;;/.exec(b.body)?.[1];

/** Each field of a view, by the names Looker gives it (a dimension_group's under each of its timeframes). */
function fieldNames(v: LookmlBlock): Set<string> {
  const names = new Set<string>();
  for (const f of lookmlBlocks(v.body)) {
    names.add(f.name);
    const timeframes = /\btimeframes:\s*\[([^\]]*)\]/.exec(f.body)?.[1];
    if (f.kind === "dimension_group" && timeframes !== undefined) {
      for (const tf of timeframes.split(",")) names.add(`${f.name}_${tf.trim()}`);
    }
  }
  return names;
}

/** Every column is a dimension (or dimension_group) of its name on ${TABLE}.<column>; no SQL names another column. */
function expectViewMatchesTable(text: string, table: TableSchema): void {
  const v = view(text, table.name);
  expect(/\bsql_table_name:\s*`@\{dataset\}\.(\w+)`\s*;;/.exec(v.body)?.[1]).toBe(table.name);
  const fields = lookmlBlocks(v.body);
  const dimensions = new Map(
    fields.filter((f) => f.kind === "dimension" || f.kind === "dimension_group").map((f) => [f.name, sqlOf(f)]),
  );
  const columns = table.columns.map((c) => c.name);
  const missing = columns.filter((c) => dimensions.get(c) !== `\${TABLE}.${c}`);
  expect(missing, `${table.name} columns without a dimension on \${TABLE}.<column>`).toEqual([]);
  const named = [...v.body.matchAll(/\$\{TABLE\}\.(\w+)/g)].map((m) => m[1] as string);
  expect(named.filter((c) => !columns.includes(c))).toEqual([]);
  // Every ${field} and every filtered field is a field of the view.
  const names = fieldNames(v);
  const refs = [...v.body.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1] as string).filter((r) => r !== "TABLE");
  const filtered = [...v.body.matchAll(/\bfilters:\s*\[(\w+):/g)].map((m) => m[1] as string);
  expect([...refs, ...filtered].filter((r) => !names.has(r))).toEqual([]);
}

describe("the LookML views follow schemas/tables.ts", () => {
  it("every file is well formed: balanced braces, closed strings, each sql ended by ;;", () => {
    for (const [file, text] of Object.entries(LOOKML)) expect(() => lookmlBlocks(text), file).not.toThrow();
    expect(() => lookmlBlocks(`view: v {\n  dimension: d {\n    sql: \${TABLE}.d ;;\n  }\n`)).toThrow(/unclosed/);
    expect(() => lookmlBlocks(`view: v {\n  dimension: d {\n    sql: \${TABLE}.d\n  }\n}\n`)).toThrow(/;;/);
  });

  it("gold_sessions: a dimension for every column, on the column", () => {
    expectViewMatchesTable(LOOKML.sessions, GOLD_SESSIONS);
    const dims = lookmlBlocks(view(LOOKML.sessions, "gold_sessions").body).map((f) => f.name);
    // Parsed, not assumed: dimensions that are not columns are there too.
    expect(dims).toContain("duration_seconds");
    expect(GOLD_SESSIONS.columns.map((c) => c.name).every((c) => dims.includes(c))).toBe(true);
  });

  it("gold_tenant_hourly: a dimension for every column, on the column", () => {
    expectViewMatchesTable(LOOKML.hourly, GOLD_HOURLY);
  });

  it("the check fails for a view missing a column or naming one the table lacks", () => {
    const dropped = LOOKML.sessions.replace(/dimension: acquisition_source \{/, "dimension: source {");
    expect(() => expectViewMatchesTable(dropped, GOLD_SESSIONS)).toThrow(/acquisition_source/);
    const renamed = LOOKML.hourly.replace(`\${TABLE}.sessions_started`, `\${TABLE}.sessions_begun`);
    expect(() => expectViewMatchesTable(renamed, GOLD_HOURLY)).toThrow();
  });

  it("gold_sessions has the tiles' measures, and a reached_<step> dimension and sessions_<step> count per funnel step", () => {
    const fields = lookmlBlocks(view(LOOKML.sessions, "gold_sessions").body);
    const measures = new Map(fields.filter((f) => f.kind === "measure").map((f) => [f.name, f.body]));
    for (const m of ["count", "users", "average_duration_seconds", "conversion_rate", "total_revenue"]) {
      expect(measures.has(m), m).toBe(true);
    }
    expect(measures.get("revenue_per_session")).toMatch(/\$\{total_revenue\}\s*\/\s*NULLIF\(\$\{count\}, 0\)/);
    expect(measures.get("conversion_rate")).toMatch(/\$\{converted_sessions\}\s*\/\s*NULLIF\(\$\{count\}, 0\)/);
    for (const step of FUNNEL_STEPS) {
      const dim = fields.find((f) => f.kind === "dimension" && f.name === `reached_${step}`);
      expect(dim && sqlOf(dim), step).toBe(`'${step}' IN UNNEST(\${TABLE}.funnel_steps)`);
      expect(measures.get(`sessions_${step}`), step).toMatch(new RegExp(`filters: \\[reached_${step}: "yes"\\]`));
    }
    expect(fieldNames(view(LOOKML.sessions, "gold_sessions__platforms"))).toEqual(new Set(["platform"]));
  });

  it("the model: the connection placeholder, the views, the explores sessions (platforms unnested) and tenant_hourly", () => {
    expect(LOOKML.model).toMatch(/^connection: "tidemark_bigquery"$/m);
    expect(LOOKML.model).toMatch(/^include: "\*\.view\.lkml"$/m);
    expect(/constant: dataset \{\s*value: "(\w+)"/.exec(LOOKML.manifest)?.[1]).toBe(DATASET);
    const explores = new Map(
      lookmlBlocks(LOOKML.model)
        .filter((b) => b.kind === "explore")
        .map((b) => [b.name, b.body]),
    );
    expect([...explores.keys()]).toEqual(["sessions", "tenant_hourly"]);
    expect(explores.get("sessions")).toMatch(/view_name: gold_sessions\b/);
    expect(explores.get("tenant_hourly")).toMatch(/view_name: gold_tenant_hourly\b/);
    const join = lookmlBlocks(explores.get("sessions") as string).find((b) => b.kind === "join");
    expect(join?.name).toBe("gold_sessions__platforms");
    expect(join && sqlOf(join)).toBe(`LEFT JOIN UNNEST(\${gold_sessions.platforms}) AS gold_sessions__platforms`);
    expect(join?.body).toMatch(/relationship: one_to_many/);
    // Every view.field the model names exists.
    const views = new Map([
      ["gold_sessions", fieldNames(view(LOOKML.sessions, "gold_sessions"))],
      ["gold_tenant_hourly", fieldNames(view(LOOKML.hourly, "gold_tenant_hourly"))],
    ]);
    const refs = [...LOOKML.model.matchAll(/\b(gold_sessions|gold_tenant_hourly)\.(\w+)\b/g)];
    expect(refs.length).toBeGreaterThan(4);
    expect(refs.filter((m) => !views.get(m[1] as string)?.has(m[2] as string)).map((m) => m[0])).toEqual([]);
  });
});

describe("the Vertex AI resource bodies", () => {
  it("the feature view reads bq://PROJECT.DATASET.user_features by entity_id on a cron; the feature group agrees", () => {
    const view = JSON.parse(read("deploy/vertex-ai/feature_view.json"));
    expect(view.bigQuerySource).toEqual({ uri: "bq://PROJECT.DATASET.user_features", entityIdColumns: ["entity_id"] });
    expect(view.syncConfig.cron).toMatch(/^(TZ=[\w/]+ )?\S+ \S+ \S+ \S+ \S+$/);
    const group = JSON.parse(read("deploy/vertex-ai/feature_group.json"));
    expect(group.bigQuery.bigQuerySource.inputUri).toBe(view.bigQuerySource.uri);
    expect(group.bigQuery.entityIdColumns).toEqual(["entity_id"]);
    expect(group.bigQuery.timeSeries.timestampColumn).toBe("feature_timestamp");
  });

  it("README.md registers a feature for every column feature_view.sql returns besides the entity id and timestamp", () => {
    // FEATURE_COLUMNS is checked against the query's result above.
    const listed = /for f in ([\w ]+); do/.exec(read("deploy/vertex-ai/README.md"))?.[1]?.split(" ");
    expect(listed).toEqual(FEATURE_COLUMNS.slice(2));
  });
});
