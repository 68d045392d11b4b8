import { createHash } from "node:crypto";
import type { KV } from "../../core/kv.ts";
import type { PCollection } from "../../core/pcollection.ts";
import type { PTransform } from "../../core/ptransform.ts";
import { type TimerFamilySpec, timerFamily, type ValueStateSpec, valueState } from "../../core/state.ts";
import { type Duration, hours, minutes, seconds } from "../../core/time/duration.ts";
import { afterCount, afterProcessingTime, afterWatermark, defaultTrigger } from "../../core/triggers/trigger.ts";
import { fixed, globalWindows, sessions } from "../../core/windows/window-fn.ts";
import type { IntervalWindow } from "../../core/windows/window.ts";
import type { UserEvent } from "../../schemas/event.ts";
import type { GoldHourlyRow, GoldSessionRow } from "../../schemas/rows.ts";
import { combinePerKey } from "../../transforms/combine.ts";
import { map } from "../../transforms/element-wise.ts";
import { parDo } from "../../transforms/par-do.ts";
import { statefulParDo } from "../../transforms/stateful-par-do.ts";
import { window } from "../../transforms/window-into.ts";
import { type SessionAggregate, sessionAggregateFn } from "./session-aggregate.ts";
import { type HourlyAggregate, hourlyAggregateFn } from "./hourly-aggregate.ts";

export interface GoldOptions {
  /** Session gap. Default 30 minutes. */
  readonly gapMs?: Duration;
  /** How late data may still update a session or an hour. Default 24 hours. */
  readonly allowedLatenessMs?: Duration;
  /** Early panes: a running session is visible this long (processing time) after its first new event. Default 5 s. */
  readonly earlyFiringMs?: Duration;
  /**
   * `early-late` (default): early panes, the on-time pane, a late pane per late event. `watermark`: the on-time pane
   * and a late pane per late bundle (Beam's default trigger), for runners that refuse early and per-element late
   * firings on merging windows (Prism v2.77.0: "stateful triggers with merging windows", Beam issue 31438).
   */
  readonly trigger?: GoldTrigger;
}

export const GOLD_TRIGGERS = ["early-late", "watermark"] as const;
export type GoldTrigger = (typeof GOLD_TRIGGERS)[number];

/**
 * An upsert of a session row, or the deletion of a session merged into another, with its sequence number: the
 * changes of one session id carry increasing numbers (a user's session writer counts its changes), so whoever
 * applies them in another order, or twice, keeps the one with the highest number: BigQuery's
 * `_CHANGE_SEQUENCE_NUMBER` when Gold is written by change data capture from many workers.
 */
export type SessionWrite =
  | { readonly kind: "upsert"; readonly row: GoldSessionRow; readonly seq: number }
  | { readonly kind: "delete"; readonly sessionId: string; readonly seq: number };

/**
 * Gold's key of a user is (tenant, user): the tenant, this separator, the user id. A tenant id cannot contain it
 * (`TENANT_ID`, checked by `parseEvent`), so two tenants' users with the same id are two keys.
 */
const KEY_SEP = "\u0000";

/** Gold's key of a tenant's user (sessions are per key). */
export function userKey(tenant: string, user: string): string {
  return `${tenant}${KEY_SEP}${user}`;
}

/**
 * The session id: a hash of tenant, user and session start. It is stable while a session grows forward (its start
 * does not move) and across merges that keep the earliest start; it changes only when late data moves the session's
 * start earlier, and then the row under the old id is deleted.
 */
export function sessionId(tenant: string, user: string, startMs: number): string {
  return createHash("sha256").update(`${tenant}${KEY_SEP}${user}${KEY_SEP}${startMs}`).digest("hex").slice(0, 24);
}

/** Users whose latest session id a `SessionIdCache` keeps before it starts afresh (it only saves work). */
const SESSION_ID_CACHE_USERS = 65_536;

/** A user key's tenant and user, and the id of its latest session start. */
interface UserSession {
  readonly tenant: string;
  readonly user: string;
  readonly start: number;
  readonly id: string;
}

/**
 * `sessionId` remembered per user for the latest session start seen, with the key split into tenant and user: a
 * session's panes (early, on time, late) all have the same start, so most panes reuse the id instead of hashing
 * again, and the key is split once per user. A plain memo of pure functions, not state: a restored or another
 * worker's pipeline computes the same ids.
 */
class SessionIdCache {
  private readonly latest = new Map<string, UserSession>();

  get(key: string, start: number): UserSession {
    const hit = this.latest.get(key);
    if (hit !== undefined && hit.start === start) return hit;
    let tenant: string;
    let user: string;
    if (hit !== undefined) ({ tenant, user } = hit);
    else {
      // The first separator ends the tenant (a tenant id has none: `TENANT_ID`); the rest is the user, whatever it is.
      const sep = key.indexOf(KEY_SEP);
      tenant = key.slice(0, sep);
      user = key.slice(sep + 1);
    }
    const entry = { tenant, user, start, id: sessionId(tenant, user, start) };
    if (hit === undefined && this.latest.size >= SESSION_ID_CACHE_USERS) this.latest.clear();
    this.latest.set(key, entry);
    return entry;
  }
}

/**
 * The panes of both Gold tables: early panes every `earlyFiringMs` of processing time while a window runs, the
 * on-time pane at the watermark, a late pane per late event within the allowed lateness (or, with the `watermark`
 * trigger, the on-time pane and a late pane per late bundle); accumulating, so each pane is the window's whole
 * aggregate and replaces the previous row.
 */
function goldWindowing(opts: GoldOptions) {
  return {
    trigger:
      opts.trigger === "watermark"
        ? defaultTrigger()
        : afterWatermark({ early: afterProcessingTime(opts.earlyFiringMs ?? seconds(5)), late: afterCount(1) }),
    allowedLatenessMs: opts.allowedLatenessMs ?? hours(24),
    accumulation: "accumulating",
  } as const;
}

/**
 * Gold sessions: per tenant and user, session windows on event time (gap, allowed lateness, early firings,
 * accumulating panes), aggregated, then turned into upserts and deletes: a later pane replaces its session's row,
 * and when sessions merge, the rows of the sessions merged away are deleted. When a session expires its row is
 * written once more as final.
 */
export function goldSessions(
  opts: GoldOptions = {},
  name = "GoldSessions",
): PTransform<PCollection<UserEvent>, PCollection<SessionWrite>> {
  const gapMs = opts.gapMs ?? minutes(30);
  return {
    name,
    expand: (events) => {
      const ids = new SessionIdCache();
      return events
        .apply(map((e: UserEvent) => [userKey(e.tenant_id, e.user_id), e] as KV<string, UserEvent>, "KeyByUser"))
        .apply(window<KV<string, UserEvent>>(sessions(gapMs), goldWindowing(opts)), "Sessions")
        .apply(combinePerKey<string, UserEvent, SessionAggregate, SessionAggregate>(sessionAggregateFn), "Aggregate")
        .apply(
          parDo<KV<string, SessionAggregate>, KV<string, GoldSessionRow>>(
            {
              process([key, agg], ctx) {
                const w = ctx.window as IntervalWindow;
                const { id, tenant, user } = ids.get(key, w.start);
                ctx.output([key, sessionRow(id, tenant, user, agg, w, ctx.pane, ctx.processingTime)]);
              },
            },
            "ToRow",
          ),
        )
        .apply(window<KV<string, GoldSessionRow>>(globalWindows()), "AllTime")
        .apply(sessionWriter(goldWindowing(opts).allowedLatenessMs), "Writes");
    },
  };
}

function sessionRow(
  id: string,
  tenant: string,
  user: string,
  agg: SessionAggregate,
  w: IntervalWindow,
  pane: { index: number; timing: string; isLast: boolean },
  now: number,
): GoldSessionRow {
  return {
    session_id: id,
    tenant_id: tenant,
    user_id: user,
    session_start: w.start,
    session_end: w.end,
    duration_ms: agg.lastMs - agg.firstMs,
    event_count: agg.count,
    page_views: agg.pageViews,
    clicks: agg.clicks,
    purchases: agg.purchases,
    revenue: agg.revenue,
    entry_page: agg.entry?.value ?? null,
    exit_page: agg.exit?.value ?? null,
    platforms: agg.platforms,
    funnel_steps: agg.funnel,
    converted: agg.funnel.includes("purchase"),
    acquisition_source: agg.acquisition?.value ?? null,
    last_correlation_id: agg.correlation?.value ?? null,
    pane_index: pane.index,
    pane_timing: pane.timing,
    is_final: pane.isLast,
    updated_at: Number.isFinite(now) ? now : w.end,
  };
}

/** A session written and not yet final: its window, its latest row and that row's sequence number. */
interface Live {
  readonly id: string;
  readonly start: number;
  readonly end: number;
  readonly row: GoldSessionRow;
  /** Absent in checkpoints of versions before sequence numbers (read as 0). */
  readonly seq?: number;
}

/**
 * The next sequence number of a user's changes: above every live session's last one. A session id changes only
 * while it is live (its deletion and final row included), so its numbers always increase; a user with no live
 * session starts again at 1, for ids that are new.
 */
function nextSeq(live: readonly Live[]): number {
  let max = 0;
  for (const l of live) if ((l.seq ?? 0) > max) max = l.seq ?? 0;
  return max + 1;
}

/**
 * Per user, the sessions written so far: a new pane's window contains the windows it merged, so any live session
 * inside it under another id is deleted; at a session's expiry its last row is written again as final.
 *
 * The live sessions are one small array per user (a value state), scanned in full by every pane: a user has a few
 * sessions within the allowed lateness, and the scan is the cheapest way to find those a grown window swallowed.
 */
function sessionWriter(
  latenessMs: number,
): PTransform<PCollection<KV<string, GoldSessionRow>>, PCollection<SessionWrite>> {
  return statefulParDo<
    string,
    GoldSessionRow,
    SessionWrite,
    { sessions: ValueStateSpec<readonly Live[]> },
    { expire: TimerFamilySpec }
  >({
    // Named apart from the earlier version's map state ("live"): a checkpoint of that version is refused, naming it.
    state: { sessions: valueState<readonly Live[]>() },
    timers: { expire: timerFamily("event") },
    process([, row], ctx) {
      const id = row.session_id;
      const start = row.session_start;
      const live = ctx.state.sessions.read() ?? [];
      let seq = nextSeq(live);
      // The state's array is never changed in place: a pane writes a new one (a checkpoint may hold the old).
      const next: Live[] = [];
      let known = false;
      for (const s of live) {
        // Within a user, a session's id is a function of its start: comparing starts (numbers, in the object) is
        // the same test as comparing ids, without reading each id's characters.
        if (s.start === start) known = true;
        else if (s.start >= start && s.end <= row.session_end) {
          ctx.timers.expire.get(s.id).clear();
          ctx.output({ kind: "delete", sessionId: s.id, seq: seq++ });
        } else next.push(s);
      }
      const rowSeq = seq;
      ctx.output({ kind: "upsert", row, seq: rowSeq });
      if (row.is_final) {
        ctx.timers.expire.get(id).clear();
      } else {
        next.push({ id, start, end: row.session_end, row, seq: rowSeq });
        // After the session window has expired (and its last pane, if any, has come through). Set once per session;
        // when the session has grown since, the timer finds a later expiry and sets itself again (not a timer move
        // per pane).
        if (!known) ctx.timers.expire.get(id).set(row.session_end + latenessMs);
      }
      if (next.length === 0) ctx.state.sessions.clear();
      else ctx.state.sessions.write(next);
    },
    onTimer: {
      expire(ctx) {
        const live = ctx.state.sessions.read() ?? [];
        const s = live.find((l) => l.id === ctx.timerId);
        if (s === undefined) return;
        if (s.end + latenessMs > ctx.firingTime) {
          ctx.timers.expire.get(ctx.timerId).set(s.end + latenessMs);
          return;
        }
        const rest = live.filter((l) => l !== s);
        if (rest.length === 0) ctx.state.sessions.clear();
        else ctx.state.sessions.write(rest);
        ctx.output({ kind: "upsert", row: { ...s.row, is_final: true }, seq: nextSeq(live) });
      },
    },
  }) as unknown as PTransform<PCollection<KV<string, GoldSessionRow>>, PCollection<SessionWrite>>;
}

/**
 * Gold hourly: per tenant, fixed hourly windows on event time (early and late panes, accumulating): events, distinct
 * active users, sessions started, revenue and the distinct users reaching each funnel step.
 */
export function goldHourly(
  opts: GoldOptions = {},
  name = "GoldHourly",
): PTransform<PCollection<UserEvent>, PCollection<GoldHourlyRow>> {
  return {
    name,
    expand: (events) =>
      events
        .apply(map((e: UserEvent) => [e.tenant_id, e] as KV<string, UserEvent>, "KeyByTenant"))
        .apply(window<KV<string, UserEvent>>(fixed(hours(1)), goldWindowing(opts)), "Hourly")
        .apply(combinePerKey<string, UserEvent, HourlyAggregate, HourlyAggregate>(hourlyAggregateFn), "Aggregate")
        .apply(
          parDo<KV<string, HourlyAggregate>, GoldHourlyRow>(
            {
              process([tenant, a], ctx) {
                const w = ctx.window as IntervalWindow;
                ctx.output({
                  tenant_id: tenant,
                  hour_start: w.start,
                  events: a.events,
                  active_users: a.users.size,
                  sessions_started: a.sessionsStarted,
                  revenue: a.revenue,
                  funnel_landing_cta: a.funnel.landing_cta.size,
                  funnel_plan_selection: a.funnel.plan_selection.size,
                  funnel_signup_attempt: a.funnel.signup_attempt.size,
                  funnel_purchase_attempt: a.funnel.purchase_attempt.size,
                  funnel_purchase: a.funnel.purchase.size,
                  pane_timing: ctx.pane.timing,
                  updated_at: Number.isFinite(ctx.processingTime) ? ctx.processingTime : w.end,
                });
              },
            },
            "ToRow",
          ),
        ),
  };
}
