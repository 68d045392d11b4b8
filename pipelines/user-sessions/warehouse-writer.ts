import type { CheckpointMark } from "../../core/source.ts";
import type { Warehouse } from "../../io/warehouse.ts";
import type { GoldHourlyRow, GoldSessionRow } from "../../schemas/rows.ts";
import type { SinkBuffer } from "./pipeline.ts";

/**
 * Drains a sink buffer into a warehouse, one batch at a time and in order (a later write never overtakes an
 * earlier one). Session writes of a batch are folded: the last operation on a session id wins, so a session updated
 * and then merged away within one batch is deleted.
 */
export class WarehouseWriter {
  private chain: Promise<void> = Promise.resolve();
  /** The write of each queued batch, oldest first, until it settles. */
  private readonly queued: Promise<void>[] = [];
  private failure: unknown;
  readonly written = {
    bronze: 0,
    silver: 0,
    deadLetter: 0,
    sessionUpserts: 0,
    sessionDeletes: 0,
    hourly: 0,
    /** Source elements acknowledged after their batch was committed. */
    acknowledged: 0,
  };

  constructor(
    private readonly warehouse: Warehouse,
    private readonly buffer: SinkBuffer,
  ) {}

  /** Rows waiting in the buffer. */
  pendingRows(): number {
    const b = this.buffer;
    return b.bronze.length + b.silver.length + b.sessions.length + b.hourly.length;
  }

  /**
   * Takes what is buffered now and queues its write, in this order: Bronze, Silver and hourly rows; then
   * `beforeSessions` (a checkpoint write); then the Gold session changes; then `marks` are finalized (the sources'
   * checkpoint marks taken with this batch: a message queue acknowledges what they cover then).
   * With `holdSessions` the session changes stay in the buffer for a later flush (a checkpointed run writes them only
   * after the checkpoint that produced them, so a replay after a crash never leaves rows the restored state does not
   * know). Returns the session changes this flush will write (folded), for the checkpoint to carry.
   */
  flush(
    options: {
      readonly marks?: readonly CheckpointMark[];
      readonly holdSessions?: boolean;
      readonly beforeSessions?: () => void;
    } = {},
  ): SessionChanges {
    const { marks = [], holdSessions = false, beforeSessions } = options;
    const b = this.buffer;
    const bronze = b.bronze.splice(0);
    const silver = b.silver.splice(0);
    const deadLetter = b.deadLetter.splice(0);
    const sessions = holdSessions ? [] : b.sessions.splice(0);
    const hourly = b.hourly.splice(0);
    const changes = foldSessions(sessions);
    const { upserts, deletes } = changes;
    const hours = foldHourly(hourly);
    this.written.deadLetter += deadLetter.length;
    const nothing = bronze.length + silver.length + sessions.length + hourly.length === 0;
    if (nothing && !marks.some((m) => m.size > 0) && beforeSessions === undefined) return changes;
    this.enqueue(async () => {
      if (bronze.length) await this.warehouse.appendBronze(bronze);
      if (silver.length) await this.warehouse.appendSilver(silver);
      if (hours.length) await this.warehouse.upsertHourly(hours);
      beforeSessions?.();
      if (upserts.length || deletes.length) await this.warehouse.writeSessions(upserts, deletes);
      this.written.bronze += bronze.length;
      this.written.silver += silver.length;
      this.written.sessionUpserts += upserts.length;
      this.written.sessionDeletes += deletes.length;
      this.written.hourly += hours.length;
      await this.finalize(marks);
    });
    return changes;
  }

  /** Writes session changes a checkpoint carried (its run may have crashed before writing them). Idempotent. */
  async replaySessions(changes: SessionChanges): Promise<void> {
    if (changes.upserts.length || changes.deletes.length) {
      await this.warehouse.writeSessions(changes.upserts, changes.deletes);
    }
  }

  /** Queues `write` after every earlier one; after a failure nothing more is written (nor acknowledged). */
  private enqueue(write: () => Promise<void>): void {
    const batch = this.chain.then(async () => {
      if (this.failure) return;
      try {
        await write();
      } catch (e) {
        this.failure ??= e;
      }
    });
    this.chain = batch;
    this.queued.push(batch);
    void batch.then(() => this.queued.splice(this.queued.indexOf(batch), 1));
  }

  private async finalize(marks: readonly CheckpointMark[]): Promise<void> {
    for (const m of marks) await m.finalize();
    this.written.acknowledged += marks.reduce((n, m) => n + m.size, 0);
  }

  /** Batches queued and not yet written. */
  inFlight(): number {
    return this.queued.length;
  }

  /**
   * Resolves when at most `n` batches are still queued, rejecting with the first write failure (the caller's
   * backpressure: it stops producing while the warehouse catches up).
   */
  async waitUntilAtMost(n: number): Promise<void> {
    while (this.queued.length > n) await this.queued[0];
    if (this.failure) throw this.failure;
  }

  /** Writes what is left and waits for every queued write; rethrows the first failure. */
  async done(): Promise<void> {
    this.flush();
    await this.chain;
    if (this.failure) throw this.failure;
  }
}

/** Gold session changes folded: the last operation per session id. */
export interface SessionChanges {
  readonly upserts: GoldSessionRow[];
  readonly deletes: string[];
}

/** The last operation per session id wins. */
export function foldSessions(writes: SinkBuffer["sessions"]): SessionChanges {
  const last = new Map<string, GoldSessionRow | null>();
  for (const w of writes) {
    if (w.kind === "upsert") {
      last.delete(w.row.session_id);
      last.set(w.row.session_id, w.row);
    } else {
      last.delete(w.sessionId);
      last.set(w.sessionId, null);
    }
  }
  const upserts: GoldSessionRow[] = [];
  const deletes: string[] = [];
  for (const [id, row] of last) {
    if (row === null) deletes.push(id);
    else upserts.push(row);
  }
  return { upserts, deletes };
}

function foldHourly(rows: readonly GoldHourlyRow[]): GoldHourlyRow[] {
  const last = new Map<string, GoldHourlyRow>();
  for (const r of rows) last.set(`${r.tenant_id}\u0000${r.hour_start}`, r);
  return [...last.values()];
}
