import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { pubsubClient } from "../../io/pubsub/client.ts";
import {
  countByReason,
  type DeadLetterFilter,
  type DeadLetterRecord,
  type GroupBy,
  isSelected,
  MISROUTED_ATTRIBUTE,
  REPLAY_OF_ATTRIBUTE,
  showPayload,
  tenantOf,
} from "./dead-letter-record.ts";
import { planReplay, publishReplays } from "./dead-letter-replay.ts";
import { type DeadLetterSource, openDeadLetterSource } from "./dead-letter-sources.ts";

const DEFAULT_FROM = "duckdb://./data/tidemark.duckdb";

const HELP = `Usage: npm run dead-letters -- list|show|replay [options]

The messages the pipeline refused, read from a dead-letter subscription or from Bronze's invalid rows.
  list    counts by reason (field and reason class; --by=field, --by=reason for the exact text)
  show    the selected messages: attributes and payload (text when it is UTF-8, else base64, said which)
  replay  republishes the selected messages to the input topic, bytes and attributes as received, with the
          attributes ${REPLAY_OF_ATTRIBUTE}=<original message id> and tidemark_replayed_at=<ISO time>.
          Never replays a copy marked ${MISROUTED_ATTRIBUTE} (its tenant's worker has the message); refuses a message
          Bronze already holds a replay of (--from Bronze, or --bronze), unless --force. A subscription's replayed
          messages are acknowledged (--keep leaves them).

  --from=SOURCE          pubsub://projects/P/subscriptions/S (the dead-letter feed's subscription, or a dead-letter
                         topic's), duckdb://PATH or bigquery://PROJECT/DATASET (Bronze). Default ${DEFAULT_FROM}.
                         A subscription is read without consuming it: each message is held until the read ends, then
                         given back (nacked), unless --ack (list, show) or replayed.
  --to=pubsub://projects/P/topics/T   replay: the pipeline's input topic
  --id=ID                the original message's id (repeatable, or comma-separated)
  --tenant=T             the tenant_id attribute (else the payload's tenant_id)
  --field=F              the field at fault, exactly (e.g. payload, event_time, attributes.tenant_id)
  --reason=TEXT          text the reason contains
  --since=TIME --until=TIME   publish time in [since, until): ISO-8601 with an offset, or epoch ms
  --by=class|field|reason     list: how to group (default class)
  --limit=N              show: at most N messages (default 20)
  --all                  replay: every dead letter (replay needs a selection or --all)
  --dry-run              replay: say what would be replayed, publish nothing, consume nothing
  --force                replay: also messages Bronze already has a replay of
  --keep                 replay: leave the replayed messages in the subscription
  --bronze=WAREHOUSE     replay from a subscription: refuse the messages this Bronze (duckdb://PATH or
                         bigquery://PROJECT/DATASET) already holds a replay of
  --ack                  list, show: acknowledge (consume) the selected messages of the subscription
  --max-messages=N       read at most N messages from a subscription
  --lease-seconds=N      how long the read holds each message (10 to 600, default 300)
  --pubsub-endpoint=HOST:PORT     the Pub/Sub emulator (TIDEMARK_PUBSUB_ENDPOINT, PUBSUB_EMULATOR_HOST)
  --bigquery-endpoint=URL         the BigQuery emulator (TIDEMARK_BIGQUERY_ENDPOINT)
  --json                 machine-readable output
  --help`;

type Command = "list" | "show" | "replay";

/** The command line, read and checked. */
export interface DeadLetterArgs {
  readonly command: Command;
  readonly from: string;
  readonly to?: string;
  readonly filter: DeadLetterFilter;
  readonly by: GroupBy;
  readonly limit: number;
  readonly all: boolean;
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly keep: boolean;
  /** Replay from a subscription: the Bronze whose replays are refused. */
  readonly bronze?: string;
  readonly ack: boolean;
  readonly json: boolean;
  readonly maxMessages?: number;
  readonly leaseSeconds?: number;
  readonly pubsubEndpoint?: string;
  readonly bigqueryEndpoint?: string;
}

/** A time option: ISO-8601 with an offset, or epoch ms. */
function timeOption(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  if (!/([zZ]|[+-]\d\d:?\d\d)$/.test(v) || !Number.isFinite(Date.parse(v))) {
    throw new Error(`--${name} must be ISO-8601 with an offset (e.g. 2026-01-05T06:00:00Z) or epoch ms, got ${v}`);
  }
  return Date.parse(v);
}

function intOption(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max)
    throw new Error(`--${name} must be a whole number ${min} to ${max}, got ${v}`);
  return n;
}

/** Reads the command line; undefined for --help. Throws naming the option that is wrong. */
export function parseDeadLetterArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): DeadLetterArgs | undefined {
  const { values: v, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      from: { type: "string" },
      to: { type: "string" },
      id: { type: "string", multiple: true },
      tenant: { type: "string" },
      field: { type: "string" },
      reason: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      by: { type: "string" },
      limit: { type: "string" },
      all: { type: "boolean" },
      "dry-run": { type: "boolean" },
      force: { type: "boolean" },
      keep: { type: "boolean" },
      bronze: { type: "string" },
      ack: { type: "boolean" },
      json: { type: "boolean" },
      "max-messages": { type: "string" },
      "lease-seconds": { type: "string" },
      "pubsub-endpoint": { type: "string" },
      "bigquery-endpoint": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (v.help) return undefined;
  const command = positionals[0];
  if (command !== "list" && command !== "show" && command !== "replay") {
    throw new Error(`the command is list, show or replay, got ${JSON.stringify(command ?? "")} (--help)`);
  }
  if (positionals.length > 1) throw new Error(`unexpected arguments: ${positionals.slice(1).join(" ")}`);
  const by = v.by ?? "class";
  if (by !== "class" && by !== "field" && by !== "reason") {
    throw new Error(`--by must be class, field or reason, got ${by}`);
  }
  const ids = v.id
    ?.flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const filter: DeadLetterFilter = {
    ...(ids === undefined ? {} : { ids }),
    ...(v.tenant === undefined ? {} : { tenant: v.tenant }),
    ...(v.field === undefined ? {} : { field: v.field }),
    ...(v.reason === undefined ? {} : { reason: v.reason }),
    ...(v.since === undefined ? {} : { sinceMs: timeOption("since", v.since) }),
    ...(v.until === undefined ? {} : { untilMs: timeOption("until", v.until) }),
  };
  const only = (flag: string, set: boolean | undefined, commands: readonly Command[]) => {
    if (set && !commands.includes(command))
      throw new Error(`--${flag} is for ${commands.join(" and ")}, not ${command}`);
  };
  only("to", v.to !== undefined, ["replay"]);
  only("all", v.all, ["replay"]);
  only("dry-run", v["dry-run"], ["replay"]);
  only("force", v.force, ["replay"]);
  only("keep", v.keep, ["replay"]);
  only("bronze", v.bronze !== undefined, ["replay"]);
  if (v.bronze !== undefined && !(v.from ?? DEFAULT_FROM).startsWith("pubsub://")) {
    throw new Error("--bronze is for a replay from a subscription (a replay from Bronze checks that Bronze itself)");
  }
  if (v.bronze !== undefined && !/^(duckdb:|bigquery:\/\/)/.test(v.bronze)) {
    throw new Error(`--bronze must be duckdb://PATH or bigquery://PROJECT/DATASET, got ${v.bronze}`);
  }
  only("ack", v.ack, ["list", "show"]);
  only("by", v.by !== undefined, ["list"]);
  only("limit", v.limit !== undefined, ["show"]);
  if (command === "replay") {
    if (v.to === undefined || !/^pubsub:\/\/projects\/[^/]+\/topics\/[^/]+$/.test(v.to)) {
      throw new Error(`replay needs --to=pubsub://projects/P/topics/T (the input topic), got ${v.to ?? "none"}`);
    }
    if (!v.all && Object.keys(filter).length === 0) {
      throw new Error("replay needs a selection (--id, --tenant, --field, --reason, --since, --until) or --all");
    }
    if (v.all && Object.keys(filter).length > 0) throw new Error("--all is every dead letter: not with a selection");
  }
  const maxMessages = intOption("max-messages", v["max-messages"], 1, Number.MAX_SAFE_INTEGER);
  const leaseSeconds = intOption("lease-seconds", v["lease-seconds"], 10, 600);
  const pubsubEndpoint = v["pubsub-endpoint"] ?? env.TIDEMARK_PUBSUB_ENDPOINT;
  const bigqueryEndpoint = v["bigquery-endpoint"] ?? env.TIDEMARK_BIGQUERY_ENDPOINT;
  return {
    command,
    from: v.from ?? DEFAULT_FROM,
    ...(v.to === undefined ? {} : { to: v.to }),
    filter,
    by,
    limit: intOption("limit", v.limit, 1, Number.MAX_SAFE_INTEGER) ?? 20,
    all: v.all ?? false,
    dryRun: v["dry-run"] ?? false,
    force: v.force ?? false,
    keep: v.keep ?? false,
    ...(v.bronze === undefined ? {} : { bronze: v.bronze }),
    ack: v.ack ?? false,
    json: v.json ?? false,
    ...(maxMessages === undefined ? {} : { maxMessages }),
    ...(leaseSeconds === undefined ? {} : { leaseSeconds }),
    ...(pubsubEndpoint === undefined ? {} : { pubsubEndpoint }),
    ...(bigqueryEndpoint === undefined ? {} : { bigqueryEndpoint }),
  };
}

/** A dead letter as `show --json` prints it. */
export interface ShownDeadLetter {
  readonly message_id: string;
  readonly publish_time: string;
  readonly tenant: string | null;
  readonly error: { readonly field: string; readonly reason: string };
  readonly misrouted: boolean;
  readonly attributes: Readonly<Record<string, string>>;
  readonly payload_encoding: "utf8" | "base64";
  readonly payload: string;
  readonly payload_bytes: number;
}

export function shown(r: DeadLetterRecord): ShownDeadLetter {
  const p = showPayload(r.data);
  return {
    message_id: r.messageId,
    publish_time: new Date(r.publishTime).toISOString(),
    tenant: tenantOf(r) ?? null,
    error: { field: r.field, reason: r.reason },
    misrouted: r.misrouted,
    attributes: r.attributes,
    payload_encoding: p.encoding,
    payload: p.payload,
    payload_bytes: r.data.length,
  };
}

/** Columns padded to their widest cell. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === 0 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** Runs one command; returns the exit code (0, or 1 when a replay failed to publish). */
export async function runDeadLetters(a: DeadLetterArgs, write: (s: string) => void): Promise<number> {
  const source: DeadLetterSource = openDeadLetterSource(a.from, a);
  let consumed: DeadLetterRecord[] = [];
  try {
    const all = await source.read();
    const selected = all.filter((r) => isSelected(r, a.filter));
    if (a.command === "list") {
      const counts = countByReason(selected, a.by);
      if (a.ack) consumed = selected;
      if (a.json) {
        write(`${JSON.stringify({ source: a.from, total: selected.length, by: a.by, counts, acknowledged: a.ack })}\n`);
      } else {
        write(`${selected.length} dead letters in ${a.from}${a.ack ? " (acknowledged)" : ""}\n`);
        if (counts.length > 0) {
          const rows = counts.map((c) => [String(c.count), c.field, c.reason]);
          write(
            `${table(["count", "field", a.by === "reason" ? "reason" : a.by === "field" ? "" : "reason (class)"], rows)}\n`,
          );
        }
      }
      return 0;
    }
    if (a.command === "show") {
      const some = selected.slice(0, a.limit);
      if (a.ack) consumed = some;
      if (a.json) {
        write(`${JSON.stringify(some.map(shown))}\n`);
        return 0;
      }
      for (const s of some.map(shown)) {
        write(
          `message ${s.message_id} published ${s.publish_time}${s.tenant === null ? "" : ` (tenant ${s.tenant})`}\n` +
            `  error: ${s.error.field} ${s.error.reason}${s.misrouted ? ` [${MISROUTED_ATTRIBUTE}: not to replay]` : ""}\n` +
            `  attributes: ${JSON.stringify(s.attributes)}\n` +
            `  payload (${s.payload_encoding}, ${s.payload_bytes} bytes): ${s.payload}\n`,
        );
      }
      write(`${some.length} of ${selected.length} selected (${all.length} dead letters in ${a.from})\n`);
      return 0;
    }
    return await replay(a, source, selected, write, (done) => {
      consumed = done;
    });
  } finally {
    await source.close(consumed);
  }
}

/** The replays Bronze holds: the source's own (Bronze), or `--bronze`'s for a subscription. */
async function replaysIn(
  a: DeadLetterArgs,
  source: DeadLetterSource,
): Promise<ReadonlyMap<string, readonly string[]> | undefined> {
  if (a.bronze === undefined) return source.replays();
  const bronze = openDeadLetterSource(a.bronze, a);
  try {
    return await bronze.replays();
  } finally {
    await bronze.close();
  }
}

async function replay(
  a: DeadLetterArgs,
  source: DeadLetterSource,
  selected: readonly DeadLetterRecord[],
  write: (s: string) => void,
  consume: (done: DeadLetterRecord[]) => void,
): Promise<number> {
  const plan = planReplay(selected, await replaysIn(a, source), a.force);
  const to = (a.to as string).slice("pubsub://".length);
  const [, project] = /^projects\/([^/]+)\//.exec(to) as RegExpExecArray;
  let outcomes: Awaited<ReturnType<typeof publishReplays>> = [];
  if (!a.dryRun && plan.replay.length > 0) {
    const pubsub = pubsubClient(project as string, a.pubsubEndpoint);
    try {
      outcomes = await publishReplays(pubsub, to, plan.replay, new Date());
    } finally {
      await pubsub.close();
    }
    if (!a.keep) consume(outcomes.filter((o) => o.ok).map((o) => o.record));
  }
  const failed = outcomes.filter((o) => !o.ok);
  if (a.json) {
    write(
      `${JSON.stringify({
        source: a.from,
        to: a.to,
        dry_run: a.dryRun,
        selected: selected.length,
        replayed: a.dryRun
          ? plan.replay.map((r) => ({ message_id: r.messageId }))
          : outcomes.flatMap((o) => (o.ok ? [{ message_id: o.record.messageId, replay_id: o.replayId }] : [])),
        failed: failed.map((o) => ({ message_id: o.record.messageId, error: o.ok ? "" : o.error })),
        skipped_misrouted: plan.misrouted.map((r) => r.messageId),
        skipped_already_replayed: plan.alreadyReplayed.map((s) => ({
          message_id: s.record.messageId,
          replays: s.replays,
        })),
      })}\n`,
    );
  } else {
    const n = a.dryRun ? plan.replay.length : outcomes.length - failed.length;
    write(
      `${a.dryRun ? "would replay" : "replayed"} ${n} of ${selected.length} selected dead letters to ${a.to}` +
        ` (attribute ${REPLAY_OF_ATTRIBUTE})\n`,
    );
    for (const o of outcomes) {
      write(o.ok ? `  ${o.record.messageId} -> ${o.replayId}\n` : `  ${o.record.messageId} FAILED: ${o.error}\n`);
    }
    if (a.dryRun) for (const r of plan.replay) write(`  ${r.messageId}\n`);
    if (plan.misrouted.length > 0) {
      write(
        `skipped ${plan.misrouted.length} copies marked ${MISROUTED_ATTRIBUTE} (their tenant's worker has the ` +
          `message): ${plan.misrouted.map((r) => r.messageId).join(", ")}\n`,
      );
    }
    if (plan.alreadyReplayed.length > 0) {
      write(
        `skipped ${plan.alreadyReplayed.length} already replayed (Bronze has their replay; --force replays again): ` +
          `${plan.alreadyReplayed.map((s) => `${s.record.messageId} (as ${s.replays.join(", ")})`).join("; ")}\n`,
      );
    }
  }
  return failed.length > 0 ? 1 : 0;
}

async function main(): Promise<void> {
  // Output piped to a command that stops reading (| head): the read still ends as it should (messages given back).
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
  });
  const args = parseDeadLetterArgs(process.argv.slice(2), process.env);
  if (args === undefined) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  process.exitCode = await runDeadLetters(args, (s) => process.stdout.write(s));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
