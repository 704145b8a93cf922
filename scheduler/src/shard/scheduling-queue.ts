/**
 * Which groups to try, and when. Event-driven, like kube-scheduler's queue:
 *   active         – try in the next cycle
 *   waiting        – gathering members (settle window or min-member not reached yet)
 *   backoff        – failed recently; tried again once its backoff expires
 *   unschedulable  – did not fit; tried again when something relevant changes (a node added or
 *                    changed, a pod deleted or finished, a member added) once backoff allows,
 *                    or after the flush interval as a safety net
 *   inflight       – binds or evictions under way
 * Backoff doubles from initialBackoffMs up to maxBackoffMs per failed attempt.
 */

export type QueueState = "active" | "waiting" | "backoff" | "unschedulable" | "inflight";

interface Entry {
  state: QueueState;
  attempts: number;
  /** Not before this time (backoff, waiting). */
  notBefore: number;
  /** When it became unschedulable (for the flush). */
  since: number;
  /** Something relevant happened while in flight: try again afterwards. */
  dirty: boolean;
}

export interface QueueOptions {
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Unschedulable groups are retried at least this often even without events. */
  unschedulableFlushMs: number;
}

export const defaultQueueOptions: QueueOptions = {
  initialBackoffMs: 1_000,
  maxBackoffMs: 10_000,
  unschedulableFlushMs: 60_000,
};

export class SchedulingQueue {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: QueueOptions = defaultQueueOptions) {}

  /** A group has (new) pending members. */
  add(id: string, now: number): void {
    const entry = this.entries.get(id);
    if (!entry) {
      this.entries.set(id, { state: "active", attempts: 0, notBefore: now, since: now, dirty: false });
      return;
    }
    this.wake(entry, now);
  }

  remove(id: string): void {
    this.entries.delete(id);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  state(id: string): QueueState | undefined {
    return this.entries.get(id)?.state;
  }

  /** Something changed that may let unschedulable groups fit. */
  wakeUnschedulable(now: number): void {
    for (const entry of this.entries.values()) {
      if (entry.state === "unschedulable" || entry.state === "inflight") this.wake(entry, now);
    }
  }

  private wake(entry: Entry, now: number): void {
    switch (entry.state) {
      case "inflight":
        entry.dirty = true;
        break;
      case "unschedulable":
        entry.state = entry.notBefore <= now ? "active" : "backoff";
        break;
      case "waiting":
        entry.state = "active";
        break;
      default:
        break;
    }
  }

  /** Groups to try now; they become in flight until done() is called. */
  pop(now: number): string[] {
    const ready: string[] = [];
    for (const [id, entry] of this.entries) {
      const due =
        entry.state === "active" ||
        ((entry.state === "backoff" || entry.state === "waiting") && entry.notBefore <= now) ||
        (entry.state === "unschedulable" && now - entry.since >= this.options.unschedulableFlushMs);
      if (due) {
        entry.state = "inflight";
        entry.dirty = false;
        ready.push(id);
      }
    }
    return ready;
  }

  /**
   * The outcome of an attempt:
   *   scheduled     – every pending member is bound (or binding); forget the group
   *   waiting       – not ready yet; look again at `until` or when a member arrives
   *   unschedulable – did not fit (or waits for victims to leave)
   *   retry         – a transient error
   */
  done(
    id: string,
    outcome: "scheduled" | "waiting" | "unschedulable" | "retry",
    now: number,
    until = now,
  ): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    if (outcome === "scheduled") {
      if (entry.dirty) Object.assign(entry, { state: "active", attempts: 0, dirty: false });
      else this.entries.delete(id);
      return;
    }
    if (outcome === "waiting") {
      entry.state = entry.dirty ? "active" : "waiting";
      entry.notBefore = until;
      entry.dirty = false;
      return;
    }
    entry.attempts++;
    entry.notBefore = now + this.backoff(entry.attempts);
    entry.since = now;
    entry.state = outcome === "retry" ? "backoff" : entry.dirty ? "backoff" : "unschedulable";
    entry.dirty = false;
  }

  backoff(attempts: number): number {
    return Math.min(
      this.options.initialBackoffMs * 2 ** Math.max(0, attempts - 1),
      this.options.maxBackoffMs,
    );
  }

  /** When the queue next has something due without any event, or undefined. */
  nextDueAt(): number | undefined {
    let next: number | undefined;
    for (const entry of this.entries.values()) {
      let at: number | undefined;
      if (entry.state === "backoff" || entry.state === "waiting") at = entry.notBefore;
      else if (entry.state === "unschedulable") at = entry.since + this.options.unschedulableFlushMs;
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  hasActive(): boolean {
    for (const entry of this.entries.values()) if (entry.state === "active") return true;
    return false;
  }

  counts(): Record<QueueState, number> {
    const counts: Record<QueueState, number> = {
      active: 0,
      waiting: 0,
      backoff: 0,
      unschedulable: 0,
      inflight: 0,
    };
    for (const entry of this.entries.values()) counts[entry.state]++;
    return counts;
  }
}
