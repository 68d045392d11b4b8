import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../../core/kv.ts";
import {
  decodeFromBytes,
  encodeToBytes,
  KEY,
  lengthPrefixCoder,
  VALUE,
} from "../../../runners/portable/coders/standard-coders.ts";
import { KEY_CODER_URN, VALUE_CODER_URN } from "../../../runners/portable/coders/value-coder.ts";

/** The key coder's bytes (what runners group by). */
const enc = (v: unknown) => Buffer.from(encodeToBytes(KEY, v)).toString("hex");

describe("Tidemark's value coder (tidemark:coder:value:v1)", () => {
  it("round-trips the values elements are made of", () => {
    const values: unknown[] = [
      undefined,
      null,
      true,
      false,
      0,
      -1.5,
      2 ** 60,
      Number.POSITIVE_INFINITY,
      "",
      "光线",
      123456789012345678901234567890n,
      -5n,
      [1, "a", [null, [true]]],
      { tenant_id: "acme", user_id: "u1", n: 3, nested: { list: [1, 2], when: undefined } },
      new Date(1_700_000_000_123),
      new Uint8Array([0, 1, 255]),
      new Map<unknown, unknown>([
        ["b", 2],
        [1, "one"],
      ]),
      new Set([3, "x", [1]]),
    ];
    for (const v of values) expect(decodeFromBytes(VALUE, encodeToBytes(VALUE, v))).toEqual(v);
    expect(Number.isNaN(decodeFromBytes(VALUE, encodeToBytes(VALUE, Number.NaN)))).toBe(true);
    expect(VALUE.urn).toBe(VALUE_CODER_URN);
  });

  it("keeps a value's insertion order (its JSON comes back the same); the key coder reads the same encoding", () => {
    const v = {
      z: 1,
      a: new Map([
        ["y", 2],
        ["x", 1],
      ]),
      m: new Set(["b", "a"]),
    };
    const back = decodeFromBytes(VALUE, encodeToBytes(VALUE, v)) as typeof v;
    expect(Object.keys(back)).toEqual(["z", "a", "m"]);
    expect([...back.a.keys()]).toEqual(["y", "x"]);
    expect([...back.m]).toEqual(["b", "a"]);
    // Keys come back canonical: sorted.
    const key = decodeFromBytes(KEY, encodeToBytes(KEY, v)) as typeof v;
    expect(Object.keys(key)).toEqual(["a", "m", "z"]);
    expect(decodeFromBytes(VALUE, encodeToBytes(KEY, v))).toEqual(v);
    expect(KEY.urn).toBe(KEY_CODER_URN);
  });

  it("the key coder is deterministic: equal values give equal bytes whatever their insertion order (runners group keys by bytes)", () => {
    expect(enc({ a: 1, b: { c: 2, d: 3 } })).toBe(enc({ b: { d: 3, c: 2 }, a: 1 }));
    expect(enc(-0)).toBe(enc(0));
    expect(enc(Number.NaN)).toBe(enc(0 / 0));
    expect(
      enc(
        new Map([
          ["x", 1],
          ["y", 2],
        ]),
      ),
    ).toBe(
      enc(
        new Map([
          ["y", 2],
          ["x", 1],
        ]),
      ),
    );
    expect(enc(new Set(["b", "a"]))).toBe(enc(new Set(["a", "b"])));
    // Different values, different bytes: a string is not the number it spells, nor an array its object form.
    expect(enc("1")).not.toBe(enc(1));
    expect(enc([1, 2])).not.toBe(enc({ 0: 1, 1: 2 }));
  });

  it("groups keys as the direct runner does: plain-data keys with equal canonical JSON encode equally, others apart", () => {
    const keys: unknown[] = [
      "acme\u0000u1",
      "acme\u0000u2",
      1,
      "1",
      true,
      null,
      [1, 2],
      [2, 1],
      { t: "acme", u: "u1" },
      { u: "u1", t: "acme" },
      { t: "acme", u: "u2" },
    ];
    for (const a of keys) {
      for (const b of keys) {
        const sameGroup = typeof a === typeof b && canonicalJson(a) === canonicalJson(b);
        expect(enc(a) === enc(b), `${canonicalJson(a)} vs ${canonicalJson(b)}`).toBe(sameGroup);
      }
    }
  });

  it("refuses what is not data, naming where it is; length-prefixed for runners that do not know it", () => {
    expect(() => encodeToBytes(VALUE, { user: { handler: () => 1 } })).toThrow(
      "cannot encode a function at value.user.handler",
    );
    const lp = lengthPrefixCoder(VALUE);
    expect(decodeFromBytes(lp, encodeToBytes(lp, { k: [1] }))).toEqual({ k: [1] });
    expect(() => decodeFromBytes(VALUE, new Uint8Array([99]))).toThrow("unknown value tag 99 at offset 0");
  });
});
