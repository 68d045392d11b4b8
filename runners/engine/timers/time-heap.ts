/**
 * A binary min-heap of (time, item) pairs: the runner's timer queue. Times live in a growable Float64Array and
 * items in a parallel array, so a push allocates nothing once the arrays have grown. Ties pop in insertion order
 * (a sequence number breaks them), which keeps runs deterministic.
 */
export class TimeHeap<T> {
  private times = new Float64Array(64);
  private seqs = new Float64Array(64);
  private items: (T | undefined)[] = new Array(64);
  private n = 0;
  private seq = 0;

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
    const s = this.seq++;
    const times = this.times;
    const seqs = this.seqs;
    const items = this.items;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = times[p] as number;
      if (pt < time || (pt === time && (seqs[p] as number) < s)) break;
      times[i] = pt;
      seqs[i] = seqs[p] as number;
      items[i] = items[p];
      i = p;
    }
    times[i] = time;
    seqs[i] = s;
    items[i] = item;
  }

  /** Removes the smallest entry and returns its item. Call `peekTime` first for its time. */
  pop(): T | undefined {
    if (this.n === 0) return undefined;
    const top = this.items[0];
    const last = --this.n;
    const times = this.times;
    const seqs = this.seqs;
    const items = this.items;
    const t = times[last] as number;
    const s = seqs[last] as number;
    const it = items[last];
    items[last] = undefined;
    if (last > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= last) break;
        const r = l + 1;
        let c = l;
        if (
          r < last &&
          ((times[r] as number) < (times[l] as number) ||
            ((times[r] as number) === (times[l] as number) && (seqs[r] as number) < (seqs[l] as number)))
        )
          c = r;
        const ct = times[c] as number;
        if (t < ct || (t === ct && s < (seqs[c] as number))) break;
        times[i] = ct;
        seqs[i] = seqs[c] as number;
        items[i] = items[c];
        i = c;
      }
      times[i] = t;
      seqs[i] = s;
      items[i] = it;
    }
    if (this.n === 0) this.seq = 0;
    return top;
  }

  clear(): void {
    this.items.fill(undefined, 0, this.n);
    this.n = 0;
    this.seq = 0;
  }

  private grow(): void {
    const cap = this.times.length * 2;
    const times = new Float64Array(cap);
    times.set(this.times);
    const seqs = new Float64Array(cap);
    seqs.set(this.seqs);
    this.times = times;
    this.seqs = seqs;
    this.items.length = cap;
  }
}
