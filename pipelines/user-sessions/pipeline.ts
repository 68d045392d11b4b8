import type { PCollection } from "../../core/pcollection.ts";
import type { Pipeline } from "../../core/pipeline.ts";
import type { Source } from "../../core/source.ts";
import type { RawMessage } from "../../schemas/event.ts";
import type { BronzeRow, GoldHourlyRow, SilverRow } from "../../schemas/rows.ts";
import type { Warehouse } from "../../io/warehouse.ts";
import { read } from "../../transforms/read.ts";
import { type BronzeOptions, bronze, type DeadLetter } from "./bronze.ts";
import { type GoldOptions, goldHourly, goldSessions, type SessionWrite } from "./gold.ts";
import { deadLetterFeed, type FeedTarget, insightsFeed } from "./insights-feed.ts";
import { type SilverOptions, silver } from "./silver.ts";
import { type MedallionWrites, writeMedallion } from "./sinks.ts";
import type { TypedSilverWrite } from "./typed-silver.ts";
import { type ArchivedFile, archiveWrite } from "../../io/archive/archive-write.ts";
import type { ArchiveStore } from "../../io/archive/archive-location.ts";
import { BRONZE } from "../../schemas/tables.ts";

export type UserSessionsOptions = BronzeOptions & SilverOptions & GoldOptions;

/** The medallion tables as PCollections (what the sinks write). */
export interface MedallionOutputs {
  readonly bronze: PCollection<BronzeRow>;
  readonly silver: PCollection<SilverRow>;
  /** Rows of the typed Silver tables (silver_orders, silver_inventory, silver_activity), tagged with their type. */
  readonly typed: PCollection<TypedSilverWrite>;
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
  const b = messages.apply(bronze(opts));
  const s = b.events.apply(silver(opts));
  return {
    bronze: b.bronze,
    silver: s.silver,
    typed: s.typed,
    deadLetter: b.deadLetter,
    sessions: s.events.apply(goldSessions(opts)),
    hourly: s.events.apply(goldHourly(opts)),
  };
}

/** The Pub/Sub feeds a medallion job may publish besides its tables. */
export interface MedallionFeeds {
  /** Every Gold session change (`insightsFeed`). */
  readonly insights?: FeedTarget;
  /** Every invalid message (`deadLetterFeed`). */
  readonly deadLetters?: FeedTarget;
}

/**
 * The archive copy of Bronze (`--archive`): every Bronze row also goes to hourly Parquet files (by publish time) in
 * `store`, exactly once per message with checkpoints (`io/archive/archive-write.ts`).
 */
export interface MedallionArchive {
  readonly store: ArchiveStore;
  /** Told of each file put (for the run's summary). */
  readonly onFile?: (file: ArchivedFile) => void;
}

/**
 * The whole medallion job as one graph: read, Bronze, Silver, Gold, the warehouse sinks (`sinks.ts`), the Pub/Sub
 * feeds asked for and the archive copy of Bronze if asked for. The same graph goes to whichever runner runs it;
 * `writes` counts the rows the sinks commit (in this process).
 */
export function medallion(
  p: Pipeline,
  source: Source<RawMessage>,
  warehouse: Warehouse,
  opts: UserSessionsOptions & {
    readonly batchRows?: number;
    readonly feeds?: MedallionFeeds;
    readonly archive?: MedallionArchive;
  } = {},
): { readonly tables: MedallionOutputs; readonly writes: MedallionWrites } {
  const tables = userSessions(p, source, opts);
  const writes = writeMedallion(tables, warehouse, opts.batchRows === undefined ? {} : { batchRows: opts.batchRows });
  if (opts.feeds?.insights !== undefined) tables.sessions.apply(insightsFeed(opts.feeds.insights), "InsightsFeed");
  if (opts.feeds?.deadLetters !== undefined) {
    tables.deadLetter.apply(deadLetterFeed(opts.feeds.deadLetters), "DeadLetterFeed");
  }
  const archive = opts.archive;
  if (archive !== undefined) {
    tables.bronze.apply(
      archiveWrite({
        table: BRONZE,
        store: archive.store,
        timeColumn: "publish_time",
        metricsName: "bronze_archive",
        ...(archive.onFile === undefined ? {} : { onFile: archive.onFile }),
      }),
      "ArchiveBronze",
    );
  }
  return { tables, writes };
}
