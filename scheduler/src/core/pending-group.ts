/** A pod group waiting to be placed: its pending members and how many must start together. */
import type { PodInfo } from "./model.js";
import type { GroupKey } from "./pod-group.js";

export interface PendingGroup {
  readonly key: GroupKey;
  /** Members without a node, in the order they should be placed. */
  readonly members: readonly PodInfo[];
  /** How many of the members must be placed at once for the group to run (all-or-nothing). */
  readonly required: number;
  /** The highest priority of any member (pending or running). */
  readonly priority: number;
  /** False when any member says preemptionPolicy: Never. */
  readonly mayPreempt: boolean;
  /** Earliest creation of a member, in ms since the epoch: older groups go first among equals. */
  readonly createdAt: number;
}

/**
 * Builds the pending group from its members. With min-member set, the group needs
 * (min-member − members already running − members that ran to completion) more pods at once,
 * at least one, even when fewer are pending yet (then it waits: starting the ones present
 * would be a partial gang); without it, every pending member (the group's size is the members
 * present). A member that succeeded has started with its gang: the replacements of the rest
 * (a Job recreates evicted or failed pods, not finished ones) do not wait for it again.
 */
export function pendingGroup(
  key: GroupKey,
  pending: readonly PodInfo[],
  running: readonly PodInfo[],
  minMember: number | undefined,
  succeeded = 0,
): PendingGroup {
  const members = [...pending].sort(byLargestRequestFirst);
  const required =
    minMember === undefined ? members.length : Math.max(1, minMember - running.length - succeeded);
  let priority = Number.NEGATIVE_INFINITY;
  let createdAt = Number.POSITIVE_INFINITY;
  for (const pod of [...pending, ...running]) priority = Math.max(priority, pod.priority);
  for (const pod of pending) {
    const created = Date.parse(pod.pod.metadata.creationTimestamp ?? "");
    if (!Number.isNaN(created)) createdAt = Math.min(createdAt, created);
  }
  return {
    key,
    members,
    required,
    priority: Number.isFinite(priority) ? priority : 0,
    mayPreempt: pending.every((pod) => pod.preemptionPolicy !== "Never"),
    createdAt: Number.isFinite(createdAt) ? createdAt : 0,
  };
}

/** First-fit decreasing: big members first pack a gang better than arrival order. */
function byLargestRequestFirst(a: PodInfo, b: PodInfo): number {
  return (
    b.requests.milliCpu - a.requests.milliCpu ||
    b.requests.memory - a.requests.memory ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
}

/** QueueSort: higher priority first, then older, then by id (deterministic). */
export function queueOrder(a: PendingGroup, b: PendingGroup): number {
  return (
    b.priority - a.priority ||
    a.createdAt - b.createdAt ||
    (a.key.id < b.key.id ? -1 : a.key.id > b.key.id ? 1 : 0)
  );
}
