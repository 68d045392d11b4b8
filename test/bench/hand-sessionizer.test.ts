import { describe, expect, it } from "vitest";
import { HandSessionizer, runHandSessionizer } from "../../bench/hand-sessionizer.ts";
import type { EmittedSession } from "../../bench/hand-sessionizer.ts";
import { SessionChecksum } from "../../bench/session-checksum.ts";
import { createSessionStream, DEFAULT_LATE_BOUND_MS, makeUserIds, parseUserIndex } from "../../bench/session-stream.ts";
import type { SessionChunk, SessionStreamOptions } from "../../bench/session-stream.ts";

const MINUTE_MS = 60_000;
const GAP_MS = 30 * MINUTE_MS;
const T0_MS = Date.UTC(2024, 0, 1);

function collecting(users: number): { sessionizer: HandSessionizer; emitted: EmittedSession[] } {
  const emitted: EmittedSession[] = [];
  const sessionizer = new HandSessionizer({ users, gapMs: GAP_MS, onSession: (session) => emitted.push(session) });
  return { sessionizer, emitted };
}

function session(userIndex: number, firstMs: number, lastMs: number, count: number): EmittedSession {
  return {
    userIndex,
    startMs: firstMs,
    endMs: lastMs + GAP_MS,
    count,
    minTimestampMs: firstMs,
    maxTimestampMs: lastMs,
  };
}

function byUserThenStart(a: EmittedSession, b: EmittedSession): number {
  return a.userIndex - b.userIndex || a.startMs - b.startMs;
}

function checksumOf(sessions: readonly EmittedSession[]): string {
  const checksum = new SessionChecksum();
  for (const s of sessions) checksum.add(s.userIndex, s.startMs, s.endMs, s.count, s.minTimestampMs, s.maxTimestampMs);
  return checksum.digest();
}

/** Batch reference: sort each user's events, cut where the next event starts at or after last + gap. */
function referenceSessions(chunks: readonly SessionChunk[]): EmittedSession[] {
  const perUser = new Map<number, number[]>();
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      const user = chunk.userIndex[i]!;
      let times = perUser.get(user);
      if (times === undefined) {
        times = [];
        perUser.set(user, times);
      }
      times.push(chunk.eventTimeMs[i]!);
    }
  }
  const sessions: EmittedSession[] = [];
  for (const [user, times] of perUser) {
    times.sort((a, b) => a - b);
    let first = times[0]!;
    let last = first;
    let count = 1;
    for (let i = 1; i < times.length; i++) {
      const t = times[i]!;
      if (t < last + GAP_MS) {
        last = t;
        count++;
      } else {
        sessions.push(session(user, first, last, count));
        first = t;
        last = t;
        count = 1;
      }
    }
    sessions.push(session(user, first, last, count));
  }
  return sessions.sort(byUserThenStart);
}

describe("HandSessionizer", () => {
  it("merges two open sessions when an out-of-order event bridges them", () => {
    const { sessionizer, emitted } = collecting(1);
    sessionizer.addEvent(0, T0_MS); // [0, 30)
    sessionizer.addEvent(0, T0_MS + 40 * MINUTE_MS); // [40, 70): separate
    expect(sessionizer.openSessions).toBe(2);
    sessionizer.addEvent(0, T0_MS + 20 * MINUTE_MS); // late, [20, 50): overlaps both
    expect(sessionizer.openSessions).toBe(1);
    const result = sessionizer.finish();
    expect(emitted).toEqual([session(0, T0_MS, T0_MS + 40 * MINUTE_MS, 3)]);
    expect(result.sessions).toBe(1);
    expect(result.events).toBe(3);
  });

  it("extends a session backwards with an out-of-order event", () => {
    const { sessionizer, emitted } = collecting(1);
    sessionizer.addEvent(0, T0_MS + 10 * MINUTE_MS);
    sessionizer.addEvent(0, T0_MS + 1 * MINUTE_MS);
    sessionizer.finish();
    expect(emitted).toEqual([session(0, T0_MS + MINUTE_MS, T0_MS + 10 * MINUTE_MS, 2)]);
  });

  it("does not merge touching windows [a, b) and [b, c), in either arrival order", () => {
    for (const order of [
      [0, 30],
      [30, 0],
    ]) {
      const { sessionizer, emitted } = collecting(1);
      for (const minute of order) sessionizer.addEvent(0, T0_MS + minute * MINUTE_MS);
      sessionizer.finish();
      expect(emitted.sort(byUserThenStart)).toEqual([
        session(0, T0_MS, T0_MS, 1),
        session(0, T0_MS + 30 * MINUTE_MS, T0_MS + 30 * MINUTE_MS, 1),
      ]);
    }
    // One millisecond less and they overlap.
    const { sessionizer, emitted } = collecting(1);
    sessionizer.addEvent(0, T0_MS);
    sessionizer.addEvent(0, T0_MS + 30 * MINUTE_MS - 1);
    sessionizer.finish();
    expect(emitted).toEqual([session(0, T0_MS, T0_MS + 30 * MINUTE_MS - 1, 2)]);
  });

  it("emits a session exactly when the watermark reaches its end", () => {
    const { sessionizer, emitted } = collecting(2);
    sessionizer.addEvent(0, T0_MS);
    sessionizer.addEvent(1, T0_MS + 5 * MINUTE_MS);
    sessionizer.advanceWatermark(T0_MS + GAP_MS - 1);
    expect(emitted).toEqual([]);
    sessionizer.advanceWatermark(T0_MS + GAP_MS);
    expect(emitted).toEqual([session(0, T0_MS, T0_MS, 1)]);
    expect(sessionizer.openSessions).toBe(1);
    sessionizer.advanceWatermark(T0_MS + 35 * MINUTE_MS);
    expect(emitted).toEqual([session(0, T0_MS, T0_MS, 1), session(1, T0_MS + 5 * MINUTE_MS, T0_MS + 5 * MINUTE_MS, 1)]);
    expect(sessionizer.openSessions).toBe(0);
  });

  it("holds a session that was extended after it was queued until its new end", () => {
    const { sessionizer, emitted } = collecting(1);
    sessionizer.addEvent(0, T0_MS);
    sessionizer.addEvent(0, T0_MS + 20 * MINUTE_MS); // end moves from 30 to 50 minutes
    sessionizer.advanceWatermark(T0_MS + 30 * MINUTE_MS);
    expect(emitted).toEqual([]);
    sessionizer.addEvent(0, T0_MS + 45 * MINUTE_MS); // end moves to 75 minutes
    sessionizer.advanceWatermark(T0_MS + 74 * MINUTE_MS);
    expect(emitted).toEqual([]);
    sessionizer.advanceWatermark(T0_MS + 75 * MINUTE_MS);
    expect(emitted).toEqual([session(0, T0_MS, T0_MS + 45 * MINUTE_MS, 3)]);
  });

  it("starts a new session after the previous one was emitted", () => {
    const { sessionizer, emitted } = collecting(1);
    sessionizer.addEvent(0, T0_MS);
    sessionizer.advanceWatermark(T0_MS + 31 * MINUTE_MS);
    sessionizer.addEvent(0, T0_MS + 31 * MINUTE_MS);
    sessionizer.finish();
    expect(emitted).toEqual([
      session(0, T0_MS, T0_MS, 1),
      session(0, T0_MS + 31 * MINUTE_MS, T0_MS + 31 * MINUTE_MS, 1),
    ]);
  });

  it("flushes every open session at the end of input", () => {
    const { sessionizer, emitted } = collecting(3);
    sessionizer.addEvent(2, T0_MS + 3 * MINUTE_MS);
    sessionizer.addEvent(0, T0_MS);
    sessionizer.addEvent(1, T0_MS + 2 * MINUTE_MS);
    sessionizer.addEvent(0, T0_MS + 10 * MINUTE_MS);
    sessionizer.addEvent(0, T0_MS + 3 * 60 * MINUTE_MS);
    sessionizer.advanceWatermark(T0_MS + 11 * MINUTE_MS);
    expect(emitted).toEqual([]);
    const result = sessionizer.finish();
    const expected = [
      session(0, T0_MS, T0_MS + 10 * MINUTE_MS, 2),
      session(0, T0_MS + 3 * 60 * MINUTE_MS, T0_MS + 3 * 60 * MINUTE_MS, 1),
      session(1, T0_MS + 2 * MINUTE_MS, T0_MS + 2 * MINUTE_MS, 1),
      session(2, T0_MS + 3 * MINUTE_MS, T0_MS + 3 * MINUTE_MS, 1),
    ];
    expect(emitted.sort(byUserThenStart)).toEqual(expected);
    expect(sessionizer.openSessions).toBe(0);
    expect(result).toEqual({ sessions: 4, checksum: checksumOf(expected), events: 5 });
  });

  it("drops events behind the watermark and rejects a regressing watermark", () => {
    const { sessionizer, emitted } = collecting(1);
    sessionizer.advanceWatermark(T0_MS + MINUTE_MS);
    sessionizer.addEvent(0, T0_MS);
    expect(sessionizer.droppedEvents).toBe(1);
    expect(() => sessionizer.advanceWatermark(T0_MS)).toThrow(/backwards/);
    sessionizer.finish();
    expect(emitted).toEqual([]);
  });

  it("keyed by user-id strings, finds the same sessions as keyed by the generator's index", () => {
    const options = { totalEvents: 20_000, users: 300, seed: 11 };
    const stream = createSessionStream(options);
    const byIndex = new HandSessionizer({ users: options.users });
    const byId = new HandSessionizer({ users: options.users });
    for (const chunk of stream.chunks()) {
      byIndex.addChunk(chunk);
      byId.addChunkByUserId(chunk, stream.userIds);
    }
    const a = byIndex.finish();
    const b = byId.finish();
    expect(b.sessions).toBeGreaterThan(100);
    expect(b).toEqual(a);
    expect(runHandSessionizer(options)).toMatchObject(a);
  });

  it("matches a batch reference on a generated stream, emitting each session on time", () => {
    const options: SessionStreamOptions = { totalEvents: 30_000, users: 40, seed: 7, chunkSize: 500 };
    const chunks = [...createSessionStream(options).chunks()];
    const emitted: EmittedSession[] = [];
    let previousWatermarkMs = Number.NEGATIVE_INFINITY;
    const sessionizer = new HandSessionizer({
      users: options.users,
      gapMs: GAP_MS,
      onSession: (s) => {
        // Fired by the first watermark advance that reaches the end, never earlier or later.
        expect(s.endMs).toBeLessThanOrEqual(sessionizer.currentWatermarkMs);
        expect(s.endMs).toBeGreaterThan(previousWatermarkMs);
        emitted.push(s);
      },
    });
    for (const chunk of chunks) {
      sessionizer.addChunk(chunk);
      previousWatermarkMs = chunk.watermarkMs;
    }
    const result = sessionizer.finish();
    const expected = referenceSessions(chunks);
    expect(sessionizer.droppedEvents).toBe(0);
    expect(emitted.sort(byUserThenStart)).toEqual(expected);
    expect(result.sessions).toBe(expected.length);
    expect(result.checksum).toBe(checksumOf(expected));
    expect(result.events).toBe(options.totalEvents);
    // The stream has merges from late events and short idle gaps, and several sessions per user.
    expect(expected.length).toBeGreaterThan(options.users * 5);
    expect(runHandSessionizer(options)).toEqual({ ...result, droppedEvents: 0 });
  });
});

describe("SessionChecksum", () => {
  it("is independent of emission order but sensitive to every field", () => {
    const a = session(1, T0_MS, T0_MS + MINUTE_MS, 2);
    const b = session(2, T0_MS + 5, T0_MS + 9, 3);
    expect(checksumOf([a, b])).toBe(checksumOf([b, a]));
    expect(checksumOf([a, b])).not.toBe(checksumOf([a]));
    expect(checksumOf([a, a, b])).not.toBe(checksumOf([a, b]));
    for (const changed of [
      { ...a, userIndex: 3 },
      { ...a, startMs: a.startMs + 1 },
      { ...a, endMs: a.endMs + 1 },
      { ...a, count: 5 },
      { ...a, minTimestampMs: a.minTimestampMs - 2 ** 32 },
      { ...a, maxTimestampMs: a.maxTimestampMs + 1 },
    ]) {
      expect(checksumOf([changed, b])).not.toBe(checksumOf([a, b]));
    }
  });
});

describe("session stream generator", () => {
  const options: SessionStreamOptions = { totalEvents: 50_000, users: 200, seed: 1234, chunkSize: 1_000 };

  it("is deterministic by seed", () => {
    const first = [...createSessionStream(options).chunks()];
    const second = [...createSessionStream(options).chunks()];
    expect(second).toEqual(first);
    const otherSeed = [...createSessionStream({ ...options, seed: 1235 }).chunks()];
    expect(otherSeed[0]!.eventTimeMs).not.toEqual(first[0]!.eventTimeMs);
  });

  it("yields exactly totalEvents in chunks and respects its watermark", () => {
    const chunks = [...createSessionStream(options).chunks()];
    let total = 0;
    let watermarkMs = Number.NEGATIVE_INFINITY;
    let outOfOrder = 0;
    let maxSeenMs = Number.NEGATIVE_INFINITY;
    for (const chunk of chunks) {
      expect(chunk.length).toBeGreaterThan(0);
      expect(chunk.length).toBeLessThanOrEqual(options.chunkSize!);
      expect(chunk.userIndex.length).toBe(chunk.length);
      expect(chunk.eventTimeMs.length).toBe(chunk.length);
      for (let i = 0; i < chunk.length; i++) {
        const t = chunk.eventTimeMs[i]!;
        const user = chunk.userIndex[i]!;
        if (user < 0 || user >= options.users) expect.fail(`user ${user} out of range`);
        if (!Number.isInteger(t)) expect.fail(`event time ${t} is not integer milliseconds`);
        // Nothing is behind the watermark announced after an earlier chunk.
        if (t < watermarkMs) expect.fail(`event ${t} behind watermark ${watermarkMs}`);
        if (t < maxSeenMs) outOfOrder++;
        maxSeenMs = Math.max(maxSeenMs, t);
      }
      expect(chunk.watermarkMs).toBeGreaterThanOrEqual(watermarkMs);
      // The watermark trails the newest event time by at most the late bound.
      expect(chunk.watermarkMs).toBeGreaterThanOrEqual(maxSeenMs - DEFAULT_LATE_BOUND_MS);
      watermarkMs = chunk.watermarkMs;
      total += chunk.length;
    }
    expect(total).toBe(options.totalEvents);
    // ~10% of events are delayed; most of those land behind a later event.
    expect(outOfOrder / total).toBeGreaterThan(0.05);
    expect(outOfOrder / total).toBeLessThan(0.15);
  });

  it("streams lazily: the first chunk of a huge stream comes at once", () => {
    const iterator = createSessionStream({ totalEvents: 1e12, users: 1_000, seed: 1 }).chunks();
    const first = iterator.next();
    expect(first.done).toBe(false);
    expect(first.value?.length).toBe(16_384);
    iterator.return(undefined);
  });

  it("builds the user-id table once, u00042 style", () => {
    const stream = createSessionStream({ totalEvents: 10, users: 10_000, seed: 1 });
    expect(stream.userIds.length).toBe(10_000);
    expect(stream.userIds[42]).toBe("u00042");
    expect(stream.userIds[9_999]).toBe("u09999");
    expect(parseUserIndex("u00042")).toBe(42);
    expect(makeUserIds(200_000)[123_456]).toBe("u123456");
  });
});
