/**
 * Deterministic, seeded, streaming generator of user activity events for the sessions
 * benchmark. It never materialises the whole stream: it yields fixed-size chunks of typed
 * arrays in arrival order, each followed by a source watermark.
 *
 * Shape of the data:
 * - each user alternates between sessions of activity (events 1 s .. 5 min apart, ~10 events
 *   on average) and idle gaps that are mostly much longer than 30 minutes (31 min + an
 *   exponential with a 2 h mean) and sometimes shorter (2..29 min, so sessions do merge);
 * - users are interleaved in exact event-time order (a calendar queue of each user's next
 *   event, see SessionChunkProducer);
 * - a fraction of events (10% by default) is delivered late: arrival = event time +
 *   uniform[0, lateBoundMs) (lateBoundMs = 10 min by default); the others arrive at their
 *   event time. Late events wait in a second min-heap keyed by arrival time, so the output
 *   is in non-decreasing arrival order;
 * - the watermark after each chunk is (arrival time of the chunk's last event) - lateBoundMs.
 *   Every later event has arrival >= that arrival and event time > its arrival - lateBoundMs,
 *   so nothing is ever behind the watermark. The generator checks this invariant (and
 *   monotone arrival) for every event and throws if it is violated.
 *
 * Randomness comes from mulberry32 seeded by `seed` (never Math.random); exponential samples
 * use an inverse-CDF table. The stream is a pure function of the options. Generation costs
 * roughly 100 ns/event (~8-10M events/s on the 2-core dev box), which both benchmark cases pay.
 */

export interface SessionStreamOptions {
  /** Exact number of events to generate. */
  totalEvents: number;
  /** Number of distinct users (keys). */
  users: number;
  /** PRNG seed (any 32-bit integer). */
  seed: number;
  /** Events per chunk; the last chunk may be shorter. Default 16,384. */
  chunkSize?: number;
  /** Fraction of events delivered late. Default 0.1. */
  lateFraction?: number;
  /** Maximum lateness (exclusive bound) of late events. Default 10 minutes. */
  lateBoundMs?: number;
  /** Event time of the start of the stream. Default 2024-01-01T00:00:00Z. */
  startTimeMs?: number;
}

/** Options for a full sessionizer run over a generated stream (hand loop and engine case). */
export interface SessionizerRunOptions extends SessionStreamOptions {
  /** Session gap. Default 30 minutes. */
  gapMs?: number;
  /** If given, pass it to `stream.chunks(stats)` so time spent generating is measured. */
  generationStats?: GenerationStats;
}

/** Time spent inside the generator (filled in by `chunks(stats)`). */
export interface GenerationStats {
  generationMs: number;
  chunks: number;
  events: number;
}

export function createGenerationStats(): GenerationStats {
  return { generationMs: 0, chunks: 0, events: 0 };
}

export type ResolvedSessionStreamOptions = Required<SessionStreamOptions>;

/** One chunk of events in arrival order, followed by a watermark. */
export interface SessionChunk {
  /** User index per event (index into `userIds`). */
  userIndex: Int32Array;
  /** Event time per event, integer milliseconds since the epoch. */
  eventTimeMs: Float64Array;
  /** Number of valid events in the arrays (the arrays are exactly this long). */
  length: number;
  /** Source watermark after this chunk: no later event has an event time below it. */
  watermarkMs: number;
}

export interface SessionStream {
  /** User-id strings ("u00042"), built once; index with `SessionChunk.userIndex`. */
  readonly userIds: readonly string[];
  readonly options: ResolvedSessionStreamOptions;
  /**
   * A fresh pass over the stream; every call yields the same chunks. With `stats`, the time
   * spent producing chunks is accumulated into it (one clock read per chunk).
   */
  chunks(stats?: GenerationStats): Generator<SessionChunk, void, undefined>;
}

export const DEFAULT_GAP_MS = 30 * 60_000;
export const DEFAULT_CHUNK_SIZE = 16_384;
export const DEFAULT_LATE_FRACTION = 0.1;
export const DEFAULT_LATE_BOUND_MS = 10 * 60_000;
export const DEFAULT_START_TIME_MS = Date.UTC(2024, 0, 1);

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const INTRA_SESSION_MIN_GAP_MS = SECOND_MS;
const INTRA_SESSION_MEAN_EXTRA_GAP_MS = 30 * SECOND_MS;
const INTRA_SESSION_MAX_GAP_MS = 5 * MINUTE_MS;
const SESSION_MEAN_EXTRA_EVENTS = 9;
const SHORT_IDLE_PROBABILITY = 0.15;
const SHORT_IDLE_MIN_MS = 2 * MINUTE_MS;
const SHORT_IDLE_MAX_MS = 29 * MINUTE_MS;
const LONG_IDLE_MIN_MS = 31 * MINUTE_MS;
const LONG_IDLE_MEAN_EXTRA_MS = 120 * MINUTE_MS;
const INITIAL_SPREAD_MS = 120 * MINUTE_MS;
/** Calendar-queue bucket width; must stay below the smallest gap between a user's events. */
const BUCKET_WIDTH_MS = 512;
const BUCKETS_PER_MS = 1 / BUCKET_WIDTH_MS; // exact (power of two): multiply instead of divide
/** Ring size (power of two): horizon = 2048 * 512 ms ~ 17.5 min. */
const RING_BUCKETS = 2048;
/** Sort key = offset in bucket * 2^32 + user (exact in a double: < 2^41); user = key >>> 0. */
const USER_KEY_FACTOR = 2 ** 32;
const INSERTION_SORT_MAX = 24;
const EXPONENTIAL_TABLE_SIZE = 4096;
/** -ln(1 - i / 4096) for i < 4096; the last entry extends the final segment one step. */
const EXPONENTIAL_TABLE = (() => {
  const table = new Float64Array(EXPONENTIAL_TABLE_SIZE + 1);
  for (let i = 0; i < EXPONENTIAL_TABLE_SIZE; i++) table[i] = -Math.log(1 - i / EXPONENTIAL_TABLE_SIZE);
  table[EXPONENTIAL_TABLE_SIZE] = table[EXPONENTIAL_TABLE_SIZE - 1]! + 1;
  return table;
})();

/** "u00042"-style ids, zero-padded to at least 5 digits. */
export function makeUserIds(users: number): string[] {
  const width = Math.max(5, String(Math.max(0, users - 1)).length);
  const ids = new Array<string>(users);
  for (let i = 0; i < users; i++) ids[i] = "u" + String(i).padStart(width, "0");
  return ids;
}

/** Inverse of {@link makeUserIds}: "u00042" -> 42. */
export function parseUserIndex(userId: string): number {
  return Number.parseInt(userId.slice(1), 10);
}

export function resolveSessionStreamOptions(options: SessionStreamOptions): ResolvedSessionStreamOptions {
  const resolved: ResolvedSessionStreamOptions = {
    totalEvents: options.totalEvents,
    users: options.users,
    seed: options.seed,
    chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
    lateFraction: options.lateFraction ?? DEFAULT_LATE_FRACTION,
    lateBoundMs: options.lateBoundMs ?? DEFAULT_LATE_BOUND_MS,
    startTimeMs: options.startTimeMs ?? DEFAULT_START_TIME_MS,
  };
  if (!Number.isSafeInteger(resolved.totalEvents) || resolved.totalEvents < 0) {
    throw new RangeError(`totalEvents must be a non-negative integer, got ${resolved.totalEvents}`);
  }
  if (!Number.isSafeInteger(resolved.users) || resolved.users < 1 || resolved.users > 0x7fffffff) {
    throw new RangeError(`users must be a positive integer, got ${resolved.users}`);
  }
  if (!Number.isSafeInteger(resolved.chunkSize) || resolved.chunkSize < 1) {
    throw new RangeError(`chunkSize must be a positive integer, got ${resolved.chunkSize}`);
  }
  if (!(resolved.lateFraction >= 0 && resolved.lateFraction <= 1)) {
    throw new RangeError(`lateFraction must be in [0, 1], got ${resolved.lateFraction}`);
  }
  if (!Number.isSafeInteger(resolved.lateBoundMs) || resolved.lateBoundMs < 1) {
    throw new RangeError(`lateBoundMs must be a positive integer, got ${resolved.lateBoundMs}`);
  }
  return resolved;
}

export function createSessionStream(options: SessionStreamOptions): SessionStream {
  const resolved = resolveSessionStreamOptions(options);
  const userIds = makeUserIds(resolved.users);
  return {
    userIds,
    options: resolved,
    chunks: (stats?: GenerationStats) => generateSessionChunks(resolved, stats),
  };
}

/** The chunk generator itself (see the file comment). */
export function* generateSessionChunks(
  options: SessionStreamOptions,
  stats?: GenerationStats,
): Generator<SessionChunk, void, undefined> {
  let startedMs = stats === undefined ? 0 : performance.now();
  const producer = new SessionChunkProducer(resolveSessionStreamOptions(options));
  for (;;) {
    const chunk = producer.nextChunk();
    if (stats !== undefined) {
      stats.generationMs += performance.now() - startedMs;
      if (chunk !== undefined) {
        stats.chunks++;
        stats.events += chunk.length;
      }
    }
    if (chunk === undefined) return;
    yield chunk;
    if (stats !== undefined) startedMs = performance.now();
  }
}

/**
 * Pull-based producer behind {@link generateSessionChunks}. The hot loop lives in a plain
 * method (not in the generator body) and all state is in typed arrays, so it stays cheap
 * next to the sessionizers it feeds.
 *
 * Scheduling: every user always has exactly one pending "next event" time. Pending events
 * less than one ring horizon ahead sit in a calendar queue (ring of 512 ms buckets, linked
 * lists through `userNext`); those further ahead (idle users) sit in a min-heap (`far*`). The
 * current bucket is gathered into a scratch array and sorted by (time, user), so events come
 * out in exact event-time order. Because the smallest gap is 1 s > the bucket width, a
 * scheduled event never lands in the bucket being drained. This costs O(1) per event instead
 * of a heap operation over all users.
 */
export class SessionChunkProducer {
  private readonly totalEvents: number;
  private readonly users: number;
  private readonly chunkSize: number;
  private readonly lateFraction: number;
  private readonly lateBoundMs: number;
  private readonly originMs: number;
  private rngState: number;
  private generated = 0;

  /** Each user's pending next event time. */
  private readonly nextTimeMs: Float64Array;
  /** Events left in each user's current session. */
  private readonly remainingInSession: Int32Array;

  // Calendar queue of pending events less than a horizon ahead.
  private readonly bucketHead = new Int32Array(RING_BUCKETS).fill(-1);
  private readonly userNext: Int32Array;
  private ringCount = 0;
  /** Bucket currently being drained, counted in BUCKET_WIDTH_MS steps from originMs. */
  private currentBucket = -1;

  // Min-heap of pending events at least a horizon ahead (mostly idle users).
  private farSize = 0;
  private readonly farTimeMs: Float64Array;
  private readonly farUser: Int32Array;

  // The current bucket's events, sorted; scratchKey packs (offset in bucket, user).
  private readonly scratchKey: Float64Array;
  private readonly scratchUser: Int32Array;
  private scratchLength = 0;
  private scratchPosition = 0;

  // Min-heap of delayed (late) events keyed by arrival time.
  private lateCapacity = 1024;
  private lateSize = 0;
  private lateArrivalMs = new Float64Array(this.lateCapacity);
  private lateEventTimeMs = new Float64Array(this.lateCapacity);
  private lateUser = new Int32Array(this.lateCapacity);

  private lastArrivalMs = Number.NEGATIVE_INFINITY;
  private watermarkMs = Number.NEGATIVE_INFINITY;

  constructor(options: ResolvedSessionStreamOptions) {
    if (!Number.isSafeInteger(options.startTimeMs)) {
      throw new RangeError(`startTimeMs must be an integer, got ${options.startTimeMs}`);
    }
    this.totalEvents = options.totalEvents;
    this.users = options.users;
    this.chunkSize = options.chunkSize;
    this.lateFraction = options.lateFraction;
    this.lateBoundMs = options.lateBoundMs;
    this.originMs = options.startTimeMs;
    this.rngState = options.seed | 0;
    const users = options.users;
    this.nextTimeMs = new Float64Array(users);
    this.remainingInSession = new Int32Array(users);
    this.userNext = new Int32Array(users);
    this.farTimeMs = new Float64Array(users);
    this.farUser = new Int32Array(users);
    this.scratchKey = new Float64Array(users);
    this.scratchUser = new Int32Array(users);
    for (let u = 0; u < users; u++) {
      const firstEventMs = options.startTimeMs + Math.floor(this.random() * INITIAL_SPREAD_MS);
      this.remainingInSession[u] = this.sessionLength();
      this.schedule(u, firstEventMs);
    }
  }

  /** Source watermark after the last returned chunk. */
  get currentWatermarkMs(): number {
    return this.watermarkMs;
  }

  /** The next chunk in arrival order, or undefined at the end of the stream. */
  nextChunk(): SessionChunk | undefined {
    const chunkSize = this.chunkSize;
    const chunkUser = new Int32Array(chunkSize);
    const chunkEventTimeMs = new Float64Array(chunkSize);
    const filled = this.fill(chunkUser, chunkEventTimeMs);
    if (filled === 0) return undefined;
    const nextWatermarkMs = this.lastArrivalMs - this.lateBoundMs;
    if (nextWatermarkMs < this.watermarkMs) {
      this.violation(`watermark regressed from ${this.watermarkMs} to ${nextWatermarkMs}`);
    }
    this.watermarkMs = nextWatermarkMs;
    return {
      userIndex: filled === chunkSize ? chunkUser : chunkUser.slice(0, filled),
      eventTimeMs: filled === chunkSize ? chunkEventTimeMs : chunkEventTimeMs.slice(0, filled),
      length: filled,
      watermarkMs: nextWatermarkMs,
    };
  }

  /**
   * The hot loop: fills the arrays with the next events in arrival order and returns how many.
   * Kept free of code after the loop (state lives in fields): V8 OSR-compiles this loop, and
   * cold code after it would otherwise deoptimise it on every call.
   */
  private fill(chunkUser: Int32Array, chunkEventTimeMs: Float64Array): number {
    const capacity = chunkUser.length;
    const watermarkMs = this.watermarkMs;
    const totalEvents = this.totalEvents;
    const lateFraction = this.lateFraction;
    const lateBoundMs = this.lateBoundMs;
    const nextTimeMs = this.nextTimeMs;
    const remainingInSession = this.remainingInSession;
    const scratchUser = this.scratchUser;
    let filled = 0;

    while (filled < capacity) {
      let user = -1;
      let eventTimeMs = Number.POSITIVE_INFINITY;
      if (this.generated < totalEvents) {
        if (this.scratchPosition === this.scratchLength) this.loadNextBucket();
        user = scratchUser[this.scratchPosition]!;
        eventTimeMs = nextTimeMs[user]!;
      }

      // Every future event (on time or late) arrives at or after the next scheduled event
      // time, so delayed events due by then can be released first.
      if (this.lateSize > 0 && this.lateArrivalMs[0]! <= eventTimeMs) {
        const arrivalMs = this.lateArrivalMs[0]!;
        const lateEventTimeMs = this.lateEventTimeMs[0]!;
        if (lateEventTimeMs < watermarkMs) this.violation(`event ${lateEventTimeMs} behind watermark ${watermarkMs}`);
        if (arrivalMs < this.lastArrivalMs) this.violation(`arrival ${arrivalMs} precedes ${this.lastArrivalMs}`);
        chunkUser[filled] = this.lateUser[0]!;
        chunkEventTimeMs[filled] = lateEventTimeMs;
        filled++;
        this.lastArrivalMs = arrivalMs;
        this.popLate();
        continue;
      }
      if (user < 0) break; // all events generated and all delayed ones released

      this.scratchPosition++;
      this.generated++;
      if (this.random() < lateFraction) {
        this.pushLate(eventTimeMs + Math.floor(this.random() * lateBoundMs), eventTimeMs, user);
      } else {
        if (eventTimeMs < watermarkMs) this.violation(`event ${eventTimeMs} behind watermark ${watermarkMs}`);
        if (eventTimeMs < this.lastArrivalMs) this.violation(`arrival ${eventTimeMs} precedes ${this.lastArrivalMs}`);
        chunkUser[filled] = user;
        chunkEventTimeMs[filled] = eventTimeMs;
        filled++;
        this.lastArrivalMs = eventTimeMs;
      }

      const remaining = remainingInSession[user]! - 1;
      if (remaining > 0) {
        remainingInSession[user] = remaining;
        this.schedule(user, eventTimeMs + this.intraSessionGapMs());
      } else {
        remainingInSession[user] = this.sessionLength();
        this.schedule(user, eventTimeMs + this.idleGapMs());
      }
    }
    return filled;
  }

  /** mulberry32 step, as a method so the state stays in a field. */
  private random(): number {
    const state = (this.rngState + 0x6d2b79f5) | 0;
    this.rngState = state;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /**
   * Standard exponential sample (mean 1) by inverse CDF from a 4096-entry table with linear
   * interpolation; several times cheaper than Math.log. The tail is cut at ~9.3 means.
   */
  private exponential(): number {
    const scaled = this.random() * EXPONENTIAL_TABLE_SIZE;
    const index = scaled | 0;
    const low = EXPONENTIAL_TABLE[index]!;
    return low + (EXPONENTIAL_TABLE[index + 1]! - low) * (scaled - index);
  }

  private sessionLength(): number {
    return 1 + Math.floor(this.exponential() * SESSION_MEAN_EXTRA_EVENTS);
  }

  private intraSessionGapMs(): number {
    return Math.min(
      INTRA_SESSION_MAX_GAP_MS,
      INTRA_SESSION_MIN_GAP_MS + Math.floor(this.exponential() * INTRA_SESSION_MEAN_EXTRA_GAP_MS),
    );
  }

  private idleGapMs(): number {
    return this.random() < SHORT_IDLE_PROBABILITY
      ? SHORT_IDLE_MIN_MS + Math.floor(this.random() * (SHORT_IDLE_MAX_MS - SHORT_IDLE_MIN_MS))
      : LONG_IDLE_MIN_MS + Math.floor(this.exponential() * LONG_IDLE_MEAN_EXTRA_MS);
  }

  /** Sets the user's pending event; it must lie in a bucket after the current one. */
  private schedule(user: number, timeMs: number): void {
    this.nextTimeMs[user] = timeMs;
    const bucket = Math.floor((timeMs - this.originMs) * BUCKETS_PER_MS);
    if (bucket < this.currentBucket + RING_BUCKETS) {
      const slot = bucket & (RING_BUCKETS - 1);
      this.userNext[user] = this.bucketHead[slot]!;
      this.bucketHead[slot] = user;
      this.ringCount++;
    } else {
      this.pushFar(timeMs, user);
    }
  }

  /** Advances to the next non-empty bucket and fills the sorted scratch array from it. */
  private loadNextBucket(): void {
    const keys = this.scratchKey;
    const scratchUser = this.scratchUser;
    const nextTimeMs = this.nextTimeMs;
    for (;;) {
      this.currentBucket++;
      if (this.ringCount === 0 && this.farSize > 0) {
        const farBucket = Math.floor((this.farTimeMs[0]! - this.originMs) * BUCKETS_PER_MS);
        if (farBucket > this.currentBucket) this.currentBucket = farBucket;
      }
      const bucketStartMs = this.originMs + this.currentBucket * BUCKET_WIDTH_MS;
      const bucketEndMs = bucketStartMs + BUCKET_WIDTH_MS;
      let count = 0;
      const slot = this.currentBucket & (RING_BUCKETS - 1);
      let user = this.bucketHead[slot]!;
      this.bucketHead[slot] = -1;
      while (user >= 0) {
        keys[count++] = (nextTimeMs[user]! - bucketStartMs) * USER_KEY_FACTOR + user;
        user = this.userNext[user]!;
      }
      this.ringCount -= count;
      while (this.farSize > 0 && this.farTimeMs[0]! < bucketEndMs) {
        keys[count++] = (this.farTimeMs[0]! - bucketStartMs) * USER_KEY_FACTOR + this.farUser[0]!;
        this.popFar();
      }
      if (count === 0) continue;
      if (count <= INSERTION_SORT_MAX) {
        for (let i = 1; i < count; i++) {
          const key = keys[i]!;
          let j = i - 1;
          while (j >= 0 && keys[j]! > key) {
            keys[j + 1] = keys[j]!;
            j--;
          }
          keys[j + 1] = key;
        }
      } else {
        keys.subarray(0, count).sort();
      }
      for (let i = 0; i < count; i++) scratchUser[i] = keys[i]! >>> 0;
      this.scratchLength = count;
      this.scratchPosition = 0;
      return;
    }
  }

  private pushFar(timeMs: number, user: number): void {
    const times = this.farTimeMs;
    const farUser = this.farUser;
    let i = this.farSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (times[parent]! <= timeMs) break;
      times[i] = times[parent]!;
      farUser[i] = farUser[parent]!;
      i = parent;
    }
    times[i] = timeMs;
    farUser[i] = user;
  }

  private popFar(): void {
    const size = --this.farSize;
    if (size === 0) return;
    const times = this.farTimeMs;
    const farUser = this.farUser;
    const timeMs = times[size]!;
    const user = farUser[size]!;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) break;
      let child = left;
      const right = left + 1;
      if (right < size && times[right]! < times[left]!) child = right;
      if (times[child]! >= timeMs) break;
      times[i] = times[child]!;
      farUser[i] = farUser[child]!;
      i = child;
    }
    times[i] = timeMs;
    farUser[i] = user;
  }

  private pushLate(arrivalMs: number, eventTimeMs: number, user: number): void {
    if (this.lateSize === this.lateCapacity) {
      this.lateCapacity *= 2;
      const arrival = new Float64Array(this.lateCapacity);
      arrival.set(this.lateArrivalMs);
      this.lateArrivalMs = arrival;
      const eventTime = new Float64Array(this.lateCapacity);
      eventTime.set(this.lateEventTimeMs);
      this.lateEventTimeMs = eventTime;
      const userIndex = new Int32Array(this.lateCapacity);
      userIndex.set(this.lateUser);
      this.lateUser = userIndex;
    }
    const arrivals = this.lateArrivalMs;
    const eventTimes = this.lateEventTimeMs;
    const lateUsers = this.lateUser;
    let i = this.lateSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (arrivals[parent]! <= arrivalMs) break;
      arrivals[i] = arrivals[parent]!;
      eventTimes[i] = eventTimes[parent]!;
      lateUsers[i] = lateUsers[parent]!;
      i = parent;
    }
    arrivals[i] = arrivalMs;
    eventTimes[i] = eventTimeMs;
    lateUsers[i] = user;
  }

  private popLate(): void {
    const size = --this.lateSize;
    if (size === 0) return;
    const arrivals = this.lateArrivalMs;
    const eventTimes = this.lateEventTimeMs;
    const lateUsers = this.lateUser;
    const arrivalMs = arrivals[size]!;
    const eventTimeMs = eventTimes[size]!;
    const user = lateUsers[size]!;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) break;
      let child = left;
      const right = left + 1;
      if (right < size && arrivals[right]! < arrivals[left]!) child = right;
      if (arrivals[child]! >= arrivalMs) break;
      arrivals[i] = arrivals[child]!;
      eventTimes[i] = eventTimes[child]!;
      lateUsers[i] = lateUsers[child]!;
      i = child;
    }
    arrivals[i] = arrivalMs;
    eventTimes[i] = eventTimeMs;
    lateUsers[i] = user;
  }

  private violation(what: string): never {
    throw new Error(`session-stream invariant violated: ${what}`);
  }
}
