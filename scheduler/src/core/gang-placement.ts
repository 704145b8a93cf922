/**
 * Gang placement: every required member of a group gets a node at once, or none does.
 * Each member goes through Filter then Score over the nodes this shard may use; members
 * are assumed into the snapshot through a Statement so later members see earlier ones.
 */
import { Diagnosis, otherShardReason } from "./diagnosis.js";
import type { FilterPlugin, FilterReasons, ScorePlugin } from "./framework.js";
import type { PendingGroup } from "./gang/index.js";
import type { NodeInfo, PodInfo } from "./model.js";
import type { ClusterSnapshot } from "./snapshot.js";
import type { Statement } from "./statement.js";

export interface Placement {
  readonly pod: PodInfo;
  readonly nodeName: string;
}

/** The nodes a cycle may place on, and how to judge them. */
export interface PlacementContext {
  readonly snapshot: ClusterSnapshot;
  /** Nodes this shard owns (the ownership function's answer for this cycle). */
  readonly nodes: readonly NodeInfo[];
  readonly ownsNode: (nodeName: string) => boolean;
  /** Nodes in the cluster that other shards own: reported, never used. */
  readonly otherShardNodes: number;
  readonly filters: readonly FilterPlugin[];
  readonly scorer: ScorePlugin;
  /** How many feasible nodes to find before picking the best (kube-scheduler's sampling). */
  readonly feasibleNodesToFind: number;
  /** Rotates where the node scan starts so sampling spreads over all nodes. */
  nextStartIndex: number;
}

export type GangPlacementResult =
  | { readonly fits: true; readonly placements: readonly Placement[] }
  | {
      readonly fits: false;
      /** How many members did fit before the group was given up. */
      readonly placedCount: number;
      /** The first member that found no node, and why; undefined when too few members are pending. */
      readonly failedPod: PodInfo | undefined;
      readonly diagnosis: Diagnosis;
    };

/**
 * Tries to place the group within the statement. On success the assumptions stay in the
 * statement for the caller to commit; on failure they are already rolled back.
 */
export function placeGang(
  ctx: PlacementContext,
  statement: Statement,
  group: PendingGroup,
  sample = true,
): GangPlacementResult {
  if (group.members.length < group.required) {
    // Placing the members present would start a partial gang: wait for the rest.
    return { fits: false, placedCount: 0, failedPod: undefined, diagnosis: new Diagnosis() };
  }
  const mark = statement.mark();
  const placements: Placement[] = [];
  let firstFailure: { pod: PodInfo; diagnosis: Diagnosis } | undefined;
  let failures = 0;
  const allowedFailures = group.members.length - group.required;
  for (const pod of group.members) {
    const diagnosis = firstFailure ? undefined : new Diagnosis();
    const nodeName = selectNode(ctx, pod, diagnosis, sample);
    if (nodeName === undefined) {
      firstFailure ??= { pod, diagnosis: diagnosis as Diagnosis };
      if (++failures > allowedFailures) break;
      continue;
    }
    statement.assume(pod, nodeName);
    placements.push({ pod, nodeName });
  }
  if (placements.length >= group.required && failures <= allowedFailures) {
    return { fits: true, placements };
  }
  statement.discardTo(mark);
  const failure = firstFailure as { pod: PodInfo; diagnosis: Diagnosis };
  failure.diagnosis.rejectMany(otherShardReason, ctx.otherShardNodes);
  return {
    fits: false,
    placedCount: placements.length,
    failedPod: failure.pod,
    diagnosis: failure.diagnosis,
  };
}

/** Filter, then Score: the best feasible node for one pod, or undefined (with reasons in diagnosis). */
export function selectNode(
  ctx: PlacementContext,
  pod: PodInfo,
  diagnosis: Diagnosis | undefined,
  sample: boolean,
): string | undefined {
  // The node won by preemption comes first, as in kube-scheduler.
  if (pod.nominatedNodeName) {
    const nominated = ctx.snapshot.node(pod.nominatedNodeName);
    if (nominated && ctx.ownsNode(nominated.name) && rejection(ctx.filters, pod, nominated) === undefined) {
      return nominated.name;
    }
  }
  const nodes = ctx.nodes;
  const count = nodes.length;
  if (count === 0) return undefined;
  const want = sample ? ctx.feasibleNodesToFind : count;
  const start = sample ? ctx.nextStartIndex % count : 0;
  let best: NodeInfo | undefined;
  let bestScore = -1;
  let found = 0;
  let processed = 0;
  for (let i = 0; i < count; i++) {
    const node = nodes[(start + i) % count] as NodeInfo;
    processed++;
    const rejected = rejection(ctx.filters, pod, node);
    if (rejected !== undefined) {
      diagnosis?.reject(rejected.plugin, rejected.reasons);
      continue;
    }
    const score = ctx.scorer.score(pod, node);
    if (score > bestScore) {
      best = node;
      bestScore = score;
    }
    if (++found >= want) break;
  }
  if (sample) ctx.nextStartIndex = (start + processed) % count;
  return best?.name;
}

/** The first filter that rejects the pod on the node, with its reasons, or undefined when it passes them all. */
export function rejection(
  filters: readonly FilterPlugin[],
  pod: PodInfo,
  node: NodeInfo,
): { readonly plugin: string; readonly reasons: FilterReasons } | undefined {
  for (const filter of filters) {
    const reasons = filter.filter(pod, node);
    if (reasons !== undefined) return { plugin: filter.name, reasons };
  }
  return undefined;
}

/** kube-scheduler's adaptive percentageOfNodesToScore: all nodes below 100, then 50% falling to 5%. */
export function feasibleNodesToFind(nodeCount: number, percentage: number | undefined): number {
  if (nodeCount < 100) return nodeCount;
  let pct = percentage ?? 0;
  if (pct <= 0) pct = Math.max(5, 50 - Math.floor(nodeCount / 125));
  if (pct >= 100) return nodeCount;
  return Math.max(100, Math.floor((nodeCount * pct) / 100));
}
