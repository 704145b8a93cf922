/**
 * Which groups to try, and when. Event-driven, like kube-scheduler's queue:
 *   active         – try in the next cycle
 *   incomplete     – gathering members (settle window or min-member not reached yet)
 *   backoff        – failed recently; tried again once its backoff expires
 *   unschedulable  – did not fit; tried again when something relevant changes once backoff
 *                    allows (a member added, or a cluster event one of the plugins that rejected
 *                    it registered — kube-scheduler's queueing hints: a group NodeResourcesFit
 *                    rejected wakes on a pod leaving or a node growing, not on a taint change),
 *                    or after the flush interval as a safety net
 *   inflight       – being tried, or its binds under way; the cluster events meanwhile are
 *                    remembered, and send it to backoff afterwards only if it then waits for one
 * Backoff doubles from initialBackoffMs up to maxBackoffMs per failed attempt.
 * Every state keeps its own set, so a cycle touches only what is due.
 */
import { anyClusterEvent, type ClusterEvents, clusterEvents } from "../core/index.js";

export type QueueState = "active" | "incomplete" | "backoff" | "unschedulable" | "inflight";

interface Entry {
  state: QueueState;
  attempts: number;
  /** Not before this time (backoff, incomplete). */
  notBefore: number;
  /** When it became unschedulable (for the flush). */
  since: number;
  /** Something relevant happened while in flight (a member, ownership): try again afterwards. */
  dirty: boolean;
  /**
   * The count of cluster events when it was popped: those after it happened while in flight
   * (kube-scheduler's in-flight events), and if the attempt fails, the group is tried again
   * only if one of them is among its wakeOn.
   */
  poppedAt: number;
  /** The cluster events that wake it while unschedulable. */
  wakeOn: ClusterEvents;
}

export interface QueueOptions {
  initialBackoffMs: number;
  maxBackoffMs: number;
  /**
   * Unschedulable groups are retried at least this often even without events: the safety net
   * for an event missed (kube-scheduler's podMaxInUnschedulablePodsDuration, 5 min there).
   */
  unschedulableFlushMs: number;
}

export const defaultQueueOptions: QueueOptions = {
  initialBackoffMs: 1_000,
  maxBackoffMs: 10_000,
  unschedulableFlushMs: 60_000,
};

const states: readonly QueueState[] = ["active", "incomplete", "backoff", "unschedulable", "inflight"];

export class SchedulingQueue {
  private readonly entries = new Map<string, Entry>();
  private readonly byState = new Map<QueueState, Set<string>>(states.map((state) => [state, new Set()]));
  /** No timed entry is due before this; pop() scans timed states only from then on. */
  private nextScanAt = Number.POSITIVE_INFINITY;
  /** Cluster events counted so far, and the count at each kind's latest. */
  private eventCount = 0;
  private readonly lastEventAt: number[] = clusterEvents.map(() => 0);

  constructor(private readonly options: QueueOptions = defaultQueueOptions) {}

  /** A group has (new) pending members. */
  add(id: string, now: number): void {
    const entry = this.entries.get(id);
    if (!entry) {
      const fresh: Entry = {
        state: "active",
        attempts: 0,
        notBefore: now,
        since: now,
        dirty: false,
        poppedAt: 0,
        wakeOn: anyClusterEvent,
      };
      this.entries.set(id, fresh);
      this.set(id, fresh, "active");
      return;
    }
    this.wake(id, entry, now);
  }

  remove(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.byState.get(entry.state)?.delete(id);
    this.entries.delete(id);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  state(id: string): QueueState | undefined {
    return this.entries.get(id)?.state;
  }

  /**
   * Something changed that may let unschedulable groups fit: those waiting for one of these
   * events wake. The groups in flight find them when done(): what rejects them is not known yet,
   * and done() tries a group again if they are among what it then waits for. Counted once here,
   * not written into every group in flight (a backlog binds thousands at once, each bind an
   * event).
   */
  wakeUnschedulable(now: number, events: ClusterEvents = anyClusterEvent): void {
    this.eventCount++;
    for (let kind = 0; kind < this.lastEventAt.length; kind++) {
      if ((events & (1 << kind)) !== 0) this.lastEventAt[kind] = this.eventCount;
    }
    const unschedulable = this.ids("unschedulable");
    if (unschedulable.size === 0) return;
    for (const id of [...unschedulable]) {
      const entry = this.entries.get(id) as Entry;
      if ((entry.wakeOn & events) !== 0) this.wake(id, entry, now);
    }
  }

  /** The kinds of cluster event counted after `count`. */
  private eventsSince(count: number): ClusterEvents {
    let events = 0;
    for (let kind = 0; kind < this.lastEventAt.length; kind++) {
      if ((this.lastEventAt[kind] as number) > count) events |= 1 << kind;
    }
    return events;
  }

  /**
   * Ownership moved (nodes gained, groups handed over): every group that did not fit may fit
   * now, and waiting out its backoff would only delay the handover's purpose. Try them all now.
   */
  retryNow(now: number): void {
    for (const state of ["unschedulable", "backoff"] as const) {
      for (const id of [...this.ids(state)]) {
        const entry = this.entries.get(id) as Entry;
        entry.notBefore = now;
        this.set(id, entry, "active");
      }
    }
    for (const id of this.ids("inflight")) (this.entries.get(id) as Entry).dirty = true;
  }

  private wake(id: string, entry: Entry, now: number): void {
    switch (entry.state) {
      case "inflight":
        entry.dirty = true;
        break;
      case "unschedulable":
        if (entry.notBefore <= now) this.set(id, entry, "active");
        else this.set(id, entry, "backoff");
        break;
      case "incomplete":
        this.set(id, entry, "active");
        break;
      default:
        break;
    }
  }

  /** Groups to try now; they become in flight until done() is called. */
  pop(now: number): string[] {
    const ready = [...this.ids("active")];
    if (now >= this.nextScanAt) {
      this.nextScanAt = Number.POSITIVE_INFINITY;
      for (const state of ["backoff", "incomplete", "unschedulable"] as const) {
        for (const id of this.ids(state)) {
          const dueAt = this.dueAt(this.entries.get(id) as Entry);
          if (dueAt <= now) ready.push(id);
          else this.nextScanAt = Math.min(this.nextScanAt, dueAt);
        }
      }
    }
    for (const id of ready) {
      const entry = this.entries.get(id) as Entry;
      entry.dirty = false;
      entry.poppedAt = this.eventCount;
      this.set(id, entry, "inflight");
    }
    return ready;
  }

  /** Popped but not tried (the cycle's budget ran out first): active again, no attempt counted. */
  requeue(id: string): void {
    const entry = this.entries.get(id);
    if (entry?.state !== "inflight") return;
    this.set(id, entry, "active");
  }

  /**
   * The outcome of an attempt:
   *   scheduled     – every pending member is bound (or binding); forget the group
   *   incomplete    – not ready yet; look again at `until` or when a member arrives
   *   unschedulable – did not fit (or waits for victims to leave); wakes on the events in
   *                   wakeOn (default: any)
   *   retry         – a transient error
   */
  done(
    id: string,
    outcome: "scheduled" | "incomplete" | "unschedulable" | "retry",
    now: number,
    until = now,
    wakeOn: ClusterEvents = anyClusterEvent,
  ): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    const dirty = entry.dirty;
    const eventsInFlight = entry.state === "inflight" ? this.eventsSince(entry.poppedAt) : 0;
    entry.dirty = false;
    if (outcome === "scheduled") {
      if (dirty) {
        entry.attempts = 0;
        this.set(id, entry, "active");
      } else {
        this.remove(id);
      }
      return;
    }
    if (outcome === "incomplete") {
      entry.notBefore = until;
      this.set(id, entry, dirty ? "active" : "incomplete");
      return;
    }
    entry.attempts++;
    entry.wakeOn = outcome === "unschedulable" ? wakeOn : anyClusterEvent;
    entry.notBefore = now + this.backoff(entry.attempts);
    entry.since = now;
    const missed = dirty || (eventsInFlight & entry.wakeOn) !== 0;
    this.set(id, entry, outcome === "retry" || missed ? "backoff" : "unschedulable");
  }

  backoff(attempts: number): number {
    return Math.min(
      this.options.initialBackoffMs * 2 ** Math.max(0, attempts - 1),
      this.options.maxBackoffMs,
    );
  }

  /** When the queue next has something due without any event, or undefined. */
  nextDueAt(): number | undefined {
    return Number.isFinite(this.nextScanAt) ? this.nextScanAt : undefined;
  }

  hasActive(): boolean {
    return this.ids("active").size > 0;
  }

  counts(): Record<QueueState, number> {
    const counts = {} as Record<QueueState, number>;
    for (const state of states) counts[state] = this.ids(state).size;
    return counts;
  }

  private ids(state: QueueState): Set<string> {
    return this.byState.get(state) as Set<string>;
  }

  private dueAt(entry: Entry): number {
    return entry.state === "unschedulable"
      ? entry.since + this.options.unschedulableFlushMs
      : entry.notBefore;
  }

  private set(id: string, entry: Entry, state: QueueState): void {
    this.byState.get(entry.state)?.delete(id);
    entry.state = state;
    this.ids(state).add(id);
    if (state === "backoff" || state === "incomplete" || state === "unschedulable") {
      this.nextScanAt = Math.min(this.nextScanAt, this.dueAt(entry));
    }
  }
}
