import { describe, expect, it } from "vitest";
import { retrying, transient } from "../../../io/bigquery/retry.ts";

const coded = (code: number, message = `code ${code}`) => Object.assign(new Error(message), { code });

describe("retrying", () => {
  it("retries transient errors with exponential backoff and returns the first success", async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const result = await retrying(
      "append",
      async () => {
        calls++;
        if (calls < 3) throw coded(14, "UNAVAILABLE");
        return "ok";
      },
      async (ms) => {
        sleeps.push(ms);
      },
    );
    expect(result).toBe("ok");
    expect(calls).toBe(3);
    expect(sleeps).toEqual([200, 400]);
  });

  it("gives up after seven attempts, naming what failed and the last error", async () => {
    let calls = 0;
    const run = retrying(
      "Storage Write API append to t",
      async () => {
        calls++;
        throw coded(503, "backend unavailable");
      },
      async () => undefined,
    );
    await expect(run).rejects.toThrow("Storage Write API append to t failed after 7 attempts: backend unavailable");
    expect(calls).toBe(7);
  });

  it("does not retry a permanent error, and throws it as it is", async () => {
    let calls = 0;
    const bad = coded(3, "INVALID_ARGUMENT: no such field");
    await expect(
      retrying(
        "append",
        async () => {
          calls++;
          throw bad;
        },
        async () => undefined,
      ),
    ).rejects.toBe(bad);
    expect(calls).toBe(1);
  });

  it("classifies errors", () => {
    expect([4, 8, 10, 14, 429, 502, 503, 504].map((c) => transient(coded(c)))).toEqual(Array(8).fill(true));
    expect([3, 5, 7, 13, 400, 404, 500].map((c) => transient(coded(c)))).toEqual(Array(7).fill(false));
    expect(transient(new Error("read ECONNRESET"))).toBe(true);
    expect(transient(new Error("syntax error"))).toBe(false);
  });
});
