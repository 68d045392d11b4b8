import type { KV } from "../../core/kv.ts";
import type { PCollection } from "../../core/pcollection.ts";
import type { PTransform } from "../../core/ptransform.ts";
import {
  type MapStateSpec,
  mapState,
  type OrderedListStateSpec,
  orderedListState,
  processingTimer,
  type TimerSpec,
} from "../../core/state.ts";
import { type Duration, hours } from "../../core/time/duration.ts";
import { END_OF_GLOBAL_WINDOW, MIN_TIMESTAMP } from "../../core/time/instant.ts";
import { flatString } from "../../core/util/flat-string.ts";
import type { UserEvent } from "../../schemas/event.ts";
import type { SilverRow } from "../../schemas/rows.ts";
import { map } from "../../transforms/element-wise.ts";
import { statefulParDo } from "../../transforms/stateful-par-do.ts";
import type { ReceivedEvent } from "./bronze.ts";
import { type TypedSilverWrite, typedSilverRow } from "./typed-silver.ts";

export interface SilverOptions {
  /** How long (processing time) a tenant's event id is remembered to drop re-deliveries. Default 24 hours. */
  readonly dedupHorizonMs?: Duration;
}

export interface SilverOutputs {
  readonly silver: PCollection<SilverRow>;
  /** The de-duplicated events, timestamped with their event time. */
  readonly events: PCollection<UserEvent>;
  /** The typed Silver rows of the de-duplicated events of a declared type (order, inventory, user_activity). */
  readonly typed: PCollection<TypedSilverWrite>;
}

/** (tenant, event id) keys are de-duplicated in this many shards (the stateful step's keys). */
const DEDUP_SHARDS = 1024;
/** A shard forgets its expired ids at most this many times per horizon. */
const SWEEPS_PER_HORIZON = 24;

/**
 * The de-duplication key of a tenant's event id: the tenant, `\u0000`, the id. Unambiguous: a tenant id cannot
 * contain `\u0000` (`TENANT_ID`, checked by `parseEvent`), so the first one ends the tenant.
 */
export function dedupKey(tenant: string, eventId: string): string {
  return `${tenant}\u0000${eventId}`;
}

/** The shard of a de-duplication key (`dedupKey`; FNV-1a). */
export function dedupShard(key: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return String((h >>> 0) % DEDUP_SHARDS);
}

/**
 * Silver: de-duplicates events on (tenant, event id) within a horizon (a re-delivered message does not count twice;
 * two tenants' events with the same id are two events), types them into Silver rows with their lateness at arrival,
 * and re-timestamps each event with its event time.
 */
export function silver(
  opts: SilverOptions = {},
  name = "Silver",
): PTransform<PCollection<ReceivedEvent>, SilverOutputs> {
  // Timers are set in whole milliseconds: a horizon given in fractional hours is rounded to the millisecond.
  const horizonMs = Math.round(opts.dedupHorizonMs ?? hours(24));
  if (!(horizonMs >= 1)) throw new RangeError(`dedupHorizonMs must be at least 1 ms, got ${opts.dedupHorizonMs}`);
  /** The shortest time between two sweeps of a shard (whole ms). */
  const minSweepMs = Math.ceil(horizonMs / SWEEPS_PER_HORIZON);
  return {
    name,
    expand: (received) => {
      const outs = received
        .apply(
          map(
            (r: ReceivedEvent) =>
              [dedupShard(dedupKey(r.event.tenant_id, r.event.event_id)), r] as KV<string, ReceivedEvent>,
            "KeyByIdShard",
          ),
        )
        .apply(
          statefulParDo<
            string,
            ReceivedEvent,
            SilverRow,
            { tenantFirstSeen: MapStateSpec<string, number>; tenantOrder: OrderedListStateSpec<string> },
            { sweep: TimerSpec },
            { events: UserEvent; typed: TypedSilverWrite }
          >(
            {
              // Per shard of (tenant, event id) keys (`dedupKey`): each key with the processing time it was first seen
              // (`tenantFirstSeen`), and the same keys sorted by that time (`tenantOrder`, Beam's OrderedListState). A
              // key is a duplicate while its time is within the horizon; a sweep timer per shard forgets the expired
              // keys, reading only those from `tenantOrder` (a range read, not a scan of every key: no timer per key,
              // and each key is visited once).
              // Named apart from the earlier versions' states, whose keys were bare event ids ("firstSeen" and "order";
              // before them "seen", without an order): a checkpoint of those versions is refused, naming the state,
              // instead of being read with keys of another meaning.
              state: { tenantFirstSeen: mapState<string, number>(), tenantOrder: orderedListState<string>() },
              timers: { sweep: processingTimer() },
              // Events move from their arrival time back to their event time: any skew is allowed.
              allowedTimestampSkewMs: Number.POSITIVE_INFINITY,
              process([, r], ctx) {
                const e = r.event;
                const key = dedupKey(e.tenant_id, e.event_id);
                const seen = ctx.state.tenantFirstSeen;
                const firstSeen = seen.get(key);
                if (firstSeen !== undefined && firstSeen + horizonMs > ctx.processingTime) return;
                // The timer outputs nothing, so it must not hold the watermark: its output timestamp is the end of time.
                if (seen.size() === 0) {
                  ctx.timers.sweep.set(ctx.processingTime + horizonMs, { outputTimestamp: END_OF_GLOBAL_WINDOW });
                }
                // Kept as one flat string (the concatenated key holds its tenant, separator and id as three strings: 193
                // bytes an event against about 145, bench/state-costs.ts).
                const kept = flatString(key);
                seen.put(kept, ctx.processingTime);
                ctx.state.tenantOrder.add(ctx.processingTime, kept);
                ctx.outputWithTimestamp(silverRow(r, ctx.inputWatermark), e.event_time_ms);
                ctx.outputTo("events", e, e.event_time_ms);
                const typed = typedSilverRow(r);
                if (typed !== undefined) ctx.outputTo("typed", typed, e.event_time_ms);
              },
              onTimer: {
                sweep(ctx) {
                  const { tenantFirstSeen: seen, tenantOrder: order } = ctx.state;
                  // Keys first seen at or before now - horizon have expired. A key seen again after it expired is in
                  // `order` twice: only the entry matching its current time in `seen` removes it.
                  const expiredBefore = ctx.processingTime - horizonMs + 1;
                  for (const { timestamp, value: key } of order.readRange(MIN_TIMESTAMP, expiredBefore)) {
                    if (seen.get(key) === timestamp) seen.remove(key);
                  }
                  order.clearRange(MIN_TIMESTAMP, expiredBefore);
                  if (order.isEmpty()) return;
                  // Next sweep when the oldest key left expires, but not more often than 1/24 of the horizon: at that
                  // bound if some key expires by then (a short range read), else when the oldest one does (this reads
                  // the whole list, which happens only when the shard has seen no new key for a while).
                  const earliest = ctx.processingTime + minSweepMs;
                  const next =
                    order.readRange(expiredBefore, earliest - horizonMs + 1).length > 0
                      ? earliest
                      : (order.read()[0] as { readonly timestamp: number }).timestamp + horizonMs;
                  ctx.timers.sweep.set(next, { outputTimestamp: END_OF_GLOBAL_WINDOW });
                },
              },
            },
            "Deduplicate",
          ).withOutputs("events", "typed"),
        );
      return { silver: outs.main, events: outs.events, typed: outs.typed };
    },
  };
}

/** The Silver row of an event: typed columns, lateness at arrival and whether it was behind the watermark. */
export function silverRow(r: ReceivedEvent, watermarkAtArrival: number): SilverRow {
  const e = r.event;
  return {
    event_id: e.event_id,
    event_type: e.event_type,
    tenant_id: e.tenant_id,
    user_id: e.user_id,
    event_time: e.event_time_ms,
    event_time_raw: e.event_time_raw,
    ingest_time: r.ingestTime,
    lateness_ms: r.ingestTime - e.event_time_ms,
    is_late: e.event_time_ms < watermarkAtArrival,
    platform: e.platform,
    schema_version: e.schema_version,
    device: e.device ?? null,
    page: e.page ?? null,
    amount: e.amount ?? null,
    currency: e.currency ?? null,
    items: e.items ?? null,
    acquisition_source: e.acquisition_source ?? null,
    button: e.button ?? null,
    properties: e.properties ?? null,
    message_id: r.message.messageId,
    correlation_id: e.correlation_id ?? null,
  };
}
