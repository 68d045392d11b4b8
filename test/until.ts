/** How `until` waits. */
export interface UntilOptions {
  /** Fail when the condition does not hold by then. Default 30 s. */
  readonly timeoutMs?: number;
  /** How often the condition is asked. Default 50 ms. */
  readonly pollMs?: number;
  /** Where things stood, for the failure's message. */
  readonly state?: () => string;
}

/**
 * Waits until `condition()` holds, asking every `pollMs`; fails when `timeoutMs` passes first, naming what was awaited
 * (`what`) and where things stood. A test waits on what it needs to have happened (a log line, a checkpoint, a count),
 * never a fixed time: the deadline only bounds a wait that would otherwise hang.
 */
export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  options: UntilOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      const state = options.state === undefined ? "" : `: ${options.state()}`;
      throw new Error(`${what}: not within ${timeoutMs} ms${state}`);
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 50));
  }
}
