import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

/** Who holds a checkpoint folder. */
export interface LockOwner {
  readonly job?: string;
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  /** When the owning process started (epoch ms): tells a live holder from a reused pid. */
  readonly processStart?: number;
}

const FILE = "LOCK";

/**
 * One process at a time on a checkpoint folder: two runs of one job writing the same checkpoints would each resume
 * from the other's state and acknowledge the other's messages. The lock is a file holding the owner's job, pid, host
 * and start times, created whole and atomically (written beside, then hard-linked into place, which fails if it
 * exists). A second process refuses, naming the owner. A lock left by a process that died (SIGKILL, a crash) is not
 * held forever: on the same host, a lock whose pid is not running, or is this very process's pid but from an earlier
 * start (a container restarted with the same pid), is taken over: moved aside atomically, checked to be the stale one
 * (else put back), then replaced. A lock from another host cannot be checked from here: the error says so, and which
 * file to remove once that process is known to be gone. (A pid reused by an unrelated running process is taken as
 * alive: the error names the file to remove.)
 */
export class CheckpointLock {
  private constructor(
    private readonly path: string,
    private readonly me: LockOwner,
  ) {}

  /** Takes the lock on `dir` (which must exist), or throws naming the process that holds it. */
  static acquire(dir: string, job?: string): CheckpointLock {
    const path = join(dir, FILE);
    const me: LockOwner = {
      ...(job === undefined ? {} : { job }),
      pid: process.pid,
      host: hostname(),
      startedAt: new Date().toISOString(),
      processStart: processStart(),
    };
    const body = JSON.stringify(me);
    for (let attempt = 0; attempt < 5; attempt++) {
      if (create(path, body)) return new CheckpointLock(path, me);
      const raw = readRaw(path);
      if (raw === undefined) continue; // removed meanwhile: try again
      const owner = parseOwner(raw);
      if (owner !== undefined && !isStale(owner, me)) {
        throw new Error(
          `checkpoint folder ${dir} is in use by ${owner.job === undefined ? "" : `job "${owner.job}", `}process ` +
            `${owner.pid} on ${owner.host} (since ${owner.startedAt}): ` +
            "two runs of one job must not share checkpoints. Stop that run first" +
            (owner.host === me.host ? "" : `, or remove ${path} once it is known to be gone`) +
            ", or give this run another --checkpoint-dir",
        );
      }
      takeOver(path, raw);
    }
    throw new Error(`could not take the lock ${path}: other processes keep taking it`);
  }

  /** Gives the lock up (at the end of the run, however it ended), if it is still this run's. */
  release(): void {
    const raw = readRaw(this.path);
    if (raw === JSON.stringify(this.me)) rmSync(this.path, { force: true });
  }
}

/** Creates `path` holding `body`, whole, unless it exists. */
function create(path: string, body: string): boolean {
  const tmp = `${path}.new-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, body);
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Removes the stale lock whose content is `stale`: moves whatever is at `path` aside (atomic), and if that is not the
 * stale lock (another process took over meanwhile), puts it back.
 */
function takeOver(path: string, stale: string): void {
  const aside = `${path}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  if (readRaw(aside) !== stale) {
    try {
      linkSync(aside, path);
    } catch {
      // Someone holds the lock now anyway.
    }
  }
  rmSync(aside, { force: true });
}

function isStale(owner: LockOwner, me: LockOwner): boolean {
  if (owner.host !== me.host) return false;
  if (owner.pid === me.pid) {
    // This pid: held by this process (another run in it), or left by an earlier process that had the same pid.
    return owner.processStart !== undefined && Math.abs(owner.processStart - (me.processStart ?? 0)) > 1_000;
  }
  return !isRunning(owner.pid);
}

function processStart(): number {
  return Math.round(Date.now() - process.uptime() * 1000);
}

function readRaw(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function parseOwner(raw: string): LockOwner | undefined {
  try {
    const o = JSON.parse(raw) as Partial<LockOwner>;
    if (typeof o.pid !== "number" || typeof o.host !== "string") return undefined;
    return {
      ...(typeof o.job === "string" ? { job: o.job } : {}),
      pid: o.pid,
      host: o.host,
      startedAt: String(o.startedAt),
      ...(typeof o.processStart === "number" ? { processStart: o.processStart } : {}),
    };
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, under another user.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
