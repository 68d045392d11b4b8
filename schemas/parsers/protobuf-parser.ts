import { readFileSync } from "node:fs";
import {
  createFileRegistry,
  type DescMessage,
  fromBinary,
  isFieldSet,
  type JsonValue,
  ScalarType,
  toJson,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { type Payload, payloadBytes } from "../payload.ts";
import { ParseProblem } from "./parser.ts";

/**
 * Protobuf payloads: a message type of a descriptor set (a `FileDescriptorSet`, as `buf build -o` or
 * `protoc --descriptor_set_out --include_imports` write it) decoded with `@bufbuild/protobuf`'s `fromBinary` and
 * written as protobuf JSON under the proto field names (`event_id`, not `eventId`; a nested message's fields at their
 * proto3 default written out, the message's own left out when unset), so the fields of
 * `schemas/proto/tidemark/events/v1/user_event.proto` arrive as the JSON event's fields; 64-bit integers (protobuf
 * JSON's strings) become numbers when they are safe integers. A field mapping (`field-mapping.ts`) may follow, then
 * the one validation.
 */
export class ProtobufDecoder {
  readonly message: DescMessage;
  private readonly int64Fields: readonly string[];

  /** `descriptorSet`: the set's bytes; `messageName`: the full name (`tidemark.events.v1.UserEvent`). */
  constructor(descriptorSet: Uint8Array, messageName: string, where = "protobuf parser") {
    let registry: ReturnType<typeof createFileRegistry>;
    try {
      registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
    } catch (e) {
      throw new Error(`${where}: not a FileDescriptorSet (with its imports): ${(e as Error).message}`);
    }
    const message = registry.getMessage(messageName);
    if (message === undefined) {
      const known = [...registry].filter((t) => t.kind === "message").map((t) => t.typeName);
      throw new Error(
        `${where}: no message ${JSON.stringify(messageName)} in the descriptor set (messages: ${known.slice(0, 20).join(", ")}${known.length > 20 ? ", ..." : ""})`,
      );
    }
    this.message = message;
    this.int64Fields = message.fields
      .filter((f) => f.fieldKind === "scalar" && INT64_TYPES.has(f.scalar))
      .map((f) => f.name);
  }

  /** A descriptor set read from `path`. */
  static fromFile(path: string, messageName: string, where = "protobuf parser"): ProtobufDecoder {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new Error(`${where}: cannot read the descriptor set ${path}: ${(e as Error).message}`);
    }
    return new ProtobufDecoder(bytes, messageName, `${where} (${path})`);
  }

  /** The payload's message as a JSON object (proto field names), or why it is not one. Never throws. */
  decode(payload: Payload): Record<string, unknown> | ParseProblem {
    let json: JsonValue;
    let decoded: ReturnType<typeof fromBinary>;
    try {
      decoded = fromBinary(this.message, payloadBytes(payload));
      // A field of implicit presence (proto3 without `optional`) at its default (0, "", false) is not on the wire and
      // means that default: within a nested message (an order's line with unit_price 0) it is written out. The
      // message's own such fields stay absent, so a missing event_id is refused as missing (an empty one would be).
      json = toJson(this.message, decoded, { useProtoFieldName: true, alwaysEmitImplicit: true });
    } catch (e) {
      return new ParseProblem("payload", `is not a protobuf ${this.message.typeName}: ${(e as Error).message}`);
    }
    const o = json as Record<string, unknown>;
    for (const f of this.message.fields) if (!isFieldSet(decoded, f)) delete o[f.name];
    for (const f of this.int64Fields) {
      const v = o[f];
      if (typeof v === "string") {
        const n = Number(v);
        if (Number.isSafeInteger(n)) o[f] = n;
      }
    }
    return o;
  }
}

const INT64_TYPES: ReadonlySet<ScalarType> = new Set([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);
