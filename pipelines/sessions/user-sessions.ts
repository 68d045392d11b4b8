import type { CombineFn } from "../../core/combine-fn.ts";
import type { KV } from "../../core/kv.ts";
import type { PCollection } from "../../core/pcollection.ts";
import type { PTransform } from "../../core/ptransform.ts";
import { type Duration, minutes, seconds } from "../../core/time/duration.ts";
import { afterCount, afterProcessingTime, afterWatermark } from "../../core/triggers/trigger.ts";
import { sessions } from "../../core/windows/window-fn.ts";
import { combinePerKey } from "../../transforms/combine.ts";
import { map } from "../../transforms/element-wise.ts";
import type { AccumulationMode } from "../../core/windowing-strategy.ts";
import { window } from "../../transforms/window-into.ts";

/** A page view as the fixture stream carries it. */
export interface PageView {
  readonly user: string;
  readonly page: string;
  readonly eventTime: number;
}

export interface SessionSummary {
  events: number;
  first: number;
  last: number;
  entryPage: string;
  exitPage: string;
}

export const sessionSummaryFn: CombineFn<PageView, SessionSummary | null, SessionSummary | null> = {
  createAccumulator: () => null,
  addInput: (acc, v) =>
    merge2(acc, { events: 1, first: v.eventTime, last: v.eventTime, entryPage: v.page, exitPage: v.page }),
  mergeAccumulators: (accs) => accs.reduce<SessionSummary | null>((a, b) => merge2(a, b), null),
  extractOutput: (acc) => (acc ? { ...acc } : null),
};

function merge2(a: SessionSummary | null, b: SessionSummary | null): SessionSummary | null {
  if (a === null) return b;
  if (b === null) return a;
  return {
    events: a.events + b.events,
    first: Math.min(a.first, b.first),
    last: Math.max(a.last, b.last),
    entryPage: b.first < a.first ? b.entryPage : a.entryPage,
    exitPage: b.last > a.last ? b.exitPage : a.exitPage,
  };
}

export interface UserSessionsOptions {
  readonly gapMs?: Duration;
  readonly allowedLatenessMs?: Duration;
  readonly earlyFiringDelayMs?: Duration;
  /** Accumulating (default): every pane holds the whole session so far; discarding: only what is new. */
  readonly accumulation?: AccumulationMode;
}

/**
 * Per-user session windows by event time: gap-based, merging, updated by late data. Early panes show a running
 * session after `earlyFiringDelayMs` of processing time; the on-time pane fires when the watermark passes the
 * session's end; each late event within the allowed lateness fires a late pane (accumulating: every pane holds the
 * whole session so far).
 */
export function userSessions(
  opts: UserSessionsOptions = {},
): PTransform<PCollection<PageView>, PCollection<KV<string, SessionSummary | null>>> {
  return {
    name: "UserSessions",
    expand: (views) =>
      views
        .apply(map((v: PageView) => [v.user, v] as KV<string, PageView>, "KeyByUser"))
        .apply(
          window<KV<string, PageView>>(sessions(opts.gapMs ?? minutes(30)), {
            trigger: afterWatermark({
              early: afterProcessingTime(opts.earlyFiringDelayMs ?? seconds(30)),
              late: afterCount(1),
            }),
            allowedLatenessMs: opts.allowedLatenessMs ?? minutes(30),
            accumulation: opts.accumulation ?? "accumulating",
          }),
        )
        .apply(
          combinePerKey<string, PageView, SessionSummary | null, SessionSummary | null>(sessionSummaryFn, "Summarize"),
        ),
  };
}
