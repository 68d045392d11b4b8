import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

/** Who holds a checkpoint folder. */
export interface LockOwner {
  readonly job?: string;
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
}

const FILE = "LOCK";

/**
 * One process at a time on a checkpoint folder: two runs of one job writing the same checkpoints would each resume
 * from the other's state and acknowledge the other's messages. The lock is a file created exclusively (`O_EXCL`)
 * holding the owner's pid, host and start time. A second process refuses, naming the owner. A lock left by a process
 * that died (SIGKILL, a crash) is not held forever: on the same host, a lock whose pid is no longer running is taken
 * over. A lock from another host cannot be checked from here: the error says so, and which file to remove once that
 * process is known to be gone.
 */
export class CheckpointLock {
  private constructor(private readonly path: string) {}

  /** Takes the lock on `dir` (which must exist), or throws naming the process that holds it. */
  static acquire(dir: string, job?: string): CheckpointLock {
    const path = join(dir, FILE);
    const me: LockOwner = {
      ...(job === undefined ? {} : { job }),
      pid: process.pid,
      host: hostname(),
      startedAt: new Date().toISOString(),
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      let fd: number;
      try {
        fd = openSync(path, "wx");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        const owner = readOwner(path);
        if (owner === undefined) {
          // Created but not yet written by its owner, or torn by a crash between create and write: look again.
          if (attempt === 2) rmSync(path, { force: true });
          continue;
        }
        if (owner.host === me.host && !isRunning(owner.pid)) {
          rmSync(path, { force: true }); // left by a process that died
          continue;
        }
        throw new Error(
          `checkpoint folder ${dir} is in use by ${owner.job === undefined ? "" : `job "${owner.job}", `}process ` +
            `${owner.pid} on ${owner.host} (since ${owner.startedAt}): ` +
            "two runs of one job must not share checkpoints. Stop that run first" +
            (owner.host === me.host ? "" : `, or remove ${path} once it is known to be gone`) +
            ", or give this run another --checkpoint-dir",
        );
      }
      try {
        const body = Buffer.from(JSON.stringify(me));
        writeSync(fd, body, 0, body.length);
      } finally {
        closeSync(fd);
      }
      return new CheckpointLock(path);
    }
    throw new Error(`could not take the lock ${path}`);
  }

  /** Gives the lock up (at the end of the run, however it ended). */
  release(): void {
    const owner = readOwner(this.path);
    if (owner?.pid === process.pid && owner.host === hostname()) rmSync(this.path, { force: true });
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, "utf8")) as Partial<LockOwner>;
    if (typeof o.pid !== "number" || typeof o.host !== "string") return undefined;
    return {
      ...(typeof o.job === "string" ? { job: o.job } : {}),
      pid: o.pid,
      host: o.host,
      startedAt: String(o.startedAt),
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
