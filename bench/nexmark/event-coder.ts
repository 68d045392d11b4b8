/**
 * A binary coder for Nexmark events, as Beam's `PersonCoder`, `AuctionCoder` and `BidCoder` write them: integers and
 * times as varints, strings as a varint byte length and UTF-8, after one byte naming the kind. Query 0 sends every
 * event through it and back (what Beam's Query 0 measures). Times are epoch ms (Beam writes its own timestamp type).
 */
import type { Auction, Bid, NexmarkEvent, Person } from "./model.ts";

const PERSON = 0;
const AUCTION = 1;
const BID = 2;

/** One writer per coder: encoding reuses its buffer; `encode` returns a copy of the bytes written. */
export class NexmarkEventCoder {
  private buf = Buffer.alloc(1024);
  private pos = 0;
  private readonly reader = new Reader();

  encode(e: NexmarkEvent): Uint8Array {
    this.pos = 0;
    switch (e.kind) {
      case "person":
        this.byte(PERSON);
        this.varint(e.id);
        this.str(e.name);
        this.str(e.emailAddress);
        this.str(e.creditCard);
        this.str(e.city);
        this.str(e.state);
        this.varint(e.dateTime);
        this.str(e.extra);
        break;
      case "auction":
        this.byte(AUCTION);
        this.varint(e.id);
        this.str(e.itemName);
        this.str(e.description);
        this.varint(e.initialBid);
        this.varint(e.reserve);
        this.varint(e.dateTime);
        this.varint(e.expires);
        this.varint(e.seller);
        this.varint(e.category);
        this.str(e.extra);
        break;
      case "bid":
        this.byte(BID);
        this.varint(e.auction);
        this.varint(e.bidder);
        this.varint(e.price);
        this.varint(e.dateTime);
        this.str(e.extra);
        break;
    }
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  /** Decodes what `encode` wrote (a Buffer is read in place; other bytes through a view of them). */
  decode(bytes: Uint8Array): NexmarkEvent {
    const r = this.reader;
    r.reset(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
    const kind = r.byte();
    let e: NexmarkEvent;
    if (kind === PERSON) {
      const p: Person = {
        kind: "person",
        id: r.varint(),
        name: r.str(),
        emailAddress: r.str(),
        creditCard: r.str(),
        city: r.str(),
        state: r.str(),
        dateTime: r.varint(),
        extra: r.str(),
      };
      e = p;
    } else if (kind === AUCTION) {
      const a: Auction = {
        kind: "auction",
        id: r.varint(),
        itemName: r.str(),
        description: r.str(),
        initialBid: r.varint(),
        reserve: r.varint(),
        dateTime: r.varint(),
        expires: r.varint(),
        seller: r.varint(),
        category: r.varint(),
        extra: r.str(),
      };
      e = a;
    } else if (kind === BID) {
      const b: Bid = {
        kind: "bid",
        auction: r.varint(),
        bidder: r.varint(),
        price: r.varint(),
        dateTime: r.varint(),
        extra: r.str(),
      };
      e = b;
    } else {
      throw new RangeError(`NexmarkEventCoder: unknown kind byte ${kind}`);
    }
    if (r.pos !== bytes.length) throw new RangeError(`NexmarkEventCoder: ${bytes.length - r.pos} bytes left over`);
    return e;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned LEB128 of a non-negative safe integer (arithmetic, as bit operations stop at 32 bits). */
  private varint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`NexmarkEventCoder: ${n} is not a non-negative long`);
    this.ensure(8);
    let x = n;
    while (x >= 0x80) {
      this.buf[this.pos++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.pos++] = x;
  }

  private str(s: string): void {
    const n = Buffer.byteLength(s, "utf8");
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }
}

class Reader {
  pos = 0;
  private buf: Buffer = Buffer.alloc(0);

  reset(buf: Buffer): void {
    this.buf = buf;
    this.pos = 0;
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw new RangeError("NexmarkEventCoder: truncated");
    return this.buf[this.pos++] as number;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 0x80;
    }
  }

  str(): string {
    const n = this.varint();
    if (this.pos + n > this.buf.length) throw new RangeError("NexmarkEventCoder: truncated string");
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}
