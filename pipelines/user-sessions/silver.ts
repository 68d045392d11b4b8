import type { KV } from "../../core/kv.ts";
import type { PCollection } from "../../core/pcollection.ts";
import type { PTransform } from "../../core/ptransform.ts";
import { processingTimer, type TimerSpec, type ValueStateSpec, valueState } from "../../core/state.ts";
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
        .apply(map((r: ReceivedEvent) => [r.event.event_id, r] as KV<string, ReceivedEvent>, "KeyByEventId"))
        .apply(
          statefulParDo<
            string,
            ReceivedEvent,
            SilverRow,
            { seen: ValueStateSpec<boolean> },
            { forget: TimerSpec },
            { events: UserEvent }
          >(
            {
              state: { seen: valueState<boolean>() },
              timers: { forget: processingTimer() },
              // Events move from their arrival time back to their event time: any skew is allowed.
              allowedTimestampSkewMs: Number.POSITIVE_INFINITY,
              process([, r], ctx) {
                if (ctx.state.seen.read()) return;
                ctx.state.seen.write(true);
                // The timer outputs nothing, so it must not hold the watermark: its output timestamp is the end of time.
                ctx.timers.forget.setRelative({ offsetMs: horizonMs, outputTimestamp: END_OF_GLOBAL_WINDOW });
                const e = r.event;
                ctx.outputWithTimestamp(silverRow(r, ctx.inputWatermark), e.event_time_ms);
                ctx.outputTo("events", e, e.event_time_ms);
              },
              onTimer: {
                forget(ctx) {
                  ctx.state.seen.clear();
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
