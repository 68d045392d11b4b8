import { MAX_PAYLOAD_BYTES, type Parsed, parseEvent, type ValidationError } from "../event.ts";
import { type Payload, payloadByteLength } from "../payload.ts";

/**
 * A parser's refusal (a `ValidationError`) as a class, so that a step's result, an object or a refusal, is told
 * apart by `instanceof` (a decoded payload may well have fields named `field` and `reason`).
 */
export class ParseProblem implements ValidationError {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {}
}

/** What a parser is told about the message besides its payload and attributes. */
export interface ParseContext {
  /** The message's correlation id (its correlation attribute), set on the event as it is built. */
  readonly correlationId?: string | undefined;
}

/**
 * Turns one message's payload (bytes: a `Payload`, see `payload.ts`) and attributes into a validated event, or says
 * why not (the field at fault and the reason). Never throws: a bad message is a `ValidationError`, which Bronze keeps
 * and the dead letters carry. Every parser's output goes through the one validation, `validateEvent`.
 */
export interface Parser {
  /** What it parses, for messages and logs (e.g. `json`, `mapping`, `protobuf tidemark.events.v1.UserEvent`). */
  readonly name: string;
  parse(payload: Payload, attributes: Readonly<Record<string, string>>, ctx: ParseContext): Parsed;
}

/** Why a payload is refused before any parser reads it, or undefined: larger than `MAX_PAYLOAD_BYTES`. */
export function payloadSizeProblem(payload: Payload): ParseProblem | undefined {
  // A string's UTF-8 length is at most three bytes per UTF-16 unit: measure only when it could be too large.
  if (payload.data.length * 3 <= MAX_PAYLOAD_BYTES) return undefined;
  const bytes = payloadByteLength(payload);
  if (bytes <= MAX_PAYLOAD_BYTES) return undefined;
  return new ParseProblem("payload", `is larger than ${MAX_PAYLOAD_BYTES} bytes (${bytes})`);
}

/** The refusal of a payload whose bytes are not UTF-8 text, by a parser of text (JSON). */
export function notUtf8(payload: Payload): ParseProblem {
  return new ParseProblem(
    "payload",
    `is not UTF-8 text (${payloadByteLength(payload)} bytes that are not valid UTF-8; Bronze keeps them in base64)`,
  );
}

/**
 * The default parser: the payload is a JSON event (`parseEvent`, its checks and their wording). Text payloads go to
 * `parseEvent` as they are (no decode, no copy); bytes that are not UTF-8 cannot be JSON and are refused as such.
 */
export const JSON_PARSER: Parser = {
  name: "json",
  parse(payload, _attributes, ctx) {
    if (payload.encoding === "base64") return { ok: false, error: payloadSizeProblem(payload) ?? notUtf8(payload) };
    return parseEvent(payload.data, ctx.correlationId);
  },
};

/** A text payload's JSON object, or why it is not one (in `parseEvent`'s words). */
export function decodeJsonObject(payload: Payload): Record<string, unknown> | ParseProblem {
  if (payload.encoding === "base64") return notUtf8(payload);
  let json: unknown;
  try {
    json = JSON.parse(payload.data);
  } catch (e) {
    return new ParseProblem("payload", `is not JSON: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return new ParseProblem("payload", "is not a JSON object");
  }
  return json as Record<string, unknown>;
}
