/**
 * Gang placement: every required member of a group gets a node at once, or none does.
 * Each member goes through PreFilter, Filter then Score over the nodes this shard may use;
 * members are assumed into the cluster through a Statement so later members see earlier ones
 * (and AddPod keeps the members' PreFilter states true as they are).
 *
 * The group-level placement step (placeGroup, after kube-scheduler 1.37's PlacementGenerate /
 * PlacementScore): the profile's generators offer candidate node sets (by default one: every
 * usable node), the gang is placed inside each, and the best-scored placement is kept. Today
 * TopologyPlacement (plugins/topology-placement/) is the one generator: one set per domain of a
 * group's required topology key; groups without a constraint skip the step.
 */

import type { ClusterState } from "./cluster-state.js";
import { Diagnosis, otherShardReason } from "./diagnosis.js";
import {
  type CycleState,
  maxNodeScore,
  type PlacementGeneratePlugin,
  type ScorePlugin,
} from "./framework.js";
import type { PendingGroup } from "./gang/index.js";
import type { NodeInfo, PodInfo } from "./model.js";
import { type PodState, PodStates, type Profile, preFilter, rejection, type Weighted } from "./profile.js";
import type { Statement } from "./statement.js";

export interface Placement {
  readonly pod: PodInfo;
  readonly nodeName: string;
}

/** The nodes a cycle may place on, and how to judge them. */
export interface PlacementContext {
  readonly cluster: ClusterState;
  /** Nodes this shard owns (the ownership function's answer for this cycle). */
  readonly nodes: readonly NodeInfo[];
  readonly ownsNode: (nodeName: string) => boolean;
  /** Nodes in the cluster that other shards own: reported, never used. */
  readonly otherShardNodes: number;
  readonly profile: Profile;
  /** How many feasible nodes to find before picking the best (kube-scheduler's sampling). */
  readonly feasibleNodesToFind: number;
  /** Rotates where the node scan starts so sampling spreads over all nodes. */
  nextStartIndex: number;
  /**
   * `nodes` is a candidate set narrowed from the usable nodes (confinedTo): a member's nominated
   * node outside it is not taken (a gang placed in one domain must not follow a nomination out).
   */
  readonly confined?: true;
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
      /**
       * Why no candidate set of the placement step held the group (PlacementGenerate's
       * explainFailure, e.g. "no rack has room for all 16 pods (largest free: 11)"): what the
       * user is told instead of the node reasons. Undefined without one.
       */
      readonly explanation?: string;
    };

const tooFewMembers = (): GangPlacementResult => ({
  fits: false,
  placedCount: 0,
  failedPod: undefined,
  diagnosis: new Diagnosis(),
});

/**
 * The placement step: places the group in each candidate node set the profile generates and
 * keeps the best-scored placement (the first among equals). With no generator that speaks for
 * the group there is one set, ctx's nodes, and this is placeGang. On failure the diagnosis is the
 * first set's, and the explanation the first generator's that gives one.
 */
export function placeGroup(
  ctx: PlacementContext,
  statement: Statement,
  group: PendingGroup,
  sample = true,
): GangPlacementResult {
  const { placementGenerators, placementScores } = ctx.profile;
  if (!placementStepFor(ctx.profile, group)) return placeGang(ctx, statement, group, sample);
  if (group.members.length < group.required) return tooFewMembers();
  const generators = placementGenerators.filter((generator) => generator.generatesFor?.(group) ?? true);
  const sets = generators.flatMap((generator) => generator.generate(group, ctx.nodes));
  // PreFilter once for the group: AddPod/RemovePod keep the states true from set to set.
  const states = new PodStates(ctx.profile, group.members);
  let best: { placements: readonly Placement[]; score: number } | undefined;
  let firstFailure: GangPlacementResult | undefined;
  const placed = new Map<readonly NodeInfo[], number>();
  const mark = statement.mark();
  for (const nodes of sets) {
    const result = placeGang(confinedTo(ctx, nodes, sample), statement, group, sample, states);
    if (!result.fits) {
      firstFailure ??= result;
      placed.set(nodes, result.placedCount);
      continue;
    }
    let score = 0;
    for (const { plugin, weight } of placementScores)
      score += weight * plugin.scorePlacement(group, result.placements);
    // RemovePod tells the states the members left again: the next set starts from PreFilter's view.
    const followed = statement.follow(states.follower);
    statement.discardTo(mark);
    statement.follow(followed);
    if (best === undefined || score > best.score) best = { placements: result.placements, score };
  }
  if (best === undefined) {
    const failure = firstFailure ?? placeGang(confinedTo(ctx, [], sample), statement, group, sample);
    if (failure.fits) return failure;
    for (const generator of generators) {
      const explanation = generator.explainFailure?.(group, ctx.nodes, placed);
      if (explanation !== undefined) return { ...failure, explanation };
    }
    return failure;
  }
  // Every member passed Filter there on this very cluster: assume them again as they were.
  for (const { pod, nodeName } of best.placements) statement.assume(pod, nodeName);
  return { fits: true, placements: best.placements };
}

/** Whether a generator of the profile speaks for the group: then placeGroup runs the placement step. */
export function placementStepFor(profile: Profile, group: PendingGroup): boolean {
  const generators = profile.placementGenerators;
  for (let i = 0; i < generators.length; i++)
    if ((generators[i] as PlacementGeneratePlugin).generatesFor?.(group) ?? true) return true;
  return false;
}

/**
 * Tries to place the group on ctx's nodes within the statement. On success the assumptions stay
 * in the statement for the caller to commit; on failure they are already rolled back. `states`
 * are the members' PreFilter states when the caller keeps them across attempts.
 */
export function placeGang(
  ctx: PlacementContext,
  statement: Statement,
  group: PendingGroup,
  sample = true,
  states: PodStates = new PodStates(ctx.profile, group.members),
): GangPlacementResult {
  if (group.members.length < group.required) {
    // Placing the members present would start a partial gang: wait for the rest.
    return tooFewMembers();
  }
  const mark = statement.mark();
  const followed = statement.follow(states.follower);
  const placements: Placement[] = [];
  let firstFailure: { pod: PodInfo; diagnosis: Diagnosis } | undefined;
  let failures = 0;
  const allowedFailures = group.members.length - group.required;
  try {
    for (let i = 0; i < group.members.length; i++) {
      const pod = group.members[i] as PodInfo;
      const diagnosis = firstFailure ? undefined : new Diagnosis();
      const nodeName = selectNode(ctx, pod, diagnosis, sample, states.states[i]);
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
  } finally {
    statement.follow(followed);
  }
  const failure = firstFailure as { pod: PodInfo; diagnosis: Diagnosis };
  failure.diagnosis.rejectMany(otherShardReason, ctx.otherShardNodes);
  return {
    fits: false,
    placedCount: placements.length,
    failedPod: failure.pod,
    diagnosis: failure.diagnosis,
  };
}

/**
 * PreFilter (unless the caller has the pod's state), Filter, then Score: the best feasible node
 * for one pod, or undefined (with reasons in diagnosis).
 */
export function selectNode(
  ctx: PlacementContext,
  pod: PodInfo,
  diagnosis: Diagnosis | undefined,
  sample = true,
  podState: PodState = preFilter(ctx.profile, pod),
): string | undefined {
  const { state, rejected } = podState;
  if (rejected !== undefined) {
    diagnosis?.rejectAll(
      rejected.plugin,
      rejected.status,
      ctx.nodes.map((node) => node.name),
    );
    return undefined;
  }
  const profile = ctx.profile;
  // The node won by preemption comes first, as in kube-scheduler.
  if (pod.nominatedNodeName) {
    const nominated = ctx.cluster.node(pod.nominatedNodeName);
    if (
      nominated &&
      ctx.ownsNode(nominated.name) &&
      (ctx.confined !== true || ctx.nodes.some((node) => node.name === nominated.name)) &&
      rejection(profile, pod, nominated, state) === undefined
    ) {
      return nominated.name;
    }
  }
  const nodes = ctx.nodes;
  const count = nodes.length;
  if (count === 0) return undefined;
  const want = sample ? ctx.feasibleNodesToFind : count;
  const start = sample ? ctx.nextStartIndex % count : 0;
  const scorer = streamingScorer(profile, pod);
  const feasible: NodeInfo[] | undefined = scorer === undefined ? [] : undefined;
  let best: NodeInfo | undefined;
  let bestScore = -1;
  let found = 0;
  let processed = 0;
  for (let i = 0; i < count; i++) {
    const node = nodes[(start + i) % count] as NodeInfo;
    processed++;
    const rejected = rejection(profile, pod, node, state);
    if (rejected !== undefined) {
      diagnosis?.reject(rejected.plugin, rejected.status, node.name);
      continue;
    }
    if (scorer !== undefined) {
      const score = scorer.score(pod, node, state);
      if (score > bestScore) {
        best = node;
        bestScore = score;
      }
    } else {
      feasible?.push(node);
    }
    if (++found >= want) break;
  }
  if (sample) ctx.nextStartIndex = (start + processed) % count;
  return feasible === undefined ? best?.name : bestOf(profile, pod, state, feasible)?.name;
}

/**
 * A scorer that needs nothing but the node when every score plugin that scores the pod needs no
 * PreScore and no normalisation (plugins that leave the pod out, scoresPod false, do not count):
 * then the best node is found as the scan goes, by the same weighted sum bestOf computes.
 */
function streamingScorer(profile: Profile, pod: PodInfo): ScorePlugin | undefined {
  const { scores } = profile;
  if (scores.length === 0) return noScore;
  let active: Weighted<ScorePlugin>[] | undefined;
  for (let i = 0; i < scores.length; i++) {
    const weighted = scores[i] as Weighted<ScorePlugin>;
    const plugin = weighted.plugin;
    if (plugin.scoresPod !== undefined && !plugin.scoresPod(pod)) continue;
    if (plugin.normalize !== undefined || profile.preScores.includes(plugin as never)) return undefined;
    active ??= [];
    active.push(weighted);
  }
  if (active === undefined) return noScore;
  // One plugin: its own score orders the nodes as its weighted score does.
  if (active.length === 1) return (active[0] as Weighted<ScorePlugin>).plugin;
  const used = active;
  return {
    name: "Weighted",
    score(p, node, state) {
      let total = 0;
      for (let i = 0; i < used.length; i++) {
        const { plugin, weight } = used[i] as Weighted<ScorePlugin>;
        total += weight * Math.min(maxNodeScore, Math.max(0, plugin.score(p, node, state)));
      }
      return total;
    },
  };
}

const noScore: ScorePlugin = { name: "None", score: () => 0 };

/** Score, normalise, weigh (PreScore ran before the scan): the best of the feasible nodes (the first among equals). */
function bestOf(
  profile: Profile,
  pod: PodInfo,
  state: CycleState,
  feasible: readonly NodeInfo[],
): NodeInfo | undefined {
  if (feasible.length === 0) return undefined;
  const skipped = new Set<string>();
  for (const { plugin } of profile.scores)
    if (plugin.scoresPod !== undefined && !plugin.scoresPod(pod)) skipped.add(plugin.name);
  for (const plugin of profile.preScores) {
    if (skipped.has(plugin.name)) continue;
    const status = plugin.preScore(state, pod, feasible);
    if (status?.code === "Skip") skipped.add(plugin.name);
  }
  const totals = new Array<number>(feasible.length).fill(0);
  const scores = new Array<number>(feasible.length);
  for (const { plugin, weight } of profile.scores) {
    if (skipped.has(plugin.name)) continue;
    for (let i = 0; i < feasible.length; i++) scores[i] = plugin.score(pod, feasible[i] as NodeInfo, state);
    plugin.normalize?.(scores, pod, state);
    for (let i = 0; i < feasible.length; i++)
      totals[i] = (totals[i] as number) + weight * Math.min(maxNodeScore, Math.max(0, scores[i] as number));
  }
  let best = 0;
  for (let i = 1; i < totals.length; i++) if ((totals[i] as number) > (totals[best] as number)) best = i;
  return feasible[best];
}

/** The context with its node list narrowed to `nodes`, every one of them looked at unless sampled. */
export function confinedTo(
  ctx: PlacementContext,
  nodes: readonly NodeInfo[],
  sample = false,
): PlacementContext {
  if (nodes === ctx.nodes) return ctx;
  return {
    ...ctx,
    nodes,
    feasibleNodesToFind: sample ? Math.min(ctx.feasibleNodesToFind, nodes.length) : nodes.length,
    confined: true,
  };
}

/** kube-scheduler's adaptive percentageOfNodesToScore: all nodes below 100, then 50% falling to 5%. */
export function feasibleNodesToFind(nodeCount: number, percentage: number | undefined): number {
  if (nodeCount < 100) return nodeCount;
  let pct = percentage ?? 0;
  if (pct <= 0) pct = Math.max(5, 50 - Math.floor(nodeCount / 125));
  if (pct >= 100) return nodeCount;
  return Math.max(100, Math.floor((nodeCount * pct) / 100));
}

/**
 * Other shards' nodes on which the group's first member passes PreFilter and every filter now,
 * at most `limit`, in the cluster's node order. For a group only its owner can judge (inter-pod
 * constraints): the coordinator's capacity view holds no other pods, so the owner names the
 * nodes it would take and the coordinator lends from them (relief-plan.ts).
 */
export function nodesElsewhere(ctx: PlacementContext, group: PendingGroup, limit: number): string[] {
  const pod = group.members[0];
  if (pod === undefined) return [];
  const { state, rejected } = preFilter(ctx.profile, pod);
  if (rejected !== undefined) return [];
  const names: string[] = [];
  for (const node of ctx.cluster.nodes) {
    if (ctx.ownsNode(node.name) || rejection(ctx.profile, pod, node, state) !== undefined) continue;
    names.push(node.name);
    if (names.length >= limit) break;
  }
  return names;
}
