/** Transient errors are retried this many times, with exponential backoff from RETRY_BASE_MS (12.6 s in all). */
const RETRIES = 6;
const RETRY_BASE_MS = 200;

/**
 * Runs `body`, retrying it on transient errors (see `transient`) up to RETRIES times with exponential backoff; a
 * permanent error, or the last transient one, is thrown (the last saying how many attempts were made).
 */
export async function retrying<T>(
  what: string,
  body: () => Promise<T>,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await body();
    } catch (e) {
      if (attempt >= RETRIES || !transient(e)) {
        throw attempt === 0
          ? e
          : new Error(`${what} failed after ${attempt + 1} attempts: ${message(e)}`, { cause: e });
      }
      await sleep(RETRY_BASE_MS * 2 ** attempt);
    }
  }
}

/**
 * Whether an error is worth retrying: gRPC DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, UNAVAILABLE; HTTP 429,
 * 502, 503, 504; a connection reset or refused; the emulator's "database is locked" (its SQLite takes one writer at
 * a time: a query from another client, a dashboard or a test, can hold it a moment). Not HTTP 500 otherwise: the emulator answers bad data with 500 (real BigQuery's
 * transient 500s are rare, and a failed batch is written again after the run restarts from its checkpoint).
 */
export function transient(e: unknown): boolean {
  if (/database is locked/.test(message(e))) return true;
  const code = (e as { code?: unknown })?.code;
  if (typeof code === "number") return [4, 8, 10, 14, 429, 502, 503, 504].includes(code);
  return /ECONNRESET|ECONNREFUSED|socket hang up/.test(message(e));
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
