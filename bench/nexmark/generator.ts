/**
 * Nexmark's event generator with Beam's semantics (Beam Java's `Generator`, `GeneratorConfig` and the person,
 * auction, bid and strings generators of `sdks/java/testing/nexmark`; Beam Python reads what it writes):
 *
 * - Event `n` (its *event number*) is a pure function of `n` and the configuration, so a stream is deterministic and
 *   a reader resumes from a count. Event ids cycle through 50: id mod 50 = 0 is a person, 1-3 an auction, 4-49 a
 *   bid (people, auctions and bids in 1:3:46). Person ids and auction ids count up from 1000 as they are created.
 * - Each event draws from `java.util.Random` seeded with its event id (`JavaRandom`), in Beam's order, so the
 *   fields are those Beam Java draws (`seed` 0; another seed is XORed into the Random's seed).
 * - Hot items: a bid is on the hot auction (the first of the latest hundred) with probability
 *   `1 - 1/hotAuctionRatio`, by the hot bidder with `1 - 1/hotBiddersRatio`; an auction's seller is the hot seller
 *   with `1 - 1/hotSellersRatio`. Others are drawn from the `numActivePeople` latest people (plus 10 not yet
 *   created) and the `numInFlightAuctions` latest auctions (plus 10).
 * - Time: event `n` happens at `baseTimeMs + n * interEventDelayUs / 1000` (integer division), the delay following the
 *   rate (`firstEventRate`, or a square or sine wave between `firstEventRate` and `nextEventRate` over
 *   `ratePeriodSec`).
 * - Out of order within a bound: events are emitted in groups of `outOfOrderGroupSize`; inside a group the event
 *   numbers (ids and event times) are permuted (`base + (n * 953) mod size`). The watermark after emitting `k` events
 *   is the time of the first event of the current group: no event ever comes behind it (`watermarkAfter`).
 *
 * One generator is one of Beam's per-generator timelines (`numEventGenerators` = 1): the rate is this stream's.
 * Beam's rate-limited, wall-clock mode (which also holds back a share of events to make them late) is not modelled.
 */
import { JavaRandom } from "./java-random.ts";
import type { Auction, Bid, NexmarkEvent, Person } from "./model.ts";

export type RateShape = "square" | "sine";

export interface NexmarkConfig {
  /** Events to generate (`Infinity`: unbounded). */
  readonly numEvents: number;
  /** Events per second at first, and the other end of the square or sine wave. */
  readonly firstEventRate: number;
  readonly nextEventRate: number;
  readonly rateShape: RateShape;
  /** The period of the rate's wave, in seconds. */
  readonly ratePeriodSec: number;
  /** Events per out-of-order group (1: in order). */
  readonly outOfOrderGroupSize: number;
  readonly hotAuctionRatio: number;
  readonly hotSellersRatio: number;
  readonly hotBiddersRatio: number;
  readonly numActivePeople: number;
  readonly numInFlightAuctions: number;
  readonly avgPersonByteSize: number;
  readonly avgAuctionByteSize: number;
  readonly avgBidByteSize: number;
  /** The first event's time (Beam's `BASE_TIME`, 2015-07-15T00:00:00Z, by default). */
  readonly baseTimeMs: number;
  /** 0 to 65535; 0 draws exactly what Beam Java's generator draws. */
  readonly seed: number;
}

/** Beam's `NexmarkConfiguration` defaults (for one generator). */
export const DEFAULT_NEXMARK_CONFIG: NexmarkConfig = Object.freeze({
  numEvents: 100_000,
  firstEventRate: 10_000,
  nextEventRate: 10_000,
  rateShape: "sine",
  ratePeriodSec: 600,
  outOfOrderGroupSize: 1,
  hotAuctionRatio: 2,
  hotSellersRatio: 4,
  hotBiddersRatio: 4,
  numActivePeople: 1000,
  numInFlightAuctions: 100,
  avgPersonByteSize: 200,
  avgAuctionByteSize: 500,
  avgBidByteSize: 100,
  baseTimeMs: Date.UTC(2015, 6, 15),
  seed: 0,
});

/** A configuration from the defaults and `overrides`, checked: a bad value is an error naming the field. */
export function nexmarkConfig(overrides: Partial<NexmarkConfig> = {}): NexmarkConfig {
  const c: NexmarkConfig = { ...DEFAULT_NEXMARK_CONFIG, ...overrides };
  const positive = [
    "firstEventRate",
    "nextEventRate",
    "ratePeriodSec",
    "outOfOrderGroupSize",
    "hotAuctionRatio",
    "hotSellersRatio",
    "hotBiddersRatio",
    "numActivePeople",
    "numInFlightAuctions",
    "avgPersonByteSize",
    "avgAuctionByteSize",
    "avgBidByteSize",
  ] as const;
  for (const f of positive) {
    if (!Number.isSafeInteger(c[f]) || c[f] < 1) throw new RangeError(`nexmark: ${f} must be an integer >= 1`);
  }
  if (c.numEvents !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(c.numEvents) || c.numEvents < 0)) {
    throw new RangeError("nexmark: numEvents must be an integer >= 0 or Infinity");
  }
  if (!Number.isSafeInteger(c.seed) || c.seed < 0 || c.seed > 0xffff) {
    throw new RangeError("nexmark: seed must be an integer from 0 to 65535");
  }
  if (!Number.isSafeInteger(c.baseTimeMs)) throw new RangeError("nexmark: baseTimeMs must be an integer");
  if (c.rateShape !== "square" && c.rateShape !== "sine") throw new RangeError("nexmark: rateShape is square or sine");
  return c;
}

/** Proportions of people, auctions and bids (Beam's `PERSON_PROPORTION` etc.). */
const PERSON_PROPORTION = 1;
const AUCTION_PROPORTION = 3;
const PROPORTION_DENOMINATOR = 50;
const FIRST_PERSON_ID = 1000;
const FIRST_AUCTION_ID = 1000;
const FIRST_CATEGORY_ID = 10;
const NUM_CATEGORIES = 5;
/** Ids not yet created that a bid or auction may still refer to. */
const ID_LEAD = 10;
/** Hot sellers, auctions and bidders are the first (bidders: second) of the latest batch of this many. */
const HOT_BATCH = 100;
/** Steps approximating a sine wave of rates. */
const SINE_STEPS = 10;
const US_PER_SECOND = 1_000_000;

const US_STATES = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES = [
  "Phoenix",
  "Los Angeles",
  "San Francisco",
  "Boise",
  "Portland",
  "Bend",
  "Redmond",
  "Seattle",
  "Kent",
  "Cheyenne",
];
const FIRST_NAMES = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"];
const LAST_NAMES = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"];

/** Microseconds between events at `rate` per second, rounded as Beam's `RateUnit.rateToPeriodUs`. */
const periodUs = (rate: number): number => Math.floor((US_PER_SECOND + Math.floor(rate / 2)) / rate);

/** The person id (base 0) created last as of event id `eventId` (this event's own, for a person). */
export function lastBase0PersonId(eventId: number): number {
  const epoch = Math.floor(eventId / PROPORTION_DENOMINATOR);
  const offset = eventId % PROPORTION_DENOMINATOR;
  return epoch * PERSON_PROPORTION + Math.min(offset, PERSON_PROPORTION - 1);
}

/** The auction id (base 0) created last as of event id `eventId` (this event's own, for an auction). */
export function lastBase0AuctionId(eventId: number): number {
  let epoch = Math.floor(eventId / PROPORTION_DENOMINATOR);
  let offset = eventId % PROPORTION_DENOMINATOR;
  if (offset < PERSON_PROPORTION) {
    epoch--;
    offset = AUCTION_PROPORTION - 1;
  } else if (offset >= PERSON_PROPORTION + AUCTION_PROPORTION) {
    offset = AUCTION_PROPORTION - 1;
  } else {
    offset -= PERSON_PROPORTION;
  }
  return epoch * AUCTION_PROPORTION + offset;
}

/**
 * The events of one configuration, by event number. `next()` gives them in emission order; `eventAt(k)` gives the
 * `k`-th emitted without generating the ones before it.
 */
export class NexmarkGenerator {
  /** Events emitted so far. */
  count = 0;
  private readonly random = new JavaRandom();
  private readonly seedHigh: number;
  /** Inter-event delays of the rate's steps (one entry: a constant rate), with Beam's epoch arithmetic. */
  private readonly delaysUs: readonly number[];
  private readonly stepLengthSec: number;
  private readonly eventsPerEpoch: number;
  private readonly epochPeriodMs: number;
  /** Events between now and the auction `numInFlightAuctions` ahead (an auction's expected length). */
  private readonly eventsForAuctions: number;

  constructor(readonly config: NexmarkConfig) {
    this.seedHigh = (config.seed << 8) & 0xffffff;
    this.delaysUs = interEventDelaysUs(config);
    this.stepLengthSec = Math.floor((config.ratePeriodSec + this.delaysUs.length - 1) / this.delaysUs.length);
    let eventsPerEpoch = 0;
    let epochPeriodMs = 0;
    if (this.delaysUs.length > 1) {
      for (const d of this.delaysUs) {
        const n = Math.floor((this.stepLengthSec * US_PER_SECOND) / d);
        eventsPerEpoch += n;
        epochPeriodMs += Math.floor((n * d) / 1000);
      }
    }
    this.eventsPerEpoch = eventsPerEpoch;
    this.epochPeriodMs = epochPeriodMs;
    this.eventsForAuctions = Math.floor((config.numInFlightAuctions * PROPORTION_DENOMINATOR) / AUCTION_PROPORTION);
  }

  hasNext(): boolean {
    return this.count < this.config.numEvents;
  }

  /** The next event in emission order. */
  next(): NexmarkEvent {
    return this.eventAt(this.count++);
  }

  /**
   * A lower bound on the event time of every event from the `k`-th emitted on (Beam's `nextEventNumberForWatermark`):
   * the time of the first event of its out-of-order group.
   */
  watermarkAt(k: number): number {
    const n = this.config.outOfOrderGroupSize;
    return this.timestampOf(Math.floor(k / n) * n);
  }

  /** The event number that the `k`-th emitted event carries (permuted inside its out-of-order group). */
  adjustedEventNumber(k: number): number {
    const n = this.config.outOfOrderGroupSize;
    if (n === 1) return k;
    // (k * 953) mod n without leaving the safe integers.
    return Math.floor(k / n) * n + (((k % n) * 953) % n);
  }

  /** When event number `n` happens (Beam's `timestampAndInterEventDelayUsForEvent`). */
  timestampOf(n: number): number {
    const base = this.config.baseTimeMs;
    if (this.delaysUs.length === 1) return base + Math.floor((n * (this.delaysUs[0] as number)) / 1000);
    const epoch = Math.floor(n / this.eventsPerEpoch);
    let rest = n % this.eventsPerEpoch;
    let offsetInEpochMs = 0;
    for (const d of this.delaysUs) {
      const inStep = Math.floor((this.stepLengthSec * US_PER_SECOND) / d);
      if (rest < inStep) return base + epoch * this.epochPeriodMs + offsetInEpochMs + Math.floor((rest * d) / 1000);
      rest -= inStep;
      offsetInEpochMs += Math.floor((inStep * d) / 1000);
    }
    throw new Error("nexmark: events per epoch miscounted");
  }

  /** The `k`-th emitted event. */
  eventAt(k: number): NexmarkEvent {
    const eventId = this.adjustedEventNumber(k);
    const time = this.timestampOf(eventId);
    this.random.setSeed(eventId, this.seedHigh);
    const rem = eventId % PROPORTION_DENOMINATOR;
    if (rem < PERSON_PROPORTION) return this.person(eventId, time);
    if (rem < PERSON_PROPORTION + AUCTION_PROPORTION) return this.auction(eventId, time);
    return this.bid(eventId, time);
  }

  private person(eventId: number, time: number): Person {
    const r = this.random;
    const name = `${FIRST_NAMES[r.nextIntBounded(FIRST_NAMES.length)]} ${LAST_NAMES[r.nextIntBounded(LAST_NAMES.length)]}`;
    const emailAddress = `${nextString(r, 7)}@${nextString(r, 5)}.com`;
    let creditCard = "";
    for (let i = 0; i < 4; i++) creditCard += (i > 0 ? " " : "") + String(r.nextIntBounded(10_000)).padStart(4, "0");
    const city = US_CITIES[r.nextIntBounded(US_CITIES.length)] as string;
    const state = US_STATES[r.nextIntBounded(US_STATES.length)] as string;
    const size = 8 + name.length + emailAddress.length + creditCard.length + city.length + state.length;
    return {
      kind: "person",
      id: lastBase0PersonId(eventId) + FIRST_PERSON_ID,
      name,
      emailAddress,
      creditCard,
      city,
      state,
      dateTime: time,
      extra: nextExtra(r, size, this.config.avgPersonByteSize),
    };
  }

  private auction(eventId: number, time: number): Auction {
    const r = this.random;
    const c = this.config;
    const seller =
      r.nextIntBounded(c.hotSellersRatio) > 0
        ? Math.floor(lastBase0PersonId(eventId) / HOT_BATCH) * HOT_BATCH
        : this.nextBase0PersonId(eventId);
    const category = FIRST_CATEGORY_ID + r.nextIntBounded(NUM_CATEGORIES);
    const initialBid = nextPrice(r);
    // An auction lasts, on average, until `numInFlightAuctions` more auctions have been created.
    const horizonMs = this.timestampOf(eventId + this.eventsForAuctions) - time;
    const expires = time + 1 + nextLong(r, Math.max(horizonMs * 2, 1));
    const itemName = nextString(r, 20);
    const description = nextString(r, 100);
    const reserve = initialBid + nextPrice(r);
    const size = 8 + itemName.length + description.length + 40;
    return {
      kind: "auction",
      id: lastBase0AuctionId(eventId) + FIRST_AUCTION_ID,
      itemName,
      description,
      initialBid,
      reserve,
      dateTime: time,
      expires,
      seller: seller + FIRST_PERSON_ID,
      category,
      extra: nextExtra(r, size, c.avgAuctionByteSize),
    };
  }

  private bid(eventId: number, time: number): Bid {
    const r = this.random;
    const c = this.config;
    const auction =
      r.nextIntBounded(c.hotAuctionRatio) > 0
        ? Math.trunc(lastBase0AuctionId(eventId) / HOT_BATCH) * HOT_BATCH
        : this.nextBase0AuctionId(eventId);
    const bidder =
      r.nextIntBounded(c.hotBiddersRatio) > 0
        ? Math.floor(lastBase0PersonId(eventId) / HOT_BATCH) * HOT_BATCH + 1
        : this.nextBase0PersonId(eventId);
    const price = nextPrice(r);
    return {
      kind: "bid",
      auction: auction + FIRST_AUCTION_ID,
      bidder: bidder + FIRST_PERSON_ID,
      price,
      dateTime: time,
      extra: nextExtra(r, 32, c.avgBidByteSize),
    };
  }

  /** One of the `numActivePeople` latest people, or one of the next 10 not yet created. */
  private nextBase0PersonId(eventId: number): number {
    const numPeople = lastBase0PersonId(eventId) + 1;
    const active = Math.min(numPeople, this.config.numActivePeople);
    return numPeople - active + nextLong(this.random, active + ID_LEAD);
  }

  /** One of the auctions likely still open (the latest `numInFlightAuctions`), or of the next 10. */
  private nextBase0AuctionId(eventId: number): number {
    const last = lastBase0AuctionId(eventId);
    const min = Math.max(last - this.config.numInFlightAuctions, 0);
    return min + nextLong(this.random, last - min + 1 + ID_LEAD);
  }
}

/** Beam's `RateShape.interEventDelayUs` for one generator. */
function interEventDelaysUs(c: NexmarkConfig): number[] {
  if (c.firstEventRate === c.nextEventRate) return [periodUs(c.firstEventRate)];
  if (c.rateShape === "square") return [periodUs(c.firstEventRate), periodUs(c.nextEventRate)];
  const mid = (c.firstEventRate + c.nextEventRate) / 2;
  const amp = (c.firstEventRate - c.nextEventRate) / 2;
  const delays: number[] = [];
  for (let i = 0; i < SINE_STEPS; i++) {
    delays.push(periodUs(Math.floor(mid + amp * Math.cos((2 * Math.PI * i) / SINE_STEPS) + 0.5)));
  }
  return delays;
}

/** Beam's `LongGenerator.nextLong`: uniform in [0, n). */
function nextLong(r: JavaRandom, n: number): number {
  if (n < 0x7fffffff) return r.nextIntBounded(n);
  // Beam's skewed fallback for huge ranges: |nextLong() % n|.
  const v = r.nextLong() % BigInt(n);
  return Number(v < 0n ? -v : v);
}

/** Beam's `PriceGenerator.nextPrice`: log-uniform cents from 1 to 100,000,000. */
function nextPrice(r: JavaRandom): number {
  return Math.round(10 ** (r.nextDouble() * 6) * 100);
}

/** Characters (all ASCII) of a string being built; every generated string is shorter than this. */
const CHARS = Buffer.alloc(4096);

/** Beam's `nextString`: 3 to `maxLength - 1` letters, one in 13 a space, trimmed. */
function nextString(r: JavaRandom, maxLength: number): string {
  const len = 3 + r.nextIntBounded(maxLength - 3);
  let start = 0;
  let end = 0;
  for (let i = 0; i < len; i++) {
    const c = r.nextIntBounded(13) === 0 ? 32 : 97 + r.nextIntBounded(26);
    CHARS[i] = c;
    if (c !== 32) end = i + 1;
    else if (start === i) start = i + 1;
  }
  // trim(): the spaces at both ends go.
  return start >= end ? "" : CHARS.toString("latin1", start, end);
}

/**
 * Beam's `nextExactString`: `length` characters, six from each random int: `'a' + (x % 26)` for a signed x (Java's
 * remainder keeps the sign, so the characters run from 'H' to 'z').
 */
function nextExactString(r: JavaRandom, length: number): string {
  let rnd = 0;
  let left = 0;
  for (let i = 0; i < length; i++) {
    if (left === 0) {
      rnd = r.nextInt();
      left = 6;
    }
    CHARS[i] = 97 + (rnd % 26);
    rnd = (rnd / 26) | 0;
    left--;
  }
  return CHARS.toString("latin1", 0, length);
}

/** Beam's `nextExtra`: padding so that `currentSize` plus it averages `desiredAverageSize` (within 20%). */
function nextExtra(r: JavaRandom, currentSize: number, desiredAverageSize: number): string {
  if (currentSize > desiredAverageSize) return "";
  const want = desiredAverageSize - currentSize;
  const delta = Math.floor(want * 0.2 + 0.5);
  const minSize = want - delta;
  return nextExactString(r, minSize + (delta === 0 ? 0 : r.nextIntBounded(2 * delta)));
}
