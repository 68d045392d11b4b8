import type { PCollection } from "../../core/pcollection.ts";
import type { Pipeline } from "../../core/pipeline.ts";
import type { Source } from "../../core/source.ts";
import type { RawMessage } from "../../schemas/event.ts";
import type { BronzeRow, GoldHourlyRow, SilverRow } from "../../schemas/rows.ts";
import { parDo } from "../../transforms/par-do.ts";
import { read } from "../../transforms/read.ts";
import { bronze, type DeadLetter } from "./bronze.ts";
import { type GoldOptions, goldHourly, goldSessions, type SessionWrite } from "./gold.ts";
import { type SilverOptions, silver } from "./silver.ts";

export type UserSessionsOptions = SilverOptions & GoldOptions;

/** The medallion tables as PCollections (what the sinks write). */
export interface MedallionOutputs {
  readonly bronze: PCollection<BronzeRow>;
  readonly silver: PCollection<SilverRow>;
  readonly deadLetter: PCollection<DeadLetter>;
  readonly sessions: PCollection<SessionWrite>;
  readonly hourly: PCollection<GoldHourlyRow>;
}

/** Builds the user-sessions medallion pipeline on messages read from `source`. */
export function userSessions(
  p: Pipeline,
  source: Source<RawMessage>,
  opts: UserSessionsOptions = {},
): MedallionOutputs {
  const messages = p.apply(read(source), "Read");
  const b = messages.apply(bronze());
  const s = b.events.apply(silver(opts));
  return {
    bronze: b.bronze,
    silver: s.silver,
    deadLetter: b.deadLetter,
    sessions: s.events.apply(goldSessions(opts)),
    hourly: s.events.apply(goldHourly(opts)),
  };
}

/** Rows produced and not yet written, per table, in arrival order. */
export interface SinkBuffer {
  bronze: BronzeRow[];
  silver: SilverRow[];
  deadLetter: DeadLetter[];
  sessions: SessionWrite[];
  hourly: GoldHourlyRow[];
}

export function newSinkBuffer(): SinkBuffer {
  return { bronze: [], silver: [], deadLetter: [], sessions: [], hourly: [] };
}

/** Appends every output of the pipeline to the buffer (the warehouse writer drains it). */
export function collectInto(outputs: MedallionOutputs, buffer: SinkBuffer): void {
  const into = <T>(pc: PCollection<T>, list: () => T[], name: string) =>
    pc.apply(
      parDo<T, never>({
        process(v) {
          list().push(v);
        },
      }),
      name,
    );
  into(outputs.bronze, () => buffer.bronze, "CollectBronze");
  into(outputs.silver, () => buffer.silver, "CollectSilver");
  into(outputs.deadLetter, () => buffer.deadLetter, "CollectDeadLetter");
  into(outputs.sessions, () => buffer.sessions, "CollectSessions");
  into(outputs.hourly, () => buffer.hourly, "CollectHourly");
}
