import { describe, expect, it } from "vitest";
import { canonicalJson, groupingKey, kv } from "../../core/kv.ts";

describe("kv", () => {
  it("makes a [key, value] pair", () => {
    expect(kv("a", 1)).toEqual(["a", 1]);
  });
});

describe("groupingKey: keys group by value, not identity", () => {
  it("strings, numbers and booleans group as themselves, and stay apart from each other", () => {
    expect(groupingKey("1")).toBe("1");
    expect(groupingKey(1)).toBe(1);
    expect(groupingKey(true)).toBe(true);
    expect(new Set([groupingKey("1"), groupingKey(1), groupingKey(true), groupingKey("true")]).size).toBe(4);
  });

  it("objects group by content, whatever the order of their fields", () => {
    expect(groupingKey({ a: 1, b: 2 })).toBe(groupingKey({ b: 2, a: 1 }));
    expect(groupingKey({ a: 1, b: 2 })).not.toBe(groupingKey({ a: 1, b: 3 }));
    expect(groupingKey(["x", { c: [1, 2] }])).toBe(groupingKey(["x", { c: [1, 2] }]));
  });

  it("an object key never collides with the string of its JSON", () => {
    expect(groupingKey({ a: 1 })).not.toBe(groupingKey('{"a":1}'));
    expect(groupingKey(null)).not.toBe(groupingKey("null"));
  });
});

describe("canonicalJson", () => {
  it("sorts object fields, keeps array order, and encodes dates, bigints and undefined", () => {
    expect(canonicalJson({ b: [2, 1], a: { d: 1, c: 2 } })).toBe('{"a":{"c":2,"d":1},"b":[2,1]}');
    expect(canonicalJson(new Date(0))).toBe('"1970-01-01T00:00:00.000Z"');
    expect(canonicalJson(10n)).toBe("10n");
    expect(canonicalJson(undefined)).toBe("undefined");
  });

  it("keeps NaN, the infinities and null apart (JSON.stringify turns them all into null)", () => {
    const encoded = [null, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY].map(canonicalJson);
    expect(new Set(encoded).size).toBe(4);
    expect(groupingKey({ v: Number.NaN })).not.toBe(groupingKey({ v: null }));
  });
});
