import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { Pipeline } from "../../../core/pipeline.ts";
import { fixed } from "../../../core/windows/window-fn.ts";
import { DirectRunner } from "../../../runners/direct/direct-runner.ts";
import { createLogger, defaultLogFormat, errorFields } from "../../../runners/observe/log.ts";
import { parDo } from "../../../transforms/par-do.ts";
import { TestStream } from "../../../io/test-stream/test-stream.ts";
import { read } from "../../../transforms/read.ts";
import { window } from "../../../transforms/window-into.ts";

/** A logger's lines, kept in memory. */
function capture() {
  const lines: string[] = [];
  return { lines, stream: { write: (l: string) => void lines.push(l) } };
}

interface Msg {
  readonly message_id: string;
  readonly tenant_id: string;
  readonly n: number;
  readonly attributes: { readonly correlation_id: string };
}

/** Runs messages through a step that fails on message m-7 (synchronously, or after an await) and returns the error. */
async function failingRun(asynchronous: boolean): Promise<unknown> {
  const p = Pipeline.create();
  const messages: Msg[] = Array.from({ length: 10 }, (_, i) => ({
    message_id: `m-${i}`,
    tenant_id: "acme",
    n: i,
    attributes: { correlation_id: `req-${i}` },
  }));
  const stream = TestStream.create<Msg>()
    .addElements(...messages.map((m) => ({ value: m, timestamp: m.n * 1000 })))
    .advanceWatermarkToInfinity();
  p.apply(read(stream), "Messages")
    .apply(window<Msg>(fixed(60_000)))
    .apply(
      parDo<Msg, never>({
        process(m) {
          if (m.n !== 7) return undefined;
          if (!asynchronous) throw new Error("bad amount");
          return Promise.resolve().then(() => {
            throw new Error("bad amount");
          });
        },
      }),
      "Validate",
    );
  return new DirectRunner().run(p).then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe("the job's log", () => {
  it("writes JSON lines with level, time, message and fields", () => {
    const { lines, stream } = capture();
    const log = createLogger({ format: "json", name: "j" }, stream);
    log.info({ url: "http://x" }, "metrics: http://x");
    log.debug("hidden");
    const line = JSON.parse(lines[0] as string);
    expect(line).toMatchObject({ level: "info", job: "j", url: "http://x", msg: "metrics: http://x" });
    expect(new Date(line.time).toISOString()).toBe(line.time);
    expect(lines).toHaveLength(1);
  });

  it("writes Cloud Logging's JSON on Google Cloud: severity and message", () => {
    const { lines, stream } = capture();
    const log = createLogger({ format: "gcp", level: "debug" }, stream);
    log.warn({ reconnects: 2 }, "went away");
    log.debug("detail");
    log.error("failed");
    expect(lines.map((l) => JSON.parse(l))).toMatchObject([
      { severity: "WARNING", message: "went away", reconnects: 2 },
      { severity: "DEBUG", message: "detail" },
      { severity: "ERROR", message: "failed" },
    ]);
    expect(JSON.parse(lines[0] as string)).not.toHaveProperty("msg");
    expect(defaultLogFormat({ K_SERVICE: "svc" }, true)).toBe("gcp");
    expect(defaultLogFormat({ GOOGLE_CLOUD_PROJECT: "p", KUBERNETES_SERVICE_HOST: "10.0.0.1" }, false)).toBe("gcp");
    expect(defaultLogFormat({}, true)).toBe("text");
    expect(defaultLogFormat({}, false)).toBe("json");
  });

  it("writes text lines on a terminal, without repeating what the message says", () => {
    const { lines, stream } = capture();
    createLogger({ format: "text" }, stream).error({ err: "disk full", step: "WriteBronze" }, "error: disk full");
    expect(lines).toEqual(["ERROR error: disk full step=WriteBronze\n"]);
  });

  it.each([false, true])(
    "names the step, window, timestamp and the element's ids of a failure (asynchronous: %s)",
    async (asynchronous) => {
      const e = await failingRun(asynchronous);
      expect(errorFields(e)).toEqual({
        err: expect.stringContaining("bad amount"),
        step: "Validate",
        timestamp: "1970-01-01T00:00:07.000Z",
        window: "[1970-01-01T00:00:00.000Z, 1970-01-01T00:01:00.000Z)",
        element: { message_id: "m-7", tenant_id: "acme", correlation_id: "req-7" },
      });
    },
  );

  it("is what the command line writes on stderr (--log-format=json), an error with its reason", () => {
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "pipelines/user-sessions/cli.ts",
        "--warehouse=duckdb:/nonexistent/dir/x.duckdb",
        "--log-format=json",
      ],
      { encoding: "utf8" },
    );
    expect(r.status).toBe(1);
    const lines = r.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({
      level: "error",
      job: "user-sessions",
      err: "cannot open DuckDB warehouse at /nonexistent/dir/x.duckdb: directory /nonexistent/dir does not exist",
    });
  });
});
