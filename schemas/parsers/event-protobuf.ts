import { create, type JsonObject, toBinary } from "@bufbuild/protobuf";
import { type Payload, payloadOfBytes } from "../payload.ts";
import { ProtobufDecoder } from "./protobuf-parser.ts";

/** The descriptor set of `schemas/proto/` (checked in; `bash scripts/gen-event-protos.sh` rebuilds it). */
export const USER_EVENT_DESCRIPTOR_SET = new URL("../proto/user-event.binpb", import.meta.url);
export const USER_EVENT_MESSAGE = "tidemark.events.v1.UserEvent";

let decoder: ProtobufDecoder | undefined;
const userEvent = () => {
  decoder ??= ProtobufDecoder.fromFile(USER_EVENT_DESCRIPTOR_SET.pathname, USER_EVENT_MESSAGE, "user event proto");
  return decoder.message;
};

const STRINGS = [
  "event_id",
  "event_type",
  "user_id",
  "tenant_id",
  "platform",
  "device",
  "page",
  "currency",
  "acquisition_source",
  "button",
  "order_id",
  "sku",
  "warehouse",
  "action",
] as const;
const INT32 = ["delta", "on_hand"] as const;

const LINE_FIELDS = ["sku", "quantity", "unit_price"];

/**
 * A JSON event payload as a `tidemark.events.v1.UserEvent` message (what a client sending protobuf sends), or
 * undefined when the payload does not fit the message (not an object, a field of another type, an unknown field):
 * the generator then sends such a payload as it is. Built field by field with `create` and written by `toBinary`.
 */
export function encodeUserEvent(payload: unknown): Uint8Array | undefined {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return undefined;
  const p = payload as Record<string, unknown>;
  const init: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    if ((STRINGS as readonly string[]).includes(k)) {
      if (typeof v !== "string") return undefined;
      init[k] = v;
    } else if (k === "event_time") {
      if (typeof v === "string") init.eventTime = { case: "eventTimeIso", value: v };
      else if (typeof v === "number" && Number.isSafeInteger(v))
        init.eventTime = { case: "eventTimeMs", value: BigInt(v) };
      else return undefined;
    } else if (k === "schema_version") {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v >= 2 ** 32) return undefined;
      init[k] = v;
    } else if (k === "amount" || k === "items") {
      if (typeof v !== "number") return undefined;
      init[k] = v;
    } else if ((INT32 as readonly string[]).includes(k)) {
      if (typeof v !== "number" || !Number.isInteger(v) || Math.abs(v) >= 2 ** 31) return undefined;
      init[k] = v;
    } else if (k === "actor_id") {
      if (typeof v !== "number" || !Number.isSafeInteger(v)) return undefined;
      init[k] = BigInt(v);
    } else if (k === "line_items") {
      if (!Array.isArray(v)) return undefined;
      const lines = [];
      for (const l of v as unknown[]) {
        if (typeof l !== "object" || l === null || Object.keys(l).some((f) => !LINE_FIELDS.includes(f)))
          return undefined;
        const { sku, quantity, unit_price } = l as Record<string, unknown>;
        if (typeof sku !== "string" || typeof unit_price !== "number") return undefined;
        if (typeof quantity !== "number" || !Number.isInteger(quantity) || quantity < 0 || quantity >= 2 ** 32)
          return undefined;
        lines.push({ sku, quantity, unitPrice: unit_price });
      }
      init[k] = lines;
    } else if (k === "properties") {
      if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
      // A google.protobuf.Struct field holds its JSON object (protobuf-es's shape of the well-known type).
      init[k] = v as JsonObject;
    } else {
      return undefined;
    }
  }
  const desc = userEvent();
  // Field names in `create`'s init are the generated (camelCase) local names.
  const local: Record<string, unknown> = {};
  for (const f of desc.fields) if (init[f.name] !== undefined) local[f.localName] = init[f.name];
  if (init.eventTime !== undefined) local.eventTime = init.eventTime;
  return toBinary(desc, create(desc, local));
}

/** Payload formats the generator writes: JSON text (as clients send it today), or `tidemark.events.v1.UserEvent`. */
export const PAYLOAD_FORMATS = ["json", "protobuf"] as const;
export type PayloadFormat = (typeof PAYLOAD_FORMATS)[number];

/**
 * A JSON payload's text in `format`: as it is for `json`; for `protobuf` the same event as a UserEvent message
 * (`encodeUserEvent`) when it fits one, else the text as it is (a malformed payload stays malformed).
 */
export function payloadInFormat(data: string, format: PayloadFormat | undefined): Payload {
  if (format !== "protobuf") return { data };
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { data };
  }
  const bytes = encodeUserEvent(json);
  return bytes === undefined ? { data } : payloadOfBytes(bytes);
}
