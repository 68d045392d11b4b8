import type { UserMetric } from "../../core/metrics.ts";
import type { PubsubSourceStats } from "../../io/pubsub/pubsub-source.ts";
import type { Warehouse } from "../../io/warehouse.ts";
import type { MetricsSnapshot } from "../../runners/direct/metrics.ts";
import type { CommitStats } from "../../runners/observe/commit-stats.ts";
import { startDashboardServer } from "../../runners/observe/ui/dashboard-server.ts";
import {
  type Breakdown,
  type ChangeView,
  checkpointFigures,
  type DashboardView,
  type Figure,
  type RateMeter,
  runnerFigures,
} from "../../runners/observe/ui/dashboard-view.ts";
import type { GoldSessionRow } from "../../schemas/rows.ts";
import type { Options } from "./job-options.ts";
import { goldFreshnessSeconds } from "./ops.ts";

/** The medallion's live dashboard while it runs (`--ui-port`): the page, its figures, and Gold's changes. */
export interface MedallionDashboard {
  readonly url: string;
  /** The runner's snapshot source: the running pipeline, once it runs. */
  watch(snapshot: () => MetricsSnapshot): void;
  /**
   * The job's warehouse, unchanged but for this: each batch of Gold session changes the `WriteSessions` sink writes is
   * pushed to the page once the warehouse has committed it.
   */
  tap(warehouse: Warehouse): Warehouse;
  /** Pushes the last figures (the job ended) and closes the page's streams. */
  close(): Promise<void>;
}

export interface MedallionDashboardOptions {
  readonly port: number;
  readonly host: string;
  /** The Pub/Sub reader's figures; absent for a fixture stream. */
  readonly pubsub?: () => PubsubSourceStats;
  /** What the job reads (the page's title). */
  readonly input?: string;
  /**
   * The job's commits and checkpoints, fed by the runner's commit hook (the one record `/metrics` reads too; on the
   * same clock as `now`): the page's checkpoint figures.
   */
  readonly commits: CommitStats;
  readonly now?: () => number;
}

/**
 * `--ui-port` is a TCP port (0: a free one), and the page is a direct run's: refused on Dataflow (its console has the
 * job page) and on Prism, whose Job API gives element counts, processing time and user metrics but none of the page's
 * main figures (watermarks and lag, open windows, checkpoints); `--metrics-port` serves what Prism gives.
 */
export function checkUiPort(o: Pick<Options, "uiPort" | "runner">): void {
  const p = o.uiPort;
  if (p === undefined) return;
  if (!(Number.isInteger(p) && p <= 65_535)) {
    throw new Error(`--ui-port must be a TCP port, a whole number from 0 to 65535 (0: a free one), got ${p}`);
  }
  if (o.runner === "dataflow") {
    throw new Error(
      "--ui-port shows a local run: a Dataflow job's figures are in Dataflow's console and Cloud Monitoring",
    );
  }
  if (o.runner === "prism") {
    // The page's figures are mostly those Prism's Job API does not report: a half-empty page would read as a stuck job.
    throw new Error(
      "--ui-port shows watermarks and their lag, open windows, checkpoints and the backlog, which Prism's Job API " +
        "does not report: on --runner=prism use --metrics-port (elements per step, processing time, dead letters, " +
        "rows written, Gold's freshness), or the direct runner for the dashboard",
    );
  }
}

/**
 * Starts the dashboard (`runners/observe/ui/`) with the medallion's figures beside the runner's, each read from what
 * `/metrics` serves (`startMedallionOps`), so the page and a scrape agree:
 * - the backlog: Pub/Sub messages received and not yet acknowledged (`tidemark_pubsub_outstanding_messages`; the
 *   subscription's undelivered messages are not in the Pub/Sub API, see `ops.ts`) and acknowledged;
 * - dead letters (`medallion/dead_letters`, by field), rows written per table (`tidemark/sink_rows_written`, by sink),
 *   Gold's freshness (now minus `medallion/gold_newest_event_ms`);
 * - Gold's changes as they commit: taken from the `WriteSessions` sink's committed batches (`tap`), the same stable
 *   changes the insights feed publishes, folded per batch as the warehouse holds them (the last change of a session
 *   wins), with each change's `seq`.
 */
export async function startMedallionDashboard(o: MedallionDashboardOptions): Promise<MedallionDashboard> {
  const now = o.now ?? Date.now;
  let snapshot: (() => MetricsSnapshot) | undefined;
  const commits = o.commits;
  const rates = new Map<string, RateMeter>();
  const view = (state: "running" | "ended"): DashboardView => {
    const atMs = now();
    const snap = snapshot?.();
    return {
      title: "user-sessions",
      ...(o.input === undefined ? {} : { subtitle: o.input }),
      atMs,
      state: state === "ended" ? "ended" : snap === undefined ? "starting" : "running",
      ...runnerFigures(snap, atMs, rates),
      checkpoints: checkpointFigures(commits, atMs),
      figures: medallionFigures(snap?.user ?? [], o.pubsub?.(), atMs),
      breakdowns: medallionBreakdowns(snap?.user ?? []),
    };
  };
  let server: Awaited<ReturnType<typeof startDashboardServer>>;
  try {
    server = await startDashboardServer({ port: o.port, host: o.host, view });
  } catch (e) {
    throw new Error(`--ui-port=${o.port}: cannot listen on ${o.host}: ${(e as Error).message}`, { cause: e });
  }
  const committed = (
    upserts: readonly GoldSessionRow[],
    deletes: readonly string[],
    seqs: ReadonlyMap<string, number> | undefined,
  ) => {
    const atMs = now();
    server.publish([
      ...upserts.map((r) => sessionChange(r, seqs?.get(r.session_id), atMs)),
      ...deletes.map((id) => deleteChange(id, seqs?.get(id), atMs)),
    ]);
  };
  return {
    url: server.url,
    watch(s) {
      snapshot = s;
    },
    tap(w) {
      return {
        open: () => w.open(),
        appendBronze: (rows) => w.appendBronze(rows),
        appendSilver: (rows) => w.appendSilver(rows),
        appendTyped: (type, rows) => w.appendTyped(type, rows),
        async writeSessions(upserts, deletes, seqs) {
          await w.writeSessions(upserts, deletes, seqs);
          committed(upserts, deletes, seqs);
        },
        upsertHourly: (rows) => w.upsertHourly(rows),
        counts: () => w.counts(),
        query: (sql) => w.query(sql),
        close: () => w.close(),
      };
    },
    close: () => server.close(),
  };
}

/** The user metric `namespace/name`'s counters, summed per value of `label` (over steps). */
function countersBy(user: readonly UserMetric[], namespace: string, name: string, label: string): Map<string, number> {
  const by = new Map<string, number>();
  for (const u of user) {
    if (u.kind !== "counter" || u.namespace !== namespace || u.name !== name) continue;
    const key = u.labels[label] ?? "";
    by.set(key, (by.get(key) ?? 0) + u.value);
  }
  return by;
}

function medallionFigures(user: readonly UserMetric[], pubsub: PubsubSourceStats | undefined, atMs: number): Figure[] {
  const figures: Figure[] = [];
  if (pubsub !== undefined) {
    figures.push(
      {
        id: "backlog",
        name: "Backlog (Pub/Sub outstanding)",
        value: pubsub.outstanding,
        unit: "count",
        note: pubsub.connected ? "received, not yet acknowledged" : "not reading the subscription now",
      },
      { id: "acknowledged", name: "Acknowledged", value: pubsub.acked, unit: "count", note: "after their checkpoint" },
    );
  }
  let deadLetters = 0;
  for (const n of countersBy(user, "medallion", "dead_letters", "field").values()) deadLetters += n;
  figures.push({ id: "dead-letters", name: "Dead letters", value: deadLetters, unit: "count", note: "kept in Bronze" });
  const gold = countersBy(user, "tidemark", "sink_rows_written", "sink").get("gold_sessions") ?? 0;
  figures.push({ id: "gold-written", name: "Gold changes written", value: gold, unit: "count", note: "session rows" });
  const freshness = goldFreshnessSeconds(user, atMs);
  figures.push({
    id: "gold-freshness",
    name: "Gold freshness",
    value: freshness,
    unit: "seconds",
    note: "now minus the newest session end in Gold",
  });
  return figures;
}

function medallionBreakdowns(user: readonly UserMetric[]): Breakdown[] {
  const rows = (by: Map<string, number>) =>
    [...by].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([label, value]) => ({ label, value }));
  return [
    {
      id: "dead-letters",
      title: "Dead letters by field",
      label: "field",
      rows: rows(countersBy(user, "medallion", "dead_letters", "field")),
      empty: "none so far",
    },
    {
      id: "rows-written",
      title: "Rows written per table",
      label: "table",
      rows: rows(countersBy(user, "tidemark", "sink_rows_written", "sink")),
      empty: "no batch written yet",
    },
  ];
}

function sessionChange(r: GoldSessionRow, seq: number | undefined, atMs: number): ChangeView {
  return {
    key: r.session_id,
    kind: "upsert",
    atMs,
    title: `${r.tenant_id} · ${r.user_id}`,
    fields: [
      { name: "session_start", label: "start", text: new Date(r.session_start).toISOString(), value: r.session_start },
      { name: "duration_ms", label: "duration", text: durationText(r.duration_ms), value: r.duration_ms },
      { name: "event_count", label: "events", text: String(r.event_count), value: r.event_count },
      { name: "revenue", label: "revenue", text: r.revenue.toFixed(2), value: r.revenue },
      {
        name: "pane_timing",
        label: "pane",
        text: `${r.pane_timing}${r.is_final ? ", final" : ""}`,
        value: r.pane_timing,
      },
      ...(seq === undefined ? [] : [{ name: "seq", label: "seq", text: String(seq), value: seq }]),
    ],
  };
}

function deleteChange(sessionId: string, seq: number | undefined, atMs: number): ChangeView {
  return {
    key: sessionId,
    kind: "delete",
    atMs,
    title: sessionId,
    fields: seq === undefined ? [] : [{ name: "seq", label: "seq", text: String(seq), value: seq }],
  };
}

/** `1 h 2 min`, `4 min 5 s`, `12 s`. */
function durationText(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
