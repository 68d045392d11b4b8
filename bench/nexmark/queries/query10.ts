/**
 * Query 10, 'Log to sharded files' (not in the original suite): every event is written to a log file of its shard
 * and window, a file per pane, and each window's files are listed in an index.
 *
 * Beam Java's definition: events keyed to one of `NUM_LOG_SHARDS` shards (`shard-%05d-of-%05d`); fixed windows of
 * `windowSizeSec`, triggered `AfterEach.inOrder(Repeatedly.forever(AfterPane.elementCountAtLeast(maxLogEvents))
 * .orFinally(AfterWatermark.pastEndOfWindow()), Repeatedly.forever(AfterFirst.of(AfterPane.elementCountAtLeast(
 * maxLogEvents), AfterProcessingTime.pastFirstElementInPane().plusDelayOf(10 s))))`, discarding, allowed lateness one
 * day; a GroupByKey; one file per pane, `LOG-{window max timestamp}-{shard}-{pane index, 3 digits}-{pane timing}`,
 * holding the pane's events; the files re-keyed to one key, fixed windows of the same size (the default trigger,
 * discarding, one day of lateness), a GroupByKey, and an index per pane listing them. The query's output is one
 * `LogIndex` per index pane.
 *
 * Differences, each deliberate: the shard is an FNV-1a hash of the event's JSON line (Beam Java uses the event's Java
 * `hashCode`, which JavaScript cannot reproduce); files hold JSON lines in Beam Python's layout (Java writes its event
 * coder's bytes); names carry no random suffix (Java adds one): a pane is numbered within its window and shard, so
 * a replayed pane rewrites its own file; an index pane's file carries its pane index (`INDEX-{max}-{index}`: Java's
 * one name per window lets a late index pane overwrite the on-time one). Files are written only with
 * `config.logOutputDir` (a local directory), as Beam writes nothing without an output path. Beam Python's query 10
 * opens no file and outputs nothing in its last step (`open_writable_gcs_file` is a stub).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KV } from "../../../core/kv.ts";
import {
  afterAny,
  afterCount,
  afterEach,
  afterProcessingTime,
  afterWatermark,
  defaultTrigger,
  orFinally,
  repeatedly,
} from "../../../core/triggers/trigger.ts";
import { fixed } from "../../../core/windows/window-fn.ts";
import { map } from "../../../transforms/element-wise.ts";
import { groupByKey } from "../../../transforms/group-by-key.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { window } from "../../../transforms/window-into.ts";
import { eventToJson, type NexmarkEvent } from "../model.ts";
import type { QueryConfig } from "./query-config.ts";
import { type NexmarkQuery, seconds } from "./query-util.ts";

/** Beam's `maxNumWorkers` (5) times `NUM_SHARD_PER_WORKER` (5). */
export const NUM_LOG_SHARDS = 25;
/** Beam's `LATE_BATCHING_PERIOD`: a late pane waits at most this long (processing time) for more events. */
const LATE_BATCHING_PERIOD_MS = 10_000;
const ONE_DAY_MS = 24 * 60 * 60 * 1000;

/** One pane's log file (Beam's `OutputFile`); `filename` is null when no directory is given. */
export interface LogFile {
  readonly maxTimestamp: number;
  readonly shard: string;
  readonly index: number;
  readonly timing: string;
  readonly filename: string | null;
  /** How many events the file holds. */
  readonly events: number;
}

/** One index pane: a window's log files that reached it. */
export interface LogIndex {
  readonly maxTimestamp: number;
  readonly index: number;
  readonly filename: string | null;
  readonly files: readonly LogFile[];
}

/** The shard of an event: FNV-1a of its JSON line, modulo `NUM_LOG_SHARDS`, in Beam's name format. */
export function logShard(e: NexmarkEvent): string {
  const line = eventToJson(e);
  let h = 0x811c9dc5;
  for (let i = 0; i < line.length; i++) h = Math.imul(h ^ line.charCodeAt(i), 0x01000193);
  const n = (h >>> 0) % NUM_LOG_SHARDS;
  return `shard-${String(n).padStart(5, "0")}-of-${String(NUM_LOG_SHARDS).padStart(5, "0")}`;
}

export function query10(config: QueryConfig): NexmarkQuery<LogIndex> {
  const dir = config.logOutputDir;
  if (dir !== undefined) mkdirSync(dir, { recursive: true });
  const size = seconds(config.windowSizeSec);
  return {
    name: "Query10",
    expand: (events) =>
      events
        .apply(map((e: NexmarkEvent): KV<string, NexmarkEvent> => [logShard(e), e], "ShardEvents"))
        .apply(
          window<KV<string, NexmarkEvent>>(fixed(size), {
            trigger: afterEach(
              orFinally(repeatedly(afterCount(config.maxLogEvents)), afterWatermark()),
              repeatedly(afterAny(afterCount(config.maxLogEvents), afterProcessingTime(LATE_BATCHING_PERIOD_MS))),
            ),
            accumulation: "discarding",
            allowedLatenessMs: ONE_DAY_MS,
          }),
        )
        .apply(groupByKey<string, NexmarkEvent>("GroupByShard"))
        .apply(
          parDo<KV<string, NexmarkEvent[]>, KV<string, LogFile>>(
            {
              process([shard, paneEvents], ctx) {
                const maxTimestamp = ctx.window.maxTimestamp;
                const { index, timing } = ctx.pane;
                const name = `LOG-${maxTimestamp}-${shard}-${String(index).padStart(3, "0")}-${timing}`;
                let filename: string | null = null;
                if (dir !== undefined) {
                  filename = join(dir, name);
                  writeFileSync(filename, paneEvents.map((e) => `${eventToJson(e)}\n`).join(""));
                }
                ctx.output(["", { maxTimestamp, shard, index, timing, filename, events: paneEvents.length }]);
              },
            },
            "WriteEvents",
          ),
        )
        .apply(
          window<KV<string, LogFile>>(fixed(size), {
            trigger: defaultTrigger(),
            accumulation: "discarding",
            allowedLatenessMs: ONE_DAY_MS,
          }),
        )
        .apply(groupByKey<string, LogFile>("GroupByWindow"))
        .apply(
          parDo<KV<string, LogFile[]>, LogIndex>(
            {
              process([, files], ctx) {
                const maxTimestamp = ctx.window.maxTimestamp;
                const index = ctx.pane.index;
                const sorted = [...files].sort((a, b) =>
                  a.shard < b.shard ? -1 : a.shard > b.shard ? 1 : a.index - b.index,
                );
                let filename: string | null = null;
                if (dir !== undefined) {
                  filename = join(dir, `INDEX-${maxTimestamp}-${String(index).padStart(3, "0")}`);
                  writeFileSync(filename, sorted.map((f) => `${f.filename}\n`).join(""));
                }
                ctx.output({ maxTimestamp, index, filename, files: sorted });
              },
            },
            "WriteIndex",
          ),
        ),
  };
}
