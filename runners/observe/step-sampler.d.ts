/** The memory the sampler's thread shares with the JavaScript thread it samples (`step-sampler.js`). */
export interface SamplerMemory {
  /** `runningStep()`: the slot of the container whose code runs (0: none). */
  readonly running: Int32Array;
  /** `stepSlotGenerations()`: per slot, how many containers have taken it. */
  readonly generations: Int32Array;
  /** Per slot, the generation its `micros` count belongs to (written by the sampler). */
  readonly owners: Int32Array;
  /** Per slot, the microseconds attributed to its container (slot 0: other). */
  readonly micros: BigInt64Array;
  /** `[SAMPLES]` looks taken, `[SAMPLED_MICROS]` microseconds attributed in all. */
  readonly counts: BigInt64Array;
  /** `[STOP]`: set to stop the loop. */
  readonly control: Int32Array;
}

export declare const STOP: 0;
export declare const SAMPLES: 0;
export declare const SAMPLED_MICROS: 1;

export declare function sampleSteps(
  m: SamplerMemory,
  periodMs: number,
  now: () => number,
  pause: (ms: number) => void,
): void;
