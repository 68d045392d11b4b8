import { Worker } from "node:worker_threads";
import { type MetricsContainer, runningStep, STEP_SLOTS, stepSlotGenerations } from "../../core/metrics.ts";
import { SAMPLED_MICROS, SAMPLES, STOP, type SamplerMemory } from "./step-sampler.js";

/**
 * Per-step processing time the way Beam measures it (its `ExecutionStateSampler`, reported as the monitoring info
 * `beam:metric:pardo_execution_time:process_bundle_msecs:v1`): the runner marks whose code is running (the slot of
 * the step's metrics container, `runningStep()`, written as it enters and leaves a container, `core/metrics.ts`), and a
 * sampler on another thread (`step-sampler.js`) looks every millisecond or so and gives the wall time since its
 * previous look to the container it sees. The hot path pays one store per enter and leave; the sampling costs it
 * nothing (the sampler has its own thread).
 *
 * What a figure means: wall time the JavaScript thread spent while the step's container was the innermost one
 * entered. Every container is one step of one job (two jobs with a step of the same name are told apart). The runners
 * enter one for the code of each ParDo, stateful DoFn, grouping (its CombineFn, triggers and windows), WindowInto and
 * Flatten; fused steps run inside each other, and a step's time excludes the steps it outputs to. Time in no
 * container (waiting for I/O or a timer, the runner's own code, a source's reader) is "other", never a step's.
 *
 * A step's asynchronous work after an `await` runs in no container, so it is "other": the thread runs it later, when
 * `Metrics` no longer knows the step. A step whose work continues after an await attributes it by entering the
 * container it kept (`currentMetricsContainer()` while its call ran) around each synchronous part, as
 * `io/batched-write.ts` does around its writes (`runInMetricsContainer`, `core/metrics.ts`, does it for one call).
 *
 * As any sampler, it is exact on average: a span shorter than the period is seen in proportion to how often it runs;
 * a sampler held up (a loaded machine) gives the whole gap to the step it sees next; a slot given back and taken by
 * another container while the sampler looks may give that one look to the new owner.
 */

/** Processing time since the sampler started. */
export interface StepTimes {
  /**
   * Seconds the code of `container`'s step ran (0 before the sampler saw it); undefined for a container without a
   * slot (`UNATTRIBUTED`, or one made while every slot was taken), whose time is other.
   */
  secondsOf(container: MetricsContainer): number | undefined;
  /** Time outside any step: idle (waiting for I/O), the runner's own code; every job's in this process. */
  readonly otherSeconds: number;
  /** All the time the sampler attributed (to steps and to other). */
  readonly sampledSeconds: number;
  /** Looks taken. */
  readonly samples: number;
}

/**
 * A job's processing time: seconds per step name (its containers' summed) and the process's other time (absent when
 * the steps run elsewhere and only their times are reported: Prism's sums of `process_bundle_msecs`).
 */
export interface JobProcessingTime {
  readonly steps: ReadonlyMap<string, number>;
  readonly otherSeconds?: number;
}

/** The times of `containers` (a job's), summed per step name: every container with a slot, 0 until seen. */
export function jobProcessingTime(times: StepTimes, containers: Iterable<MetricsContainer>): JobProcessingTime {
  const steps = new Map<string, number>();
  for (const c of containers) {
    const seconds = times.secondsOf(c);
    if (seconds !== undefined) steps.set(c.step, (steps.get(c.step) ?? 0) + seconds);
  }
  return { steps, otherSeconds: times.otherSeconds };
}

/**
 * The sampler's counts (`memory`) as times. A container's count is its slot's while the sampler's `owners` says the
 * slot's count is the container's generation; once the slot belongs to a later container, the container's last count
 * read is kept in `last` (so a figure never goes back).
 */
export function stepTimesOf(memory: SamplerMemory, last: WeakMap<MetricsContainer, number>): StepTimes {
  return {
    secondsOf(c) {
      if (c.slot === 0 || c.slot >= memory.micros.length) return undefined;
      const before = last.get(c) ?? 0;
      if (Atomics.load(memory.owners, c.slot) !== c.generation) return before;
      // The sampler hands a slot to a later container by zeroing its count, then setting its owner: a load between
      // the two reads 0 for a container that still owns the slot. A count never goes back, so the larger is kept.
      const seconds = Math.max(before, Number(Atomics.load(memory.micros, c.slot)) / 1e6);
      last.set(c, seconds);
      return seconds;
    },
    otherSeconds: Number(Atomics.load(memory.micros, 0)) / 1e6,
    sampledSeconds: Number(Atomics.load(memory.counts, SAMPLED_MICROS)) / 1e6,
    samples: Number(Atomics.load(memory.counts, SAMPLES)),
  };
}

/** The memory a sampler shares with this thread: `slots` counts (default every slot, `STEP_SLOTS`). */
export function samplerMemory(slots: number = STEP_SLOTS): SamplerMemory {
  const ints = (n: number) => new Int32Array(new SharedArrayBuffer(n * Int32Array.BYTES_PER_ELEMENT));
  const bigints = (n: number) => new BigInt64Array(new SharedArrayBuffer(n * BigInt64Array.BYTES_PER_ELEMENT));
  return {
    running: runningStep(),
    generations: stepSlotGenerations(),
    owners: ints(slots),
    micros: bigints(slots),
    counts: bigints(2),
    control: ints(1),
  };
}

export interface StepTimeSampler {
  /** The times so far; throws once the sampler's thread has failed (with its error), so no figure stops quietly. */
  read(): StepTimes;
  /** Stops the sampler's thread and waits for it to end; rejects with its error if it had failed. */
  stop(): Promise<void>;
}

/**
 * Starts the sampler's thread (a `worker_thread` running `step-sampler.js`, which does not keep the process alive
 * while it samples), over `runningStep()`: start it only when processing time is wanted (the metrics server is on, or
 * a run asks for it). `periodMs` (default 1) is how often it looks. Resolves once the thread runs.
 */
export async function startStepTimeSampler(options: { readonly periodMs?: number } = {}): Promise<StepTimeSampler> {
  const memory = samplerMemory();
  const worker = new Worker(new URL("./step-sampler.js", import.meta.url), {
    workerData: { tidemarkStepSampler: true, memory, periodMs: options.periodMs ?? 1 },
  });
  let failure: Error | undefined;
  let stopping = false;
  worker.on("error", (e) => {
    failure ??= new Error(`the processing-time sampler failed: ${e.message}`, { cause: e });
  });
  const exited = new Promise<void>((resolve) =>
    worker.once("exit", (code) => {
      if (!stopping) failure ??= new Error(`the processing-time sampler's thread ended (exit code ${code})`);
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    worker.once("online", resolve);
    worker.once("error", reject);
  });
  worker.unref();
  const last = new WeakMap<MetricsContainer, number>();
  return {
    read() {
      if (failure !== undefined) throw failure;
      return stepTimesOf(memory, last);
    },
    async stop() {
      stopping = true;
      // Referenced again while it ends: an unreferenced thread's exit would not keep this process alive to see it (a
      // process with nothing else to do would end with this promise pending).
      worker.ref();
      Atomics.store(memory.control, STOP, 1);
      Atomics.notify(memory.control, STOP);
      await exited;
      if (failure !== undefined) throw failure;
    },
  };
}
