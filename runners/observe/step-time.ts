import { Worker } from "node:worker_threads";
import { runningStep, stepOfIndex } from "../../core/metrics.ts";

/**
 * Per-step processing time the way Beam measures it (its `ExecutionStateSampler`, reported as the monitoring info
 * `beam:metric:pardo_execution_time:process_bundle_msecs:v1`): the runner marks which step is running
 * (`runningStep()`, written as it enters and leaves a step's metrics container, `core/metrics.ts`), and a sampler on
 * another thread looks every millisecond or so and gives the wall time since its previous look to the step it sees.
 * The hot path pays one store per enter and leave; the sampling costs it nothing (the sampler has its own thread).
 *
 * What a figure means: wall time the JavaScript thread spent while the step was the innermost one running (fused
 * steps run inside each other: a step's time excludes the steps it outputs to that enter their own). Time outside any
 * step (waiting for I/O or a timer, the runner's own code, a grouping step, which enters no container) is "other",
 * never a step's. A step's asynchronous work after its call returned (an awaited write) is not its time: the thread
 * is free then. As any sampler, it is exact on average: a span shorter than the period is seen in proportion to how
 * often it runs; a sampler held up (a loaded machine) gives the whole gap to the step it sees next.
 */

/** Processing time by step, in seconds, since the sampler started. */
export interface StepTimes {
  /** Each step that has an index (one whose code runs in a metrics container: a ParDo, a stateful DoFn), by name. */
  readonly steps: ReadonlyMap<string, number>;
  /** Time outside any step: idle (waiting for I/O), the runner's own code. */
  readonly otherSeconds: number;
  /** All the time the sampler attributed (the steps' and other). */
  readonly sampledSeconds: number;
  /** Looks taken. */
  readonly samples: number;
}

/** `control`'s slots. */
const STOP = 0;
const SAMPLES = 1;

/**
 * The sampler's loop (what its thread runs; also driven directly by tests with a scripted clock). Until
 * `control[STOP]` is set: pause about `periodMs`, read the running step's index, and add the time since the previous
 * look to `micros[index]` (whole microseconds of the clock, so no fraction is lost between looks); an index past
 * `micros`' end counts as other (index 0). Counts its looks in `control[SAMPLES]` (the slots' names are outer names:
 * the loop uses their numbers).
 *
 * Its source is the worker's code (`toString`): it must stay self-contained (no imports, no outer names, no nested
 * functions).
 */
export function sampleSteps(
  running: Int32Array,
  control: Int32Array,
  micros: BigInt64Array,
  periodMs: number,
  now: () => number,
  pause: (ms: number) => void,
): void {
  let lastUs = Math.floor(now() * 1000);
  while (Atomics.load(control, 0) === 0) {
    pause(periodMs);
    const us = Math.floor(now() * 1000);
    let index = Atomics.load(running, 0);
    if (index < 0 || index >= micros.length) index = 0;
    if (us > lastUs) Atomics.add(micros, index, BigInt(us - lastUs));
    lastUs = us;
    Atomics.add(control, 1, 1);
  }
}

/** The sampler's counts as times: `micros[i]` under the step of index `i` (`nameOf`; 0 too), index 0 as other. */
export function stepTimesOf(micros: BigInt64Array, samples: number, nameOf: (index: number) => string | undefined) {
  const steps = new Map<string, number>();
  let other = 0;
  let total = 0;
  for (let i = 0; i < micros.length; i++) {
    const seconds = Number(Atomics.load(micros, i)) / 1e6;
    total += seconds;
    const step = i === 0 ? undefined : nameOf(i);
    if (step === undefined || step === "") other += seconds;
    else steps.set(step, (steps.get(step) ?? 0) + seconds);
  }
  return { steps, otherSeconds: other, sampledSeconds: total, samples } satisfies StepTimes;
}

export interface StepTimeSampler {
  /** The times so far. */
  read(): StepTimes;
  /** Stops the sampler's thread. */
  stop(): Promise<void>;
}

/**
 * Starts the sampler's thread (a `worker_thread`, which does not keep the process alive), over `runningStep()`: start
 * it only when processing time is wanted (the metrics server is on). `periodMs` (default 1) is how often it looks;
 * `capacity` (default 4096) how many step indexes it keeps apart (later ones count as other). Resolves once the
 * thread runs.
 */
export async function startStepTimeSampler(
  options: { readonly periodMs?: number; readonly capacity?: number } = {},
): Promise<StepTimeSampler> {
  const control = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  const micros = new BigInt64Array(new SharedArrayBuffer((options.capacity ?? 4096) * BigInt64Array.BYTES_PER_ELEMENT));
  const code = [
    'const { workerData: d } = require("node:worker_threads");',
    `const sampleSteps = ${sampleSteps.toString()};`,
    "sampleSteps(d.running, d.control, d.micros, d.periodMs, () => performance.now(),",
    "  (ms) => Atomics.wait(d.control, 0, 0, ms));",
  ].join("\n");
  const worker = new Worker(code, {
    eval: true,
    workerData: { running: runningStep(), control, micros, periodMs: options.periodMs ?? 1 },
  });
  let failure: Error | undefined;
  worker.on("error", (e) => {
    failure = e;
  });
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    worker.once("online", resolve);
    worker.once("error", reject);
  });
  worker.unref();
  return {
    read: () => stepTimesOf(micros, Atomics.load(control, SAMPLES), stepOfIndex),
    async stop() {
      Atomics.store(control, STOP, 1);
      Atomics.notify(control, STOP);
      await exited;
      if (failure !== undefined) throw failure;
    },
  };
}
