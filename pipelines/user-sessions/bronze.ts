import type { PCollection } from "../../core/pcollection.ts";
import type { PTransform } from "../../core/ptransform.ts";
import { parDo } from "../../transforms/par-do.ts";
import type { Parsed, RawMessage, UserEvent, ValidationError } from "../../schemas/event.ts";
import { JSON_PARSER, type Parser } from "../../schemas/parsers/parser.ts";
import type { BronzeRow } from "../../schemas/rows.ts";
import { CATCH_ALL_MISROUTED, checkCatchAllTenant, checkMessageTenant } from "../../schemas/tenant.ts";

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

/** The message attribute that carries a correlation id, by default (`--correlation-attribute`). */
export const CORRELATION_ATTRIBUTE = "correlation_id";

export interface BronzeOptions {
  /**
   * The message attribute whose value is the message's correlation id (a client's request or trace id): kept in
   * Bronze and Silver, carried to Gold (the session's latest) and into the logs. Default `correlation_id`.
   */
  readonly correlationAttribute?: string;
  /**
   * A worker for one tenant (`--tenant`): only that tenant's messages become events; another tenant's, and one
   * without the `tenant_id` attribute its subscription filters on, are dead-lettered (`checkMessageTenant`).
   */
  readonly tenant?: string;
  /**
   * The reader of a catch-all subscription (`{topic}-tenant-catch-all`, filtered on what none of these
   * tenants' workers selects): no message becomes an event; each is dead-lettered with the reason no worker takes it
   * (`checkCatchAllTenant`: no `tenant_id` attribute, not a tenant id, a tenant not listed), after its own parse
   * error if it has one; a listed tenant's message (its worker takes it: delivered here only where filters are not
   * applied) is marked `CATCH_ALL_MISROUTED` whether it parses or not. Not with `tenant`.
   */
  readonly catchAllTenants?: readonly string[];
  /**
   * How payloads become events (`schemas/parsers/`): by default `JSON_PARSER` (JSON events, `parseEvent`); with
   * `--parsers=FILE`, a parser per schema version (`loadParsers`).
   */
  readonly parser?: Parser;
}

/**
 * Bronze: every message becomes a Bronze row exactly as received (valid or not); valid payloads go on as events,
 * the others to the dead-letter output with the field and reason. Nothing is dropped and nothing throws. A valid
 * payload whose tenant the message's `tenant_id` attribute contradicts, or (with `tenant`) another tenant's, is not
 * valid here: it goes to the dead letters with its reason, written under neither tenant; so does every message the
 * catch-all's reader (`catchAllTenants`) takes.
 */
export function bronze(opts: BronzeOptions = {}, name = "Bronze"): PTransform<PCollection<RawMessage>, BronzeOutputs> {
  const attribute = opts.correlationAttribute ?? CORRELATION_ATTRIBUTE;
  const tenant = opts.tenant;
  const catchAll = opts.catchAllTenants;
  const parser = opts.parser ?? JSON_PARSER;
  if (tenant !== undefined && catchAll !== undefined) {
    throw new Error(`bronze: a worker for tenant ${tenant} is not the catch-all's reader (tenant and catchAllTenants)`);
  }
  return {
    name,
    expand: (messages) => {
      const outs = messages.apply(
        parDo<RawMessage, BronzeRow, { events: ReceivedEvent; deadLetter: DeadLetter }>(
          {
            process(message, ctx) {
              const ingestTime = Number.isFinite(ctx.processingTime) ? ctx.processingTime : message.publishTime;
              // The message's correlation id goes on with its event (to Silver and Gold).
              const correlation = message.attributes[attribute];
              let parsed = parser.parse(message, message.attributes, { correlationId: correlation });
              if (catchAll !== undefined) {
                const caught = checkCatchAllTenant(message.attributes, catchAll);
                if (parsed.ok || caught.field === CATCH_ALL_MISROUTED) parsed = { ok: false, error: caught };
              } else if (parsed.ok) {
                const refused = checkMessageTenant(message.attributes, parsed.event.tenant_id, tenant);
                if (refused !== undefined) parsed = { ok: false, error: refused };
              }
              ctx.output(bronzeRow(message, parsed, ingestTime, correlation));
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
export function bronzeRow(
  message: RawMessage,
  parsed: Parsed,
  ingestTime: number,
  correlation: string | undefined = message.attributes[CORRELATION_ATTRIBUTE],
): BronzeRow {
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
    correlation_id: correlation ?? null,
    payload_encoding: message.encoding ?? null,
  };
}
