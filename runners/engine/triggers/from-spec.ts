import { MAX_TRIGGER_NODES, type Trigger } from "../../../core/triggers/trigger.ts";
import { assertNever } from "../../../core/util/assert-never.ts";
import { AfterAllMachine } from "./after-all.ts";
import { AfterAnyMachine } from "./after-any.ts";
import { AfterCountMachine } from "./after-count.ts";
import { AfterEachMachine } from "./after-each.ts";
import { AfterProcessingTimeMachine } from "./after-processing-time.ts";
import { AfterEndOfWindowMachine, AfterWatermarkEarlyLateMachine } from "./after-watermark.ts";
import { DefaultTriggerMachine } from "./default-trigger.ts";
import type { TriggerMachine } from "./machine.ts";
import { NeverTriggerMachine } from "./never-trigger.ts";
import { OrFinallyMachine } from "./or-finally.ts";
import { RepeatedlyMachine } from "./repeatedly.ts";

/** Builds the state machine tree of a trigger spec, numbered depth-first. */
export function machineFromSpec(spec: Trigger): TriggerMachine {
  const root = build(spec);
  const n = root.number(0);
  if (n > MAX_TRIGGER_NODES) {
    throw new RangeError(`trigger has ${n} nodes; at most ${MAX_TRIGGER_NODES} are supported`);
  }
  return root;
}

function build(spec: Trigger): TriggerMachine {
  switch (spec.type) {
    case "default":
      return new DefaultTriggerMachine();
    case "never":
      return new NeverTriggerMachine();
    case "afterCount":
      return new AfterCountMachine(spec.count);
    case "afterProcessingTime":
      return new AfterProcessingTimeMachine(spec.delay, spec.alignToMs, spec.alignOffsetMs ?? 0, false);
    case "afterSynchronizedProcessingTime":
      return new AfterProcessingTimeMachine(0, undefined, 0, true);
    case "afterWatermark":
      if (!spec.early && !spec.late) return new AfterEndOfWindowMachine();
      return new AfterWatermarkEarlyLateMachine(
        spec.early ? build(spec.early) : new NeverTriggerMachine(),
        spec.late ? build(spec.late) : undefined,
      );
    case "repeatedly":
      return new RepeatedlyMachine(build(spec.trigger));
    case "afterEach":
      return new AfterEachMachine(spec.triggers.map(build));
    case "afterAny":
      return new AfterAnyMachine(spec.triggers.map(build));
    case "afterAll":
      return new AfterAllMachine(spec.triggers.map(build));
    case "orFinally":
      return new OrFinallyMachine(build(spec.main), build(spec.until));
    default:
      return assertNever(spec);
  }
}
