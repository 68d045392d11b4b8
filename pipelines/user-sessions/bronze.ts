import type { PCollection } from "../../core/pcollection.ts";
import type { PTransform } from "../../core/ptransform.ts";
import { parDo } from "../../transforms/par-do.ts";
import { type Parsed, parseEvent, type RawMessage, type UserEvent, type ValidationError } from "../../schemas/event.ts";
import type { BronzeRow } from "../../schemas/rows.ts";

/** A valid event with the message it came in. */
export interface ReceivedEvent {
  readonly message: RawMessage;
  readonly event: UserEvent;
  /** Processing time at arrival. */
  readonly ingestTime: number;
}

/** A message that is not a valid event, with the reason (it is also in Bronze). */
export interface DeadLetter {
  readonly message: RawMessage;
  readonly error: ValidationError;
  readonly ingestTime: number;
}

export interface BronzeOutputs {
  readonly bronze: PCollection<BronzeRow>;
  readonly events: PCollection<ReceivedEvent>;
  readonly deadLetter: PCollection<DeadLetter>;
}

/**
 * Bronze: every message becomes a Bronze row exactly as received (valid or not); valid payloads go on as events,
 * the others to the dead-letter output with the field and reason. Nothing is dropped and nothing throws.
 */
export function bronze(name = "Bronze"): PTransform<PCollection<RawMessage>, BronzeOutputs> {
  return {
    name,
    expand: (messages) => {
      const outs = messages.apply(
        parDo<RawMessage, BronzeRow, { events: ReceivedEvent; deadLetter: DeadLetter }>(
          {
            process(message, ctx) {
              const ingestTime = Number.isFinite(ctx.processingTime) ? ctx.processingTime : message.publishTime;
              const parsed = parseEvent(message.data);
              ctx.output(bronzeRow(message, parsed, ingestTime));
              if (parsed.ok) ctx.outputTo("events", { message, event: parsed.event, ingestTime });
              else ctx.outputTo("deadLetter", { message, error: parsed.error, ingestTime });
            },
          },
          "Parse",
        ).withOutputs("events", "deadLetter"),
      );
      return { bronze: outs.main, events: outs.events, deadLetter: outs.deadLetter };
    },
  };
}

/** The Bronze row of a message: exactly as received, with whether it parsed and, if not, why. */
export function bronzeRow(message: RawMessage, parsed: Parsed, ingestTime: number): BronzeRow {
  return {
    message_id: message.messageId,
    publish_time: message.publishTime,
    ingest_time: ingestTime,
    // Shared with the message, not copied: elements are immutable (as in Beam), so no step changes either.
    attributes: message.attributes,
    payload: message.data,
    valid: parsed.ok,
    error_field: parsed.ok ? null : parsed.error.field,
    error_reason: parsed.ok ? null : parsed.error.reason,
  };
}
