/**
 * Baseline for the sessions benchmark: a hand-written, single-pass, streaming sessionizer
 * written for exactly this job (no engine, no per-event allocation).
 *
 * Semantics (matching Beam's Sessions(gap) windowing with the default trigger and zero
 * allowed lateness):
 * - an event at t covers [t, t + gapMs); windows of the same user that overlap merge;
 *   touching windows [a, b) and [b, c) do not;
 * - events may arrive out of order; a late event can extend a session backwards or bridge
 *   two open sessions, merging them;
 * - when the watermark reaches a session's end (watermark >= end) the session is emitted
 *   once (user, count, first timestamp, last timestamp) and its state freed;
 * - events with event time < current watermark are counted as dropped and ignored (the
 *   benchmark stream never produces any);
 * - `finish()` flushes everything (watermark = +Infinity).
 *
 * Input: events keyed by their user-id string, as the engine receives them; a map gives each id a dense user
 * number on first sight (the generator's own integer index is not part of the data).
 *
 * Data structures: open sessions live in a struct-of-arrays slot pool; each user has a short
 * singly linked list of open sessions (almost always 0 or 1, at most a few). Expiry uses a
 * binary min-heap of (end, slot, generation) with lazy invalidation: entries are pushed only
 * when a session is created; when an entry is popped and the session has since been extended,
 * it is re-pushed with the current end; when a session is merged away or emitted its slot's
 * generation is bumped so stale entries are skipped. No per-watermark scan over users.
 */

import { SessionChecksum } from "./session-checksum.ts";
import type { SessionizerResult } from "./session-checksum.ts";
import { createSessionStream, DEFAULT_GAP_MS, parseUserIndex } from "./session-stream.ts";
import type { SessionChunk, SessionizerRunOptions } from "./session-stream.ts";

/** One emitted session (only materialised when an `onSession` callback is given). */
export interface EmittedSession {
  userIndex: number;
  /** Window start = first event time. */
  startMs: number;
  /** Window end (exclusive) = last event time + gap. */
  endMs: number;
  count: number;
  minTimestampMs: number;
  maxTimestampMs: number;
}

export interface HandSessionizerOptions {
  users: number;
  gapMs?: number;
  /** Called for every emitted session (tests); the benchmark leaves it unset. */
  onSession?: (session: EmittedSession) => void;
}

const NO_SLOT = -1;

export class HandSessionizer {
  readonly gapMs: number;
  private readonly onSession: ((session: EmittedSession) => void) | undefined;
  private readonly checksum = new SessionChecksum();
  private watermarkMs = Number.NEGATIVE_INFINITY;
  private eventCount = 0;
  private droppedCount = 0;
  private openCount = 0;

  /** Head of each user's open-session list (slot index or NO_SLOT). */
  private readonly userHead: Int32Array;
  /** User-id string to dense user number (`addEventForUser`). */
  private readonly userNumbers = new Map<string, number>();
  /** Dense user number to the user index the checksum uses (identity for `addEvent`). */
  private readonly checksumUser: Int32Array;

  // Session slot pool (struct of arrays).
  private slotCapacity = 1024;
  private slotStartMs = new Float64Array(this.slotCapacity);
  private slotMaxMs = new Float64Array(this.slotCapacity);
  private slotCount = new Float64Array(this.slotCapacity);
  private slotUser = new Int32Array(this.slotCapacity);
  private slotNext = new Int32Array(this.slotCapacity);
  private slotGeneration = new Int32Array(this.slotCapacity);
  private freeHead = NO_SLOT;
  private slotsUsed = 0;

  // Expiry min-heap keyed by session end, with lazy invalidation.
  private heapCapacity = 1024;
  private heapSize = 0;
  private heapEndMs = new Float64Array(this.heapCapacity);
  private heapSlot = new Int32Array(this.heapCapacity);
  private heapGeneration = new Int32Array(this.heapCapacity);

  constructor(options: HandSessionizerOptions) {
    this.gapMs = options.gapMs ?? DEFAULT_GAP_MS;
    this.onSession = options.onSession;
    this.userHead = new Int32Array(options.users).fill(NO_SLOT);
    this.checksumUser = Int32Array.from({ length: options.users }, (_, i) => i);
  }

  /** Current input watermark. */
  get currentWatermarkMs(): number {
    return this.watermarkMs;
  }

  /** Number of sessions currently open (buffered). */
  get openSessions(): number {
    return this.openCount;
  }

  /** Events dropped because they were behind the watermark. */
  get droppedEvents(): number {
    return this.droppedCount;
  }

  /** Events accepted so far (excluding dropped ones). */
  get events(): number {
    return this.eventCount;
  }

  addEvent(userIndex: number, eventTimeMs: number): void {
    if (eventTimeMs < this.watermarkMs) {
      this.droppedCount++;
      return;
    }
    this.eventCount++;
    const gapMs = this.gapMs;
    const windowEndMs = eventTimeMs + gapMs;
    let target = NO_SLOT;
    let previous = NO_SLOT;
    let slot = this.userHead[userIndex]!;
    while (slot !== NO_SLOT) {
      const next = this.slotNext[slot]!;
      const startMs = this.slotStartMs[slot]!;
      const maxMs = this.slotMaxMs[slot]!;
      // [startMs, maxMs + gap) overlaps [eventTimeMs, eventTimeMs + gap)?
      if (startMs < windowEndMs && eventTimeMs < maxMs + gapMs) {
        if (target === NO_SLOT) {
          target = slot;
          if (eventTimeMs < startMs) this.slotStartMs[slot] = eventTimeMs;
          if (eventTimeMs > maxMs) this.slotMaxMs[slot] = eventTimeMs;
          this.slotCount[slot]! += 1;
          previous = slot;
        } else {
          // The event bridges `target` and `slot`: fold `slot` into `target`, unlink, free.
          if (startMs < this.slotStartMs[target]!) this.slotStartMs[target] = startMs;
          if (maxMs > this.slotMaxMs[target]!) this.slotMaxMs[target] = maxMs;
          this.slotCount[target]! += this.slotCount[slot]!;
          if (previous === NO_SLOT) this.userHead[userIndex] = next;
          else this.slotNext[previous] = next;
          this.freeSlot(slot);
        }
      } else {
        previous = slot;
      }
      slot = next;
    }
    if (target === NO_SLOT) {
      const created = this.allocateSlot();
      this.slotStartMs[created] = eventTimeMs;
      this.slotMaxMs[created] = eventTimeMs;
      this.slotCount[created] = 1;
      this.slotUser[created] = userIndex;
      this.slotNext[created] = this.userHead[userIndex]!;
      this.userHead[userIndex] = created;
      this.openCount++;
      this.pushExpiry(windowEndMs, created, this.slotGeneration[created]!);
    }
  }

  /**
   * Adds an event of the user with id `userId` (the event's own key, as the engine sees it): the id is looked up in
   * a map to this sessionizer's dense user number, assigned on first sight.
   */
  addEventForUser(userId: string, eventTimeMs: number): void {
    let user = this.userNumbers.get(userId);
    if (user === undefined) {
      user = this.userNumbers.size;
      if (user >= this.userHead.length) throw new RangeError(`more than ${this.userHead.length} distinct users`);
      this.userNumbers.set(userId, user);
      this.checksumUser[user] = parseUserIndex(userId);
    }
    this.addEvent(user, eventTimeMs);
  }

  /** Adds a whole chunk keyed by user-id strings (what `runHandSessionizer` uses), then advances the watermark. */
  addChunkByUserId(chunk: SessionChunk, userIds: readonly string[]): void {
    const users = chunk.userIndex;
    const times = chunk.eventTimeMs;
    const length = chunk.length;
    for (let i = 0; i < length; i++) this.addEventForUser(userIds[users[i]!]!, times[i]!);
    this.advanceWatermark(chunk.watermarkMs);
  }

  /** Adds a whole chunk by the generator's user index, then advances the watermark to the chunk's watermark. */
  addChunk(chunk: SessionChunk): void {
    const users = chunk.userIndex;
    const times = chunk.eventTimeMs;
    const length = chunk.length;
    for (let i = 0; i < length; i++) this.addEvent(users[i]!, times[i]!);
    this.advanceWatermark(chunk.watermarkMs);
  }

  /** Emits (and frees) every open session whose end is <= watermarkMs. */
  advanceWatermark(watermarkMs: number): void {
    if (watermarkMs < this.watermarkMs) {
      throw new Error(`watermark must not go backwards: ${watermarkMs} < ${this.watermarkMs}`);
    }
    this.watermarkMs = watermarkMs;
    const gapMs = this.gapMs;
    while (this.heapSize > 0 && this.heapEndMs[0]! <= watermarkMs) {
      const slot = this.heapSlot[0]!;
      const generation = this.heapGeneration[0]!;
      this.popExpiry();
      if (this.slotGeneration[slot] !== generation) continue; // merged away or already emitted
      const endMs = this.slotMaxMs[slot]! + gapMs;
      if (endMs > watermarkMs) {
        this.pushExpiry(endMs, slot, generation); // extended since it was queued
        continue;
      }
      this.emit(slot, endMs);
    }
  }

  /** End of input: flushes every open session and returns the result. */
  finish(): SessionizerResult {
    this.advanceWatermark(Number.POSITIVE_INFINITY);
    return this.result();
  }

  result(): SessionizerResult {
    return { sessions: this.checksum.sessions, checksum: this.checksum.digest(), events: this.eventCount };
  }

  private emit(slot: number, endMs: number): void {
    const userIndex = this.slotUser[slot]!;
    const startMs = this.slotStartMs[slot]!;
    const maxMs = this.slotMaxMs[slot]!;
    const count = this.slotCount[slot]!;
    const checksumUser = this.checksumUser[userIndex]!;
    this.checksum.add(checksumUser, startMs, endMs, count, startMs, maxMs);
    if (this.onSession !== undefined) {
      this.onSession({
        userIndex: checksumUser,
        startMs,
        endMs,
        count,
        minTimestampMs: startMs,
        maxTimestampMs: maxMs,
      });
    }
    // Unlink from the user's list (almost always the only element).
    let current = this.userHead[userIndex]!;
    if (current === slot) {
      this.userHead[userIndex] = this.slotNext[slot]!;
    } else {
      while (this.slotNext[current] !== slot) current = this.slotNext[current]!;
      this.slotNext[current] = this.slotNext[slot]!;
    }
    this.freeSlot(slot);
  }

  private allocateSlot(): number {
    if (this.freeHead !== NO_SLOT) {
      const slot = this.freeHead;
      this.freeHead = this.slotNext[slot]!;
      return slot;
    }
    if (this.slotsUsed === this.slotCapacity) this.growSlots();
    return this.slotsUsed++;
  }

  private freeSlot(slot: number): void {
    this.slotGeneration[slot] = (this.slotGeneration[slot]! + 1) | 0;
    this.slotNext[slot] = this.freeHead;
    this.freeHead = slot;
    this.openCount--;
  }

  private growSlots(): void {
    const capacity = this.slotCapacity * 2;
    this.slotStartMs = growFloat64(this.slotStartMs, capacity);
    this.slotMaxMs = growFloat64(this.slotMaxMs, capacity);
    this.slotCount = growFloat64(this.slotCount, capacity);
    this.slotUser = growInt32(this.slotUser, capacity);
    this.slotNext = growInt32(this.slotNext, capacity);
    this.slotGeneration = growInt32(this.slotGeneration, capacity);
    this.slotCapacity = capacity;
  }

  private pushExpiry(endMs: number, slot: number, generation: number): void {
    if (this.heapSize === this.heapCapacity) {
      const capacity = this.heapCapacity * 2;
      this.heapEndMs = growFloat64(this.heapEndMs, capacity);
      this.heapSlot = growInt32(this.heapSlot, capacity);
      this.heapGeneration = growInt32(this.heapGeneration, capacity);
      this.heapCapacity = capacity;
    }
    const keys = this.heapEndMs;
    const slots = this.heapSlot;
    const generations = this.heapGeneration;
    let i = this.heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= endMs) break;
      keys[i] = keys[parent]!;
      slots[i] = slots[parent]!;
      generations[i] = generations[parent]!;
      i = parent;
    }
    keys[i] = endMs;
    slots[i] = slot;
    generations[i] = generation;
  }

  private popExpiry(): void {
    const size = --this.heapSize;
    if (size === 0) return;
    const keys = this.heapEndMs;
    const slots = this.heapSlot;
    const generations = this.heapGeneration;
    const endMs = keys[size]!;
    const slot = slots[size]!;
    const generation = generations[size]!;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) break;
      let child = left;
      const right = left + 1;
      if (right < size && keys[right]! < keys[left]!) child = right;
      if (keys[child]! >= endMs) break;
      keys[i] = keys[child]!;
      slots[i] = slots[child]!;
      generations[i] = generations[child]!;
      i = child;
    }
    keys[i] = endMs;
    slots[i] = slot;
    generations[i] = generation;
  }
}

function growFloat64(array: Float64Array, capacity: number): Float64Array<ArrayBuffer> {
  const grown = new Float64Array(capacity);
  grown.set(array);
  return grown;
}

function growInt32(array: Int32Array, capacity: number): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(capacity);
  grown.set(array);
  return grown;
}

/** Generates the stream described by `options` and sessionizes it with the hand loop. */
export function runHandSessionizer(options: SessionizerRunOptions): SessionizerResult & { droppedEvents: number } {
  const stream = createSessionStream(options);
  const sessionizer = new HandSessionizer({ users: stream.options.users, gapMs: options.gapMs ?? DEFAULT_GAP_MS });
  for (const chunk of stream.chunks(options.generationStats)) sessionizer.addChunkByUserId(chunk, stream.userIds);
  const result = sessionizer.finish();
  return { ...result, droppedEvents: sessionizer.droppedEvents };
}
