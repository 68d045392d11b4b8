import type { KV } from "../../core/kv.ts";
import type { PCollection } from "../../core/pcollection.ts";
import type { PTransform } from "../../core/ptransform.ts";
import { type MapStateSpec, mapState, processingTimer, type TimerSpec } from "../../core/state.ts";
import { type Duration, hours } from "../../core/time/duration.ts";
import { END_OF_GLOBAL_WINDOW } from "../../core/time/instant.ts";
import type { UserEvent } from "../../schemas/event.ts";
import type { SilverRow } from "../../schemas/rows.ts";
import { map } from "../../transforms/element-wise.ts";
import { statefulParDo } from "../../transforms/stateful-par-do.ts";
import type { ReceivedEvent } from "./bronze.ts";

export interface SilverOptions {
  /** How long (processing time) an event id is remembered to drop re-deliveries. Default 24 hours. */
  readonly dedupHorizonMs?: Duration;
}

export interface SilverOutputs {
  readonly silver: PCollection<SilverRow>;
  /** The de-duplicated events, timestamped with their event time. */
  readonly events: PCollection<UserEvent>;
}

/** Event ids are de-duplicated in this many shards (the stateful step's keys). */
const DEDUP_SHARDS = 1024;
/** A shard forgets its expired ids at most this many times per horizon. */
const SWEEPS_PER_HORIZON = 24;

/** The shard of an event id (FNV-1a). */
export function dedupShard(id: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return String((h >>> 0) % DEDUP_SHARDS);
}

/**
 * Silver: de-duplicates events on event_id within a horizon (a re-delivered message does not count twice), types
 * them into Silver rows with their lateness at arrival, and re-timestamps each event with its event time.
 */
export function silver(
  opts: SilverOptions = {},
  name = "Silver",
): PTransform<PCollection<ReceivedEvent>, SilverOutputs> {
  const horizonMs = opts.dedupHorizonMs ?? hours(24);
  return {
    name,
    expand: (received) => {
      const outs = received
        .apply(
          map((r: ReceivedEvent) => [dedupShard(r.event.event_id), r] as KV<string, ReceivedEvent>, "KeyByIdShard"),
        )
        .apply(
          statefulParDo<
            string,
            ReceivedEvent,
            SilverRow,
            { seen: MapStateSpec<string, number> },
            { sweep: TimerSpec },
            { events: UserEvent }
          >(
            {
              // Per shard of event ids: each id with the processing time it was first seen. An id is a duplicate
              // while that time is within the horizon; a sweep timer per shard forgets expired ids (not a timer
              // per id: one state entry and no timer per event).
              state: { seen: mapState<string, number>() },
              timers: { sweep: processingTimer() },
              // Events move from their arrival time back to their event time: any skew is allowed.
              allowedTimestampSkewMs: Number.POSITIVE_INFINITY,
              process([, r], ctx) {
                const e = r.event;
                const seen = ctx.state.seen;
                const firstSeen = seen.get(e.event_id);
                if (firstSeen !== undefined && firstSeen + horizonMs > ctx.processingTime) return;
                // The timer outputs nothing, so it must not hold the watermark: its output timestamp is the end of time.
                if (seen.size() === 0) {
                  ctx.timers.sweep.set(ctx.processingTime + horizonMs, { outputTimestamp: END_OF_GLOBAL_WINDOW });
                }
                seen.put(e.event_id, ctx.processingTime);
                ctx.outputWithTimestamp(silverRow(r, ctx.inputWatermark), e.event_time_ms);
                ctx.outputTo("events", e, e.event_time_ms);
              },
              onTimer: {
                sweep(ctx) {
                  const seen = ctx.state.seen;
                  let oldest = Number.POSITIVE_INFINITY;
                  for (const [id, at] of seen.entries()) {
                    if (at + horizonMs <= ctx.processingTime) seen.remove(id);
                    else if (at < oldest) oldest = at;
                  }
                  if (oldest === Number.POSITIVE_INFINITY) return;
                  // Next sweep when the oldest id left expires, but not more often than 1/24 of the horizon.
                  const next = Math.max(oldest + horizonMs, ctx.processingTime + horizonMs / SWEEPS_PER_HORIZON);
                  ctx.timers.sweep.set(next, { outputTimestamp: END_OF_GLOBAL_WINDOW });
                },
              },
            },
            "Deduplicate",
          ).withOutputs("events"),
        );
      return { silver: outs.main, events: outs.events };
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
    properties: e.properties ? { ...e.properties } : null,
    message_id: r.message.messageId,
  };
}
