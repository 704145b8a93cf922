/**
 * What the coordinator does for a group its owner cannot place (pure: summaries in, plan out).
 * In order, so that nothing is evicted while free room anywhere can take the group — what a
 * single scheduler over the whole cluster would do:
 *   1. hand it to another shard whose free room fits the whole group;
 *   2. lend the owner enough free nodes of other shards;
 *   2b. hand it to another shard and lend that one the free nodes it lacks (roomiest first): the
 *      room a shard holds on nodes lent to it (their groups running there) can be lent no
 *      further, so a group that needs that room and some elsewhere goes to that shard;
 *   3. hand it to a shard that fits it by preempting lower-priority groups;
 *   4. lend the owner nodes whose room comes partly from preempting lower-priority groups
 *      (never concluding the owner fits it by preempting on its own nodes: it searched them for
 *      victims before it reported the group stuck, and the view's preemptible room is only an
 *      upper bound);
 *   5. nothing: the cluster cannot place it, and the owner's Unschedulable condition stands.
 * A node whose room a preemption won for another group (pods nominated to it) is never lent.
 * Every plan carries a witness: where each member would go in the capacity view.
 *
 * Inter-pod constraints: the capacity view holds no pods of other groups, so the plugins that
 * span nodes (InterPodAffinity, PodTopologySpread, MaxPerZone) see only the group's own members
 * in a trial: blind to every other pod. A group with required inter-pod constraints
 * (placedByOwnerOnly) is therefore never handed to another shard (1 and 3 are skipped): only
 * lends to its owner, which judges the lent nodes with its full cache (and the check before
 * bind) like its own. docs/semantics.md says why.
 *
 * Topology: a group that must fit in one domain of a node label (one rack; PendingGroup.topology,
 * as its owner reported it) is placed in trials by the shards' TopologyPlacement plugin, so it is
 * handed only to a shard whose nodes of one domain can take it whole, and the witness of a lend
 * lies in one domain. It is lent in domain units: with the nodes its witness uses, every other
 * node of the same domains that another shard owns and may lend (not lent already, not promised
 * to another group's preemptor) goes to the owner too, so the owner holds whole racks, as shards
 * aligned by that label do (--shard-by-label), rather than a scattered slice of one.
 */
import type { CapacitySummary, NodeCapacity } from "@sharded-scheduler/scheduler/contracts";
import {
  type PendingGroup,
  type Placement,
  type ProfileConfig,
  placedByOwnerOnly,
  trialPlacement,
} from "@sharded-scheduler/scheduler/core";
import { type CapacityView, capacityView, freeCpu } from "./capacity-view.js";

export interface ReliefRequest {
  readonly group: PendingGroup;
  /** The shard that owns the group now. */
  readonly owner: string;
  /** The latest summary of every live shard, the owner's included. */
  readonly summaries: readonly CapacitySummary[];
  /** Nodes already lent to some shard: not lent again. */
  readonly lentNodes: ReadonlySet<string>;
  /** The shards' plugin configuration (buildProfile's): trials run the plugins the shards run. */
  readonly profile?: ProfileConfig;
  /**
   * For a group only its owner can judge (placedByOwnerOnly): other shards' nodes the owner found
   * its first member fits (StuckGroupReport.feasibleElsewhere). Lent from before anything else.
   */
  readonly feasibleElsewhere?: readonly string[];
}

export type ReliefPlan =
  | {
      readonly kind: "handoff";
      readonly to: string;
      readonly preempting: boolean;
      readonly placements: readonly Placement[];
    }
  | {
      readonly kind: "lend";
      /** The shard that schedules the group with the nodes: its owner, or another (2b above). */
      readonly to: string;
      readonly nodes: readonly { readonly node: string; readonly from: string }[];
      /** Lent in domain units (a topology gang): the label and the domains lent whole. */
      readonly domains?: { readonly key: string; readonly values: readonly string[] };
      readonly preempting: boolean;
      readonly placements: readonly Placement[];
    }
  /** The owner's own room fits the group (its witness): its report is older than its room. */
  | { readonly kind: "none"; readonly reason: "owner-fits"; readonly placements: readonly Placement[] }
  | { readonly kind: "none"; readonly reason: "impossible" };

/** Room a preemption won on the node for a group other than `groupId`: never lent away for it. */
export function promisedToAnother(node: NodeCapacity, groupId: string): boolean {
  return node.nominatedFor?.some((id) => id !== groupId) ?? false;
}

export function planRelief(request: ReliefRequest): ReliefPlan {
  const { group, owner } = request;
  const modes = group.mayPreempt ? [false, true] : [false];
  // Roomiest first; the order is the same in both modes.
  const room = new Map(request.summaries.map((summary) => [summary.shard, freeCpu(summary)]));
  const others = request.summaries
    .filter((summary) => summary.shard !== owner)
    .sort((a, b) => (room.get(b.shard) ?? 0) - (room.get(a.shard) ?? 0) || (a.shard < b.shard ? -1 : 1));
  // Room a preemption won on a node is promised to the group that preempted for it: such a
  // node is never lent away from its shard for another group.
  const promised = new Set<string>();
  for (const summary of request.summaries)
    for (const node of summary.nodes) if (promisedToAnother(node, group.key.id)) promised.add(node.name);
  let ownerFits: readonly Placement[] | undefined;
  // Its inter-pod constraints are judged by its owner only: no handoff, lends to the owner.
  const ownerOnly = placedByOwnerOnly(group.members);
  if (ownerOnly && (request.feasibleElsewhere?.length ?? 0) > 0) {
    const lend = lendWhatTheOwnerNamed(request, promised);
    if (lend !== undefined) return lend;
  }
  const handoffs = ownerOnly ? [] : others;
  for (const preempting of modes) {
    const view = capacityView(request.summaries, preempting ? group.priority : undefined);
    for (const summary of handoffs) {
      const placements = trialPlacement(
        view.cluster,
        view.nodesOf.get(summary.shard) ?? [],
        group,
        undefined,
        request.profile,
      );
      if (placements) return { kind: "handoff", to: summary.shard, preempting, placements };
    }
    let lend = lendTrial(request, view, promised);
    if (lend !== undefined && lend.nodes.size === 0) {
      if (!preempting) {
        // The owner's own room fits it: its report is older than its capacity. Wait for the next.
        ownerFits = lend.placements;
        break;
      }
      // Only by preempting on the owner's own nodes: the owner searched them for victims before
      // it reported the group stuck, and found none (the view's preemptible room is an upper
      // bound). Its nodes count their free room only, so that a lend brings room it lacks.
      lend = lendTrial(request, capacityView(request.summaries, group.priority, owner), promised);
      if (lend === undefined || lend.nodes.size === 0) continue;
    }
    if (lend === undefined && !preempting && !ownerOnly)
      // Another shard with the nodes it lacks lent to it: the room on nodes lent to it is its.
      for (const summary of others) {
        const moved = lendTrial({ ...request, owner: summary.shard }, view, promised);
        if (moved !== undefined && moved.nodes.size > 0)
          return lendPlan(group, summary.shard, moved, preempting);
      }
    if (lend === undefined) continue;
    return lendPlan(group, owner, lend, preempting);
  }
  return ownerFits !== undefined
    ? { kind: "none", reason: "owner-fits", placements: ownerFits }
    : { kind: "none", reason: "impossible" };
}

/**
 * The lend of a trial's borrowed nodes to `to`; a topology gang borrows whole domains: with the
 * nodes its witness uses, the rest of each domain as far as it may be lent.
 */
function lendPlan(
  group: PendingGroup,
  to: string,
  { usable, placements, nodes, view }: NonNullable<ReturnType<typeof lendTrial>>,
  preempting: boolean,
): ReliefPlan {
  const key = group.topology?.required;
  const domains = new Set<string>();
  if (key !== undefined) {
    for (const node of view.cluster.nodes)
      if (nodes.has(node.name) && node.labels[key] !== undefined) domains.add(node.labels[key] as string);
    for (const node of usable) {
      const from = view.ownerOf.get(node.name) as string;
      const value = node.labels[key];
      if (from !== to && value !== undefined && domains.has(value)) nodes.set(node.name, from);
    }
  }
  return {
    kind: "lend",
    to,
    nodes: [...nodes].map(([node, from]) => ({ node, from })).sort((a, b) => (a.node < b.node ? -1 : 1)),
    ...(key !== undefined && domains.size > 0 ? { domains: { key, values: [...domains].sort() } } : {}),
    preempting,
    placements,
  };
}

/**
 * Where the group would go on the owner's nodes and the nodes other shards may lend (not lent
 * already, not promised to another group's preemptor), the owner's first; and which of those
 * nodes are other shards' (to lend, with their shard). Undefined when it does not fit.
 */
function lendTrial(request: ReliefRequest, view: CapacityView, promised: ReadonlySet<string>) {
  const { group, owner } = request;
  const usable = view.cluster.nodes.filter((node) => {
    const shard = view.ownerOf.get(node.name);
    if (shard === owner) return true;
    return (
      shard !== undefined && shard !== "" && !request.lentNodes.has(node.name) && !promised.has(node.name)
    );
  });
  const placements = trialPlacement(
    view.cluster,
    usable,
    group,
    (node) => view.ownerOf.get(node) === owner,
    request.profile,
  );
  if (!placements) return undefined;
  const nodes = new Map<string, string>();
  for (const { nodeName } of placements) {
    const from = view.ownerOf.get(nodeName) as string;
    if (from !== owner) nodes.set(nodeName, from);
  }
  return { usable, placements, nodes, view };
}

/**
 * A group only its owner can judge (its inter-pod constraints need pods the capacity view does
 * not hold): the owner named other shards' nodes its first member fits now; lend it as many of
 * them as it has members to place (not lent already, not promised to a preemptor, owned by a
 * live shard). The witness puts member i on the i-th node lent; the owner places them for real.
 */
function lendWhatTheOwnerNamed(
  request: ReliefRequest,
  promised: ReadonlySet<string>,
): ReliefPlan | undefined {
  const { group, owner } = request;
  const ownerOf = new Map<string, string>();
  for (const summary of request.summaries)
    for (const node of summary.nodes) ownerOf.set(node.name, summary.shard);
  const nodes: { node: string; from: string }[] = [];
  for (const name of request.feasibleElsewhere ?? []) {
    const from = ownerOf.get(name);
    if (from === undefined || from === owner || request.lentNodes.has(name) || promised.has(name)) continue;
    nodes.push({ node: name, from });
    if (nodes.length >= group.members.length) break;
  }
  if (nodes.length === 0) return undefined;
  const placements = nodes.map(({ node }, i) => ({
    pod: group.members[i] as PendingGroup["members"][number],
    nodeName: node,
  }));
  return { kind: "lend", to: owner, nodes, preempting: false, placements };
}
