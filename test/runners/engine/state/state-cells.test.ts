import { deserialize, serialize } from "node:v8";
import { describe, expect, it } from "vitest";
import type { MapState, OrderedListState } from "../../../../core/state.ts";
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

describe("ordered list state cells", () => {
  type Stamped = { readonly timestamp: number; readonly value: string };
  function listCell(): OrderedListState<string> & Cell {
    return newCell({ kind: "orderedList" }) as unknown as OrderedListState<string> & Cell;
  }
  /** The reference: an array kept sorted by timestamp, equal timestamps in insertion order, scanned in full. */
  class Model {
    items: Stamped[] = [];
    add(timestamp: number, value: string) {
      let i = this.items.length;
      while (i > 0 && (this.items[i - 1] as Stamped).timestamp > timestamp) i--;
      this.items.splice(i, 0, { timestamp, value });
    }
    range(from: number, to: number) {
      return this.items.filter((x) => x.timestamp >= from && x.timestamp < to);
    }
    clearRange(from: number, to: number) {
      this.items = this.items.filter((x) => !(x.timestamp >= from && x.timestamp < to));
    }
  }

  it("equals a sorted array over random adds (mostly in order, some not), range reads and clears", () => {
    // A seeded generator (mulberry32): the same sequence on every run; the seed is in the failure message.
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      let a = seed;
      const random = () => {
        a = (a + 0x6d2b79f5) | 0;
        let t = Math.imul(a ^ (a >>> 15), 1 | a);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
      const cell = listCell();
      const model = new Model();
      let clock = 1_000;
      for (let step = 0; step < 3_000; step++) {
        const r = random();
        if (r < 0.6) {
          // Mostly the time going on; now and then an entry behind it or at an equal time.
          clock += Math.floor(random() * 3);
          const t = random() < 0.15 ? clock - Math.floor(random() * 50) : clock;
          cell.add(t, `v${step}`);
          model.add(t, `v${step}`);
        } else if (r < 0.8) {
          // A sweep: the front up to some time (as Silver's de-duplication clears expired ids).
          const to = clock - Math.floor(random() * 80);
          cell.clearRange(Number.MIN_SAFE_INTEGER, to);
          model.clearRange(Number.MIN_SAFE_INTEGER, to);
        } else if (r < 0.9) {
          // A range in the middle.
          const from = clock - Math.floor(random() * 60);
          const to = from + Math.floor(random() * 30);
          cell.clearRange(from, to);
          model.clearRange(from, to);
        } else {
          const from = clock - Math.floor(random() * 100);
          const to = from + Math.floor(random() * 100);
          expect(cell.readRange(from, to), `seed ${seed} step ${step}`).toEqual(model.range(from, to));
        }
        expect(cell.isEmpty(), `seed ${seed} step ${step}`).toBe(model.items.length === 0);
      }
      expect(cell.read(), `seed ${seed}`).toEqual(model.items);
      // A checkpoint's copy (structured clone, as the checkpoint store writes it) restores the same list.
      const restored = listCell();
      restored.restore(deserialize(serialize(cell.snapshot())));
      expect(restored.read(), `seed ${seed}`).toEqual(model.items);
    }
  });

  it("clear empties it, and it fills again from nothing", () => {
    const cell = listCell();
    for (let i = 0; i < 100; i++) cell.add(i, `x${i}`);
    cell.clear();
    expect([cell.isEmpty(), cell.isEmptyCell(), cell.read()]).toEqual([true, true, []]);
    cell.add(5, "a");
    cell.add(3, "b");
    expect(cell.read()).toEqual([
      { timestamp: 3, value: "b" },
      { timestamp: 5, value: "a" },
    ]);
  });
});
