import type { Coder } from "./standard-coders.ts";
import type { ByteReader, ByteWriter } from "./bytes.ts";

/**
 * Tidemark's coders for its values (elements, accumulators, state), `tidemark:coder:value:v1`, and for its keys,
 * `tidemark:coder:key:v1`: a tag byte, then the value's bytes, recursively. The key coder is **deterministic**: equal
 * values encode to equal bytes (object keys sorted, Map entries and Set elements sorted by their encoded bytes, -0 as
 * 0, one NaN), which runners need, since they group by the encoded bytes of keys. The value coder writes object keys,
 * Map entries and Set elements in their insertion order instead (a value decodes as it was: a Pub/Sub message's
 * attributes keep their order), and is cheaper (no sorting). Runners know neither, so the translation wraps them in
 * a length prefix.
 *
 * | tag | value | bytes after the tag |
 * | --- | --- | --- |
 * | 0 | undefined | - |
 * | 1 | null | - |
 * | 2, 3 | false, true | - |
 * | 4 | number | IEEE 754 double, big-endian |
 * | 5 | string | varint UTF-8 length, UTF-8 |
 * | 6 | bigint | varint length, its decimal digits (with '-') in ASCII |
 * | 7 | array | varint count, the elements |
 * | 8 | object (plain, or a class instance's own enumerable properties) | varint count, then per key in sorted order: the key as a string (tag 5's bytes), the value |
 * | 9 | Date | its epoch milliseconds as tag 4's bytes |
 * | 10 | Uint8Array | varint length, the bytes |
 * | 11 | Map | varint count, then key and value per entry, entries in the order of their encoded keys |
 * | 12 | Set | varint count, the elements in the order of their encodings |
 *
 * Functions and symbols cannot be encoded: an error names where in the value they are. A class instance comes back
 * as a plain object (elements are data, as in Beam).
 */
export const VALUE_CODER_URN = "tidemark:coder:value:v1";
/** The same encoding with a canonical order (see `valueCoder`): the coder of keys. */
export const KEY_CODER_URN = "tidemark:coder:key:v1";

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

function writeString(s: string, w: ByteWriter): void {
  const b = utf8.encode(s);
  w.varint(b.length);
  w.bytes(b);
}

/**
 * Writes `v`. `encodeAlone` is set for the deterministic (key) encoding: Map entries, Set elements and object keys
 * are then written in a canonical order; without it they are written in their insertion order, which decoding
 * restores (a value comes back as it went in, its JSON the same).
 */
function write(
  v: unknown,
  w: ByteWriter,
  path: string,
  encodeAlone: ((v: unknown, path: string) => Uint8Array) | undefined,
): void {
  switch (typeof v) {
    case "undefined":
      w.byte(0);
      return;
    case "boolean":
      w.byte(v ? 3 : 2);
      return;
    case "number":
      w.byte(4);
      w.float64(v === 0 ? 0 : Number.isNaN(v) ? Number.NaN : v);
      return;
    case "string":
      w.byte(5);
      writeString(v, w);
      return;
    case "bigint":
      w.byte(6);
      writeString(v.toString(), w);
      return;
    case "function":
    case "symbol":
      throw new TypeError(`cannot encode a ${typeof v} at ${path}: elements are data`);
    default:
      break;
  }
  if (v === null) {
    w.byte(1);
    return;
  }
  if (Array.isArray(v)) {
    w.byte(7);
    w.varint(v.length);
    for (let i = 0; i < v.length; i++) write(v[i], w, `${path}[${i}]`, encodeAlone);
    return;
  }
  if (v instanceof Date) {
    w.byte(9);
    const t = v.getTime();
    w.float64(t === 0 ? 0 : t);
    return;
  }
  if (v instanceof Uint8Array) {
    w.byte(10);
    w.varint(v.length);
    w.bytes(v);
    return;
  }
  if (v instanceof Map) {
    w.byte(11);
    if (encodeAlone !== undefined) {
      writeSortedEntries(v, w, path, encodeAlone);
      return;
    }
    w.varint(v.size);
    let i = 0;
    for (const [k, val] of v) {
      write(k, w, `${path}.<key ${i++}>`, undefined);
      write(val, w, `${path}.get(${String(k)})`, undefined);
    }
    return;
  }
  if (v instanceof Set) {
    w.byte(12);
    if (encodeAlone !== undefined) {
      const elements = [...v].map((e, i) => encodeAlone(e, `${path}.<element ${i}>`)).sort(compareBytes);
      w.varint(elements.length);
      for (const e of elements) w.bytes(e);
      return;
    }
    w.varint(v.size);
    let i = 0;
    for (const e of v) write(e, w, `${path}.<element ${i++}>`, undefined);
    return;
  }
  const o = v as Record<string, unknown>;
  const keys = encodeAlone === undefined ? Object.keys(o) : Object.keys(o).sort();
  w.byte(8);
  w.varint(keys.length);
  for (const k of keys) {
    writeString(k, w);
    write(o[k], w, `${path}.${k}`, encodeAlone);
  }
}

/** A Map's entries in the order of their keys' encodings (the key coder's canonical order). */
function writeSortedEntries(
  v: Map<unknown, unknown>,
  w: ByteWriter,
  path: string,
  encodeAlone: (v: unknown, path: string) => Uint8Array,
): void {
  const entries = [...v.entries()].map(
    ([k, val], i) => [encodeAlone(k, `${path}.<key ${i}>`), k, val] as [Uint8Array, unknown, unknown],
  );
  entries.sort((a, b) => compareBytes(a[0], b[0]));
  w.varint(entries.length);
  for (const [keyBytes, k, val] of entries) {
    w.bytes(keyBytes);
    write(val, w, `${path}.get(${String(k)})`, encodeAlone);
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function readString(r: ByteReader): string {
  return fromUtf8.decode(r.bytes(r.varint()));
}

function read(r: ByteReader): unknown {
  const tag = r.byte();
  switch (tag) {
    case 0:
      return undefined;
    case 1:
      return null;
    case 2:
      return false;
    case 3:
      return true;
    case 4:
      return r.float64();
    case 5:
      return readString(r);
    case 6:
      return BigInt(readString(r));
    case 7: {
      const n = r.varint();
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) out[i] = read(r);
      return out;
    }
    case 8: {
      const n = r.varint();
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const k = readString(r);
        out[k] = read(r);
      }
      return out;
    }
    case 9:
      return new Date(r.float64());
    case 10:
      return r.bytes(r.varint()).slice();
    case 11: {
      const n = r.varint();
      const out = new Map<unknown, unknown>();
      for (let i = 0; i < n; i++) {
        const k = read(r);
        out.set(k, read(r));
      }
      return out;
    }
    case 12: {
      const n = r.varint();
      const out = new Set<unknown>();
      for (let i = 0; i < n; i++) out.add(read(r));
      return out;
    }
    default:
      throw new RangeError(`unknown value tag ${tag} at offset ${r.offset - 1} (not a ${VALUE_CODER_URN} encoding)`);
  }
}

/**
 * Tidemark's value coder: `deterministic` (the key coder, `tidemark:coder:key:v1`) writes Map entries, Set
 * elements and object keys in a canonical order, so equal keys give equal bytes; otherwise (`tidemark:coder:value:v1`)
 * in their insertion order, which decoding keeps. Both read either encoding.
 */
export function valueCoder(makeWriter: () => ByteWriter, deterministic = false): Coder<unknown> {
  const encodeAlone = (v: unknown, path: string): Uint8Array => {
    const w = makeWriter();
    write(v, w, path, encodeAlone);
    return w.finish();
  };
  const canonical = deterministic ? encodeAlone : undefined;
  return {
    urn: deterministic ? KEY_CODER_URN : VALUE_CODER_URN,
    components: [],
    encode: (v, w) => write(v, w, "value", canonical),
    decode: read,
  };
}
