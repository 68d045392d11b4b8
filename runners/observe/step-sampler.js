// @ts-check
/**
 * The processing-time sampler's loop, and the module its thread runs (`startStepTimeSampler` in `step-time.ts` starts
 * it as a `worker_thread`). Plain JavaScript on purpose: the thread loads it with Node alone (no TypeScript loader, no
 * test runner's instrumentation), and what it runs is this file, not a function's source text. Types:
 * `step-sampler.d.ts`.
 */
import { isMainThread, workerData } from "node:worker_threads";

/** `SamplerMemory.control`'s slot: set to 1 to stop the loop (and `Atomics.notify`d to end its pause at once). */
export const STOP = 0;
/** `SamplerMemory.counts`' slots: looks taken, and the microseconds they attributed (to steps and other). */
export const SAMPLES = 0;
export const SAMPLED_MICROS = 1;

/**
 * Until `control[STOP]` is set: pause about `periodMs`, read the running slot, and add the time since the previous
 * look to `micros[slot]` (whole microseconds of the clock, so no fraction is lost between looks); a slot past
 * `micros`' end counts as other (slot 0). A slot's count belongs to one container: when the slot's generation is
 * not the one `owners[slot]` says, a new container has taken it, and its count starts again from zero (`owners` is
 * written after the reset, so a reader that sees its generation there sees the reset count).
 *
 * @param {import("./step-sampler.d.ts").SamplerMemory} m
 * @param {number} periodMs
 * @param {() => number} now milliseconds, fractions included
 * @param {(ms: number) => void} pause
 */
export function sampleSteps(m, periodMs, now, pause) {
  let lastUs = Math.floor(now() * 1000);
  while (Atomics.load(m.control, STOP) === 0) {
    pause(periodMs);
    const us = Math.floor(now() * 1000);
    let slot = Atomics.load(m.running, 0);
    if (slot < 0 || slot >= m.micros.length) slot = 0;
    if (slot !== 0) {
      const generation = Atomics.load(m.generations, slot);
      if (Atomics.load(m.owners, slot) !== generation) {
        Atomics.store(m.micros, slot, 0n);
        Atomics.store(m.owners, slot, generation);
      }
    }
    if (us > lastUs) {
      const spent = BigInt(us - lastUs);
      Atomics.add(m.micros, slot, spent);
      Atomics.add(m.counts, SAMPLED_MICROS, spent);
    }
    lastUs = us;
    Atomics.add(m.counts, SAMPLES, 1n);
  }
}

// The sampler's thread: the loop over the memory it was given, pausing on `control` (a stop ends the pause at once).
if (!isMainThread && workerData?.tidemarkStepSampler === true) {
  /** @type {{ memory: import("./step-sampler.d.ts").SamplerMemory; periodMs: number }} */
  const d = workerData;
  sampleSteps(
    d.memory,
    d.periodMs,
    () => performance.now(),
    (ms) => {
      Atomics.wait(d.memory.control, STOP, 0, ms);
    },
  );
}
