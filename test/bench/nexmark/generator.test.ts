import { describe, expect, it } from "vitest";
import { NexmarkEventCoder } from "../../../bench/nexmark/event-coder.ts";
import { NexmarkGenerator, nexmarkConfig } from "../../../bench/nexmark/generator.ts";
import { JavaRandom } from "../../../bench/nexmark/java-random.ts";
import {
  AUCTION_FIELDS,
  BID_FIELDS,
  eventToJson,
  type NexmarkEvent,
  PERSON_FIELDS,
  parseEvent,
} from "../../../bench/nexmark/model.ts";
import { nexmarkSource } from "../../../bench/nexmark/source.ts";

function take(config: Parameters<typeof nexmarkConfig>[0]): NexmarkEvent[] {
  const g = new NexmarkGenerator(nexmarkConfig(config));
  const out: NexmarkEvent[] = [];
  while (g.hasNext()) out.push(g.next());
  return out;
}

describe("JavaRandom", () => {
  // Printed by OpenJDK 17's java.util.Random: new Random(seed), then nextInt(), nextInt(13), nextInt(26), nextInt(16),
  // nextInt(1000000007), nextInt(10000), nextInt(), nextDouble(), nextLong().
  const JAVA: [number, number[], number, string][] = [
    [0, [-1155484576, 5, 23, 9, 368843508, 1053, -1930858313], 0.11700660880722513, "-4029974628518736597"],
    [42, [-1170105035, 7, 22, 0, 662969970, 7525, 1190043011], 0.7077105889551186, "1684641590762760125"],
    [1000, [-1244746321, 10, 16, 7, 34204349, 3641, -735843605], 0.4864098780914311, "8222391730744523982"],
    [123456789, [-1442945365, 2, 11, 4, 838606290, 7554, -458096230], 0.4254900030738369, "7950610565297541282"],
    [1099511627781, [671308223, 7, 6, 10, 561619587, 7349, 2067461788], 0.9552160128858632, "-687770559137888625"],
    [9007199254740991, [1155099827, 8, 9, 8, 421815597, 8438, 1788588954], 0.3992884878242895, "1042927417093027072"],
  ];
  it.each(JAVA)("draws what java.util.Random draws from seed %d", (seed, ints, double, long) => {
    const r = new JavaRandom(seed);
    const got = [
      r.nextInt(),
      r.nextIntBounded(13),
      r.nextIntBounded(26),
      r.nextIntBounded(16),
      r.nextIntBounded(1_000_000_007),
      r.nextIntBounded(10_000),
      r.nextInt(),
    ];
    expect(got).toEqual(ints);
    expect(r.nextDouble()).toBe(double);
    expect(String(r.nextLong())).toBe(long);
  });
});

describe("NexmarkGenerator", () => {
  it("starts with the events Beam's own docs print (nexmark_util.ParseJsonEventFn, apache-beam 2.77.0)", () => {
    // Beam's example is Beam Java's generator at its default per-generator rate (10,000/s over 100 generators: one
    // event every 10 ms) from a wall-clock base time; its extras are abridged (a prefix and a suffix).
    const [person, auction, , , bid] = take({
      numEvents: 5,
      firstEventRate: 100,
      nextEventRate: 100,
      baseTimeMs: 1528098831026,
    });
    expect(person).toMatchObject({
      kind: "person",
      id: 1000,
      name: "Peter Jones",
      emailAddress: "nhd@xcat.com",
      creditCard: "7241 7320 9143 4888",
      city: "Portland",
      state: "WY",
      dateTime: 1528098831026,
    });
    expect(person?.extra.startsWith("WN_HS_bnp") && person.extra.endsWith("VQ\\[[")).toBe(true);
    expect(auction).toMatchObject({
      kind: "auction",
      id: 1000,
      itemName: "wkx mgee",
      description: "eszpqxtdxrvwmmywkmogoahf",
      initialBid: 28873,
      reserve: 29448,
      dateTime: 1528098831036,
      expires: 1528098840451,
      seller: 1000,
      category: 13,
    });
    expect(auction?.extra.startsWith("zcu")).toBe(true);
    expect(bid).toMatchObject({ kind: "bid", auction: 1000, bidder: 1001, price: 32530001, dateTime: 1528098831066 });
    expect(bid?.extra.startsWith("fdiysaV^]NLVsbolvyqwgticfdrwdyiyof")).toBe(true);
    expect(bid?.extra.endsWith("WPYTOuwogvszlxjrcNOORM")).toBe(true);
  });

  it("makes people, auctions and bids in 1:3:46, with ids counting up from 1000", () => {
    const events = take({ numEvents: 5000 });
    for (let epoch = 0; epoch < 100; epoch++) {
      const kinds = events.slice(epoch * 50, epoch * 50 + 50).map((e) => e.kind);
      expect(kinds.filter((k) => k === "person")).toHaveLength(1);
      expect(kinds.filter((k) => k === "auction")).toHaveLength(3);
      expect(kinds.filter((k) => k === "bid")).toHaveLength(46);
    }
    const people = events.filter((e) => e.kind === "person").map((e) => e.id);
    const auctions = events.filter((e) => e.kind === "auction").map((e) => e.id);
    expect(people).toEqual(Array.from({ length: 100 }, (_, i) => 1000 + i));
    expect(auctions).toEqual(Array.from({ length: 300 }, (_, i) => 1000 + i));
  });

  it("puts about half the bids on the hot auction and three quarters by the hot bidders (Beam's default ratios)", () => {
    const bids = take({ numEvents: 100_000 }).filter((e) => e.kind === "bid");
    // The hot auction is the first of the latest hundred (base-0 id a multiple of 100), the hot bidder the second of
    // the latest hundred people; a bid is hot with probability 1 - 1/ratio (ratios 2 and 4).
    const hotAuction = bids.filter((b) => (b.auction - 1000) % 100 === 0).length / bids.length;
    const hotBidder = bids.filter((b) => (b.bidder - 1000) % 100 === 1).length / bids.length;
    expect(hotAuction).toBeGreaterThan(0.48);
    expect(hotAuction).toBeLessThan(0.53);
    expect(hotBidder).toBeGreaterThan(0.73);
    expect(hotBidder).toBeLessThan(0.78);
    // A cold pick is one of the auctions in flight (the latest 100 and 10 ahead): never far from the newest.
    let lastAuction = 999;
    for (const e of take({ numEvents: 20_000 })) {
      if (e.kind === "auction") lastAuction = e.id;
      if (e.kind === "bid") {
        expect(e.auction).toBeGreaterThanOrEqual(Math.max(1000, lastAuction - 100));
        expect(e.auction).toBeLessThanOrEqual(lastAuction + 10);
      }
    }
  });

  it("spaces events by the rate, and follows a square wave between two rates", () => {
    const steady = take({ numEvents: 1001, firstEventRate: 250, nextEventRate: 250 });
    expect(steady.map((e) => e.dateTime - steady[0]!.dateTime).filter((_, i) => i % 250 === 0)).toEqual([
      0, 1000, 2000, 3000, 4000,
    ]);
    // 100/s for 5 s, then 500/s for 5 s, repeating (period 10 s).
    const square = take({
      numEvents: 3001,
      firstEventRate: 100,
      nextEventRate: 500,
      rateShape: "square",
      ratePeriodSec: 10,
    });
    const t0 = square[0]!.dateTime;
    expect(square[1]!.dateTime - t0).toBe(10);
    expect(square[500]!.dateTime - t0).toBe(5000);
    expect(square[501]!.dateTime - t0).toBe(5002);
    expect(square[2999]!.dateTime - t0).toBe(9998);
    expect(square[3000]!.dateTime - t0).toBe(10_000);
  });

  it("emits events out of order within a group, never behind the watermark it gave before them", async () => {
    const config = nexmarkConfig({
      numEvents: 20_000,
      outOfOrderGroupSize: 100,
      firstEventRate: 1000,
      nextEventRate: 1000,
    });
    const reader = nexmarkSource(config, { bundleSize: 37 }).open();
    let watermark = Number.NEGATIVE_INFINITY;
    let previous = Number.NEGATIVE_INFINITY;
    let backwards = 0;
    let seen = 0;
    for (let ev = await reader.next(); ev !== undefined; ev = await reader.next()) {
      if (ev.kind === "watermark") {
        expect(ev.watermark).toBeGreaterThanOrEqual(watermark);
        watermark = ev.watermark;
        continue;
      }
      if (ev.kind !== "elements") continue;
      for (let i = 0; i < ev.values.length; i++) {
        const t = ev.timestamps[i]!;
        expect(t).toBe(ev.values[i]!.dateTime);
        expect(t).toBeGreaterThanOrEqual(watermark);
        if (t < previous) backwards++;
        previous = t;
        seen++;
      }
    }
    expect(seen).toBe(20_000);
    expect(backwards).toBeGreaterThan(1000);
    // Within a group the event numbers are a permutation: the same events as in order, shuffled.
    const inOrder = take({ numEvents: 200, firstEventRate: 1000, nextEventRate: 1000 }).map(eventToJson).sort();
    const shuffled = take({ numEvents: 200, firstEventRate: 1000, nextEventRate: 1000, outOfOrderGroupSize: 100 });
    expect(shuffled.map(eventToJson)).not.toEqual([...inOrder]);
    expect(shuffled.map(eventToJson).sort()).toEqual(inOrder);
  });

  it("is deterministic by seed: the same seed gives the same stream, another seed other contents at the same ids", () => {
    const a = take({ numEvents: 2000, seed: 7 }).map(eventToJson);
    expect(take({ numEvents: 2000, seed: 7 }).map(eventToJson)).toEqual(a);
    const b = take({ numEvents: 2000, seed: 8 });
    // Kinds, ids and times come from the event numbers; what is drawn (prices, names, extras...) from the seed.
    const skeleton = (e: NexmarkEvent) => [e.kind, e.kind === "bid" ? e.dateTime : e.id, e.dateTime];
    expect(b.map(skeleton)).toEqual(take({ numEvents: 2000, seed: 7 }).map(skeleton));
    expect(b.filter((e, i) => eventToJson(e) !== a[i]).length).toBe(2000);
  });

  it("writes Beam Python's JSON layout, fields in order, and reads it back", () => {
    for (const e of take({ numEvents: 500 })) {
      const line = eventToJson(e);
      const keys = Object.keys(JSON.parse(line));
      expect(keys).toEqual([
        ...(e.kind === "person" ? PERSON_FIELDS : e.kind === "auction" ? AUCTION_FIELDS : BID_FIELDS),
      ]);
      expect(parseEvent(line)).toEqual(e);
      const coder = new NexmarkEventCoder();
      expect(coder.decode(coder.encode(e))).toEqual(e);
    }
    expect(() => parseEvent('{"auction":1,"bidder":2,"price":"3","dateTime":4,"extra":""}', 9)).toThrow(
      /line 9: field price must be an integer/,
    );
    expect(parseEvent('{"auction":1,"bidder":2,"price":3,"dateTime":{"millis":4},"extra":""}').dateTime).toBe(4);
  });

  it("resumes a source from its reader's snapshot", async () => {
    const config = nexmarkConfig({ numEvents: 3000 });
    const all: string[] = [];
    const first = nexmarkSource(config).open();
    let snapshot: unknown;
    for (let ev = await first.next(), i = 0; ev !== undefined; ev = await first.next(), i++) {
      if (ev.kind === "elements") all.push(...ev.values.map(eventToJson));
      if (i === 2) snapshot = first.snapshot?.();
    }
    const resumed: string[] = [];
    const second = nexmarkSource(config).open(snapshot);
    for (let ev = await second.next(); ev !== undefined; ev = await second.next()) {
      if (ev.kind === "elements") resumed.push(...ev.values.map(eventToJson));
    }
    expect(resumed).toEqual(all.slice(all.length - resumed.length));
    expect(resumed.length).toBe(3000 - (snapshot as number));
  });
});
