/**
 * The virtual clock: events run in time order, ties in the order they were scheduled, so a
 * run is the same every time. Time is in milliseconds and only moves when an event runs.
 */
interface Scheduled {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
}

export class VirtualClock {
  private heap: Scheduled[] = [];
  private seq = 0;
  private current = 0;
  /** Events run so far. */
  ran = 0;

  get now(): number {
    return this.current;
  }

  get pending(): number {
    return this.heap.length;
  }

  /** Runs `run` after `delayMs` (≥ 0) of virtual time. */
  after(delayMs: number, run: () => void): void {
    this.at(this.current + Math.max(0, delayMs), run);
  }

  at(time: number, run: () => void): void {
    const item: Scheduled = { at: Math.max(time, this.current), seq: this.seq++, run };
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, heap[parent] as Scheduled)) break;
      heap[i] = heap[parent] as Scheduled;
      i = parent;
    }
    heap[i] = item;
  }

  /** Runs events until none is left, `until` says stop, or the clock passes `limitMs`. */
  run(until: () => boolean = () => false, limitMs = Number.POSITIVE_INFINITY): void {
    while (this.heap.length > 0 && !until()) {
      const next = this.pop();
      if (next.at > limitMs) {
        this.at(next.at, next.run);
        this.current = limitMs;
        return;
      }
      this.current = next.at;
      this.ran++;
      next.run();
    }
  }

  private pop(): Scheduled {
    const heap = this.heap;
    const top = heap[0] as Scheduled;
    const last = heap.pop() as Scheduled;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child =
          right < heap.length && before(heap[right] as Scheduled, heap[left] as Scheduled) ? right : left;
        if (!before(heap[child] as Scheduled, last)) break;
        heap[i] = heap[child] as Scheduled;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
