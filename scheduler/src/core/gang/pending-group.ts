/** A pod group waiting to be placed: its pending members and how many must start together. */
import type { PodInfo } from "../model.js";
import type { GroupKey } from "./group-key.js";
import { groupTopology, type TopologyConstraint, topologyDisagreement } from "./topology.js";

export interface PendingGroup {
  readonly key: GroupKey;
  /** Members without a node, in the order they should be placed. */
  readonly members: readonly PodInfo[];
  /**
   * How many of the members must be placed at once for the group to run (all-or-nothing); 1 once
   * the group has started (then as many members as fit are placed).
   */
  readonly required: number;
  /** The group has started: its members join it one by one as room allows. */
  readonly started: boolean;
  /** The priority every member (pending and running) has; the lowest when they disagree. */
  readonly priority: number;
  /** Why the group cannot be placed at all (its members disagree on priority or topology), or undefined. */
  readonly problem: string | undefined;
  /**
   * Where the members must and should land together (their topology annotations, or the
   * PodGroup's spec.schedulingConstraints.topology); undefined: anywhere.
   */
  readonly topology?: TopologyConstraint | undefined;
  /** False when any member (pending or running) says preemptionPolicy: Never, or the group has a problem. */
  readonly mayPreempt: boolean;
  /** Earliest creation of a member, in ms since the epoch: older groups go first among equals. */
  readonly createdAt: number;
}

/**
 * Builds the pending group from its members. All-or-nothing applies to a group's first start
 * only: once the group has started (see groupStarted), later members are placed as room allows
 * (required 1). Before that, with min-member set, the group needs (min-member − members already
 * running − members that ran to completion) more pods at once, at least one, even when fewer
 * are pending yet (then it waits: starting the ones present would be a partial gang); without
 * it, every pending member (the group's size is the members present). A member that succeeded
 * has started with its gang: the replacements of the rest (a Job recreates evicted or failed
 * pods, not finished ones) do not wait for it again.
 *
 * One priority per group: a member cannot lend its priority to the others, so members that
 * disagree make the group invalid (problem), and it neither places nor preempts.
 *
 * The one builder of a PendingGroup: the shard's cycle, its stuck reports and the coordinator
 * all build it here. The coordinator reads only the pending members; what the rest imply
 * (required, priority, mayPreempt) comes from the owner's stuck report (`told`).
 */
export function pendingGroup(
  key: GroupKey,
  pending: readonly PodInfo[],
  running: readonly PodInfo[],
  minMember: number | undefined,
  succeeded = 0,
  started = false,
  told?: ToldTerms,
): PendingGroup {
  const members = [...pending].sort(byLargestRequestFirst);
  const everyone = running.length === 0 ? pending : [...pending, ...running];
  const problem = priorityDisagreement(key, everyone) ?? topologyDisagreement(key, everyone);
  const topology = told?.topology ?? groupTopology(members);
  let priority = Number.POSITIVE_INFINITY;
  let createdAt = Number.POSITIVE_INFINITY;
  for (const pod of everyone) priority = Math.min(priority, pod.priority);
  for (const pod of pending) {
    const created = Date.parse(pod.pod.metadata.creationTimestamp ?? "");
    if (!Number.isNaN(created)) createdAt = Math.min(createdAt, created);
  }
  const mayPreempt = problem === undefined && everyone.every((pod) => pod.preemptionPolicy !== "Never");
  return {
    key,
    members,
    // Members read since the report may be fewer (some bound or deleted): never more than there are.
    required: told
      ? Math.min(told.required, members.length)
      : requiredMembers(members.length, running.length, succeeded, minMember, started),
    started,
    priority: told ? told.priority : Number.isFinite(priority) ? priority : 0,
    problem,
    mayPreempt: told ? told.mayPreempt : mayPreempt,
    createdAt: Number.isFinite(createdAt) ? createdAt : 0,
    ...(topology === undefined ? {} : { topology }),
  };
}

/**
 * What a group's owner found of it as a whole (its stuck report), for a reader that sees only
 * its pending members: how many must start together, its one priority, whether it may preempt.
 */
export interface ToldTerms {
  readonly required: number;
  readonly priority: number;
  readonly mayPreempt: boolean;
  /**
   * The group's topology constraint as its owner read it (a native PodGroup's lives in the
   * PodGroup object, which a reader of the pods alone does not see); absent: the members' own.
   */
  readonly topology?: TopologyConstraint | undefined;
}

/** See pendingGroup: 1 once started; else min-member less those that run or ran, or every pending member. */
function requiredMembers(
  pending: number,
  running: number,
  succeeded: number,
  minMember: number | undefined,
  started: boolean,
): number {
  if (started) return 1;
  return minMember === undefined ? pending : Math.max(1, minMember - running - succeeded);
}

/**
 * Why the members (pending and running) of a group have no one priority, or undefined when
 * they agree. The distinct values are listed lowest first (a few, then "...").
 */
export function priorityDisagreement(key: GroupKey, members: readonly PodInfo[]): string | undefined {
  const priorities = new Set<number>();
  for (const pod of members) priorities.add(pod.priority);
  if (priorities.size <= 1) return undefined;
  const listed = [...priorities].sort((a, b) => a - b);
  const shown = listed.slice(0, 4).join(", ") + (listed.length > 4 ? ", ..." : "");
  return `members of pod group ${key.namespace}/${key.name} disagree on priority (${shown}); a gang must have one priority`;
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
