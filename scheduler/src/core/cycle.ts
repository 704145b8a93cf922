/**
 * One scheduling cycle, top to bottom: (cluster, pending groups, ownership, config) in,
 * decisions out. No I/O, no clock, no randomness: the shard carries the decisions out.
 *
 *   for each group, highest priority first (QueueSort):
 *     invalid (members disagree on priority)             → Unschedulable decision, nothing tried
 *     place every required member (placement step:       → Bind decision, assumptions committed
 *       PreFilter, Filter, Score per member, per candidate node set)
 *     else, while nodes just gained settle               → Deferred decision, nothing changed
 *     else plan gang preemption (PostFilter)             → Preempt decision, nominations reserved
 *     else                                               → Unschedulable decision with the reasons,
 *                                                          the group's old nominations withdrawn
 *     stop early when the caller's budget says so      → the groups not reached are returned
 *
 * Every change a group's decision makes to the cluster (assumptions, nominations reserved or
 * withdrawn) goes through one Statement the core commits. The budget is the caller's (a
 * predicate it evaluates, e.g. against its own clock): the core stays pure, and a shard can give
 * the event loop back between chunks of a long queue.
 */

import { maxFeasibleElsewhere } from "../contracts/capacity-summary.js";
import type { ClusterState } from "./cluster-state.js";
import type { Diagnosis } from "./diagnosis.js";
import type { ClusterEvents } from "./framework.js";
import { type GroupKey, type PendingGroup, queueOrder } from "./gang/index.js";
import {
  feasibleNodesToFind,
  nodesElsewhere,
  type Placement,
  type PlacementContext,
  placeGroup,
  placementStepFor,
} from "./gang-placement.js";
import { placedByOwnerOnly } from "./inter-pod-constraints.js";
import type { NodeInfo, PodInfo } from "./model.js";
import {
  type EvictionPlan,
  PreemptionMemo,
  type PreemptionResult,
  planGangPreemption,
  preemptionEvents,
} from "./preemption.js";
import { buildProfile, type Profile, type ProfileConfig, wakingEvents } from "./profile.js";
import { Statement } from "./statement.js";

export interface CoreConfig extends ProfileConfig {
  /** kube-scheduler's percentageOfNodesToScore; 0 means adaptive. */
  percentageOfNodesToScore: number;
  /** Turn gang preemption off entirely. */
  preemption: boolean;
}

export const defaultCoreConfig: CoreConfig = {
  scoringStrategy: "MostAllocated",
  percentageOfNodesToScore: 0,
  preemption: true,
};

export type Decision =
  | { readonly kind: "bind"; readonly group: GroupKey; readonly placements: readonly Placement[] }
  | {
      readonly kind: "preempt";
      readonly group: GroupKey;
      readonly plan: EvictionPlan;
      /** Why the group did not fit without preemption. */
      readonly message: string;
      /** The filter plugins that rejected a node for it (see Diagnosis.plugins). */
      readonly unschedulablePlugins: readonly string[];
      /** The cluster events worth trying it again for (queueing hints); see wakingEvents. */
      readonly wakeOn: ClusterEvents;
    }
  | {
      /**
       * It did not fit while nodes just gained settle (CycleOptions): it has not truly failed.
       * Nothing was changed, preemption was not tried; try it again once they settle.
       */
      readonly kind: "deferred";
      readonly group: GroupKey;
      readonly message: string;
    }
  | {
      readonly kind: "unschedulable";
      readonly group: GroupKey;
      readonly members: readonly PodInfo[];
      readonly message: string;
      /** The filter plugins that rejected a node for it (see Diagnosis.plugins); empty when none was asked. */
      readonly unschedulablePlugins: readonly string[];
      /** The cluster events worth trying it again for (queueing hints); see wakingEvents. */
      readonly wakeOn: ClusterEvents;
      /**
       * Members whose nomination (won by an earlier preemption) the group gives up: it cannot
       * use that room now, so the room must not stay reserved for it (kube-scheduler clears
       * status.nominatedNodeName the same way). Already dropped from the cluster.
       */
      readonly withdrawnNominations: readonly PodInfo[];
      /**
       * A group only its owner can judge (inter-pod constraints, placedByOwnerOnly): other
       * shards' nodes its first member fits now (nodesElsewhere), which the coordinator may lend
       * the owner. Absent for any other group, or when the owner owns every node.
       */
      readonly feasibleElsewhere?: readonly string[];
    };

/** What a budgeted cycle did, and the groups it did not reach (in queue order). */
export interface CycleResult {
  readonly decisions: Decision[];
  readonly unreached: PendingGroup[];
}

/** What the caller knows of this moment that the core cannot see. */
export interface CycleOptions {
  /**
   * Whether nodes this shard just gained are not placeable yet and may have the room: then a
   * group that does not fit is deferred (no preemption, no verdict) instead of failing. A
   * question, asked once the cycle has asked ownsNode about the nodes: the ownership learns which
   * nodes are gained only when asked about them.
   */
  readonly gainedNodesSettling?: () => boolean;
}

/** The shard's scheduling core: holds its profile and the node-scan rotation between cycles. */
export class SchedulingCore {
  private nextStartIndex = 0;
  private ownedNodeCache: { key: string; nodes: NodeInfo[] } | undefined;

  constructor(
    readonly cluster: ClusterState,
    readonly config: CoreConfig = defaultCoreConfig,
    readonly profile: Profile = buildProfile(cluster, config),
  ) {}

  /**
   * Runs one cycle over the given groups. Bind decisions leave their pods assumed in the cluster.
   * Pass an ownershipVersion that changes whenever ownsNode's answers change to let the core
   * reuse its list of owned nodes between cycles.
   */
  cycle(
    groups: readonly PendingGroup[],
    ownsNode: (nodeName: string) => boolean,
    ownershipVersion?: number,
  ): Decision[] {
    return this.cycleUntil(groups, ownsNode, ownershipVersion, () => false).decisions;
  }

  /**
   * Like cycle(), but asks shouldYield() before each group after the first (so every call makes
   * progress) and stops when it says yes: the groups not reached come back, for a later call.
   */
  cycleUntil(
    groups: readonly PendingGroup[],
    ownsNode: (nodeName: string) => boolean,
    ownershipVersion: number | undefined,
    shouldYield: () => boolean,
    options: CycleOptions = {},
  ): CycleResult {
    const nodes = this.ownedNodes(ownsNode, ownershipVersion);
    const ctx: PlacementContext = {
      cluster: this.cluster,
      nodes,
      ownsNode,
      otherShardNodes: this.cluster.nodes.length - nodes.length,
      profile: this.profile,
      feasibleNodesToFind: feasibleNodesToFind(nodes.length, this.config.percentageOfNodesToScore),
      nextStartIndex: this.nextStartIndex,
    };
    const decisions: Decision[] = [];
    // Identical preemptors of this cycle share what the first one learned.
    const memo = new PreemptionMemo();
    const ordered = [...groups].sort(queueOrder);
    let reached = 0;
    for (const group of ordered) {
      if (reached > 0 && shouldYield()) break;
      reached++;
      const statement = new Statement(this.cluster);
      if (group.problem !== undefined) {
        if (options.gainedNodesSettling?.()) decisions.push(deferred(group, `${group.problem}.`));
        else decisions.push(this.unschedulable(statement, group, `${group.problem}.`, [], 0, memo));
        statement.commit();
        continue;
      }
      const result = placeGroup(ctx, statement, group);
      if (result.fits) {
        statement.commit();
        decisions.push({ kind: "bind", group: group.key, placements: result.placements });
        continue;
      }
      const message = unschedulableMessage(group, result, this.cluster.nodes.length);
      if (options.gainedNodesSettling?.()) {
        decisions.push(deferred(group, message));
        continue;
      }
      const unschedulablePlugins = result.diagnosis.plugins;
      const hopeless =
        result.failedPod === undefined || placementStepFor(this.profile, group)
          ? undefined
          : { pod: result.failedPod, nodes: result.diagnosis.unresolvableNodes };
      const preemption: PreemptionResult = this.config.preemption
        ? planGangPreemption(ctx, group, memo, hopeless)
        : { preempts: false, reason: "preemption: disabled by configuration" };
      // Preemption may help once victims leave or budgets allow, unless every node that rejected
      // the group did so for a reason no eviction cures (a taint, a label): then only what cures
      // that reason helps, as in kube-scheduler, where preemption adds no events of its own.
      const evictionsMayHelp = hopeless === undefined || result.diagnosis.evictionsMayHelp;
      const tried = this.config.preemption && group.mayPreempt && evictionsMayHelp ? preemptionEvents : 0;
      if (preemption.preempts) {
        decisions.push({
          kind: "preempt",
          group: group.key,
          plan: preemption.plan,
          message,
          unschedulablePlugins,
          wakeOn: wakingEvents(this.profile, unschedulablePlugins, tried),
        });
        // Reserve the won nodes now, as kube-scheduler's nominator does: later groups of this
        // cycle must neither pick the same victims nor take the room the preemptor was promised.
        // A gang reserves at the priority it preempted with, which every member has.
        for (const { pod, nodeName } of preemption.plan.nominations) statement.nominate(pod, nodeName);
      } else {
        const decision = this.unschedulable(
          statement,
          group,
          `${message} ${preemption.reason}.`,
          unschedulablePlugins,
          tried,
          memo,
        );
        const elsewhere =
          ctx.otherShardNodes > 0 && placedByOwnerOnly(group.members)
            ? nodesElsewhere(ctx, group, maxFeasibleElsewhere)
            : [];
        decisions.push(elsewhere.length > 0 ? { ...decision, feasibleElsewhere: elsewhere } : decision);
      }
      statement.commit();
    }
    this.nextStartIndex = ctx.nextStartIndex;
    return { decisions, unreached: ordered.slice(reached) };
  }

  /** The group gives up for this cycle, and with it the room its nominations held. */
  private unschedulable(
    statement: Statement,
    group: PendingGroup,
    message: string,
    unschedulablePlugins: readonly string[],
    extraEvents: ClusterEvents,
    memo: PreemptionMemo,
  ): Extract<Decision, { kind: "unschedulable" }> {
    const withdrawnNominations = this.withdrawNominations(statement, group);
    // Room came back: a preemptor shape found hopeless earlier in the cycle may not be now.
    if (withdrawnNominations.length > 0) memo.roomReturned();
    return {
      kind: "unschedulable",
      group: group.key,
      members: group.members,
      message,
      unschedulablePlugins,
      wakeOn: wakingEvents(this.profile, unschedulablePlugins, extraEvents),
      withdrawnNominations,
    };
  }

  /** Drops the group's nominations (in the statement); returns the members that held one. */
  private withdrawNominations(statement: Statement, group: PendingGroup): PodInfo[] {
    const withdrawn: PodInfo[] = [];
    for (const pod of group.members) {
      const nominated = this.cluster.nominatedPod(pod.key);
      if (nominated === undefined && pod.nominatedNodeName === undefined) continue;
      statement.withdrawNomination(pod);
      withdrawn.push(pod);
    }
    return withdrawn;
  }

  private ownedNodes(
    ownsNode: (nodeName: string) => boolean,
    ownershipVersion: number | undefined,
  ): NodeInfo[] {
    const key = `${this.cluster.nodeSetVersion}/${ownershipVersion}`;
    if (ownershipVersion !== undefined && this.ownedNodeCache?.key === key) return this.ownedNodeCache.nodes;
    const nodes: NodeInfo[] = [];
    for (const node of this.cluster.nodes) if (ownsNode(node.name)) nodes.push(node);
    this.ownedNodeCache = { key, nodes };
    return nodes;
  }
}

function deferred(group: PendingGroup, message: string): Decision {
  return { kind: "deferred", group: group.key, message };
}

function unschedulableMessage(
  group: PendingGroup,
  result: {
    placedCount: number;
    failedPod: PodInfo | undefined;
    diagnosis: Diagnosis;
    explanation?: string | undefined;
  },
  totalNodes: number,
): string {
  // The placement step's own words (no rack has room for all 16 pods …) say more than node counts.
  if (result.explanation !== undefined && result.failedPod !== undefined) return `${result.explanation}.`;
  if (result.failedPod === undefined) {
    return (
      `pod group ${group.key.namespace}/${group.key.name} cannot be placed as a whole ` +
      `(${group.required} pods must start together; only ${group.members.length} are pending).`
    );
  }
  const reasons = result.diagnosis.message(totalNodes);
  if (group.key.solo) return reasons;
  if (group.started) {
    return (
      `pod group ${group.key.namespace}/${group.key.name} runs; its members join it as room allows, ` +
      `and pod ${result.failedPod.name} found none: ${reasons}`
    );
  }
  return (
    `pod group ${group.key.namespace}/${group.key.name} cannot be placed as a whole ` +
    `(${group.required} of ${group.members.length} pending pods must start together; ` +
    `only ${result.placedCount} fit); for pod ${result.failedPod.name}: ${reasons}`
  );
}
