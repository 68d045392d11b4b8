/**
 * The command line's progress line on a terminal (`\r` and the text, over the line before), redrawn at most every
 * `everyMs` of wall time, whatever the rate of the runner's steps that update it: the direct runner steps once per
 * source event (thousands a second), Prism once per reading of the job (every second).
 */
export class ProgressLine {
  private lastDrawnMs: number | undefined;

  constructor(
    private readonly write: (text: string) => void,
    private readonly everyMs = 250,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Draws `text()` when nothing was drawn yet or the last drawing is at least `everyMs` old; `text` is not asked else. */
  update(text: () => string): void {
    const now = this.now();
    if (this.lastDrawnMs !== undefined && now - this.lastDrawnMs < this.everyMs) return;
    this.lastDrawnMs = now;
    this.write(`\r${text()}`);
  }
}
