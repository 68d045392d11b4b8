import { describe, expect, it } from "vitest";
import { NO_FIRING } from "../../../core/pane.ts";
import { MIN_TIMESTAMP } from "../../../core/time/instant.ts";
import { GlobalWindow, IntervalWindow } from "../../../core/windows/window.ts";
import {
  BOOL,
  BYTES,
  type Coder,
  DOUBLE,
  decodeFromBytes,
  encodeToBytes,
  GLOBAL_WINDOW_CODER,
  INTERVAL_WINDOW_CODER,
  iterableCoder,
  kvCoder,
  lengthPrefixCoder,
  STRING_UTF8,
  timerCoder,
  VARINT,
  windowedValueCoder,
} from "../../../runners/portable/coders/standard-coders.ts";

/**
 * Reference encodings from Beam's model/fn-execution/.../standard_coders.yaml (the nested context), the vectors every
 * Beam SDK is checked against: byte strings written as Latin-1 characters, as the file writes them.
 */
const b = (latin1: string) => new Uint8Array(Buffer.from(latin1, "latin1"));
const text = (s: string) => new TextEncoder().encode(s);

function check<T>(coder: Coder<T>, examples: readonly (readonly [string, T])[]): void {
  for (const [encoded, value] of examples) {
    expect(encodeToBytes(coder, value), JSON.stringify(encoded)).toEqual(b(encoded));
    expect(decodeFromBytes(coder, b(encoded))).toEqual(value);
  }
}

describe("Beam's standard coders, checked against Beam's reference encodings", () => {
  it("bytes and UTF-8 strings (nested: varint length first)", () => {
    check(BYTES, [
      ["\u0003abc", text("abc")],
      ["\u0004ab\0c", text("ab\0c")],
    ]);
    check(STRING_UTF8, [
      ["\u0003abc", "abc"],
      ["\u0002\u00c3\u00bf", "\u00ff"],
      ["\u0006\u00e5\u0085\u0089\u00e7\u00ba\u00bf", "光线"],
    ]);
  });

  it("varint, bool and double", () => {
    check(VARINT, [
      ["\0", 0],
      ["\u0001", 1],
      ["\u000A", 10],
      ["\u00c8\u0001", 200],
      ["\u00e8\u0007", 1000],
      ["\u00a9\u0046", 9001],
      ["\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u0001", -1],
    ]);
    check(BOOL, [
      ["\0", false],
      ["\u0001", true],
    ]);
    check(DOUBLE, [
      ["\0\0\0\0\0\0\0\0", 0],
      ["\u0080\0\0\0\0\0\0\0", -0],
      ["\u003f\u00b9\u0099\u0099\u0099\u0099\u0099\u009a", 0.1],
      ["\u007f\u00f0\0\0\0\0\0\0", Number.POSITIVE_INFINITY],
      ["\u007f\u00f8\0\0\0\0\0\0", Number.NaN],
    ]);
  });

  it("KV and iterables (of known and of unknown length)", () => {
    check(kvCoder(BYTES, VARINT), [
      ["\u0003abc\0", [text("abc"), 0] as const],
      ["\u0004ab\0c\u000A", [text("ab\0c"), 10] as const],
    ]);
    check(iterableCoder(VARINT), [
      ["\0\0\0\u0001\0", [0]],
      ["\0\0\0\u0004\u0001\n\u00c8\u0001\u00e8\u0007", [1, 10, 200, 1000]],
      ["\0\0\0\0", []],
    ]);
    // Unknown length: decoded only (its encoding is not deterministic).
    expect(
      decodeFromBytes(iterableCoder(BYTES), b("\u00ff\u00ff\u00ff\u00ff\u0002\u0004ab\u0000c\u0004de\u0000f\u0000")),
    ).toEqual([text("ab\0c"), text("de\0f")]);
    check(iterableCoder(GLOBAL_WINDOW_CODER), [["\0\0\0\u0001", [GlobalWindow.INSTANCE]]]);
  });

  it("interval windows: the end as an instant, the span as a varint", () => {
    check(INTERVAL_WINDOW_CODER, [
      [
        "\u0080\u0000\u0001\u0052\u009a\u00a4\u009b\u0068\u0080\u00dd\u00db\u0001",
        new IntervalWindow(1454293425000 - 3600000, 1454293425000),
      ],
      [
        "\u0080\u0000\u0001\u0053\u0034\u00ec\u0074\u00e8\u0080\u0090\u00fb\u00d3\u0009",
        new IntervalWindow(1456881825000 - 2592000000, 1456881825000),
      ],
    ]);
    // Beam's times beyond Tidemark's range (the Date range) come back at Tidemark's end of time.
    const w = decodeFromBytes(INTERVAL_WINDOW_CODER, b("\u007f\u00df\u003b\u0064\u005a\u001c\u00ad\u0076\u00ed\u0002"));
    expect(w).toEqual(new IntervalWindow(MIN_TIMESTAMP, MIN_TIMESTAMP));
  });

  it("windowed values: timestamp, windows, pane, value", () => {
    check(windowedValueCoder(VARINT, GLOBAL_WINDOW_CODER), [
      [
        "\u0080\0\u0001R\u009a\u00a4\u009bh\0\0\0\u0001\u000f\u0002",
        { value: 2, timestamp: 1454293425000, windows: [GlobalWindow.INSTANCE], pane: NO_FIRING },
      ],
    ]);
    check(windowedValueCoder(VARINT, INTERVAL_WINDOW_CODER), [
      [
        "\u007f\u00ff\u00ff\u00ff\u00ff\u00f9\u00e5\u0080\0\0\0\u0001\u0080\0\u0001R\u009a\u00a4\u009bh\u00c0\u008b\u0011\u000f\u0004",
        {
          value: 4,
          timestamp: -400000,
          windows: [new IntervalWindow(1454293425000 - 280000, 1454293425000)],
          pane: NO_FIRING,
        },
      ],
    ]);
  });

  it("panes of every kind survive a round trip (first byte, one index, two indices)", () => {
    const coder = windowedValueCoder(VARINT, GLOBAL_WINDOW_CODER);
    for (const pane of [
      NO_FIRING,
      { isFirst: true, isLast: false, timing: "EARLY" as const, index: 0, nonSpeculativeIndex: -1 },
      { isFirst: false, isLast: false, timing: "EARLY" as const, index: 3, nonSpeculativeIndex: -1 },
      { isFirst: false, isLast: false, timing: "ON_TIME" as const, index: 2, nonSpeculativeIndex: 0 },
      { isFirst: false, isLast: true, timing: "LATE" as const, index: 5, nonSpeculativeIndex: 3 },
      { isFirst: true, isLast: true, timing: "ON_TIME" as const, index: 0, nonSpeculativeIndex: 0 },
    ]) {
      const v = { value: 1, timestamp: 5, windows: [GlobalWindow.INSTANCE], pane };
      expect(decodeFromBytes(coder, encodeToBytes(coder, v))).toEqual(v);
    }
  });

  it("timers: key, tag, windows, clear bit, then fire and hold times and the pane", () => {
    check(timerCoder(STRING_UTF8, GLOBAL_WINDOW_CODER), [
      [
        "\u0003key\u0003tag\u0000\u0000\u0000\u0001\u0000\u0080\u0000\u0000\u0000\u0000\u0000\u0004\u00d2\u0080\u0000\u0000\u0000\u0000\u0000\u0016\u002e\u000f",
        {
          userKey: "key",
          dynamicTimerTag: "tag",
          windows: [GlobalWindow.INSTANCE],
          clearBit: false,
          fireTimestamp: 1234,
          holdTimestamp: 5678,
          pane: NO_FIRING,
        },
      ],
      [
        "\u0003key\u0003tag\u0000\u0000\u0000\u0001\u0001",
        { userKey: "key", dynamicTimerTag: "tag", windows: [GlobalWindow.INSTANCE], clearBit: true },
      ],
    ]);
  });

  it("a length prefix makes any coder's bytes opaque and self-delimiting; truncated input names the offset", () => {
    const lp = lengthPrefixCoder(kvCoder(STRING_UTF8, VARINT));
    const bytes = encodeToBytes(lp, ["k", 300] as const);
    expect(bytes[0]).toBe(bytes.length - 1);
    expect(decodeFromBytes(lp, bytes)).toEqual(["k", 300]);
    expect(() => decodeFromBytes(lp, bytes.subarray(0, 3))).toThrow(/truncated input: \d+ bytes needed at offset/);
  });
});
