import type { CombineFn } from "../../core/combine-fn.ts";
import type { UserEvent } from "../../schemas/event.ts";
import { FUNNEL_STEPS } from "../../schemas/tables.ts";
import { type FunnelStep, funnelStep } from "./session-aggregate.ts";

/** Per tenant and hour: events, distinct users, sessions started, revenue, distinct users per funnel step. */
export interface HourlyAggregate {
  events: number;
  /** Distinct users (a set: a busy tenant has thousands of users an hour). */
  users: Set<string>;
  sessionsStarted: number;
  revenue: number;
  funnel: Record<FunnelStep, Set<string>>;
}

const emptyFunnel = (): Record<FunnelStep, Set<string>> =>
  Object.fromEntries(FUNNEL_STEPS.map((s) => [s, new Set<string>()])) as Record<FunnelStep, Set<string>>;

export const hourlyAggregateFn: CombineFn<UserEvent, HourlyAggregate, HourlyAggregate> = {
  createAccumulator: () => ({ events: 0, users: new Set(), sessionsStarted: 0, revenue: 0, funnel: emptyFunnel() }),
  addInput(acc, e) {
    acc.events++;
    acc.users.add(e.user_id);
    if (e.event_type === "session_start") acc.sessionsStarted++;
    if (e.event_type === "purchase") acc.revenue += e.amount ?? 0;
    const step = funnelStep(e);
    if (step) acc.funnel[step].add(e.user_id);
    return acc;
  },
  mergeAccumulators(accs) {
    const out = hourlyAggregateFn.createAccumulator();
    for (const a of accs) {
      out.events += a.events;
      for (const u of a.users) out.users.add(u);
      out.sessionsStarted += a.sessionsStarted;
      out.revenue += a.revenue;
      for (const s of FUNNEL_STEPS) for (const u of a.funnel[s]) out.funnel[s].add(u);
    }
    return out;
  },
  extractOutput: (acc) => acc,
};
