import type { TimeDomain, Timer, TimerSpec } from "../../../core/state.ts";
import { formatInstant } from "../../../core/time/instant.ts";
import type { BoundedWindow } from "../../../core/windows/window.ts";

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

/**
 * Beam's checks on a timer being set, and its output timestamp (the watermark hold): a whole-millisecond time; an
 * event-time timer not after its window's expiry; the output timestamp (default: the firing time for event time, the
 * current element's timestamp for processing time) not after the expiry, and one given explicitly not before the
 * current timestamp by more than the allowed skew. Throws, naming the timer and what is wrong.
 */
export function checkedTimerHold(
  name: string,
  window: BoundedWindow,
  gcTime: number,
  domain: TimeDomain,
  time: number,
  outputTimestamp: number | undefined,
  currentTs: number,
  skewMs: number,
): number {
  if (!Number.isInteger(time)) throw new RangeError(`timer "${name}": time ${time} is not a whole number of ms`);
  if (domain === "event" && time > gcTime) {
    throw new RangeError(
      `timer "${name}" set for ${formatInstant(time)}, after the expiry of window ${window.toString()} ` +
        `(${formatInstant(gcTime)}); set it earlier or allow more lateness`,
    );
  }
  const hold = outputTimestamp ?? (domain === "event" ? time : currentTs);
  if (hold > gcTime) {
    throw new RangeError(
      `timer "${name}": output timestamp ${formatInstant(hold)} is after the expiry of window ` +
        `${window.toString()} (${formatInstant(gcTime)})`,
    );
  }
  if (outputTimestamp !== undefined && hold < currentTs - skewMs) {
    throw new RangeError(
      `timer "${name}": output timestamp ${formatInstant(hold)} is before ${formatInstant(currentTs)} by more ` +
        `than the allowed skew of ${skewMs} ms`,
    );
  }
  return hold;
}
