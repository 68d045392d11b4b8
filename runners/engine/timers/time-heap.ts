/**
 * A binary min-heap of (time, item) pairs: the runner's timer queues. Times live in a growable Float64Array and
 * items in a parallel array, so a push allocates nothing once the arrays have grown. The order of equal times is
 * fixed by the sequence of pushes and pops, so runs are deterministic.
 */
export class TimeHeap<T> {
  private times = new Float64Array(64);
  private items: (T | undefined)[] = new Array(64);
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** The smallest time, or +Infinity when empty. */
  peekTime(): number {
    return this.n === 0 ? Number.POSITIVE_INFINITY : (this.times[0] as number);
  }

  peekItem(): T | undefined {
    return this.n === 0 ? undefined : this.items[0];
  }

  push(time: number, item: T): void {
    if (this.n === this.times.length) this.grow();
    let i = this.n++;
    const times = this.times;
    const items = this.items;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = times[p] as number;
      if (pt <= time) break;
      times[i] = pt;
      items[i] = items[p];
      i = p;
    }
    times[i] = time;
    items[i] = item;
  }

  /** Removes the smallest entry and returns its item. Call `peekTime` first for its time. */
  pop(): T | undefined {
    if (this.n === 0) return undefined;
    const items = this.items;
    const top = items[0];
    const last = --this.n;
    const times = this.times;
    const t = times[last] as number;
    const it = items[last];
    items[last] = undefined;
    if (last > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= last) break;
        const r = l + 1;
        const c = r < last && (times[r] as number) < (times[l] as number) ? r : l;
        const ct = times[c] as number;
        if (t <= ct) break;
        times[i] = ct;
        items[i] = items[c];
        i = c;
      }
      times[i] = t;
      items[i] = it;
    }
    return top;
  }

  /** The items, in no particular order (for checkpoints). */
  values(): T[] {
    return this.items.slice(0, this.n) as T[];
  }

  clear(): void {
    this.items.fill(undefined, 0, this.n);
    this.n = 0;
  }

  private grow(): void {
    const cap = this.times.length * 2;
    const times = new Float64Array(cap);
    times.set(this.times);
    this.times = times;
    this.items.length = cap;
  }
}
