/**
 * Query 3, 'Local item suggestion': who is selling in OR, ID or CA in category 10, and for what auction ids?
 *
 *   SELECT Istream(P.name, P.city, P.state, A.id) FROM Auction A [ROWS UNBOUNDED], Person P [ROWS UNBOUNDED]
 *   WHERE A.seller = P.id AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA') AND A.category = 10
 *
 * Beam Java's definition: a stateful join in the global window, keyed by person id (sellers' auctions and people
 * flattened together). The person is kept once seen, and every auction of theirs then matches at once; auctions that
 * come before their seller wait in a bag until the person comes. Every event of a key resets a timer to its event
 * time plus `maxAuctionWaitingTimeSec`, which clears the key's state when it fires.
 * (Beam Python's query 3 groups first with `Repeatedly(AfterCount(30))` in the global window, and in batch loses the
 * matches of keys with fewer than 30 events: see the tests.)
 */
import type { KV } from "../../../core/kv.ts";
import {
  type BagStateSpec,
  bagState,
  eventTimer,
  type TimerSpec,
  type ValueStateSpec,
  valueState,
} from "../../../core/state.ts";
import { filter, map } from "../../../transforms/element-wise.ts";
import { flattenAll } from "../../../transforms/flatten.ts";
import { statefulParDo } from "../../../transforms/stateful-par-do.ts";
import type { Auction, Person } from "../model.ts";
import type { QueryConfig } from "./query-config.ts";
import { justAuctions, justPeople, type NexmarkQuery, seconds } from "./query-util.ts";

/** Beam's `NameCityStateId`. */
export interface NameCityStateId {
  readonly name: string;
  readonly city: string;
  readonly state: string;
  readonly id: number;
}

const LOCAL_STATES = new Set(["OR", "ID", "CA"]);

export function query3(config: QueryConfig): NexmarkQuery<NameCityStateId> {
  const waitMs = seconds(config.maxAuctionWaitingTimeSec);
  return {
    name: "Query3",
    expand: (events) => {
      const auctions = events
        .apply(justAuctions())
        .apply(filter((a: Auction) => a.category === 10, "InCategory"))
        .apply(map((a: Auction): KV<number, Auction | Person> => [a.seller, a], "BySeller"));
      const people = events
        .apply(justPeople())
        .apply(filter((p: Person) => LOCAL_STATES.has(p.state), "InState"))
        .apply(map((p: Person): KV<number, Auction | Person> => [p.id, p], "ById"));
      return flattenAll([auctions, people], "AuctionsAndPeople").apply(
        statefulParDo<
          number,
          Auction | Person,
          NameCityStateId,
          { person: ValueStateSpec<Person>; auctions: BagStateSpec<Auction> },
          { expiring: TimerSpec }
        >(
          {
            state: { person: valueState<Person>(), auctions: bagState<Auction>() },
            timers: { expiring: eventTimer() },
            process([, event], ctx) {
              const known = ctx.state.person.read();
              const out = (a: Auction, p: Person) =>
                ctx.output({ name: p.name, city: p.city, state: p.state, id: a.id });
              if (event.kind === "person") {
                // A second person with one id is an error in Beam (logged, counted, ignored).
                if (known === undefined) {
                  ctx.state.person.write(event);
                  for (const a of ctx.state.auctions.read()) out(a, event);
                  ctx.state.auctions.clear();
                }
              } else if (known === undefined) {
                ctx.state.auctions.add(event);
              } else {
                out(event, known);
              }
              ctx.timers.expiring.set(event.dateTime + waitMs);
            },
            onTimer: {
              expiring(ctx) {
                ctx.state.person.clear();
                ctx.state.auctions.clear();
              },
            },
          },
          "Join",
        ),
      );
    },
  };
}
