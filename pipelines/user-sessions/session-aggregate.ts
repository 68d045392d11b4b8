import type { CombineFn } from "../../core/combine-fn.ts";
import type { UserEvent } from "../../schemas/event.ts";
import { FUNNEL_STEPS } from "../../schemas/tables.ts";

export type FunnelStep = (typeof FUNNEL_STEPS)[number];

/** The funnel step an event reaches, if any. */
export function funnelStep(e: UserEvent): FunnelStep | undefined {
  if (e.event_type === "purchase") return "purchase";
  if (e.event_type === "user_signup") return "signup_attempt";
  if (e.event_type !== "button_click") return undefined;
  switch (e.button) {
    case "cta":
      return "landing_cta";
    case "plan_select":
      return "plan_selection";
    case "signup_submit":
      return "signup_attempt";
    case "checkout":
      return "purchase_attempt";
    default:
      return undefined;
  }
}

/** What a session accumulates. Plain data, merged by `sessionAggregateFn.mergeAccumulators`. */
export interface SessionAggregate {
  count: number;
  pageViews: number;
  clicks: number;
  purchases: number;
  revenue: number;
  firstMs: number;
  lastMs: number;
  /**
   * The page of the earliest / latest event that has one, with its time and event id: events at the same time are
   * ordered by id, so the result never depends on the order events arrive or accumulators merge.
   */
  entry: Stamped<string> | null;
  exit: Stamped<string> | null;
  platforms: string[];
  funnel: string[];
  /** The acquisition source of the earliest `user_signup` (time, then id) that names one. */
  acquisition: Stamped<string> | null;
  /** The correlation id of the latest event (time, then id) that has one. */
  correlation: Stamped<string> | null;
}

/** A value with the event time and id of the event it came from. */
export interface Stamped<T> {
  readonly t: number;
  readonly id: string;
  readonly value: T;
}

/** Whether `a` comes before `b` (event time, then event id). */
const before = (a: { t: number; id: string }, b: { t: number; id: string }): boolean =>
  a.t < b.t || (a.t === b.t && a.id < b.id);

/** The earlier / later of two stamped values (either may be absent). */
const earlier = <T>(a: Stamped<T> | null, b: Stamped<T> | null) =>
  a === null ? b : b === null || before(a, b) ? a : b;
const later = <T>(a: Stamped<T> | null, b: Stamped<T> | null) => (a === null ? b : b === null || before(b, a) ? a : b);

const empty = (): SessionAggregate => ({
  count: 0,
  pageViews: 0,
  clicks: 0,
  purchases: 0,
  revenue: 0,
  firstMs: Number.POSITIVE_INFINITY,
  lastMs: Number.NEGATIVE_INFINITY,
  entry: null,
  exit: null,
  platforms: [],
  funnel: [],
  acquisition: null,
  correlation: null,
});

const union = (a: string[], b: readonly string[]) => {
  for (const x of b) if (!a.includes(x)) a.push(x);
  return a;
};

/** Per-session aggregates of user events: counts, revenue, first/last pages, platforms and the funnel reached. */
export const sessionAggregateFn: CombineFn<UserEvent, SessionAggregate, SessionAggregate> = {
  createAccumulator: empty,
  addInput(acc, e) {
    acc.count++;
    if (e.event_type === "page_view") acc.pageViews++;
    if (e.event_type === "button_click") acc.clicks++;
    if (e.event_type === "purchase") {
      acc.purchases++;
      acc.revenue += e.amount ?? 0;
    }
    const t = e.event_time_ms;
    if (t < acc.firstMs) acc.firstMs = t;
    if (t > acc.lastMs) acc.lastMs = t;
    if (e.page !== undefined) {
      const page = { t, id: e.event_id, value: e.page };
      acc.entry = earlier(acc.entry, page);
      acc.exit = later(acc.exit, page);
    }
    if (!acc.platforms.includes(e.platform)) acc.platforms.push(e.platform);
    const step = funnelStep(e);
    if (step && !acc.funnel.includes(step)) acc.funnel.push(step);
    if (e.event_type === "user_signup" && e.acquisition_source) {
      acc.acquisition = earlier(acc.acquisition, { t, id: e.event_id, value: e.acquisition_source });
    }
    if (e.correlation_id !== undefined) {
      acc.correlation = later(acc.correlation, { t, id: e.event_id, value: e.correlation_id });
    }
    return acc;
  },
  mergeAccumulators(accs) {
    const out = empty();
    for (const a of accs) {
      out.count += a.count;
      out.pageViews += a.pageViews;
      out.clicks += a.clicks;
      out.purchases += a.purchases;
      out.revenue += a.revenue;
      out.firstMs = Math.min(out.firstMs, a.firstMs);
      out.lastMs = Math.max(out.lastMs, a.lastMs);
      out.entry = earlier(out.entry, a.entry);
      out.exit = later(out.exit, a.exit);
      union(out.platforms, a.platforms);
      union(out.funnel, a.funnel);
      out.acquisition = earlier(out.acquisition, a.acquisition);
      out.correlation = later(out.correlation, a.correlation);
    }
    return out;
  },
  extractOutput: (acc) => ({
    ...acc,
    platforms: [...acc.platforms].sort(),
    funnel: FUNNEL_STEPS.filter((s) => acc.funnel.includes(s)),
  }),
};
