/**
 * A Statement is a transaction on the ClusterSnapshot (after Volcano's Statement): a cycle
 * assumes pods onto nodes and simulates evictions, then either commits (keeps the
 * assumptions) or discards (restores the snapshot exactly). It is what makes gang
 * placement all-or-nothing and preemption "only if the group then fits".
 */
import type { PodInfo } from "./model.js";
import type { ClusterSnapshot } from "./snapshot.js";

interface Change {
  readonly key: string;
  /** The pod as the snapshot held it before the change (placed or nominated); undefined if it held none. */
  readonly before: PodInfo | undefined;
  /** The node it occupied before the change, if any. */
  readonly placedOn: string | undefined;
}

export class Statement {
  private changes: Change[] = [];

  constructor(readonly snapshot: ClusterSnapshot) {}

  /** Tentatively puts a pending pod on a node. */
  assume(pod: PodInfo, nodeName: string): void {
    this.record(pod);
    this.snapshot.assume(pod, nodeName);
  }

  /** Tentatively removes a pod that occupies a node, as if it had been evicted. */
  evict(pod: PodInfo): void {
    this.record(pod);
    this.snapshot.removePod(pod.key);
  }

  /** Keeps every change; the statement is empty afterwards. */
  commit(): void {
    this.changes = [];
  }

  /** Undoes every change, newest first; the statement is empty afterwards. */
  discard(): void {
    for (const { key, before, placedOn } of this.changes.reverse()) {
      this.snapshot.removePod(key);
      if (before === undefined) continue;
      if (placedOn !== undefined && placedOn !== before.nodeName) this.snapshot.assume(before, placedOn);
      else this.snapshot.upsertPod(before);
    }
    this.changes = [];
  }

  /** A savepoint: discardTo(mark) undoes only what came after it. */
  mark(): number {
    return this.changes.length;
  }

  discardTo(mark: number): void {
    const later = this.changes.splice(mark);
    const rest = this.changes;
    this.changes = later;
    this.discard();
    this.changes = rest;
  }

  /** Remembers the snapshot's own record of the pod: the caller's copy may be older or newer. */
  private record(pod: PodInfo): void {
    const { snapshot } = this;
    this.changes.push({
      key: pod.key,
      before: snapshot.placedPod(pod.key) ?? snapshot.nominatedPod(pod.key),
      placedOn: snapshot.placementOf(pod.key),
    });
  }
}
