import type { TimeDomain, Timer, TimerSpec } from "../../../core/state.ts";

/** What a timer handle needs of the runner that owns its slot's timers (the direct runner's engine, the Fn worker). */
export interface TimerOwner<S> {
  setTimer(slot: S, name: string, id: string, domain: TimeDomain, time: number, outputTimestamp?: number): void;
  clearTimer(slot: S, name: string, id: string): void;
  timerTime(slot: S, name: string, id: string): number | undefined;
  /** The time a relative timer of `domain` counts from: processing time, or the current element's timestamp. */
  relativeBase(domain: TimeDomain): number;
}

/** A timer of one slot (key and window), as the DoFn sees it: one small object, its methods on the prototype. */
export class TimerHandle<S> implements Timer {
  constructor(
    private readonly owner: TimerOwner<S>,
    private readonly slot: S,
    private readonly name: string,
    private readonly id: string,
    private readonly domain: TimeDomain,
  ) {}
  set(time: number, opts?: { outputTimestamp?: number }): void {
    this.owner.setTimer(this.slot, this.name, this.id, this.domain, time, opts?.outputTimestamp);
  }
  setRelative(opts: { offsetMs?: number; alignToMs?: number; outputTimestamp?: number }): void {
    let t = this.owner.relativeBase(this.domain) + (opts.offsetMs ?? 0);
    const align = opts.alignToMs;
    if (align !== undefined) {
      if (!(align > 0)) throw new RangeError(`timer "${this.name}": alignment must be a positive period, got ${align}`);
      const rem = ((t % align) + align) % align;
      if (rem !== 0) t += align - rem;
    }
    this.set(t, opts.outputTimestamp === undefined ? undefined : { outputTimestamp: opts.outputTimestamp });
  }
  clear(): void {
    this.owner.clearTimer(this.slot, this.name, this.id);
  }
  time(): number | undefined {
    return this.owner.timerTime(this.slot, this.name, this.id);
  }
}

/** A timer family of one slot: a timer per id. */
export class TimerFamilyHandle<S> {
  constructor(
    private readonly owner: TimerOwner<S>,
    private readonly slot: S,
    private readonly name: string,
    private readonly domain: TimeDomain,
  ) {}
  get(id: string): Timer {
    return new TimerHandle(this.owner, this.slot, this.name, id, this.domain);
  }
}

/** A slot's timers as the DoFn's `ctx.timers`: per declared timer, its handle (or family). */
export function timerHandles<S>(
  owner: TimerOwner<S>,
  slot: S,
  specs: Readonly<Record<string, TimerSpec>>,
): Record<string, TimerHandle<S> | TimerFamilyHandle<S>> {
  const out: Record<string, TimerHandle<S> | TimerFamilyHandle<S>> = {};
  for (const [name, spec] of Object.entries(specs)) {
    out[name] = spec.family
      ? new TimerFamilyHandle(owner, slot, name, spec.domain)
      : new TimerHandle(owner, slot, name, "", spec.domain);
  }
  return out;
}
