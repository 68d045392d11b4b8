/**
 * Nexmark's three kinds of event (Beam's `Person`, `Auction` and `Bid`), in the field layout Beam's Python Nexmark
 * reads from a file (`ParseJsonEventFn`): one JSON object per line, times as epoch milliseconds.
 *
 *   person  {"id","name","emailAddress","creditCard","city","state","dateTime","extra"}
 *   auction {"id","itemName","description","initialBid","reserve","dateTime","expires","seller","category","extra"}
 *   bid     {"auction","bidder","price","dateTime","extra"}
 *
 * In memory each event carries a `kind` tag (not written), so queries switch on it without `instanceof`.
 */

export interface Person {
  readonly kind: "person";
  readonly id: number;
  readonly name: string;
  readonly emailAddress: string;
  readonly creditCard: string;
  readonly city: string;
  readonly state: string;
  readonly dateTime: number;
  readonly extra: string;
}

export interface Auction {
  readonly kind: "auction";
  readonly id: number;
  readonly itemName: string;
  readonly description: string;
  readonly initialBid: number;
  readonly reserve: number;
  readonly dateTime: number;
  readonly expires: number;
  readonly seller: number;
  readonly category: number;
  readonly extra: string;
}

export interface Bid {
  readonly kind: "bid";
  readonly auction: number;
  readonly bidder: number;
  readonly price: number;
  readonly dateTime: number;
  readonly extra: string;
}

export type NexmarkEvent = Person | Auction | Bid;

export const isBid = (e: NexmarkEvent): e is Bid => e.kind === "bid";
export const isAuction = (e: NexmarkEvent): e is Auction => e.kind === "auction";
export const isPerson = (e: NexmarkEvent): e is Person => e.kind === "person";

/** The fields written for each kind, in order (the `kind` tag is not written). */
export const PERSON_FIELDS = [
  "id",
  "name",
  "emailAddress",
  "creditCard",
  "city",
  "state",
  "dateTime",
  "extra",
] as const;
export const AUCTION_FIELDS = [
  "id",
  "itemName",
  "description",
  "initialBid",
  "reserve",
  "dateTime",
  "expires",
  "seller",
  "category",
  "extra",
] as const;
export const BID_FIELDS = ["auction", "bidder", "price", "dateTime", "extra"] as const;

const str = JSON.stringify;

/** One event as a JSON line (no newline), fields in Beam's order. */
export function eventToJson(e: NexmarkEvent): string {
  switch (e.kind) {
    case "person":
      return (
        `{"id":${e.id},"name":${str(e.name)},"emailAddress":${str(e.emailAddress)},"creditCard":${str(e.creditCard)},` +
        `"city":${str(e.city)},"state":${str(e.state)},"dateTime":${e.dateTime},"extra":${str(e.extra)}}`
      );
    case "auction":
      return (
        `{"id":${e.id},"itemName":${str(e.itemName)},"description":${str(e.description)},"initialBid":${e.initialBid},` +
        `"reserve":${e.reserve},"dateTime":${e.dateTime},"expires":${e.expires},"seller":${e.seller},` +
        `"category":${e.category},"extra":${str(e.extra)}}`
      );
    case "bid":
      return (
        `{"auction":${e.auction},"bidder":${e.bidder},"price":${e.price},"dateTime":${e.dateTime},` +
        `"extra":${str(e.extra)}}`
      );
    default:
      return assertNever(e);
  }
}

/** A line that is not a Nexmark event: names the line and what is wrong. */
export class NexmarkParseError extends Error {
  override name = "NexmarkParseError";
}

/**
 * Parses one JSON line as Beam Python's `ParseJsonEventFn` does: a person has `name`, an auction `itemName`, a bid
 * `auction` (checked in that order); `dateTime` and `expires` may also be `{"millis": n}` (Beam Java's JSON).
 * A missing or mistyped field is an error naming the line and the field.
 */
export function parseEvent(line: string, lineNumber = 0): NexmarkEvent {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch (e) {
    throw new NexmarkParseError(`line ${lineNumber}: not JSON (${(e as Error).message})`);
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    throw new NexmarkParseError(`line ${lineNumber}: not a JSON object`);
  }
  const r = o as Record<string, unknown>;
  const num = (f: string): number => {
    let v = r[f];
    if (typeof v === "object" && v !== null && "millis" in v) v = (v as { millis: unknown }).millis;
    if (typeof v !== "number" || !Number.isSafeInteger(v)) {
      throw new NexmarkParseError(`line ${lineNumber}: field ${f} must be an integer, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const text = (f: string): string => {
    const v = r[f];
    if (typeof v !== "string") {
      throw new NexmarkParseError(`line ${lineNumber}: field ${f} must be a string, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  if ("name" in r) {
    return {
      kind: "person",
      id: num("id"),
      name: text("name"),
      emailAddress: text("emailAddress"),
      creditCard: text("creditCard"),
      city: text("city"),
      state: text("state"),
      dateTime: num("dateTime"),
      extra: text("extra"),
    };
  }
  if ("itemName" in r) {
    return {
      kind: "auction",
      id: num("id"),
      itemName: text("itemName"),
      description: text("description"),
      initialBid: num("initialBid"),
      reserve: num("reserve"),
      dateTime: num("dateTime"),
      expires: num("expires"),
      seller: num("seller"),
      category: num("category"),
      extra: text("extra"),
    };
  }
  if ("auction" in r) {
    return {
      kind: "bid",
      auction: num("auction"),
      bidder: num("bidder"),
      price: num("price"),
      dateTime: num("dateTime"),
      extra: text("extra"),
    };
  }
  throw new NexmarkParseError(`line ${lineNumber}: neither a person (name), an auction (itemName) nor a bid (auction)`);
}

function assertNever(x: never): never {
  throw new Error(`unexpected event ${JSON.stringify(x)}`);
}
