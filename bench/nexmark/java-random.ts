/**
 * `java.util.Random`'s generator, bit for bit: a 48-bit linear congruential generator
 * (`seed' = (seed * 0x5DEECE66D + 0xB) mod 2^48`), with Java's `nextInt`, `nextInt(bound)`, `nextLong` and
 * `nextDouble` on top. Beam's Nexmark generator seeds one per event with the event id, so the same algorithm gives
 * the same draws.
 *
 * The 48-bit state is kept as two 24-bit halves in doubles, so every product stays below 2^53 and no BigInt or
 * allocation is needed on the per-event path: with `seed = hi * 2^24 + lo` and the multiplier `mh * 2^24 + ml`,
 * `seed * m mod 2^48 = lo * ml + ((hi * ml + lo * mh) mod 2^24) * 2^24`.
 *
 * One instance is reused (`setSeed`), as a generator draws from a fresh seed for every event.
 */
export class JavaRandom {
  private hi = 0;
  private lo = 0;

  constructor(seed = 0) {
    this.setSeed(seed);
  }

  /**
   * Java's `setSeed(seed)`: `(seed ^ 0x5DEECE66D) mod 2^48`. `seed` is a non-negative integer below 2^53 (an event
   * id); `seedHigh` is XORed into bits 24..47 (how a run's own seed is mixed in; 0 leaves Java's seeding).
   */
  setSeed(seed: number, seedHigh = 0): void {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`JavaRandom: seed must be a safe integer >= 0`);
    const lo = seed % TWO_24;
    const hi = Math.floor(seed / TWO_24) % TWO_24;
    this.lo = (lo ^ ML) & MASK_24;
    this.hi = (hi ^ MH ^ seedHigh) & MASK_24;
  }

  /** Java's `next(bits)`: advances the state and returns its top `bits` bits as a signed 32-bit int. */
  next(bits: number): number {
    const lo = this.lo;
    const p = lo * ML + 0xb;
    // Scaling by a power of two is exact, so floor(x * 2^-24) is x div 2^24 without a (slow) floating modulo.
    const carry = Math.floor(p * INV_TWO_24);
    const newLo = p - carry * TWO_24;
    const h = this.hi * ML + lo * MH + carry;
    this.hi = h - Math.floor(h * INV_TWO_24) * TWO_24;
    this.lo = newLo;
    // The top `bits` (24 < bits <= 32) of the 48 bits: hi's 24 and lo's top `bits - 24`, wrapped to a signed int.
    return (this.hi * 2 ** (bits - 24) + (newLo >>> (48 - bits))) | 0;
  }

  /** `nextInt()`: a uniformly distributed signed 32-bit int. */
  nextInt(): number {
    return this.next(32);
  }

  /** `nextInt(bound)`: uniform in [0, bound), with Java's rejection of the biased top range. */
  nextIntBounded(bound: number): number {
    if (!(bound > 0) || !Number.isInteger(bound) || bound > 0x7fffffff) {
      throw new RangeError(`JavaRandom.nextInt: bound must be a positive int, got ${bound}`);
    }
    const m = bound - 1;
    let u = this.next(31);
    if ((bound & m) === 0) return Math.floor((bound * u) / 2 ** 31);
    // Java draws again while `u - r + m` overflows a signed int (u in the incomplete top range).
    let r = u % bound;
    while (u - r + m > 0x7fffffff) {
      u = this.next(31);
      r = u % bound;
    }
    return r;
  }

  /** `nextLong()`: `(next(32) << 32) + next(32)` as a signed 64-bit value. */
  nextLong(): bigint {
    const high = BigInt(this.next(32));
    const low = BigInt(this.next(32));
    return BigInt.asIntN(64, (high << 32n) + low);
  }

  /** `nextDouble()`: 53 random bits, uniform in [0, 1). */
  nextDouble(): number {
    const a = this.next(26);
    const b = this.next(27);
    return (a * 2 ** 27 + b) * 2 ** -53;
  }
}

const TWO_24 = 2 ** 24;
const INV_TWO_24 = 2 ** -24;
const MASK_24 = TWO_24 - 1;
/** The multiplier 0x5DEECE66D, split: high 24 bits and low 24 bits. */
const MH = 0x5de;
const ML = 0xece66d;
