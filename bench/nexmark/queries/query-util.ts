/** What several queries share: the event filters (Beam's `JUST_BIDS` etc.) and the query type. */
import type { PCollection } from "../../../core/pcollection.ts";
import type { PTransform } from "../../../core/ptransform.ts";
import { filter } from "../../../transforms/element-wise.ts";
import { type Auction, type Bid, isAuction, isBid, isPerson, type NexmarkEvent, type Person } from "../model.ts";

/** A Nexmark query: events in, the query's results out. */
export type NexmarkQuery<O> = PTransform<PCollection<NexmarkEvent>, PCollection<O>>;

export const justBids = (): PTransform<PCollection<NexmarkEvent>, PCollection<Bid>> => filter(isBid, "JustBids");
export const justAuctions = (): PTransform<PCollection<NexmarkEvent>, PCollection<Auction>> =>
  filter(isAuction, "JustAuctions");
export const justPeople = (): PTransform<PCollection<NexmarkEvent>, PCollection<Person>> =>
  filter(isPerson, "JustPeople");

export const seconds = (s: number): number => s * 1000;
