import type { Duration } from "../time/duration.ts";
import { assertNever } from "../util/assert-never.ts";

/**
 * A trigger, as the user writes it: plain data, a discriminated union whose tags are the conformance transcript's
 * `trigger.type`. The engine turns it into a state machine (`runners/engine/triggers/`); the spec holds no state.
 */
export type Trigger =
  | { readonly type: "default" }
  | { readonly type: "afterWatermark"; readonly early?: Trigger; readonly late?: Trigger }
  | { readonly type: "afterCount"; readonly count: number }
  | {
      readonly type: "afterProcessingTime";
      readonly delay: Duration;
      /** Aligns the deadline up to the next multiple of `alignToMs` (after `alignOffsetMs`), as Beam's `alignedTo`. */
      readonly alignToMs?: Duration;
      readonly alignOffsetMs?: Duration;
    }
  | { readonly type: "afterSynchronizedProcessingTime" }
  | { readonly type: "repeatedly"; readonly trigger: Trigger }
  | { readonly type: "afterEach"; readonly triggers: readonly Trigger[] }
  | { readonly type: "afterAny"; readonly triggers: readonly Trigger[] }
  | { readonly type: "afterAll"; readonly triggers: readonly Trigger[] }
  | { readonly type: "orFinally"; readonly main: Trigger; readonly until: Trigger }
  | { readonly type: "never" };

export type TriggerType = Trigger["type"];

/** Fires once the watermark passes the end of the window, then again for each bundle of late data. */
export const defaultTrigger = (): Trigger => ({ type: "default" });
/** Fires when the watermark passes the end of the window; `early` fires before it, `late` after it, repeatedly. */
export const afterWatermark = (opts: { early?: Trigger; late?: Trigger } = {}): Trigger => ({
  type: "afterWatermark",
  ...(opts.early ? { early: opts.early } : {}),
  ...(opts.late ? { late: opts.late } : {}),
});
/** Fires once at least `count` elements have arrived in the pane. */
export const afterCount = (count: number): Trigger => ({ type: "afterCount", count });
/** Fires once processing time passes the arrival of the pane's first element plus `delay`. */
export const afterProcessingTime = (delay: Duration, align?: { toMs: Duration; offsetMs?: Duration }): Trigger => ({
  type: "afterProcessingTime",
  delay,
  ...(align ? { alignToMs: align.toMs, alignOffsetMs: align.offsetMs ?? 0 } : {}),
});
export const afterSynchronizedProcessingTime = (): Trigger => ({ type: "afterSynchronizedProcessingTime" });
/** Fires every time `trigger` fires, and never finishes. */
export const repeatedly = (trigger: Trigger): Trigger => ({ type: "repeatedly", trigger });
export const afterEach = (...triggers: Trigger[]): Trigger => ({ type: "afterEach", triggers });
export const afterAny = (...triggers: Trigger[]): Trigger => ({ type: "afterAny", triggers });
export const afterAll = (...triggers: Trigger[]): Trigger => ({ type: "afterAll", triggers });
export const orFinally = (main: Trigger, until: Trigger): Trigger => ({ type: "orFinally", main, until });
export const never = (): Trigger => ({ type: "never" });

/** Whether a trigger can ever finish by itself (Beam's `mayFinish`). A trigger that never finishes keeps its window open. */
export function mayFinish(t: Trigger): boolean {
  switch (t.type) {
    case "default":
    case "repeatedly":
    case "never":
      return false;
    case "afterWatermark":
      return t.late === undefined;
    case "afterCount":
    case "afterProcessingTime":
    case "afterSynchronizedProcessingTime":
      return true;
    case "afterEach":
      return t.triggers.every(mayFinish);
    case "afterAny":
      return t.triggers.some(mayFinish);
    case "afterAll":
      return t.triggers.every(mayFinish);
    case "orFinally":
      return true;
    default:
      return assertNever(t);
  }
}

/** Whether the trigger can fire at all before the window expires (`never` fires only in the expiry pane). */
function canFire(t: Trigger): boolean {
  switch (t.type) {
    case "never":
      return false;
    case "repeatedly":
      return canFire(t.trigger);
    case "afterEach":
      return t.triggers.length > 0 && t.triggers.some(canFire);
    case "afterAny":
      return t.triggers.some(canFire);
    case "afterAll":
      return t.triggers.length > 0 && t.triggers.every(canFire);
    case "orFinally":
      return canFire(t.main) || canFire(t.until);
    default:
      return true;
  }
}

/** The most nodes a trigger tree may have: the engine keeps a window's finished bits in one 32-bit word. */
export const MAX_TRIGGER_NODES = 31;

/** How many state-machine nodes the trigger becomes (an afterWatermark with only late firings gets a `never` early). */
export function triggerNodeCount(t: Trigger): number {
  switch (t.type) {
    case "default":
    case "never":
    case "afterCount":
    case "afterProcessingTime":
    case "afterSynchronizedProcessingTime":
      return 1;
    case "afterWatermark":
      if (!t.early && !t.late) return 1;
      return 1 + (t.early ? triggerNodeCount(t.early) : 1) + (t.late ? triggerNodeCount(t.late) : 0);
    case "repeatedly":
      return 1 + triggerNodeCount(t.trigger);
    case "afterEach":
    case "afterAny":
    case "afterAll":
      return t.triggers.reduce((n, s) => n + triggerNodeCount(s), 1);
    case "orFinally":
      return 1 + triggerNodeCount(t.main) + triggerNodeCount(t.until);
    default:
      return assertNever(t);
  }
}

/**
 * The problems of a trigger spec, each naming the sub-trigger by its path (`trigger.early.count`). Empty when valid.
 * Rejects what can never work: counts below one, negative delays, empty composites, a sub-trigger that can never
 * fire inside `afterAll`, and `afterEach` steps that come after a step that never finishes.
 */
export function triggerProblems(t: Trigger, path = "trigger"): string[] {
  const problems: string[] = [];
  if (path === "trigger") {
    const n = triggerNodeCount(t);
    if (n > MAX_TRIGGER_NODES) problems.push(`trigger has ${n} nodes; at most ${MAX_TRIGGER_NODES} are supported`);
  }
  switch (t.type) {
    case "default":
    case "never":
    case "afterSynchronizedProcessingTime":
      break;
    case "afterWatermark":
      if (t.early) problems.push(...triggerProblems(t.early, `${path}.early`));
      if (t.late) problems.push(...triggerProblems(t.late, `${path}.late`));
      break;
    case "afterCount":
      if (!Number.isInteger(t.count) || t.count < 1)
        problems.push(`${path}: afterCount needs a whole count of at least 1, got ${t.count}`);
      break;
    case "afterProcessingTime":
      if (!Number.isFinite(t.delay) || t.delay < 0)
        problems.push(`${path}: afterProcessingTime needs a delay of 0 ms or more, got ${t.delay}`);
      if (t.alignToMs !== undefined && !(t.alignToMs > 0))
        problems.push(`${path}: afterProcessingTime alignment must be a positive period, got ${t.alignToMs}`);
      break;
    case "repeatedly":
      problems.push(...triggerProblems(t.trigger, `${path}.trigger`));
      if (!canFire(t.trigger)) problems.push(`${path}: repeatedly(${t.trigger.type}) can never fire`);
      break;
    case "afterEach":
    case "afterAny":
    case "afterAll": {
      if (t.triggers.length === 0) problems.push(`${path}: ${t.type} needs at least one sub-trigger`);
      t.triggers.forEach((s, i) => {
        problems.push(...triggerProblems(s, `${path}.triggers[${i}]`));
      });
      if (t.type === "afterAll") {
        t.triggers.forEach((s, i) => {
          if (!canFire(s))
            problems.push(`${path}.triggers[${i}]: afterAll can never fire because ${s.type} never fires`);
        });
      }
      if (t.type === "afterEach") {
        const stuck = t.triggers.findIndex((s) => !mayFinish(s));
        if (stuck >= 0 && stuck < t.triggers.length - 1)
          problems.push(
            `${path}.triggers[${stuck + 1}]: can never fire, because afterEach step ${stuck} (${t.triggers[stuck]?.type}) never finishes`,
          );
      }
      break;
    }
    case "orFinally":
      problems.push(...triggerProblems(t.main, `${path}.main`));
      problems.push(...triggerProblems(t.until, `${path}.until`));
      break;
    default:
      return assertNever(t);
  }
  return problems;
}

/**
 * The trigger a grouping's output carries on to the next grouping (Beam's continuation triggers): counts become
 * `afterCount(1)`, processing-time delays become synchronized processing time, watermark triggers keep their shape.
 */
export function continuationTrigger(t: Trigger): Trigger {
  switch (t.type) {
    case "default":
    case "never":
    case "afterSynchronizedProcessingTime":
      return t;
    case "afterWatermark":
      return {
        type: "afterWatermark",
        ...(t.early ? { early: continuationTrigger(t.early) } : {}),
        ...(t.late ? { late: continuationTrigger(t.late) } : {}),
      };
    case "afterCount":
      return { type: "afterCount", count: 1 };
    case "afterProcessingTime":
      return { type: "afterSynchronizedProcessingTime" };
    case "repeatedly":
      return { type: "repeatedly", trigger: continuationTrigger(t.trigger) };
    case "afterEach":
      return { type: "repeatedly", trigger: { type: "afterAny", triggers: t.triggers.map(continuationTrigger) } };
    case "afterAny":
    case "afterAll":
      return { type: t.type, triggers: t.triggers.map(continuationTrigger) };
    case "orFinally":
      return { type: "orFinally", main: continuationTrigger(t.main), until: continuationTrigger(t.until) };
    default:
      return assertNever(t);
  }
}

export function describeTrigger(t: Trigger): string {
  switch (t.type) {
    case "default":
    case "never":
    case "afterSynchronizedProcessingTime":
      return `${t.type}()`;
    case "afterWatermark":
      return `afterWatermark(${[t.early ? `early: ${describeTrigger(t.early)}` : "", t.late ? `late: ${describeTrigger(t.late)}` : ""].filter(Boolean).join(", ")})`;
    case "afterCount":
      return `afterCount(${t.count})`;
    case "afterProcessingTime":
      return `afterProcessingTime(${t.delay}ms)`;
    case "repeatedly":
      return `repeatedly(${describeTrigger(t.trigger)})`;
    case "afterEach":
    case "afterAny":
    case "afterAll":
      return `${t.type}(${t.triggers.map(describeTrigger).join(", ")})`;
    case "orFinally":
      return `orFinally(${describeTrigger(t.main)}, ${describeTrigger(t.until)})`;
    default:
      return assertNever(t);
  }
}
