import {
  type ArchiveLocation,
  describeLocation,
  openArchiveStore,
  parseArchiveLocation,
} from "../../io/archive/archive-location.ts";
import type { ArchivedFile } from "../../io/archive/archive-write.ts";
import type { Options } from "./job-options.ts";
import type { MedallionArchive } from "./pipeline.ts";

/**
 * `--archive` and `--gcs-endpoint`, checked before anything is opened: the location's form; `--checkpoint-dir` (the
 * archive is written exactly once per message only from checkpointed input: without checkpoints a crash and rerun may
 * put a message in two files); the direct runner (the one with checkpoints); `--gcs-endpoint` only with a gs://
 * archive. Returns the location, or undefined without `--archive`.
 */
export function checkArchive(
  o: Pick<Options, "archive" | "gcsEndpoint" | "checkpointDir" | "runner">,
): ArchiveLocation | undefined {
  if (o.archive === undefined) {
    if (o.gcsEndpoint !== undefined) throw new Error("--gcs-endpoint applies to --archive=gs://BUCKET/PREFIX");
    return undefined;
  }
  const location = parseArchiveLocation(o.archive);
  if (o.gcsEndpoint !== undefined && location.kind !== "gcs") {
    throw new Error(`--gcs-endpoint applies to --archive=gs://BUCKET/PREFIX, not ${o.archive}`);
  }
  if (o.runner !== "direct") {
    throw new Error(
      `--archive applies to --runner=direct (it is written from the direct runner's checkpoints), not --runner=${o.runner}`,
    );
  }
  if (o.checkpointDir === undefined) {
    throw new Error(
      "--archive needs --checkpoint-dir=DIR: its files are written exactly once per message from checkpointed " +
        "batches only (without checkpoints, a crash and a rerun could put a message in two files)",
    );
  }
  return location;
}

/** The archive's files so far (this process), for the run's summary. */
export interface ArchiveTally {
  files: number;
  rows: number;
}

/** Opens the archive `--archive` names (checked by `checkArchive`), counting what it puts into `tally`. */
export function openArchive(
  location: ArchiveLocation,
  o: Pick<Options, "gcsEndpoint" | "project">,
  tally: ArchiveTally,
): {
  readonly archive: MedallionArchive;
  readonly description: string;
  /** Refuses a location that cannot take files (a missing bucket), before anything is read. */
  check(): Promise<void>;
  close(): Promise<void>;
} {
  const store = openArchiveStore(location, {
    ...(o.gcsEndpoint === undefined ? {} : { gcsEndpoint: o.gcsEndpoint }),
    ...(o.project === undefined ? {} : { projectId: o.project }),
  });
  const onFile = (f: ArchivedFile) => {
    tally.files++;
    tally.rows += f.rows;
  };
  return {
    archive: { store, onFile },
    description: describeLocation(location),
    check: () => store.check(),
    close: () => store.close(),
  };
}
