/**
 * PLACEHOLDER — the engine case of the sessions benchmark. NOT WIRED YET.
 *
 * The engine API (core/, transforms/, runners/) does not exist yet; until it does this
 * function throws `new Error("engine sessionizer not wired yet")`, and `npm run bench`
 * fails loudly on the engine case. `npx tsx bench/run.ts --only=hand` runs the rest.
 *
 * What `runEngineSessionizer` must do once the engine exists:
 *
 * 1. Build the stream exactly like the baseline:
 *      const stream = createSessionStream(options);   // bench/session-stream.ts
 *    and consume `stream.chunks(options.generationStats)` (same seed => same chunks as the
 *    hand loop; passing the stats lets the harness report the engine's rate net of
 *    generation time). Never materialise the whole stream: chunks must be pulled lazily
 *    (one chunk at a time, as the engine asks for input) so the 10M-event memory case
 *    stays flat.
 *
 * 2. Feed the chunks to the engine's DIRECT runner as an UNBOUNDED source: for each chunk,
 *    emit every event i as an element keyed by `stream.userIds[chunk.userIndex[i]]`
 *    (reuse those strings, do not rebuild them) with timestamp `chunk.eventTimeMs[i]`, then
 *    advance the source watermark to `chunk.watermarkMs`. After the last chunk, advance the
 *    watermark to +Infinity (end of input), which must flush every open session.
 *    Watermark contract: after a chunk, no later element has a timestamp below
 *    `chunk.watermarkMs` (the generator checks this), so nothing is ever late or dropped.
 *    A session [start, end) must fire when the watermark reaches end (watermark >= end, i.e.
 *    it has passed the window's max timestamp end - 1 ms), the same rule the hand loop uses.
 *
 * 3. Pipeline: `withTimestamps` -> `sessions(gapMs)` windowing (gapMs = options.gapMs ??
 *    30 min; default trigger, zero allowed lateness) -> per-key combine computing
 *    count, first (min) and last (max) event timestamp per user and session.
 *    Exactly one ON_TIME pane per session is expected (any extra early/late pane changes
 *    the checksum).
 *
 * 4. For every emitted pane, call
 *      checksum.add(userIndex, windowStartMs, windowEndMs, count, minTimestampMs, maxTimestampMs)
 *    on a `SessionChecksum` (bench/session-checksum.ts), where userIndex =
 *    parseUserIndex(key) (bench/session-stream.ts), windowStartMs/windowEndMs are the merged
 *    session window's bounds ([start, end), end = last event + gap, exclusive), and
 *    min/max are the combined first/last timestamps.
 *
 * 5. Return `{ sessions: checksum.sessions, checksum: checksum.digest(), events }` where
 *    `events` is the number of input elements the pipeline consumed. bench/run.ts checks
 *    sessions and checksum for equality with the hand loop (bench/hand-sessionizer.ts) and
 *    exits 1 on a mismatch.
 *
 * Everything (generation, pipeline construction, running to completion) happens inside
 * this call: the harness times the whole call and reads the child's peak RSS afterwards.
 */

import type { SessionizerResult } from "./session-checksum.ts";
import type { SessionizerRunOptions } from "./session-stream.ts";

export type EngineSessionizerOptions = SessionizerRunOptions;

export async function runEngineSessionizer(_options: EngineSessionizerOptions): Promise<SessionizerResult> {
  throw new Error("engine sessionizer not wired yet");
}
