/**
 * Query 8, 'Monitor new users': the people who entered the system and created auctions in the same fixed window of
 * `windowSizeSec` (the original: 12 hours),
 * `SELECT Rstream(P.id, P.name, A.reserve) FROM Person [RANGE 12 HOUR] P, Auction [RANGE 12 HOUR] A WHERE P.id = A.seller`.
 *
 * As Beam: people by id and auctions by seller, each in fixed windows, joined by a CoGroupByKey (here a flatten of
 * the two, tagged, and a GroupByKey); every auction of a key whose person is in the window gives a result.
 */
import type { KV } from "../../../core/kv.ts";
import { fixed } from "../../../core/windows/window-fn.ts";
import { flatMap, map } from "../../../transforms/element-wise.ts";
import { flattenAll } from "../../../transforms/flatten.ts";
import { groupByKey } from "../../../transforms/group-by-key.ts";
import { window } from "../../../transforms/window-into.ts";
import type { Auction, Person } from "../model.ts";
import type { QueryConfig } from "./query-config.ts";
import { justAuctions, justPeople, type NexmarkQuery, seconds } from "./query-util.ts";

/** Beam's `IdNameReserve`. */
export interface IdNameReserve {
  readonly id: number;
  readonly name: string;
  readonly reserve: number;
}

export function query8(config: QueryConfig): NexmarkQuery<IdNameReserve> {
  const size = seconds(config.windowSizeSec);
  return {
    name: "Query8",
    expand: (events) => {
      const people = events
        .apply(justPeople())
        .apply(window<Person>(fixed(size)), "WindowPeople")
        .apply(map((p: Person): KV<number, Person | Auction> => [p.id, p], "PersonById"));
      const auctions = events
        .apply(justAuctions())
        .apply(window<Auction>(fixed(size)), "WindowAuctions")
        .apply(map((a: Auction): KV<number, Person | Auction> => [a.seller, a], "AuctionBySeller"));
      return flattenAll([people, auctions], "PeopleAndAuctions")
        .apply(groupByKey<number, Person | Auction>(), "CoGroupByKey")
        .apply(
          flatMap(([, group]: KV<number, (Person | Auction)[]>) => {
            const person = group.find((e): e is Person => e.kind === "person");
            if (person === undefined) return [];
            return group
              .filter((e): e is Auction => e.kind === "auction")
              .map((a): IdNameReserve => ({ id: person.id, name: person.name, reserve: a.reserve }));
          }, "Select"),
        );
    },
  };
}
