/**
 * The engine case of the sessions benchmark: the same generated stream as the hand loop, fed to the direct runner
 * as an unbounded source (one bundle per chunk, then the chunk's watermark), through
 * `withTimestamps -> map to KV -> window(sessions(gap)) -> combinePerKey(count, first, last)`, with every emitted
 * pane added to the shared order-independent checksum. Chunks are pulled lazily, so memory follows the open
 * sessions, not the input.
 */
import type { KV } from "../core/kv.ts";
import { Pipeline } from "../core/pipeline.ts";
import type { Source, SourceEvent } from "../core/source.ts";
import type { CombineFn } from "../core/combine-fn.ts";
import { sessions } from "../core/windows/window-fn.ts";
import type { IntervalWindow } from "../core/windows/window.ts";
import { DirectRunner } from "../runners/direct/direct-runner.ts";
import { combinePerKey } from "../transforms/combine.ts";
import { map, withTimestamps } from "../transforms/element-wise.ts";
import { parDo } from "../transforms/par-do.ts";
import { read } from "../transforms/read.ts";
import { window } from "../transforms/window-into.ts";
import { SessionChecksum, type SessionizerResult } from "./session-checksum.ts";
import {
  createSessionStream,
  DEFAULT_GAP_MS,
  parseUserIndex,
  type SessionChunk,
  type SessionizerRunOptions,
} from "./session-stream.ts";

/** The most elements the source hands the runner at once (runners bound bundle sizes; Beam's direct runner too). */
const BUNDLE_SIZE = 1024;

export type EngineSessionizerOptions = SessionizerRunOptions;

/** A user event as the source delivers it. */
interface UserEvent {
  readonly user: string;
  readonly eventTimeMs: number;
}

export interface SessionStats {
  count: number;
  first: number;
  last: number;
}

/** Count, first and last event time of a session (shared with the prism case). */
export const sessionStatsFn: CombineFn<number, SessionStats, SessionStats> = {
  createAccumulator: () => ({ count: 0, first: Number.POSITIVE_INFINITY, last: Number.NEGATIVE_INFINITY }),
  addInput(acc, t) {
    acc.count++;
    if (t < acc.first) acc.first = t;
    if (t > acc.last) acc.last = t;
    return acc;
  },
  mergeAccumulators(accs) {
    const out = sessionStatsFn.createAccumulator();
    for (const a of accs) {
      out.count += a.count;
      if (a.first < out.first) out.first = a.first;
      if (a.last > out.last) out.last = a.last;
    }
    return out;
  },
  extractOutput: (acc) => acc,
};

export async function runEngineSessionizer(options: EngineSessionizerOptions): Promise<SessionizerResult> {
  const stream = createSessionStream(options);
  const gapMs = options.gapMs ?? DEFAULT_GAP_MS;
  let events = 0;
  const source: Source<UserEvent> = {
    name: "GeneratedSessions",
    bounded: false,
    open() {
      const chunks = stream.chunks(options.generationStats);
      let pendingWatermark: number | undefined;
      let chunk: SessionChunk | undefined;
      let offset = 0;
      let arrival = 0;
      let previousWatermark = Number.NEGATIVE_INFINITY;
      return {
        next(): SourceEvent<UserEvent> | undefined {
          if (chunk === undefined || offset >= chunk.length) {
            if (pendingWatermark !== undefined) {
              const watermark = pendingWatermark;
              pendingWatermark = undefined;
              return { kind: "watermark", watermark };
            }
            const r = chunks.next();
            if (r.done) return undefined;
            chunk = r.value;
            offset = 0;
            // Elements arrive stamped with the source's previous watermark; withTimestamps moves them to event time.
            arrival = Number.isFinite(previousWatermark) ? previousWatermark : (chunk.eventTimeMs[0] as number);
            previousWatermark = chunk.watermarkMs;
            pendingWatermark = chunk.watermarkMs;
            events += chunk.length;
          }
          // A chunk goes to the runner in bundles of at most BUNDLE_SIZE elements, then its watermark.
          const c = chunk;
          const n = Math.min(BUNDLE_SIZE, c.length - offset);
          const values = new Array<UserEvent>(n);
          const ids = stream.userIds;
          for (let i = 0; i < n; i++) {
            const j = offset + i;
            values[i] = { user: ids[c.userIndex[j] as number] as string, eventTimeMs: c.eventTimeMs[j] as number };
          }
          offset += n;
          return { kind: "elements", values, timestamps: new Float64Array(n).fill(arrival) };
        },
      };
    },
  };
  const checksum = new SessionChecksum();
  const p = Pipeline.create();
  p.apply(read(source))
    .apply(withTimestamps((e: UserEvent) => e.eventTimeMs))
    .apply(map((e: UserEvent) => [e.user, e.eventTimeMs] as KV<string, number>, "KeyByUser"))
    .apply(window<KV<string, number>>(sessions(gapMs)))
    .apply(combinePerKey<string, number, SessionStats, SessionStats>(sessionStatsFn, "SessionStats"))
    .apply(
      parDo<KV<string, SessionStats>, never>(
        {
          process([user, s], ctx) {
            const w = ctx.window as IntervalWindow;
            checksum.add(parseUserIndex(user), w.start, w.end, s.count, s.first, s.last);
          },
        },
        "Checksum",
      ),
    );
  await new DirectRunner().run(p);
  return { sessions: checksum.sessions, checksum: checksum.digest(), events };
}
