import type { PCollection } from "../../../core/pcollection.ts";
import type { DeadLetter } from "../../../pipelines/user-sessions/bronze.ts";
import type { SessionWrite } from "../../../pipelines/user-sessions/gold.ts";
import type { MedallionOutputs } from "../../../pipelines/user-sessions/pipeline.ts";
import type { BronzeRow, GoldHourlyRow, SilverRow } from "../../../schemas/rows.ts";
import { parDo } from "../../../transforms/par-do.ts";

/** What the medallion's tables received, per table, in arrival order (for tests that look at the rows). */
export interface Collected {
  bronze: BronzeRow[];
  silver: SilverRow[];
  deadLetter: DeadLetter[];
  sessions: SessionWrite[];
  hourly: GoldHourlyRow[];
}

export function newCollected(): Collected {
  return { bronze: [], silver: [], deadLetter: [], sessions: [], hourly: [] };
}

/** Appends every element of the medallion's tables to `into` (a test's view of what the sinks would write). */
export function collectInto(outputs: MedallionOutputs, into: Collected): void {
  const add = <T>(pc: PCollection<T>, list: T[], name: string) =>
    pc.apply(
      parDo<T, never>({
        process(v) {
          list.push(v);
        },
      }),
      name,
    );
  add(outputs.bronze, into.bronze, "CollectBronze");
  add(outputs.silver, into.silver, "CollectSilver");
  add(outputs.deadLetter, into.deadLetter, "CollectDeadLetter");
  add(outputs.sessions, into.sessions, "CollectSessions");
  add(outputs.hourly, into.hourly, "CollectHourly");
}
