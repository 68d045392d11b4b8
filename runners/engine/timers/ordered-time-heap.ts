/**
 * A binary min-heap of (time, seq, item): items due at the same time come out in `seq` order. The runner gives
 * each push a sequence number (the order things were set), so the order of timers due together does not depend on
 * the heap's history, and a run restored from a checkpoint (which keeps the numbers) fires them in the same order
 * as the run that was checkpointed.
 */
export class OrderedTimeHeap<T> {
  private times = new Float64Array(64);
  private seqs = new Float64Array(64);
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

  /** The sequence number of the first entry, or NaN when empty. */
  peekSeq(): number {
    return this.n === 0 ? Number.NaN : (this.seqs[0] as number);
  }

  push(time: number, seq: number, item: T): void {
    if (this.n === this.times.length) this.grow();
    let i = this.n++;
    const { times, seqs, items } = this;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = times[p] as number;
      if (pt < time || (pt === time && (seqs[p] as number) <= seq)) break;
      times[i] = pt;
      seqs[i] = seqs[p] as number;
      items[i] = items[p];
      i = p;
    }
    times[i] = time;
    seqs[i] = seq;
    items[i] = item;
  }

  /** Removes the first entry and returns its item. */
  pop(): T | undefined {
    if (this.n === 0) return undefined;
    const { times, seqs, items } = this;
    const top = items[0];
    const last = --this.n;
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
        if (r < last) {
          const rt = times[r] as number;
          const lt = times[l] as number;
          if (rt < lt || (rt === lt && (seqs[r] as number) < (seqs[l] as number))) c = r;
        }
        const ct = times[c] as number;
        if (t < ct || (t === ct && s <= (seqs[c] as number))) break;
        times[i] = ct;
        seqs[i] = seqs[c] as number;
        items[i] = items[c];
        i = c;
      }
      times[i] = t;
      seqs[i] = s;
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
    const seqs = new Float64Array(cap);
    seqs.set(this.seqs);
    this.seqs = seqs;
    this.items.length = cap;
  }
}
