/**
 * Order-independent checksum over emitted sessions, shared by the hand-written baseline
 * (bench/hand-sessionizer.ts) and the engine case (bench/engine-sessionizer.ts) so their
 * outputs can be compared for equality.
 *
 * Each session (userIndex, startMs, endMs, count, minTimestampMs, maxTimestampMs) is hashed
 * with two independently seeded murmur3-style 32-bit hashes; the two lanes are summed
 * modulo 2^32. Addition is commutative, so the digest does not depend on emission order,
 * but emitting a session twice (e.g. an extra early/late pane) or splitting/merging
 * sessions differently changes it.
 */

/** Result shape returned by both the hand sessionizer and the engine sessionizer. */
export interface SessionizerResult {
  /** Number of session panes emitted. */
  sessions: number;
  /** Hex digest from {@link SessionChecksum.digest}. */
  checksum: string;
  /** Number of input events consumed. */
  events: number;
}

const TWO_POW_32 = 4294967296;
const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const LANE_A_SEED = 0x9747b28c;
const LANE_B_SEED = 0x5bd1e995;

function mix(hash: number, value: number): number {
  let k = Math.imul(value | 0, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  let h = hash ^ k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finalize(hash: number): number {
  let h = hash ^ 24;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** High 32 bits of an integer millisecond value (floor division, so negatives work too). */
function high32(valueMs: number): number {
  return Math.floor(valueMs / TWO_POW_32) | 0;
}

/** Low 32 bits of an integer millisecond value. */
function low32(valueMs: number): number {
  return (valueMs - Math.floor(valueMs / TWO_POW_32) * TWO_POW_32) | 0;
}

function hashSession(
  seed: number,
  userIndex: number,
  startMs: number,
  endMs: number,
  count: number,
  minTimestampMs: number,
  maxTimestampMs: number,
): number {
  let h = seed;
  h = mix(h, userIndex);
  h = mix(h, low32(startMs));
  h = mix(h, high32(startMs));
  h = mix(h, low32(endMs));
  h = mix(h, high32(endMs));
  h = mix(h, count);
  h = mix(h, low32(minTimestampMs));
  h = mix(h, high32(minTimestampMs));
  h = mix(h, low32(maxTimestampMs));
  h = mix(h, high32(maxTimestampMs));
  return finalize(h);
}

/** Accumulates the order-independent session checksum. */
export class SessionChecksum {
  private laneA = 0;
  private laneB = 0;
  private sessionCount = 0;

  /**
   * Adds one emitted session. `startMs`/`endMs` are the session window bounds ([start, end),
   * end = last event + gap); `minTimestampMs`/`maxTimestampMs` are the first/last event times.
   * All times must be integer milliseconds.
   */
  add(
    userIndex: number,
    startMs: number,
    endMs: number,
    count: number,
    minTimestampMs: number,
    maxTimestampMs: number,
  ): void {
    this.laneA =
      (this.laneA + hashSession(LANE_A_SEED, userIndex, startMs, endMs, count, minTimestampMs, maxTimestampMs)) >>> 0;
    this.laneB =
      (this.laneB + hashSession(LANE_B_SEED, userIndex, startMs, endMs, count, minTimestampMs, maxTimestampMs)) >>> 0;
    this.sessionCount++;
  }

  /** Number of sessions added so far. */
  get sessions(): number {
    return this.sessionCount;
  }

  /** 16 hex digits (two 32-bit lanes). */
  digest(): string {
    return this.laneA.toString(16).padStart(8, "0") + this.laneB.toString(16).padStart(8, "0");
  }
}
