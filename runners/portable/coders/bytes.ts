/** A growable byte buffer for encoding (big-endian where Beam's coders are). */
export class ByteWriter {
  private buf = new Uint8Array(64);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** Beam's VarInt: unsigned LEB128 of the value as a 64-bit two's-complement integer (a negative takes 10 bytes). */
  varint(n: number | bigint): void {
    if (typeof n === "number" && n >= 0 && n <= 0x7fffffff && Number.isInteger(n)) {
      // The common case (lengths, counts), without BigInt.
      let x = n;
      while (x >= 0x80) {
        this.byte((x & 0x7f) | 0x80);
        x >>>= 7;
      }
      this.byte(x);
      return;
    }
    let v = BigInt.asUintN(64, BigInt(n));
    if (v < 0x80n) {
      this.byte(Number(v));
      return;
    }
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  int32(n: number): void {
    this.ensure(4);
    this.view.setInt32(this.length, n);
    this.length += 4;
  }

  int64(n: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.length, n);
    this.length += 8;
  }

  float64(n: number): void {
    this.ensure(8);
    this.view.setFloat64(this.length, n);
    this.length += 8;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }

  /** The bytes written so far, without copying (valid until the next write or reset). */
  written(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  /** Empties the buffer (keeping its memory) for the next use. */
  reset(): void {
    this.length = 0;
  }
}

/** Reads what `ByteWriter` wrote; a read past the end throws, naming the offset. */
export class ByteReader {
  private readonly view: DataView;
  offset = 0;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.buf.length) {
      throw new RangeError(`truncated input: ${n} bytes needed at offset ${this.offset} of ${this.buf.length}`);
    }
  }

  byte(): number {
    this.need(1);
    return this.buf[this.offset++] as number;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** A VarInt as a signed 64-bit integer. */
  varintBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7n;
      if (shift > 63n) throw new RangeError(`varint longer than 10 bytes at offset ${this.offset}`);
    }
    return BigInt.asIntN(64, result);
  }

  /** A VarInt that must be a safe JavaScript integer (lengths, counts, indices). */
  varint(): number {
    // Fast path: up to four bytes (values below 2^28), without BigInt.
    const buf = this.buf;
    let o = this.offset;
    let result = 0;
    for (let shift = 0; shift < 28 && o < buf.length; shift += 7) {
      const b = buf[o++] as number;
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        this.offset = o;
        return result;
      }
    }
    const v = this.varintBig();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new RangeError(`varint ${v} at offset ${this.offset} is beyond JavaScript's safe integers`);
    }
    return Number(v);
  }

  int32(): number {
    this.need(4);
    const v = this.view.getInt32(this.offset);
    this.offset += 4;
    return v;
  }

  int64(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.offset);
    this.offset += 8;
    return v;
  }

  float64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.offset);
    this.offset += 8;
    return v;
  }
}
