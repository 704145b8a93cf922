/**
 * A Statement is a transaction on the ClusterState (after Volcano's Statement): a cycle
 * assumes pods onto nodes, simulates evictions and reserves nominations, then either commits
 * (keeps the changes) or discards (restores the cluster exactly). It is what makes gang
 * placement all-or-nothing and preemption "only if the group then fits".
 *
 * While pods are being placed, a follower (their PreFilter states, profile.ts PodStates) is
 * told of every pod the statement puts on or takes off a node, undo included: kube-scheduler's
 * AddPod/RemovePod.
 */

import type { ClusterState } from "./cluster-state.js";
import type { NodeInfo, PodInfo } from "./model.js";

interface Change {
  readonly key: string;
  /** The pod as the cluster held it before the change (placed or nominated); undefined if it held none. */
  readonly before: PodInfo | undefined;
  /** The node it occupied before the change, if any. */
  readonly placedOn: string | undefined;
}

/** Told when a pod comes onto or leaves a node through the statement. */
export interface StateFollower {
  added(pod: PodInfo, node: NodeInfo): void;
  removed(pod: PodInfo, node: NodeInfo): void;
}

export class Statement {
  private changes: Change[] = [];
  private follower: StateFollower | undefined;

  constructor(readonly cluster: ClusterState) {}

  /** Who is told of pods put on and taken off nodes from now on; returns the one told before. */
  follow(follower: StateFollower | undefined): StateFollower | undefined {
    const previous = this.follower;
    this.follower = follower;
    return previous;
  }

  /** Tentatively puts a pending pod on a node. */
  assume(pod: PodInfo, nodeName: string): void {
    this.record(pod);
    if (this.follower) this.leave(pod.key);
    this.cluster.assume(pod, nodeName);
    if (this.follower) this.arrive(pod, nodeName);
  }

  /** Tentatively removes a pod that occupies a node, as if it had been evicted. */
  evict(pod: PodInfo): void {
    this.record(pod);
    if (this.follower) this.leave(pod.key);
    this.cluster.evict(pod.key);
  }

  /**
   * Reserves a node for a pending pod that won it by preemption (status.nominatedNodeName), as
   * kube-scheduler's nominator does: later groups must leave that room alone.
   */
  nominate(pod: PodInfo, nodeName: string): void {
    this.record(pod);
    this.cluster.upsertPod({ ...pod, nominatedNodeName: nodeName });
  }

  /** Gives up the pod's nomination, if the cluster holds one. */
  withdrawNomination(pod: PodInfo): void {
    if (this.cluster.nominatedPod(pod.key) === undefined) return;
    this.record(pod);
    this.cluster.removePod(pod.key);
  }

  /** Keeps every change; the statement is empty afterwards. */
  commit(): void {
    this.changes = [];
  }

  /** Undoes every change, newest first; the statement is empty afterwards. */
  discard(): void {
    for (const { key, before, placedOn } of this.changes.reverse()) {
      if (this.follower) this.leave(key);
      this.cluster.removePod(key);
      if (before === undefined) continue;
      if (placedOn !== undefined && placedOn !== before.nodeName) this.cluster.assume(before, placedOn);
      else this.cluster.upsertPod(before);
      if (this.follower && placedOn !== undefined) this.arrive(before, placedOn);
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

  /** Remembers the cluster's own record of the pod: the caller's copy may be older or newer. */
  private record(pod: PodInfo): void {
    const { cluster } = this;
    this.changes.push({
      key: pod.key,
      before: cluster.placedPod(pod.key) ?? cluster.nominatedPod(pod.key),
      placedOn: cluster.placementOf(pod.key),
    });
  }

  /** Tells the follower the pod leaves the node it occupies (if it occupies one). */
  private leave(key: string): void {
    const pod = this.cluster.placedPod(key);
    const node = this.cluster.node(this.cluster.placementOf(key) ?? "");
    if (pod !== undefined && node !== undefined) this.follower?.removed(pod, node);
  }

  private arrive(pod: PodInfo, nodeName: string): void {
    const node = this.cluster.node(nodeName);
    if (node !== undefined) this.follower?.added(pod, node);
  }
}
