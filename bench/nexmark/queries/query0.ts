/**
 * Query 0, 'Pass-through': every event is encoded with its coder and decoded again (Beam's Query0: the cost of
 * moving events through the pipeline and its serialization).
 */
import { parDo } from "../../../transforms/par-do.ts";
import { NexmarkEventCoder } from "../event-coder.ts";
import type { NexmarkEvent } from "../model.ts";
import type { NexmarkQuery } from "./query-util.ts";

export function query0(): NexmarkQuery<NexmarkEvent> {
  const coder = new NexmarkEventCoder();
  return parDo<NexmarkEvent, NexmarkEvent>(
    {
      process(e, ctx) {
        ctx.output(coder.decode(coder.encode(e)));
      },
    },
    "Query0.RoundTrip",
  );
}
