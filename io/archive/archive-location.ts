import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmdirSync,
  rmSync,
  statSync,
} from "node:fs";
import { mkdir, open, rename } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { IdempotencyStrategy, Storage } from "@google-cloud/storage";

/** Where an archive's files go: a local folder (`file://DIR`) or a Cloud Storage prefix (`gs://BUCKET/PREFIX`). */
export type ArchiveLocation =
  | { readonly kind: "file"; readonly dir: string }
  | { readonly kind: "gcs"; readonly bucket: string; readonly prefix: string };

/**
 * `file://DIR` (relative or absolute: `file://data/archive`, `file:///var/archive`) or `gs://BUCKET` or
 * `gs://BUCKET/PREFIX` (the prefix without its trailing slash). Anything else is an error naming the form.
 */
export function parseArchiveLocation(spec: string, what = "--archive"): ArchiveLocation {
  if (spec.startsWith("file://")) {
    const dir = spec.slice("file://".length);
    if (dir === "") throw new Error(`${what}=file://DIR needs a folder, got ${JSON.stringify(spec)}`);
    return { kind: "file", dir: resolve(dir) };
  }
  const gs = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,221}[a-z0-9])(?:\/(.*))?$/.exec(spec);
  if (gs !== null) {
    const prefix = (gs[2] ?? "").replace(/\/+$/, "");
    if (prefix.startsWith("/") || prefix.includes("//")) {
      throw new Error(`${what}=gs://BUCKET/PREFIX: the prefix has an empty path segment, got ${JSON.stringify(spec)}`);
    }
    return { kind: "gcs", bucket: gs[1] as string, prefix };
  }
  throw new Error(
    `${what} must be file://DIR or gs://BUCKET/PREFIX (a bucket name: lower-case letters, digits, dots, dashes, ` +
      `underscores), got ${JSON.stringify(spec)}`,
  );
}

/** Where a location's files are, for messages: `file:///abs/dir` or `gs://bucket/prefix`. */
export function describeLocation(l: ArchiveLocation): string {
  return l.kind === "file" ? `file://${l.dir}` : `gs://${l.bucket}${l.prefix === "" ? "" : `/${l.prefix}`}`;
}

/**
 * The place an archive puts finished files. `put` makes the file at `path` (a relative, `/`-separated name) hold the
 * local file `local`'s bytes, whole or not at all: a reader never sees a part-written file, and putting the same name
 * again replaces it (the archive's replays rely on that). `local` is the caller's to remove afterwards (`put` may
 * have moved it: a local store renames it into place).
 */
export interface ArchiveStore {
  readonly location: ArchiveLocation;
  /** A folder for the writer's temporary files: on the same file system as the archive for a local one. */
  readonly scratchDir: string;
  put(path: string, local: string): Promise<void>;
  /**
   * Refuses a location that cannot take files, before a run reads anything (a missing bucket, named; a local folder
   * is made or refused when the store is opened).
   */
  check(): Promise<void>;
  close(): Promise<void>;
}

export interface ArchiveStoreOptions {
  /**
   * Cloud Storage's JSON API endpoint (a local server: fake-gcs-server's `http://127.0.0.1:PORT`). Default
   * `STORAGE_EMULATOR_HOST` if set (as `@google-cloud/storage` 7.x reads it itself), else Google.
   */
  readonly gcsEndpoint?: string;
  /** A Cloud Storage client to use (its owner closes it); default one made here. */
  readonly storage?: Storage;
  /** The project for a client made here (`--project`); default the environment's. */
  readonly projectId?: string;
  /** The scratch folder for a Cloud Storage archive (default the system's temporary folder). */
  readonly scratchDir?: string;
  /**
   * A local archive folder is created if its parent exists or it lies under this folder (default `./data`, as the
   * DuckDB warehouse's files): elsewhere a missing parent is an error, so that a typo does not start a new archive.
   */
  readonly autoCreateUnder?: string;
}

/** The store of `location`: a local folder (created if missing), or a bucket through `@google-cloud/storage`. */
export function openArchiveStore(location: ArchiveLocation, options: ArchiveStoreOptions = {}): ArchiveStore {
  if (location.kind === "file") {
    const dir = location.dir;
    const under = resolve(options.autoCreateUnder ?? "data");
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) throw new Error(`cannot open the archive at file://${dir}: not a folder`);
    } else if (!(existsSync(dirname(dir)) || dir === under || dir.startsWith(under + sep))) {
      throw new Error(
        `cannot open the archive at file://${dir}: its parent folder ${dirname(dir)} does not exist (only folders ` +
          `under ${under} are created with their parents)`,
      );
    }
    return new LocalStore(location);
  }
  return new GcsStore(location, options);
}

/**
 * Files under a local folder, each written beside its final name and renamed into place (atomic on POSIX), durably: the
 * file's bytes are fsynced before the rename, and its folder (and any folder the put created) after it, as the
 * checkpoint store does. A put returns before the next checkpoint is written, which says these rows are done: a file
 * still in the page cache would be lost (or left empty) by a power cut after it, and nothing would write it again.
 */
class LocalStore implements ArchiveStore {
  readonly scratchDir: string;
  constructor(readonly location: ArchiveLocation & { readonly kind: "file" }) {
    // Hidden under the archive (same file system: the rename is atomic), and not matched by `**/*.parquet`; a folder
    // of this store's own in it, so that another job writing the same archive (each tenant's worker) and ending does
    // not take this one's files from under it.
    const scratchRoot = join(location.dir, SCRATCH);
    mkdirDurably(scratchRoot);
    this.scratchDir = mkdtempSync(join(scratchRoot, `${process.pid}-`));
  }

  async put(path: string, local: string): Promise<void> {
    const target = join(this.location.dir, ...path.split("/"));
    // Asynchronous: the runner reads on while a commit's files are put.
    await syncAsync(local, "r+");
    const created = await mkdir(dirname(target), { recursive: true });
    if (created !== undefined) for (const d of newEntries(dirname(target), created)) await syncAsync(d, "r");
    await rename(local, target);
    await syncAsync(dirname(target), "r");
  }

  async check(): Promise<void> {}

  async close(): Promise<void> {
    rmSync(this.scratchDir, { recursive: true, force: true });
    // The scratch root too once no other store uses it (and no run killed earlier left files in it).
    try {
      rmdirSync(dirname(this.scratchDir));
    } catch {
      // Not empty: another store's, or leftovers.
    }
  }
}

/** The local archive's folder of scratch files. */
const SCRATCH = ".tidemark-tmp";

/** Makes `dir` and its missing parents, each new folder's entry fsynced in its parent. */
function mkdirDurably(dir: string): void {
  const created = mkdirSync(dir, { recursive: true });
  if (created === undefined) return;
  for (const d of newEntries(dir, created)) {
    const fd = openSync(d, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** The folders holding the entries of `dir` and its parents up to `created` (the first made): each one's parent. */
function newEntries(dir: string, created: string): string[] {
  const out: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    out.push(dirname(d));
    if (d === created || d === dirname(d)) return out;
  }
}

/** fsync of a file (`r+`) or a folder (`r`). */
async function syncAsync(path: string, flags: "r" | "r+"): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Objects under `gs://bucket/prefix/`, each uploaded in one request (a multipart upload: the object appears whole when
 * it completes, and replaces one of the same name).
 */
class GcsStore implements ArchiveStore {
  readonly scratchDir: string;
  private readonly storage: Storage;

  constructor(
    readonly location: ArchiveLocation & { readonly kind: "gcs" },
    options: ArchiveStoreOptions,
  ) {
    const endpoint = options.gcsEndpoint;
    if (options.storage !== undefined) this.storage = options.storage;
    else {
      this.storage = new Storage({
        ...(options.projectId === undefined ? {} : { projectId: options.projectId }),
        ...(endpoint === undefined ? {} : { apiEndpoint: endpoint }),
        // An upload here is idempotent (a name is a function of the rows, and its content the same rows): retried on
        // a transient error like any idempotent request, rather than only with preconditions (the default).
        retryOptions: { idempotencyStrategy: IdempotencyStrategy.RetryAlways },
      });
      // With STORAGE_EMULATOR_HOST set, 7.22 sends uploads to the endpoint's /upload/storage/v1 but its other
      // requests (the bucket's check) to the variable's URL as it is, without /storage/v1 (measured on
      // fake-gcs-server: a bucket that exists said missing), even when apiEndpoint names another server: both to
      // the endpoint, as without the variable.
      this.storage.baseUrl = `${this.storage.apiEndpoint}/storage/v1`;
    }
    this.scratchDir = options.scratchDir ?? join(process.env.TMPDIR ?? "/tmp", `tidemark-archive-${process.pid}`);
    mkdirSync(this.scratchDir, { recursive: true });
  }

  async put(path: string, local: string): Promise<void> {
    const { bucket, prefix } = this.location;
    const name = prefix === "" ? path : `${prefix}/${path}`;
    try {
      // Only if no object has the name (ifGenerationMatch 0): a name is a function of a checkpoint's rows, so an
      // object there is this batch, written by an earlier attempt (a replay after a crash, or a retry whose answer was
      // lost): 412 means done. Nothing is overwritten, so a bucket with a retention policy or object holds takes a
      // replay too (an overwrite of a retained object is refused).
      await this.storage
        .bucket(bucket)
        .upload(local, { destination: name, resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    } catch (e) {
      if ((e as { code?: unknown }).code === 412) return;
      throw new Error(`could not write gs://${bucket}/${name}: ${(e as Error).message}`, { cause: e });
    }
  }

  async check(): Promise<void> {
    const { bucket } = this.location;
    let exists: boolean;
    try {
      [exists] = await this.storage.bucket(bucket).exists();
    } catch (e) {
      // A writer may hold only object roles (storage.objects.create, not storage.buckets.get): its first upload says.
      if ((e as { code?: unknown }).code === 403) return;
      throw new Error(
        `--archive=${describeLocation(this.location)}: could not reach the bucket ${bucket}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    if (!exists) {
      throw new Error(
        `--archive=${describeLocation(this.location)}: the bucket ${bucket} does not exist (at ${this.storage.apiEndpoint})`,
      );
    }
  }

  async close(): Promise<void> {
    // A client holds no connections to close (its requests are plain HTTP).
    rmSync(this.scratchDir, { recursive: true, force: true });
  }
}
