import { deserialize, serialize } from "node:v8";
import { describe, expect, it } from "vitest";
import type { MapState } from "../../../../core/state.ts";
import { type Cell, newCell } from "../../../../runners/engine/state/state-cells.ts";

type Key = string | number | { readonly user: string; readonly n: number };

function mapCell(): MapState<Key, string> & Cell {
  return newCell({ kind: "map" }) as unknown as MapState<Key, string> & Cell;
}

describe("map state cells", () => {
  it("groups object keys by value and gives back the original keys, beside string and number keys", () => {
    const m = mapCell();
    m.put("a", "s");
    m.put(1, "n");
    m.put({ user: "u", n: 1 }, "o1");
    m.put({ n: 1, user: "u" }, "o2"); // the same key, fields in another order
    m.put("1", "s1"); // not the number 1
    expect(m.size()).toBe(4);
    expect(m.get({ user: "u", n: 1 })).toBe("o2");
    expect(m.get(1)).toBe("n");
    expect(m.get("1")).toBe("s1");
    expect(m.has({ user: "u", n: 2 })).toBe(false);
    expect(m.entries()).toEqual([
      ["a", "s"],
      [1, "n"],
      [{ user: "u", n: 1 }, "o2"],
      ["1", "s1"],
    ]);
    m.remove({ n: 1, user: "u" });
    m.remove("a");
    expect(m.entries()).toEqual([
      [1, "n"],
      ["1", "s1"],
    ]);
  });

  it("survives a snapshot and restore with its keys and values", () => {
    const m = mapCell();
    m.put({ user: "u", n: 3 }, "x");
    m.put("k", "y");
    const back = mapCell();
    back.restore(deserialize(serialize(m.snapshot())));
    expect(back.get({ user: "u", n: 3 })).toBe("x");
    expect(back.entries()).toEqual(m.entries());
    back.clear();
    expect(back.isEmptyCell()).toBe(true);
    expect(back.entries()).toEqual([]);
  });
});
