import type { CommitPhase } from "../direct/direct-runner.ts";

/**
 * The runner's commit hook (`onCommit`) as figures, kept once for whoever shows them (`/metrics`, the readiness check,
 * the dashboard):
 * - commits: those finalized (their sources' marks acknowledged);
 * - checkpoints: those written durably, and when the last one was;
 * - each commit's duration: from `writes-started` until its checkpoint is written, or, without checkpoints, until it
 *   is finalized (its writes settled), given to the `onDuration` listeners as it ends.
 * Pure: the time comes from the clock it is given.
 */
export class CommitStats {
  private commitCount = 0;
  private checkpointCount = 0;
  private lastCheckpoint: number | null = null;
  /** When each commit in flight started, by its sequence number. */
  private readonly started = new Map<number, number>();
  private readonly listeners: ((seconds: number) => void)[] = [];

  constructor(private readonly now: () => number) {}

  /** The runner's commit hook: a commit (`commit.seq`) reached `phase`. */
  onCommit(phase: CommitPhase, commit: { readonly seq: number }): void {
    const t = this.now();
    if (phase === "writes-started") this.started.set(commit.seq, t);
    if (phase === "checkpoint-written") {
      this.checkpointCount++;
      this.lastCheckpoint = t;
    }
    if (phase === "checkpoint-written" || phase === "finalized") {
      const began = this.started.get(commit.seq);
      if (began !== undefined) {
        this.started.delete(commit.seq);
        for (const f of this.listeners) f((t - began) / 1000);
      }
    }
    if (phase === "finalized") this.commitCount++;
  }

  /**
   * Calls `f` with each commit's duration in seconds as it ends (a histogram's observations), until the function it
   * returns is called.
   */
  onDuration(f: (seconds: number) => void): () => void {
    const listener = (seconds: number) => f(seconds);
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Commits finalized. */
  get commits(): number {
    return this.commitCount;
  }

  /** Checkpoints written. */
  get checkpoints(): number {
    return this.checkpointCount;
  }

  /** When the last checkpoint was written (the clock's ms); null before the first. */
  get lastCheckpointAtMs(): number | null {
    return this.lastCheckpoint;
  }

  /** The last checkpoint's age at `atMs`, in seconds (never negative); null before the first. */
  checkpointAgeSeconds(atMs: number): number | null {
    return this.lastCheckpoint === null ? null : Math.max(0, atMs - this.lastCheckpoint) / 1000;
  }
}
