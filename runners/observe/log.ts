import { type DestinationStream, type Logger, pino } from "pino";
import { formatInstant, MAX_TIMESTAMP, MIN_TIMESTAMP } from "../../core/time/instant.ts";
import { IntervalWindow } from "../../core/windows/window.ts";
import { StepError } from "../fn/step-error.ts";

/** How a job logs: `text` (lines for a terminal), `json` (one JSON object per line), `gcp` (Cloud Logging's JSON). */
export const LOG_FORMATS = ["text", "json", "gcp"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Cloud Logging's severities for pino's levels. */
const SEVERITY: Record<string, string> = {
  trace: "DEBUG",
  debug: "DEBUG",
  info: "INFO",
  warn: "WARNING",
  error: "ERROR",
  fatal: "CRITICAL",
};

/**
 * The format a job logs in when none is asked for: Cloud Logging's on Google Cloud (Cloud Run, GKE, Compute Engine
 * name themselves in the environment: `K_SERVICE`, `KUBERNETES_SERVICE_HOST` with `GOOGLE_CLOUD_PROJECT`), text on
 * a terminal, JSON lines otherwise (a file, a log collector).
 */
export function defaultLogFormat(env: NodeJS.ProcessEnv = process.env, tty = process.stderr.isTTY === true): LogFormat {
  if (env.K_SERVICE !== undefined || (env.GOOGLE_CLOUD_PROJECT !== undefined && env.KUBERNETES_SERVICE_HOST)) {
    return "gcp";
  }
  return tty ? "text" : "json";
}

/**
 * A pino logger writing to `destination` (default stderr) in `format`. JSON lines carry `level` (a name), `time`
 * (ISO 8601), `msg` and the fields given; `gcp` lines carry Cloud Logging's `severity`, `message` and `time`, and the
 * fields as the entry's JSON payload; `text` writes `LEVEL message key=value ...` lines.
 */
export function createLogger(
  options: { readonly format: LogFormat; readonly level?: LogLevel; readonly name?: string },
  destination: DestinationStream = pino.destination({ dest: 2, sync: true }),
): Logger {
  const level = options.level ?? "info";
  const base = options.name === undefined ? {} : { job: options.name };
  if (options.format === "text") {
    return pino(
      { level, base, timestamp: false, formatters: { level: (label) => ({ level: label }) } },
      textStream(destination),
    );
  }
  const gcp = options.format === "gcp";
  return pino(
    {
      level,
      base,
      messageKey: gcp ? "message" : "msg",
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
      formatters: {
        level: (label) => (gcp ? { severity: SEVERITY[label] ?? "DEFAULT" } : { level: label }),
      },
    },
    destination,
  );
}

/** pino's JSON lines as `LEVEL message key=value ...` for a terminal. */
function textStream(out: DestinationStream): DestinationStream {
  return {
    write(line: string) {
      const { level, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
      const text = String(msg ?? "");
      const rest = Object.entries(fields)
        // A field the message already says (an error's text) is not repeated.
        .filter(([, v]) => !(typeof v === "string" && text.includes(v)))
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ");
      out.write(`${String(level).toUpperCase()} ${text}${rest === "" ? "" : ` ${rest}`}\n`);
    },
  };
}

/**
 * Fields of an element that say which message or event it is (looked for two levels down: a KV's value, a message's
 * attributes, where the correlation id is).
 */
const ELEMENT_KEYS = [
  "message_id",
  "messageId",
  "correlation_id",
  "event_id",
  "eventId",
  "tenant_id",
  "tenantId",
  "user_id",
  "userId",
];

/**
 * An error as log fields: its message and, for a step's failure, where: the step, the element's timestamp and window,
 * and what identifies the element (message id, event id, tenant, user) when it has such fields.
 */
export function errorFields(e: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = { err: e instanceof Error ? e.message : String(e) };
  let step: StepError | undefined;
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    if (c instanceof StepError) {
      step = c;
      break;
    }
  }
  if (step !== undefined) {
    out.step = step.step;
    if (step.timestamp !== undefined) out.timestamp = iso(step.timestamp);
    const w = step.window;
    if (w !== undefined) out.window = w instanceof IntervalWindow ? `[${iso(w.start)}, ${iso(w.end)})` : w.toString();
    const element = elementIds(step.element);
    if (element !== undefined) out.element = element;
  }
  return out;
}

/** An instant as ISO 8601 (the ends of time as the engine writes them). */
function iso(t: number): string {
  return t > MIN_TIMESTAMP && t < MAX_TIMESTAMP ? new Date(t).toISOString() : formatInstant(t);
}

function elementIds(element: unknown): Record<string, unknown> | undefined {
  const found: Record<string, unknown> = {};
  const look = (v: unknown, depth: number) => {
    if (typeof v !== "object" || v === null || depth > 2) return;
    if (Array.isArray(v)) {
      for (const x of v.slice(0, 2)) look(x, depth + 1);
      return;
    }
    for (const k of ELEMENT_KEYS) {
      const x = (v as Record<string, unknown>)[k];
      if ((typeof x === "string" || typeof x === "number") && !(k in found)) found[k] = x;
    }
    for (const x of Object.values(v as Record<string, unknown>)) {
      if (typeof x === "object") look(x, depth + 1);
    }
  };
  look(element, 0);
  return Object.keys(found).length === 0 ? undefined : found;
}
