import { StepError } from "./step-error.ts";

/** One promise a step returned, until it settles. */
interface Pending {
  readonly seq: number;
  readonly step: string;
  /** Settles when the promise does; never rejects (a failure is kept in `AsyncWork.failure`). */
  readonly done: Promise<void>;
}

/**
 * The promises that DoFns returned from `process`, `finishBundle` or `onTimer` and that have not settled: the steps'
 * asynchronous I/O. Shared by every runner that runs DoFns (`runners/fn/`).
 *
 * - Each promise gets a sequence number; `settledUpTo(seq)` resolves once every promise numbered up to `seq` has
 *   settled (a commit waits for the work of the bundles it covers, not for work started after it).
 * - The first rejection is kept as a `StepError` naming the step; the runner checks `failure` at every step and ends
 *   the run with it. Later promises still settle (nothing is left running unobserved).
 * - `stepOver(n)` and `oldestOf(step)` let the runner bound the work in flight per step (backpressure).
 */
export class AsyncWork {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly perStep = new Map<string, Pending[]>();
  /** The first failure of any promise, as a `StepError`. */
  failure: StepError | undefined;

  /** Counts `promise` as work of `step` until it settles. */
  track(step: string, promise: PromiseLike<unknown>, phase: string): void {
    const seq = ++this.seq;
    const done = Promise.resolve(promise).then(
      () => this.settle(entry),
      (e: unknown) => {
        this.failure ??= e instanceof StepError ? e : new StepError(step, undefined, undefined, e, phase);
        this.settle(entry);
      },
    );
    const entry: Pending = { seq, step, done };
    this.pending.set(seq, entry);
    const list = this.perStep.get(step);
    if (list === undefined) this.perStep.set(step, [entry]);
    else list.push(entry);
  }

  private settle(entry: Pending): void {
    this.pending.delete(entry.seq);
    const list = this.perStep.get(entry.step);
    if (list === undefined) return;
    const i = list.indexOf(entry);
    if (i >= 0) list.splice(i, 1);
  }

  /** The sequence number of the latest promise tracked (0 before any). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Promises not yet settled, of every step. */
  get size(): number {
    return this.pending.size;
  }

  /** A step with more than `n` promises pending, if any (checked between source events: no array is made). */
  stepOver(n: number): string | undefined {
    for (const [step, list] of this.perStep) if (list.length > n) return step;
    return undefined;
  }

  /** Resolves when the oldest pending promise of `step` has settled (at once when it has none). */
  async oldestOf(step: string): Promise<void> {
    const first = this.perStep.get(step)?.[0];
    if (first !== undefined) await first.done;
  }

  /** Resolves when every promise numbered up to `seq` has settled; rejects with the first failure, if any. */
  async settledUpTo(seq: number): Promise<void> {
    // A Map iterates in insertion order: the first entry is the oldest pending promise.
    for (let oldest = this.oldest(); oldest !== undefined && oldest.seq <= seq; oldest = this.oldest()) {
      await oldest.done;
    }
    if (this.failure) throw this.failure;
  }

  /** Resolves when nothing is pending (failures are left in `failure`). */
  async idle(): Promise<void> {
    for (let oldest = this.oldest(); oldest !== undefined; oldest = this.oldest()) await oldest.done;
  }

  private oldest(): Pending | undefined {
    return this.pending.values().next().value;
  }
}

/** True for a promise (or any thenable) a DoFn returned. */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== undefined && v !== null && typeof (v as { then?: unknown }).then === "function";
}
