/**
 * Our query results against Beam Python's, record for record: each Beam record is put in our result's shape
 * (`fromBeamPython`: Beam Python's result field names to Beam Java's, which ours follow), then both sides become
 * canonical strings (window, timestamp and value, keys sorted; the in-memory `kind` tag of events dropped) compared
 * as multisets.
 */
import { canonicalJson } from "../../core/kv.ts";
import type { BeamRecord } from "./beam-python.ts";
import { parseEvent } from "./model.ts";
import type { QueryName } from "./queries/index.ts";
import type { QueryResult, WindowSpan } from "./run-query.ts";

const field = (v: unknown, name: string): unknown => (v as Record<string, unknown>)[name];

/**
 * A Beam Python result in our shape. Query 1: Beam Python's euro price is `price * 0.89` as a float; Beam Java's
 * (ours) is `price * 89 / 100` in whole cents: the float, within 2e-8 of the exact value, is truncated after adding
 * 1e-6 (the exact value's fraction is a multiple of 0.01, so this is the exact value's integer part).
 */
export function fromBeamPython(query: QueryName, value: unknown): unknown {
  switch (query) {
    case "q0":
    case "q7":
      return parseEvent(JSON.stringify(value));
    case "q1":
      return parseEvent(
        JSON.stringify({ ...(value as object), price: Math.floor((field(value, "price") as number) + 1e-6) }),
      );
    case "q2":
      return { auction: field(value, "auction_id"), price: field(value, "price") };
    case "q5":
      return { auction: field(value, "auction_id"), num: field(value, "num") };
    case "q3":
      return {
        name: field(value, "name"),
        city: field(value, "city"),
        state: field(value, "state"),
        id: field(value, "auction_id"),
      };
    case "q4":
      return { category: field(value, "category"), price: Math.round(field(value, "price") as number), isLast: true };
    case "q6":
      return value;
    case "q8":
    case "q10":
      return value;
    case "q9":
      return {
        auction: parseEvent(JSON.stringify(field(value, "auction"))),
        bid: parseEvent(JSON.stringify(field(value, "bid"))),
      };
    case "q11":
    case "q12":
      return { personId: field(value, "bidder_id"), bidsPerSession: field(value, "bid_count") };
  }
}

/**
 * The window we give a Beam record's result. Query 9: Beam's result is in its merged auction window
 * `[auction.dateTime, auction.expires)`, ours in the global window (see winning-bids.ts); the record keeps Beam's
 * window only if it is not that one, so that any other window is a difference.
 */
export function ourWindowFor(query: QueryName, record: BeamRecord): WindowSpan {
  if (query === "q9" && record.window !== null) {
    const auction = field(record.value, "auction");
    const [start, end] = record.window;
    if (start === field(auction, "dateTime") && end === field(auction, "expires")) return null;
  }
  return record.window;
}

/** A result as a canonical string: window, timestamp and value, keys sorted, without the events' `kind` tag. */
export function canonicalResult(window: WindowSpan, timestamp: number, value: unknown): string {
  let v = value;
  if (typeof v === "object" && v !== null && "kind" in v) {
    const { kind: _, ...rest } = v as Record<string, unknown>;
    v = rest;
  }
  return canonicalJson([window, timestamp, v]);
}

export interface Comparison {
  readonly equal: boolean;
  readonly ours: number;
  readonly beam: number;
  /** Up to 5 results only we produced, and up to 5 only Beam did. */
  readonly onlyOurs: readonly string[];
  readonly onlyBeam: readonly string[];
}

export function compareWithBeam(
  query: QueryName,
  ours: readonly QueryResult[],
  beam: readonly BeamRecord[],
): Comparison {
  const a = ours.map((r) => canonicalResult(r.window, r.timestamp, r.value));
  const b = beam.map((r) => canonicalResult(ourWindowFor(query, r), r.timestamp, fromBeamPython(query, r.value)));
  const counts = new Map<string, number>();
  for (const s of a) counts.set(s, (counts.get(s) ?? 0) + 1);
  const onlyBeam: string[] = [];
  for (const s of b) {
    const n = counts.get(s) ?? 0;
    if (n === 0) onlyBeam.push(s);
    else counts.set(s, n - 1);
  }
  const onlyOurs: string[] = [];
  for (const [s, n] of counts) for (let i = 0; i < n; i++) onlyOurs.push(s);
  return {
    equal: onlyOurs.length === 0 && onlyBeam.length === 0,
    ours: a.length,
    beam: b.length,
    onlyOurs: onlyOurs.slice(0, 5),
    onlyBeam: onlyBeam.slice(0, 5),
  };
}
