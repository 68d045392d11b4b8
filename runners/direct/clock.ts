/** Where the runner's processing time comes from. */
export interface Clock {
  now(): number;
  /** True for a clock that only moves when told to (fixture streams, tests). */
  readonly isVirtual: boolean;
}

/** Processing time moved only by the fixture stream: deterministic. Starts at 0. */
export class VirtualClock implements Clock {
  readonly isVirtual = true;
  private t: number;
  constructor(start = 0) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  advanceTo(t: number): void {
    if (t < this.t) throw new RangeError(`processing time cannot go backwards: ${t} < ${this.t}`);
    this.t = t;
  }
}

/** The machine's wall clock, for live runs. */
export class SystemClock implements Clock {
  readonly isVirtual = false;
  now(): number {
    return Date.now();
  }
}
