import type { CombineFn } from "../../core/combine-fn.ts";
import type { UserEvent } from "../../schemas/event.ts";
import { FUNNEL_STEPS } from "../../schemas/tables.ts";
import { type FunnelStep, funnelStep } from "./session-aggregate.ts";

/** Per tenant and hour: events, distinct users, sessions started, revenue, distinct users per funnel step. */
export interface HourlyAggregate {
  events: number;
  users: string[];
  sessionsStarted: number;
  revenue: number;
  funnel: Record<FunnelStep, string[]>;
}

const emptyFunnel = (): Record<FunnelStep, string[]> =>
  Object.fromEntries(FUNNEL_STEPS.map((s) => [s, [] as string[]])) as Record<FunnelStep, string[]>;

const addUnique = (list: string[], v: string) => {
  if (!list.includes(v)) list.push(v);
};

export const hourlyAggregateFn: CombineFn<UserEvent, HourlyAggregate, HourlyAggregate> = {
  createAccumulator: () => ({ events: 0, users: [], sessionsStarted: 0, revenue: 0, funnel: emptyFunnel() }),
  addInput(acc, e) {
    acc.events++;
    addUnique(acc.users, e.user_id);
    if (e.event_type === "session_start") acc.sessionsStarted++;
    if (e.event_type === "purchase") acc.revenue += e.amount ?? 0;
    const step = funnelStep(e);
    if (step) addUnique(acc.funnel[step], e.user_id);
    return acc;
  },
  mergeAccumulators(accs) {
    const out = hourlyAggregateFn.createAccumulator();
    for (const a of accs) {
      out.events += a.events;
      for (const u of a.users) addUnique(out.users, u);
      out.sessionsStarted += a.sessionsStarted;
      out.revenue += a.revenue;
      for (const s of FUNNEL_STEPS) for (const u of a.funnel[s]) addUnique(out.funnel[s], u);
    }
    return out;
  },
  extractOutput: (acc) => acc,
};
