import { parseArgs } from "node:util";
import type { KV } from "../../core/kv.ts";
import { Pipeline } from "../../core/pipeline.ts";
import { minutes, seconds } from "../../core/time/duration.ts";
import type { IntervalWindow } from "../../core/windows/window.ts";
import { readFixtureStream } from "../../io/test-stream/jsonl.ts";
import { DirectRunner } from "../../runners/direct/direct-runner.ts";
import { parDo } from "../../transforms/par-do.ts";
import { read } from "../../transforms/read.ts";
import { type PageView, type SessionSummary, userSessions } from "./user-sessions.ts";

const HELP = `Usage: npm run sessions -- [--input=FILE] [--gap-minutes=N] [--lateness-minutes=N] [--early-seconds=N]

Replays a fixture stream (JSON Lines, see io/test-stream/jsonl.ts) of page views through per-user session
windows on the streaming direct runner, printing every pane (EARLY, ON_TIME, LATE) and a summary.
Defaults: --input=test/fixtures/user-events.jsonl --gap-minutes=30 --lateness-minutes=30 --early-seconds=30
Environment: TIDEMARK_INPUT, TIDEMARK_GAP_MINUTES, TIDEMARK_LATENESS_MINUTES, TIDEMARK_EARLY_SECONDS.`;

function numberOption(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      input: { type: "string" },
      "gap-minutes": { type: "string" },
      "lateness-minutes": { type: "string" },
      "early-seconds": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const env = process.env;
  const input = values.input ?? env.TIDEMARK_INPUT ?? "test/fixtures/user-events.jsonl";
  const gapMs = minutes(numberOption("gap-minutes", values["gap-minutes"] ?? env.TIDEMARK_GAP_MINUTES, 30));
  const latenessMs = minutes(
    numberOption("lateness-minutes", values["lateness-minutes"] ?? env.TIDEMARK_LATENESS_MINUTES, 30),
  );
  const earlyMs = seconds(numberOption("early-seconds", values["early-seconds"] ?? env.TIDEMARK_EARLY_SECONDS, 30));

  const p = Pipeline.create();
  const panes = { EARLY: 0, ON_TIME: 0, LATE: 0, UNKNOWN: 0 };
  p.apply(read(readFixtureStream<PageView>(input)))
    .apply(userSessions({ gapMs, allowedLatenessMs: latenessMs, earlyFiringDelayMs: earlyMs }))
    .apply(
      parDo<KV<string, SessionSummary | null>, never>(
        {
          process([user, s], ctx) {
            const w = ctx.window as IntervalWindow;
            panes[ctx.pane.timing]++;
            const iso = (t: number) => new Date(t).toISOString().slice(11, 19);
            process.stdout.write(
              `${ctx.pane.timing.padEnd(7)} #${ctx.pane.index} ${user.padEnd(6)} session ${iso(w.start)}-${iso(w.end)} ` +
                `${String(s?.events ?? 0).padStart(2)} events, ${s?.entryPage ?? "-"} -> ${s?.exitPage ?? "-"}` +
                `${ctx.pane.isLast ? " (final)" : ""}\n`,
            );
          },
        },
        "Print",
      ),
    );
  const m = await new DirectRunner().run(p);
  const group = m.steps.find((s) => s.kind === "combinePerKey");
  const source = m.steps.find((s) => s.kind === "read");
  process.stdout.write(
    `\n${source?.elementsOut ?? 0} events in; panes: ${panes.EARLY} early, ${panes.ON_TIME} on time, ${panes.LATE} late; ` +
      `${group?.droppedLate ?? 0} dropped as too late (beyond ${latenessMs / 60000} min of allowed lateness)\n`,
  );
}

main().catch((e) => {
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
