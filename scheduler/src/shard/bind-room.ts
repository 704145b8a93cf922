/**
 * Room for binds in flight, counted in pods: a group takes its bind ticket only once all its
 * members' binds can go out at once.
 *
 * A bind ticket (sharding/ownership.ts) held by a group whose binds wait in a queue still
 * holds up the adoption of a new ring epoch: a shard acknowledges an epoch only after every
 * ticket it granted under the old one was released. A shard that decided hundreds of pods in
 * one burst would otherwise hold hundreds of tickets while the API server works through
 * `--bind-concurrency` of them at a time, and every shard would wait for that queue to drain
 * before binding under the new ring. Waiting here instead holds no ticket: the epoch is
 * adopted meanwhile, and the group's ticket is asked for under the ring that holds by then
 * (a group whose nodes moved is fenced and placed again by their new owner).
 *
 * Groups are let in first come, first served; a group larger than the room goes in alone.
 */
export class BindRoom {
  private used = 0;
  private readonly waiting: { readonly pods: number; readonly enter: (release: () => void) => void }[] = [];

  constructor(private readonly capacity: number) {}

  /** Pods whose binds hold room now. */
  get inFlight(): number {
    return this.used;
  }

  /** Resolves with a release once `pods` binds may go out (release exactly once, when they ended). */
  enter(pods: number): Promise<() => void> {
    if (this.waiting.length === 0 && this.fits(pods)) return Promise.resolve(this.take(pods));
    return new Promise((enter) => this.waiting.push({ pods, enter }));
  }

  /** Lets every group waiting in (the shard is stopping: their tickets will be refused). */
  openAll(): void {
    for (const waiter of this.waiting.splice(0)) waiter.enter(this.take(waiter.pods));
  }

  private fits(pods: number): boolean {
    return this.used === 0 || this.used + pods <= this.capacity;
  }

  private take(pods: number): () => void {
    this.used += pods;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= pods;
      this.admit();
    };
  }

  private admit(): void {
    for (;;) {
      const next = this.waiting[0];
      if (next === undefined || !this.fits(next.pods)) return;
      this.waiting.shift();
      next.enter(this.take(next.pods));
    }
  }
}
