import { describe, expect, it } from "vitest";
import { Rng } from "../../pipelines/user-sessions/generate.ts";
import { payloadByteLength, payloadBytes, payloadOfBytes, payloadText } from "../../schemas/payload.ts";

/** Random bytes from a seeded PRNG (any byte value, so most arrays are not UTF-8). */
function randomBytes(rng: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(0, 255);
  return b;
}

describe("payloads: bytes kept exactly", () => {
  it("any bytes come back byte for byte, as text when they are UTF-8 and base64 when not", () => {
    const rng = new Rng(17);
    let binary = 0;
    for (let i = 0; i < 2_000; i++) {
      const bytes = randomBytes(rng, rng.int(0, 64));
      const p = payloadOfBytes(bytes);
      expect(Buffer.compare(payloadBytes(p), Buffer.from(bytes))).toBe(0);
      expect(payloadByteLength(p)).toBe(bytes.length);
      // The reference for "is UTF-8": a fatal TextDecoder.
      let utf8 = true;
      try {
        new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
      } catch {
        utf8 = false;
      }
      expect(p.encoding).toBe(utf8 ? undefined : "base64");
      if (!utf8) binary++;
    }
    expect(binary).toBeGreaterThan(1_000);
  });

  it("UTF-8 text stays text: multi-byte characters, an emoji, NUL and a leading BOM (which a default TextDecoder drops)", () => {
    for (const text of ['{"a":"é€🎉"}', "\u0000x", "\ufeff{}", ""]) {
      const p = payloadOfBytes(Buffer.from(text, "utf8"));
      expect(p).toEqual({ data: text });
      expect(payloadText(p)).toBe(text);
      expect(payloadBytes(p).toString("hex")).toBe(Buffer.from(text, "utf8").toString("hex"));
    }
  });

  it("bytes that are not UTF-8 (a lone continuation byte, a truncated sequence, an encoded surrogate) are base64", () => {
    for (const hex of ["80", "e282", "eda080", "c0af", "ff00fe", "7b22613a22c3"]) {
      const bytes = Buffer.from(hex, "hex");
      const p = payloadOfBytes(bytes);
      expect(p).toEqual({ data: bytes.toString("base64"), encoding: "base64" });
      expect(payloadText(p)).toBeUndefined();
      expect(payloadBytes(p).toString("hex")).toBe(hex);
    }
  });

  it("a Uint8Array view into a larger buffer is read at its own offset", () => {
    const whole = Buffer.from("xx\u00ffyy", "latin1");
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 1, 3);
    expect(payloadBytes(payloadOfBytes(view)).toString("hex")).toBe("78ff79");
  });
});
