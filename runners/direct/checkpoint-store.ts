import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";

/** A checkpoint as stored: its sequence number and the runner's state (any structured-cloneable value). */
export interface StoredCheckpoint<S> {
  readonly seq: number;
  readonly state: S;
}

/** A checkpoint encoded and not yet written. */
export interface EncodedCheckpoint {
  readonly seq: number;
  readonly body: Buffer;
}

const PREFIX = "checkpoint-";
const SUFFIX = ".bin";
const MAGIC = Buffer.from("TMCK1\n");

/**
 * A local durable store of checkpoints, one file each, written atomically: the bytes go to a temporary file that is
 * fsynced, then renamed over its final name and the directory fsynced, so a crash at any point leaves either the
 * previous checkpoint or the new one, never a torn one. Each file carries a length and a checksum, and a file that
 * fails them (a disk that lied) is skipped for the one before it. The last `keep` checkpoints are kept.
 *
 * Values are encoded with V8's serializer (the structured clone algorithm: plain objects, arrays, Map, Set, typed
 * arrays, bigint); class instances lose their prototype, so the runner stores plain data.
 */
export class CheckpointStore<S> {
  constructor(
    readonly dir: string,
    private readonly keep = 2,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /** Writes checkpoint `seq` durably: when it returns, `latest` gives it, whatever happens next. */
  write(seq: number, state: S): void {
    this.writeEncoded(this.encode(seq, state));
  }

  /**
   * Encodes checkpoint `seq` now, to write it later with `writeEncoded`: the state is copied at this moment, so it
   * may go on changing while the write waits (for the sinks to commit what the checkpoint covers).
   */
  encode(seq: number, state: S): EncodedCheckpoint {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`checkpoint sequence must be >= 0, got ${seq}`);
    return { seq, body: serialize({ seq, state } satisfies StoredCheckpoint<S>) };
  }

  /** Writes an encoded checkpoint durably. */
  writeEncoded({ seq, body }: EncodedCheckpoint): void {
    const header = Buffer.alloc(MAGIC.length + 12);
    MAGIC.copy(header);
    header.writeUInt32BE(checksum(body), MAGIC.length);
    header.writeBigUInt64BE(BigInt(body.length), MAGIC.length + 4);
    const final = join(this.dir, fileName(seq));
    const tmp = `${final}.tmp-${process.pid}`;
    const fd = openSync(tmp, "w");
    try {
      writeAll(fd, header);
      writeAll(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, final);
    syncDir(this.dir);
    for (const old of this.sequences().slice(0, -this.keep)) rmSync(join(this.dir, fileName(old)), { force: true });
  }

  /** Removes every checkpoint (after a run that ended cleanly). */
  clear(): void {
    for (const seq of this.sequences()) rmSync(join(this.dir, fileName(seq)), { force: true });
  }

  /** The newest checkpoint that reads back intact, or undefined when there is none. */
  latest(): StoredCheckpoint<S> | undefined {
    for (const seq of this.sequences().reverse()) {
      const c = this.read(seq);
      if (c !== undefined) return c;
    }
    return undefined;
  }

  /** Sequence numbers of the complete checkpoint files, oldest first (temporary files are ignored). */
  sequences(): number[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .map((f) => /^checkpoint-(\d{16})\.bin$/.exec(f)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  private read(seq: number): StoredCheckpoint<S> | undefined {
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(this.dir, fileName(seq)));
    } catch {
      return undefined;
    }
    const h = MAGIC.length + 12;
    if (bytes.length < h || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const sum = bytes.readUInt32BE(MAGIC.length);
    const length = Number(bytes.readBigUInt64BE(MAGIC.length + 4));
    const body = bytes.subarray(h);
    if (body.length !== length || checksum(body) !== sum) return undefined;
    try {
      return deserialize(body) as StoredCheckpoint<S>;
    } catch {
      return undefined;
    }
  }
}

function fileName(seq: number): string {
  return `${PREFIX}${String(seq).padStart(16, "0")}${SUFFIX}`;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** FNV-1a over the bytes (catches torn and corrupted files; not a cryptographic hash). */
function checksum(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
