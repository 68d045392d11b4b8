import { isUtf8 } from "node:buffer";

/**
 * A message's payload as the pipeline carries it: bytes, kept as one string so that a message stays plain data (a
 * JSON fixture line, a coder's JSON, a warehouse's text column). The bytes are recovered exactly from it:
 * - `encoding` absent: `data` is the UTF-8 text of the bytes (the bytes were valid UTF-8, a BOM included);
 * - `encoding: "base64"`: `data` is the bytes in base64 (they were not valid UTF-8: decoding them as text would have
 *   replaced each bad sequence by U+FFFD, losing them).
 * Text is kept as text because nearly every payload is JSON: the JSON parser takes the string as it is (no decode,
 * no copy), and Bronze's `payload` stays readable; only a binary payload pays for base64.
 */
export interface Payload {
  /** The payload as text (`encoding` absent), or its bytes in base64 (`encoding: "base64"`). */
  readonly data: string;
  /** How `data` holds the bytes: absent for UTF-8 text, `base64` for bytes that are not valid UTF-8. */
  readonly encoding?: PayloadEncoding;
}

export type PayloadEncoding = "base64";

/** The payload of `bytes`: their UTF-8 text when they are valid UTF-8, else base64 with `encoding: "base64"`. */
export function payloadOfBytes(bytes: Uint8Array): Payload {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Buffer's UTF-8 decoding keeps a leading BOM (TextDecoder's default drops it), so the text encodes back to the
  // same bytes.
  if (isUtf8(buf)) return { data: buf.toString("utf8") };
  return { data: buf.toString("base64"), encoding: "base64" };
}

/** The exact bytes of a payload. */
export function payloadBytes(p: Payload): Buffer {
  return Buffer.from(p.data, p.encoding === "base64" ? "base64" : "utf8");
}

/** The payload's text, or undefined when its bytes are not UTF-8 text. */
export function payloadText(p: Payload): string | undefined {
  return p.encoding === "base64" ? undefined : p.data;
}

/** The payload's size in bytes (computed: base64's length or the text's UTF-8 length). */
export function payloadByteLength(p: Payload): number {
  return p.encoding === "base64" ? Buffer.byteLength(p.data, "base64") : Buffer.byteLength(p.data, "utf8");
}

/**
 * Checks a payload's `encoding` as read from outside (a fixture line, a dead letter's JSON): absent or `base64`.
 * Returns why not, or undefined.
 */
export function payloadEncodingProblem(encoding: unknown): string | undefined {
  if (encoding === undefined || encoding === null || encoding === "base64") return undefined;
  return `must be absent (UTF-8 text) or "base64", got ${JSON.stringify(encoding)}`;
}
