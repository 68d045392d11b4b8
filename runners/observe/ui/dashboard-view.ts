import { MAX_TIMESTAMP, MIN_TIMESTAMP } from "../../../core/time/instant.ts";
import type { MetricsSnapshot } from "../../direct/metrics.ts";
import type { CommitStats } from "../commit-stats.ts";

/**
 * What the dashboard page shows, as the server pushes it (JSON, every second): the runner's figures, the same as
 * `/metrics` serves (`prometheus.ts` names the series each one matches), and what the job adds (`figures`,
 * `breakdowns`). JSON has no infinities: a watermark not known yet is `null`, one at the end of time is `"end"`.
 */
export interface DashboardView {
  readonly title: string;
  /** What the job reads, say (a line under the title). */
  readonly subtitle?: string;
  /** When the figures were read (wall clock ms). */
  readonly atMs: number;
  /** `starting` until the runner runs; `ended` once the job is over (the last view pushed). */
  readonly state: "starting" | "running" | "ended";
  readonly sources: readonly SourceFigures[];
  /** Per grouping step. */
  readonly windows: readonly WindowFigures[];
  readonly checkpoints: CheckpointFigures;
  /** Single figures the job adds: a queue's backlog, a table's freshness. */
  readonly figures: readonly Figure[];
  /** Counts by a label the job adds: dead letters by field, rows written per table. */
  readonly breakdowns: readonly Breakdown[];
}

/** A source (a `read` step). */
export interface SourceFigures {
  readonly step: string;
  /** Elements read (`tidemark_step_elements_out_total`). */
  readonly read: number;
  /** Elements read per second over the last few seconds; null until two readings are far enough apart. */
  readonly perSecond: number | null;
  /** Its output watermark, epoch ms (`tidemark_step_output_watermark_seconds` × 1000). */
  readonly watermarkMs: number | null | "end";
  /** Wall clock minus the watermark, while it has one (`tidemark_source_watermark_lag_seconds`). */
  readonly lagSeconds: number | null;
}

export interface WindowFigures {
  readonly step: string;
  /** `tidemark_step_open_windows`. */
  readonly open: number;
  /** `tidemark_step_dropped_late_total`. */
  readonly droppedLate: number;
}

export interface CheckpointFigures {
  /** `tidemark_commits_total`. */
  readonly commits: number;
  /** `tidemark_checkpoints_total`. */
  readonly checkpoints: number;
  /** `tidemark_last_checkpoint_timestamp_seconds` × 1000; null before the first. */
  readonly lastAtMs: number | null;
  readonly ageSeconds: number | null;
}

/** How a figure's value reads. */
export type FigureUnit = "count" | "seconds";

export interface Figure {
  /** Stable id (the page's `data-figure`). */
  readonly id: string;
  readonly name: string;
  readonly value: number | null;
  readonly unit: FigureUnit;
  /** What it is, in a line (shown under it). */
  readonly note?: string;
}

export interface Breakdown {
  readonly id: string;
  readonly title: string;
  /** The label's name (a column heading). */
  readonly label: string;
  readonly rows: readonly { readonly label: string; readonly value: number }[];
  /** Shown when there are no rows. */
  readonly empty: string;
}

/** One change to an output as it commits (a Gold session upserted or deleted): the page lists the latest per key. */
export interface ChangeView {
  readonly key: string;
  readonly kind: "upsert" | "delete";
  /** When it was committed (wall clock ms). */
  readonly atMs: number;
  readonly title: string;
  readonly fields: readonly ChangeField[];
}

export interface ChangeField {
  readonly name: string;
  readonly label: string;
  /** As shown. */
  readonly text: string;
  /** As stored (the page's `data-value`). */
  readonly value: string | number | boolean;
}

/** Elements per second from a running count: `(newest - oldest) / (their time apart)` over the last `windowMs`. */
export class RateMeter {
  private readonly samples: { atMs: number; count: number }[] = [];

  constructor(private readonly windowMs = 5_000) {}

  /** Adds a reading and returns the rate over the window; null until two readings are at least 500 ms apart. */
  sample(count: number, atMs: number): number | null {
    const last = this.samples[this.samples.length - 1];
    if (last === undefined || atMs >= last.atMs + 100) this.samples.push({ atMs, count });
    while (this.samples.length > 2 && (this.samples[1] as { atMs: number }).atMs <= atMs - this.windowMs) {
      this.samples.shift();
    }
    const first = this.samples[0] as { atMs: number; count: number };
    const elapsedMs = atMs - first.atMs;
    return elapsedMs < 500 ? null : ((count - first.count) * 1000) / elapsedMs;
  }
}

/** The checkpoint figures the page shows, from the job's `CommitStats` (what `JobMetrics` serves at `/metrics`). */
export function checkpointFigures(commits: CommitStats, atMs: number): CheckpointFigures {
  return {
    commits: commits.commits,
    checkpoints: commits.checkpoints,
    lastAtMs: commits.lastCheckpointAtMs,
    ageSeconds: commits.checkpointAgeSeconds(atMs),
  };
}

/** A watermark as the view carries it: `null` before any is known, `"end"` at the end of time. */
export function watermarkOf(ms: number): number | null | "end" {
  if (ms <= MIN_TIMESTAMP) return null;
  if (ms >= MAX_TIMESTAMP) return "end";
  return ms;
}

/**
 * The runner's part of the view from its snapshot: each `read` step's count, rate, watermark and lag (`now -
 * watermark`, as `JobMetrics` computes `tidemark_source_watermark_lag_seconds`), and each grouping step's open
 * windows. `rates` keeps a meter per source between calls.
 */
export function runnerFigures(
  snapshot: MetricsSnapshot | undefined,
  atMs: number,
  rates: Map<string, RateMeter>,
): Pick<DashboardView, "sources" | "windows"> {
  if (snapshot === undefined) return { sources: [], windows: [] };
  const sources: SourceFigures[] = [];
  const windows: WindowFigures[] = [];
  for (const s of snapshot.steps) {
    if (s.kind === "read") {
      let meter = rates.get(s.step);
      if (meter === undefined) {
        meter = new RateMeter();
        rates.set(s.step, meter);
      }
      const watermarkMs = watermarkOf(s.outputWatermark);
      sources.push({
        step: s.step,
        read: s.elementsOut,
        perSecond: meter.sample(s.elementsOut, atMs),
        watermarkMs,
        lagSeconds: typeof watermarkMs === "number" ? (atMs - watermarkMs) / 1000 : null,
      });
    }
    if (s.windows !== undefined) windows.push({ step: s.step, open: s.windows, droppedLate: s.droppedLate });
  }
  return { sources, windows };
}
