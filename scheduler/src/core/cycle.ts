/**
 * One scheduling cycle, top to bottom: (snapshot, pending groups, ownership, config) in,
 * decisions out. No I/O, no clock, no randomness: the shard carries the decisions out.
 *
 *   for each group, highest priority first (QueueSort):
 *     invalid (members disagree on priority)             → Unschedulable decision, nothing tried
 *     place every required member (Filter, Score, Gang)  → Bind decision, assumptions committed
 *     else plan gang preemption (PostFilter)             → Preempt decision, nominations reserved
 *     else                                               → Unschedulable decision with the reasons,
 *                                                          the group's old nominations withdrawn
 *     stop early when the caller's budget says so      → the groups not reached are returned
 *
 * The budget is the caller's (a predicate it evaluates, e.g. against its own clock): the core
 * stays pure, and a shard can give the event loop back between chunks of a long queue.
 */
import type { Diagnosis } from "./diagnosis.js";
import type { FilterPlugin } from "./framework.js";
import { type GroupKey, type PendingGroup, queueOrder } from "./gang/index.js";
import { feasibleNodesToFind, type Placement, type PlacementContext, placeGang } from "./gang-placement.js";
import type { NodeInfo, PodInfo } from "./model.js";
import { defaultFilterPlugins } from "./plugins/index.js";
import { nodeResourcesFit } from "./plugins/node-resources/node-resources-fit.js";
import {
  resourceAllocationScore,
  type ScoringStrategy,
} from "./plugins/node-resources/resource-allocation.js";
import { type EvictionPlan, PreemptionMemo, planGangPreemption } from "./preemption.js";
import type { ClusterSnapshot } from "./snapshot.js";
import { Statement } from "./statement.js";

export interface CoreConfig {
  scoringStrategy: ScoringStrategy;
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
    }
  | {
      readonly kind: "unschedulable";
      readonly group: GroupKey;
      readonly members: readonly PodInfo[];
      readonly message: string;
      /** The filter plugins that rejected a node for it (see Diagnosis.plugins); empty when none was asked. */
      readonly unschedulablePlugins: readonly string[];
      /**
       * Members whose nomination (won by an earlier preemption) the group gives up: it cannot
       * use that room now, so the room must not stay reserved for it (kube-scheduler clears
       * status.nominatedNodeName the same way). Already dropped from the snapshot.
       */
      readonly withdrawnNominations: readonly PodInfo[];
    };

/** What a budgeted cycle did, and the groups it did not reach (in queue order). */
export interface CycleResult {
  readonly decisions: Decision[];
  readonly unreached: PendingGroup[];
}

/** The shard's scheduling core: holds its plugins and the node-scan rotation between cycles. */
export class SchedulingCore {
  private readonly filters: readonly FilterPlugin[];
  private nextStartIndex = 0;
  private ownedNodeCache: { key: string; nodes: NodeInfo[] } | undefined;

  constructor(
    readonly snapshot: ClusterSnapshot,
    readonly config: CoreConfig = defaultCoreConfig,
  ) {
    this.filters = [...defaultFilterPlugins, nodeResourcesFit(snapshot)];
  }

  /**
   * Runs one cycle over the given groups. Bind decisions leave their pods assumed in the snapshot.
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
  ): CycleResult {
    const nodes = this.ownedNodes(ownsNode, ownershipVersion);
    const ctx: PlacementContext = {
      snapshot: this.snapshot,
      nodes,
      ownsNode,
      otherShardNodes: this.snapshot.nodes.length - nodes.length,
      filters: this.filters,
      scorer: resourceAllocationScore(this.config.scoringStrategy),
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
      if (group.problem !== undefined) {
        decisions.push(this.unschedulable(group, `${group.problem}.`, [], memo));
        continue;
      }
      const statement = new Statement(this.snapshot);
      const result = placeGang(ctx, statement, group);
      if (result.fits) {
        statement.commit();
        decisions.push({ kind: "bind", group: group.key, placements: result.placements });
        continue;
      }
      const message = unschedulableMessage(group, result, this.snapshot.nodes.length);
      const unschedulablePlugins = result.diagnosis.plugins;
      const preemption = this.config.preemption
        ? planGangPreemption(ctx, group, memo)
        : ({ preempts: false, reason: "preemption: disabled by configuration" } as const);
      if (preemption.preempts) {
        decisions.push({
          kind: "preempt",
          group: group.key,
          plan: preemption.plan,
          message,
          unschedulablePlugins,
        });
        // Reserve the won nodes now, as kube-scheduler's nominator does: later groups of this
        // cycle must neither pick the same victims nor take the room the preemptor was promised.
        // A gang reserves at the priority it preempted with, which every member has.
        for (const { pod, nodeName } of preemption.plan.nominations) {
          this.snapshot.upsertPod({ ...pod, nominatedNodeName: nodeName });
        }
      } else {
        decisions.push(
          this.unschedulable(group, `${message} ${preemption.reason}.`, unschedulablePlugins, memo),
        );
      }
    }
    this.nextStartIndex = ctx.nextStartIndex;
    return { decisions, unreached: ordered.slice(reached) };
  }

  /** The group gives up for this cycle, and with it the room its nominations held. */
  private unschedulable(
    group: PendingGroup,
    message: string,
    unschedulablePlugins: readonly string[],
    memo: PreemptionMemo,
  ): Decision {
    const withdrawnNominations = this.withdrawNominations(group);
    // Room came back: a preemptor shape found hopeless earlier in the cycle may not be now.
    if (withdrawnNominations.length > 0) memo.roomReturned();
    return {
      kind: "unschedulable",
      group: group.key,
      members: group.members,
      message,
      unschedulablePlugins,
      withdrawnNominations,
    };
  }

  /** Drops the group's nominations from the snapshot; returns the members that held one. */
  private withdrawNominations(group: PendingGroup): PodInfo[] {
    const withdrawn: PodInfo[] = [];
    for (const pod of group.members) {
      const nominated = this.snapshot.nominatedPod(pod.key);
      if (nominated === undefined && pod.nominatedNodeName === undefined) continue;
      if (nominated !== undefined) this.snapshot.upsertPod({ ...nominated, nominatedNodeName: undefined });
      withdrawn.push(pod);
    }
    return withdrawn;
  }

  private ownedNodes(
    ownsNode: (nodeName: string) => boolean,
    ownershipVersion: number | undefined,
  ): NodeInfo[] {
    const key = `${this.snapshot.nodeSetVersion}/${ownershipVersion}`;
    if (ownershipVersion !== undefined && this.ownedNodeCache?.key === key) return this.ownedNodeCache.nodes;
    const nodes: NodeInfo[] = [];
    for (const node of this.snapshot.nodes) if (ownsNode(node.name)) nodes.push(node);
    this.ownedNodeCache = { key, nodes };
    return nodes;
  }
}

function unschedulableMessage(
  group: PendingGroup,
  result: { placedCount: number; failedPod: PodInfo | undefined; diagnosis: Diagnosis },
  totalNodes: number,
): string {
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
