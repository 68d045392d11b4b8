/**
 * `npx tsx bench/fuzz.ts [--payloads=100000] [--seed=1]`: hostile payloads through the whole medallion pipeline
 * (direct runner, DuckDB in memory), and what became of each. Prints one JSON line:
 *   {"name":"fuzz","payloads":N,"crashes":0,"bronze":N,"silver":S,"deadLetters":D,"duplicatesDropped":R,
 *    "withoutReason":0,"kinds":{...},"seconds":...,"seed":...}
 * and exits 1 unless: the run ends without an error, every message is in Bronze, every message is in Silver, a dead
 * letter (with a field and a reason, in Bronze too) or a re-delivery of an event id already in Silver (S + D + R = N).
 *
 * The payloads (seeded, so a failure is reproduced by its seed): valid events (a third, the control), truncated
 * and broken JSON, non-objects, wrong types in every field, payloads just over the size limit, deep nesting (up to
 * 100,000 levels), lone surrogates in values and keys, binary (control bytes, NULs, invalid UTF-8 read as text),
 * unknown schema versions, missing fields, absurd event times, prototype keys, very long strings, duplicate keys,
 * and hostile attributes (none, empty keys, lone surrogates, many).
 */
import { Pipeline } from "../core/pipeline.ts";
import { DuckDbWarehouse } from "../io/duckdb/duckdb-warehouse.ts";
import { medallion } from "../pipelines/user-sessions/pipeline.ts";
import { DirectRunner } from "../runners/direct/direct-runner.ts";
import { stepMetrics } from "../runners/direct/metrics.ts";
import { MAX_PAYLOAD_BYTES, type RawMessage } from "../schemas/event.ts";
import type { Source } from "../core/source.ts";

const arg = (name: string, fallback: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? fallback : Number(a.slice(name.length + 3));
};
const PAYLOADS = arg("payloads", 100_000);
const SEED = arg("seed", 1);

let state = SEED >>> 0 || 1;
/** mulberry32 */
function rand(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const T0 = Date.UTC(2026, 0, 5, 8);

function validEvent(i: number): Record<string, unknown> {
  return {
    event_id: `f${i}`,
    event_type: pick(["page_view", "button_click", "purchase", "session_start"]),
    user_id: `u${i % 997}`,
    tenant_id: pick(["acme", "globex"]),
    event_time: new Date(T0 + Math.floor(rand() * 3_600_000)).toISOString(),
    platform: pick(["ios", "android", "web"]),
    schema_version: 1,
    page: "/p",
    button: "cta",
    amount: 9.99,
  };
}

const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
const LONE = ["\uD800", "\uDFFF", "a\uD83D", "\uDE00b"];

/** One hostile payload of a random kind (and its kind), or a valid event. */
function payload(i: number): { kind: string; data: string; attributes: Record<string, string> } {
  const attributes: Record<string, string> = { source: "fuzz" };
  const e = validEvent(i);
  const r = rand();
  if (r < 0.33) return { kind: "valid", data: JSON.stringify(e), attributes };
  const kind = pick([
    "truncated",
    "not-json",
    "non-object",
    "wrong-types",
    "too-large",
    "deep",
    "lone-surrogate",
    "binary",
    "unknown-version",
    "missing-field",
    "absurd-time",
    "prototype-keys",
    "long-strings",
    "duplicate-keys",
    "hostile-attributes",
  ] as const);
  switch (kind) {
    case "truncated": {
      const s = JSON.stringify(e);
      return { kind, data: s.slice(0, Math.floor(rand() * s.length)), attributes };
    }
    case "not-json":
      return { kind, data: pick(["", " ", "undefined", "{'a':1}", "NaN", "{,}", "\u0000", "<xml/>"]), attributes };
    case "non-object":
      return { kind, data: pick(["[]", "1", '"s"', "null", "true", "[{}]"]), attributes };
    case "wrong-types": {
      const field = pick(Object.keys(e));
      const value = pick<unknown>([{}, [], 12, -1, true, null, "x", 1e308, { $date: 1 }]);
      return { kind, data: JSON.stringify({ ...e, [field]: value }), attributes };
    }
    case "too-large":
      return { kind, data: JSON.stringify({ ...e, page: "x".repeat(MAX_PAYLOAD_BYTES) }), attributes };
    case "deep":
      return {
        kind,
        data: rand() < 0.5 ? deep(pick([1_000, 10_000, 100_000])) : `{"properties":${deep(5_000)}}`,
        attributes,
      };
    case "lone-surrogate": {
      const field = pick(["user_id", "tenant_id", "page", "event_id", "device"]);
      const props = rand() < 0.5 ? { [pick(LONE)]: pick(LONE) } : undefined;
      return { kind, data: JSON.stringify({ ...e, [field]: `v${pick(LONE)}`, properties: props }), attributes };
    }
    case "binary": {
      let s = "";
      const n = 1 + Math.floor(rand() * 64);
      for (let k = 0; k < n; k++) s += String.fromCharCode(Math.floor(rand() * 256));
      return { kind, data: rand() < 0.5 ? s : `${JSON.stringify(e).slice(0, 20)}${s}`, attributes };
    }
    case "unknown-version":
      return { kind, data: JSON.stringify({ ...e, schema_version: pick([0, 2, 999, -1, "1", 1.5]) }), attributes };
    case "missing-field": {
      const copy: Record<string, unknown> = { ...e };
      delete copy[pick(["event_id", "event_type", "user_id", "tenant_id", "event_time", "platform"])];
      return { kind, data: JSON.stringify(copy), attributes };
    }
    case "absurd-time":
      return {
        kind,
        data: JSON.stringify({
          ...e,
          event_time: pick([
            "+275760-09-13T00:00:00.001Z",
            "-000001-01-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "NaN",
            "",
            1e20,
            -5,
          ]),
        }),
        attributes,
      };
    case "prototype-keys":
      return {
        kind,
        data: `{"__proto__":{"polluted":1},"constructor":{"prototype":{}},${JSON.stringify(e).slice(1)}`,
        attributes,
      };
    case "long-strings":
      return {
        kind,
        data: JSON.stringify({ ...e, user_id: "u".repeat(20_000), event_id: `f${i}-${"x".repeat(10_000)}` }),
        attributes,
      };
    case "duplicate-keys":
      return { kind, data: `{"user_id":1,${JSON.stringify(e).slice(1)}`, attributes };
    case "hostile-attributes": {
      const many: Record<string, string> = {};
      for (let k = 0; k < 200; k++) many[`a${k}`] = pick(LONE);
      return { kind, data: JSON.stringify(e), attributes: pick([{}, { "": "" }, { [pick(LONE)]: pick(LONE) }, many]) };
    }
  }
}

async function main(): Promise<void> {
  const messages: RawMessage[] = [];
  const kinds: Record<string, number> = {};
  for (let i = 0; i < PAYLOADS; i++) {
    const p = payload(i);
    kinds[p.kind] = (kinds[p.kind] ?? 0) + 1;
    messages.push({ messageId: `m${i}`, publishTime: T0 + i, attributes: p.attributes, data: p.data });
  }
  const warehouse = await DuckDbWarehouse.create(":memory:");
  await warehouse.open();
  const p = Pipeline.create();
  const { writes } = medallion(p, sourceOf(messages), warehouse);
  const started = performance.now();
  let crash: string | undefined;
  let duplicates = 0;
  try {
    const metrics = await new DirectRunner().run(p, { maxBundleMs: 1_000 });
    // Valid events whose id came before (the fuzz repeats a few ids, e.g. "x"): re-deliveries, in Bronze only.
    duplicates = stepMetrics(metrics, "Silver/Deduplicate").elementsIn;
  } catch (e) {
    crash = e instanceof Error ? (e.stack ?? e.message) : String(e);
  }
  const seconds = (performance.now() - started) / 1000;
  const counts = crash === undefined ? await warehouse.counts() : {};
  // The valid events that reached de-duplication, less those written to Silver.
  duplicates -= counts.silver_events ?? 0;
  const count = async (where: string) =>
    crash === undefined
      ? Number((await warehouse.query(`SELECT count(*) AS n FROM bronze_messages WHERE ${where}`))[0]?.n)
      : 0;
  const bronzeInvalid = await count("NOT valid");
  const withoutReason = await count(
    "NOT valid AND (coalesce(error_field, '') = '' OR coalesce(error_reason, '') = '')",
  );
  await warehouse.close();
  const result = {
    name: "fuzz",
    payloads: PAYLOADS,
    crashes: crash === undefined ? 0 : 1,
    bronze: counts.bronze_messages ?? 0,
    silver: counts.silver_events ?? 0,
    deadLetters: writes.deadLetter,
    duplicatesDropped: duplicates,
    deadLettersInBronze: bronzeInvalid,
    withoutReason,
    validSent: kinds.valid ?? 0,
    kinds,
    seconds: Math.round(seconds * 10) / 10,
    seed: SEED,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  const ok =
    crash === undefined &&
    result.bronze === PAYLOADS &&
    result.silver + result.deadLetters + duplicates === PAYLOADS &&
    result.deadLettersInBronze === result.deadLetters &&
    withoutReason === 0 &&
    result.silver >= result.validSent;
  if (!ok) {
    if (crash !== undefined) process.stderr.write(`crash (seed ${SEED}): ${crash}\n`);
    process.exitCode = 1;
  }
}

/** The messages as a bounded source, in one bundle per 1,000. */
function sourceOf(messages: readonly RawMessage[]): Source<RawMessage> {
  return {
    name: "Fuzz",
    bounded: true,
    open() {
      let at = 0;
      return {
        next() {
          if (at >= messages.length) return undefined;
          const values = messages.slice(at, at + 1_000);
          at += values.length;
          return { kind: "elements" as const, values, timestamps: values.map((m) => m.publishTime) };
        },
      };
    },
  };
}

main().catch((e) => {
  process.stderr.write(`fuzz (seed ${SEED}): ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
