import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { dirname, resolve } from "node:path";
import { type Parsed, validateEvent, type ValidationError } from "../event.ts";
import { type Payload, payloadText } from "../payload.ts";
import { FieldMapping } from "./field-mapping.ts";
import {
  decodeJsonObject,
  JSON_PARSER,
  type ParseContext,
  ParseProblem,
  type Parser,
  payloadSizeProblem,
} from "./parser.ts";
import { ProtobufDecoder } from "./protobuf-parser.ts";

/** The message attribute that names a message's schema version (the generator and clients set it). */
export const SCHEMA_VERSION_ATTRIBUTE = "schema_version";

export const PARSER_KINDS = ["json", "mapping", "protobuf"] as const;
export type ParserKind = (typeof PARSER_KINDS)[number];

const fail = (error: ValidationError): Parsed => ({ ok: false, error });
const isError = (v: unknown): v is ParseProblem => v instanceof ParseProblem;

/**
 * The parser of one schema version: a decoder (JSON, or protobuf from a descriptor set), an optional field mapping,
 * then `validateEvent`, which accepts this version only. A mapped or protobuf payload without `schema_version` is
 * of this version; the plain JSON parser asks for it in the payload, as `parseEvent` does.
 */
export class VersionParser implements Parser {
  readonly name: string;

  constructor(
    readonly version: number,
    readonly kind: ParserKind,
    private readonly decoder: ProtobufDecoder | undefined,
    private readonly mapping: FieldMapping | undefined,
  ) {
    this.name = `${kind}${decoder === undefined ? "" : ` ${decoder.message.typeName}`} (schema version ${version})`;
  }

  parse(payload: Payload, attributes: Readonly<Record<string, string>>, ctx: ParseContext): Parsed {
    const size = payloadSizeProblem(payload);
    if (size !== undefined) return fail(size);
    const o = this.decoder === undefined ? decodeJsonObject(payload) : this.decoder.decode(payload);
    if (isError(o)) return fail(o);
    return this.parseObject(o, attributes, ctx);
  }

  /** The rest of `parse` for a payload already decoded (the dispatcher read a JSON payload's version). */
  parseObject(o: Record<string, unknown>, attributes: Readonly<Record<string, string>>, ctx: ParseContext): Parsed {
    let object = o;
    let eventTime: { ms: number; raw: string } | undefined;
    if (this.mapping !== undefined) {
      const m = this.mapping.apply(o, attributes);
      if (isError(m)) return fail(m);
      object = m.object;
      eventTime = m.eventTime;
    }
    if (this.kind !== "json" && object.schema_version === undefined) {
      object = object === o ? { ...o } : object;
      object.schema_version = this.version;
    }
    return validateEvent(object, ctx.correlationId, {
      versions: [this.version],
      ...(eventTime === undefined ? {} : { eventTime }),
    });
  }

  /** Whether the payload is JSON (the dispatcher may read its version from it). */
  get readsJson(): boolean {
    return this.decoder === undefined;
  }
}

/**
 * Schema versions, each with its parser (`--parsers=FILE`). A message's version is its `schema_version` attribute;
 * without one, a JSON payload's `schema_version` field; without either, `defaultVersion` if set. An unknown version
 * (and a message with none, without a default) is refused naming the version and the known ones.
 */
export class VersionedParser implements Parser {
  readonly name: string;
  private readonly byAttribute: ReadonlyMap<string, VersionParser>;
  private readonly known: string;
  private readonly anyJson: boolean;

  constructor(
    readonly versions: readonly VersionParser[],
    readonly defaultVersion?: number,
  ) {
    this.byAttribute = new Map(versions.map((p) => [String(p.version), p]));
    this.known = versions.map((p) => p.version).join(", ");
    this.anyJson = versions.some((p) => p.readsJson);
    this.name = `versions ${versions.map((p) => `${p.version}: ${p.kind}`).join(", ")}`;
  }

  parse(payload: Payload, attributes: Readonly<Record<string, string>>, ctx: ParseContext): Parsed {
    const attribute = attributes[SCHEMA_VERSION_ATTRIBUTE];
    if (attribute !== undefined) {
      const p = this.byAttribute.get(attribute);
      if (p === undefined) {
        return fail({
          field: `attributes.${SCHEMA_VERSION_ATTRIBUTE}`,
          reason: `is ${JSON.stringify(attribute)}, not a known schema version (known: ${this.known})`,
        });
      }
      return p.parse(payload, attributes, ctx);
    }
    // No attribute: a JSON payload may name its version.
    const text = payloadText(payload);
    let decoded: Record<string, unknown> | undefined;
    if (this.anyJson && text !== undefined && payloadSizeProblem(payload) === undefined && /^\s*\{/.test(text)) {
      const o = decodeJsonObject(payload);
      if (!isError(o)) decoded = o;
      if (!isError(o) && o.schema_version !== undefined && o.schema_version !== null) {
        const v = o.schema_version;
        const p = typeof v === "number" ? this.byAttribute.get(String(v)) : undefined;
        if (p === undefined) {
          return fail({
            field: "schema_version",
            reason: `is ${JSON.stringify(v)}, not a known schema version (known: ${this.known})`,
          });
        }
        return p.readsJson ? p.parseObject(o, attributes, ctx) : p.parse(payload, attributes, ctx);
      }
    }
    if (this.defaultVersion !== undefined) {
      const p = this.byAttribute.get(String(this.defaultVersion)) as VersionParser;
      // A JSON payload already decoded (to look for its version) is not decoded again.
      return decoded !== undefined && p.readsJson
        ? p.parseObject(decoded, attributes, ctx)
        : p.parse(payload, attributes, ctx);
    }
    return fail({
      field: "schema_version",
      reason:
        `is missing: no ${SCHEMA_VERSION_ATTRIBUTE} attribute, the payload names none, and there is no ` +
        `defaultVersion (known: ${this.known})`,
    });
  }
}

/**
 * The parsers of a `--parsers` file (JSON, or YAML when named `.yaml`/`.yml`):
 *
 *   { "defaultVersion": 1,
 *     "versions": {
 *       "1": { "parser": "json" },
 *       "2": { "parser": "mapping", "mapping": { "fields": { ... } } },          or "mapping": "FILE.json"
 *       "3": { "parser": "protobuf", "descriptorSet": "FILE.binpb", "message": "tidemark.events.v1.UserEvent",
 *              "mapping": { ... } } } }                                          (the mapping optional)
 *
 * Paths are relative to the file. Each problem is an error naming the file and the key.
 */
export function loadParsers(path: string, where = `parsers file ${path}`): VersionedParser {
  return parsersFromConfig(readConfigFile(path, where), dirname(resolve(path)), where);
}

/**
 * A configuration file's contents: YAML when its name ends in `.yaml` or `.yml` (the `yaml` package, YAML 1.2, a
 * repeated key refused), JSON otherwise. Errors name `where` and what is wrong (with YAML's line and column).
 */
export function readConfigFile(path: string, where: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`${where}: cannot read ${path}: ${(e as Error).message}`);
  }
  if (/\.ya?ml$/i.test(path)) {
    try {
      return parseYaml(text, { uniqueKeys: true, prettyErrors: true });
    } catch (e) {
      throw new Error(`${where}: ${path} is not YAML: ${(e as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: ${path} is not JSON: ${(e as Error).message}`);
  }
}

/** `loadParsers` of a config already read; relative paths from `baseDir`. */
export function parsersFromConfig(config: unknown, baseDir: string, where = "parsers"): VersionedParser {
  const c = object(config, where);
  only(c, ["defaultVersion", "versions"], where);
  const versions = object(c.versions, `${where}: versions`);
  const parsers: VersionParser[] = [];
  for (const [key, spec] of Object.entries(versions)) {
    const at = `${where}: versions.${key}`;
    if (!/^[1-9][0-9]{0,8}$/.test(key))
      throw new Error(`${at}: a schema version is a whole number from 1, got ${JSON.stringify(key)}`);
    parsers.push(versionParser(Number(key), spec, baseDir, at));
  }
  if (parsers.length === 0) throw new Error(`${where}: versions names no schema version`);
  const d = c.defaultVersion;
  if (d !== undefined && (typeof d !== "number" || !parsers.some((p) => p.version === d))) {
    throw new Error(
      `${where}: defaultVersion must be one of the versions (${parsers.map((p) => p.version).join(", ")}), got ${JSON.stringify(d)}`,
    );
  }
  return new VersionedParser(parsers, d as number | undefined);
}

function versionParser(version: number, spec: unknown, baseDir: string, at: string): VersionParser {
  const s = object(spec, at);
  const kind = s.parser;
  if (!(PARSER_KINDS as readonly unknown[]).includes(kind)) {
    throw new Error(`${at}: parser must be one of ${PARSER_KINDS.join(", ")}, got ${JSON.stringify(kind)}`);
  }
  const mapping = s.mapping === undefined ? undefined : fieldMapping(s.mapping, baseDir, `${at}: mapping`);
  switch (kind as ParserKind) {
    case "json":
      only(s, ["parser"], at);
      return new VersionParser(version, "json", undefined, undefined);
    case "mapping":
      only(s, ["parser", "mapping"], at);
      if (mapping === undefined) throw new Error(`${at}: a mapping parser needs "mapping" (an object or a file)`);
      return new VersionParser(version, "mapping", undefined, mapping);
    case "protobuf": {
      only(s, ["parser", "descriptorSet", "message", "mapping"], at);
      if (typeof s.descriptorSet !== "string")
        throw new Error(`${at}: descriptorSet must be a file (a FileDescriptorSet)`);
      if (typeof s.message !== "string") throw new Error(`${at}: message must be a message type's full name`);
      const decoder = ProtobufDecoder.fromFile(resolve(baseDir, s.descriptorSet), s.message, at);
      return new VersionParser(version, "protobuf", decoder, mapping);
    }
  }
}

function fieldMapping(spec: unknown, baseDir: string, at: string): FieldMapping {
  if (typeof spec !== "string") return new FieldMapping(spec, at);
  const path = resolve(baseDir, spec);
  return new FieldMapping(readConfigFile(path, at), `${at} (${path})`);
}

function object(v: unknown, at: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new Error(`${at}: must be a JSON object, got ${JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}

function only(o: Record<string, unknown>, keys: readonly string[], at: string): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw new Error(`${at}: unknown key ${JSON.stringify(k)} (known here: ${keys.join(", ")})`);
  }
}

/** The default parser (no `--parsers`): JSON events, `parseEvent`. */
export const DEFAULT_PARSER: Parser = JSON_PARSER;
