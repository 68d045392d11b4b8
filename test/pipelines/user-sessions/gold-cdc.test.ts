import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import { appendChanges, type Change, changeSequence, hourlyChanges, sessionChanges } from "../../../io/bigquery/cdc.ts";
import { DuckDbWarehouse } from "../../../io/duckdb/duckdb-warehouse.ts";
import { fixtureFileSource } from "../../../io/test-stream/jsonl.ts";
import { generateStream } from "../../../pipelines/user-sessions/generate.ts";
import { medallion } from "../../../pipelines/user-sessions/pipeline.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import type { RawMessage } from "../../../schemas/event.ts";
import type { BronzeRow, GoldHourlyRow, GoldSessionRow, SilverRow } from "../../../schemas/rows.ts";
import { collectInto, newCollected } from "./collect.ts";
import { tableRows } from "./table-rows.ts";

/**
 * BigQuery's change data capture, as its documentation states it, written here as the reference: of all the changes
 * written for a primary key, in whatever order they arrive, the one with the highest `_CHANGE_SEQUENCE_NUMBER`
 * decides the row (an UPSERT sets it, a DELETE removes it). Two different changes of a key with the same number
 * would leave the row to chance: the reference refuses them.
 */
function applyCdc(changes: readonly Change[], key: readonly string[]): Record<string, unknown>[] {
  const winners = new Map<string, { seq: string; change: Change; text: string }>();
  for (const c of changes) {
    const k = JSON.stringify(key.map((col) => c.row[col]));
    const seq = changeSequence(c.seq);
    const text = JSON.stringify([c.type, c.row]);
    const held = winners.get(k);
    if (held !== undefined && held.seq === seq && held.text !== text) {
      throw new Error(`two different changes of ${k} share the sequence number ${seq}: ${held.text} / ${text}`);
    }
    if (held === undefined || seq > held.seq) winners.set(k, { seq, change: c, text });
  }
  return [...winners.values()].filter((w) => w.change.type === "UPSERT").map((w) => ({ ...w.change.row }));
}

/** A random order of `changes`, each written once, twice or three times (retries, replays), from a seeded generator. */
function shuffledWithCopies<T>(changes: readonly T[], seed: number): T[] {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
  const out: T[] = [];
  for (const c of changes) for (let n = 1 + Math.floor(next() * 3); n > 0; n--) out.push(c);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe("Gold by change data capture: the sequence numbers make every table's writes order-free and idempotent", () => {
  it("the changes the medallion writes, applied in any order with copies, give the tables the in-order DuckDB writer gives", async () => {
    // 200 users: late mobile events that merge sessions (deletions), re-deliveries, malformed messages.
    const dir = mkdtempSync(join(tmpdir(), "tidemark-cdc-"));
    const fixture = join(dir, "events.jsonl");
    writeFileSync(fixture, `${[...generateStream({ users: 200, seed: 11 })].join("\n")}\n`);
    const inOrder = await DuckDbWarehouse.create(":memory:");
    await inOrder.open();
    const p = Pipeline.create();
    const collected = newCollected();
    const { tables } = medallion(p, fixtureFileSource<RawMessage>(fixture), inOrder);
    collectInto(tables, collected);
    await new DirectRunner().run(p, { maxBundleMs: 1000 });
    rmSync(dir, { recursive: true, force: true });

    // Every change as the writer makes it, unfolded: each session change with its own number.
    const bronze = appendChanges(collected.bronze);
    const silver = appendChanges(collected.silver);
    const sessions = collected.sessions.flatMap((w) =>
      w.kind === "upsert"
        ? sessionChanges([w.row], [], new Map([[w.row.session_id, w.seq]]))
        : sessionChanges([], [w.sessionId], new Map([[w.sessionId, w.seq]])),
    );
    const hourly = hourlyChanges(collected.hourly);
    // Gold sessions applied in the order the writer made them, last operation per id winning, numbers unread: the
    // reference the numbered changes must agree with (the DuckDB sink folds by number, so it is checked against it).
    const arrival = new Map<string, GoldSessionRow | null>();
    for (const w of collected.sessions) {
      if (w.kind === "upsert") arrival.set(w.row.session_id, w.row);
      else arrival.set(w.sessionId, null);
    }
    const byArrival = await DuckDbWarehouse.create(":memory:");
    await byArrival.open();
    await byArrival.writeSessions(
      [...arrival.values()].filter((r): r is GoldSessionRow => r !== null),
      [],
    );
    expect(await tableRows(inOrder, "gold_sessions")).toEqual(await tableRows(byArrival, "gold_sessions"));
    expect(sessions.filter((c) => c.type === "DELETE").length).toBeGreaterThan(3);
    expect(sessions.length).toBeGreaterThan(new Set(sessions.map((c) => c.row.session_id)).size);

    for (const seed of [0, 1, 2, 3]) {
      const order = <T>(xs: readonly T[]) => (seed === 0 ? [...xs] : shuffledWithCopies(xs, seed));
      const applied = await DuckDbWarehouse.create(":memory:");
      await applied.open();
      await applied.appendBronze(applyCdc(order(bronze), ["message_id", "publish_time"]) as unknown as BronzeRow[]);
      await applied.appendSilver(applyCdc(order(silver), ["tenant_id", "event_id"]) as unknown as SilverRow[]);
      await applied.writeSessions(applyCdc(order(sessions), ["session_id"]) as unknown as GoldSessionRow[], []);
      await applied.upsertHourly(applyCdc(order(hourly), ["tenant_id", "hour_start"]) as unknown as GoldHourlyRow[]);
      for (const table of ["bronze_messages", "silver_events", "gold_sessions", "gold_tenant_hourly"]) {
        const want = await tableRows(table === "gold_sessions" ? byArrival : inOrder, table);
        expect(want.length, table).toBeGreaterThan(0);
        expect(await tableRows(applied, table), `${table}, order ${seed}`).toEqual(want);
      }
      await applied.close();
    }
    await inOrder.close();
    await byArrival.close();
  }, 60_000);
});
