/**
 * PodTopologySpread (always on): kube-scheduler's plugin of that name.
 *
 * Filter (whenUnsatisfiable: DoNotSchedule): for each constraint, placing the pod in the node's
 * domain (the node's value of topologyKey) must keep
 *   matching pods in that domain + 1 (if the pod matches its own selector) - global minimum <= maxSkew
 * where the global minimum is the fewest matching pods in any eligible domain, or 0 while there
 * are fewer eligible domains than minDomains. Eligible domains come from nodes that carry every
 * constraint's topologyKey and pass the constraint's inclusion policies (nodeAffinityPolicy Honor:
 * the pod's nodeSelector and required node affinity; nodeTaintsPolicy Honor: the pod tolerates
 * the node's NoSchedule/NoExecute taints). Only pods of the pod's namespace count, terminating
 * ones not. A node without a topologyKey: UnschedulableAndUnresolvable "(missing required label)";
 * too much skew: Unschedulable (evicting matching pods can cure it).
 *
 * PreFilter counts matching pods per domain once per pod (into the CycleState); AddPod/RemovePod
 * keep the counts true while the Statement assumes a gang's members or removes preemption victims,
 * so a gang spreads against itself; Filter only reads.
 *
 * Score (whenUnsatisfiable: ScheduleAnyway): per constraint, the matching pods in the node's
 * domain weighted by log(domains + 2), plus maxSkew - 1; fewer is better, normalised to 0-100
 * as kube-scheduler does; nodes missing a topologyKey score 0.
 *
 * Cluster defaults: a pod with no constraints of its own gets the plugin's default constraints
 * (args: defaultingType System = hostname maxSkew 3 and zone maxSkew 5, both ScheduleAnyway, or
 * List = defaultConstraints), counting the pods its Services and controller select
 * (default-selector.ts); nothing selects it, no defaults.
 *
 * Cheap for pods without constraints: PreFilter reads one empty list and writes nothing; Score is
 * left out (scoresPod) unless cluster defaults apply to the pod.
 *
 * Nominated pods (won a node by preemption, not bound yet): as kube-scheduler, which filters a
 * node a second time with the pods nominated to it of at least the pod's priority added, a node
 * passes only if it passes both with and without them (pods of the pod's own group are left
 * out: AddPod counts those the cycle assumes).
 *
 * What differs from kube-scheduler, and why:
 * - RemovePod ignores a terminating pod, as PreFilter does (kube-scheduler decrements for it,
 *   counting it gone twice).
 * - The global minimum is recomputed from the counts when AddPod/RemovePod may have changed it,
 *   rather than kept as two "critical paths": our gang preemption removes pods on several nodes,
 *   which the two-path shortcut does not survive.
 * - Score's counts come from every node of the cluster, as kube-scheduler's; the domains seeded
 *   are those of the nodes this shard scored (its own), so the normalising weight reflects them.
 */

import type { ClusterState } from "../../cluster-state.js";
import {
  type CycleState,
  type FilterPlugin,
  maxNodeScore,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ScorePlugin,
  type StateData,
  type Status,
  skip,
  unresolvable,
  unschedulable,
} from "../../framework.js";
import type { NodeInfo, PodInfo, SpreadConstraint } from "../../model.js";
import { matchesNodeSelector, matchesRequiredNodeAffinity } from "../node-affinity/node-affinity.js";
import { firstUntoleratedTaint } from "../taint-toleration/taint-toleration.js";
import {
  defaultPodTopologySpreadArgs,
  noSpreadConstraints,
  type PodTopologySpreadArgs,
  spreadConstraint,
  systemDefaultConstraints,
} from "./spread-constraints.js";

export const podTopologySpreadName = "PodTopologySpread";

/** kube-scheduler's ErrReasonConstraintsNotMatch and ErrReasonNodeLabelNotMatch. */
export const spreadConstraintsReason = "node(s) didn't match pod topology spread constraints";
export const spreadMissingLabelReason = `${spreadConstraintsReason} (missing required label)`;

const skewTooLarge = unschedulable(spreadConstraintsReason);
const missingLabel = unresolvable(spreadMissingLabelReason);

const hostnameKey = "kubernetes.io/hostname";
const filterKey = `PreFilter${podTopologySpreadName}`;
const scoreKey = `PreScore${podTopologySpreadName}`;

function labelOf(labels: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}

/** Every constraint's topologyKey is a label of the node. */
function hasAllKeys(node: NodeInfo, constraints: readonly SpreadConstraint[]): boolean {
  for (let i = 0; i < constraints.length; i++)
    if (!Object.hasOwn(node.labels, (constraints[i] as SpreadConstraint).topologyKey)) return false;
  return true;
}

/** The pod's required node affinity (nodeSelector and affinity terms), as nodeaffinity.GetRequiredNodeAffinity. */
function matchesNodeAffinity(pod: PodInfo, node: NodeInfo): boolean {
  if (pod.nodeSelector === undefined && pod.requiredNodeAffinity === undefined) return true;
  return (
    matchesNodeSelector(pod.nodeSelector, node.labels) &&
    matchesRequiredNodeAffinity(pod.requiredNodeAffinity, node)
  );
}

/**
 * The constraint's inclusion policies admit the node as (part of) a domain. affinity: whether
 * the pod's node affinity admits the node (asked once per node, only when a policy is Honor).
 */
function included(constraint: SpreadConstraint, pod: PodInfo, node: NodeInfo, affinity: boolean): boolean {
  if (constraint.nodeAffinityPolicy === "Honor" && !affinity) return false;
  if (
    constraint.nodeTaintsPolicy === "Honor" &&
    firstUntoleratedTaint(pod.tolerations, node.taints) !== undefined
  )
    return false;
  return true;
}

/** Whether any constraint honours the pod's node affinity (then it is matched once per node). */
function honoursAffinity(constraints: readonly SpreadConstraint[]): boolean {
  return constraints.some((c) => c.nodeAffinityPolicy === "Honor");
}

/** Matching pods of the namespace on the node, terminating ones not counted (kube-scheduler #87621). */
function countOn(node: NodeInfo, constraint: SpreadConstraint, namespace: string): number {
  if (node.pods.size === 0) return 0;
  let count = 0;
  for (const other of node.pods.values())
    if (!other.terminating && other.namespace === namespace && constraint.matches(other.labels)) count++;
  return count;
}

/** What Filter reads: matching pods per domain, per DoNotSchedule constraint. */
class SpreadCounts implements StateData {
  constructor(
    readonly constraints: readonly SpreadConstraint[],
    /** Whether the pod matches each constraint's selector itself. */
    readonly selfMatch: readonly number[],
    readonly counts: Map<string, number>[],
    /** The fewest matching pods in any domain, per constraint; NaN when it must be recomputed. */
    readonly minimum: number[],
  ) {}

  clone(): SpreadCounts {
    return new SpreadCounts(
      this.constraints,
      this.selfMatch,
      this.counts.map((c) => new Map(c)),
      [...this.minimum],
    );
  }

  globalMinimum(i: number): number {
    const counts = this.counts[i] as Map<string, number>;
    if (counts.size < (this.constraints[i] as SpreadConstraint).minDomains) return 0;
    let min = this.minimum[i] as number;
    if (Number.isNaN(min)) {
      min = Number.POSITIVE_INFINITY;
      for (const count of counts.values()) if (count < min) min = count;
      this.minimum[i] = min;
    }
    return min;
  }

  update(pod: PodInfo, other: PodInfo, node: NodeInfo, delta: number): void {
    if (other.namespace !== pod.namespace || other.terminating) return;
    const constraints = this.constraints;
    if (!hasAllKeys(node, constraints)) return;
    const affinity = honoursAffinity(constraints) && matchesNodeAffinity(pod, node);
    for (let i = 0; i < constraints.length; i++) {
      const constraint = constraints[i] as SpreadConstraint;
      if (!constraint.matches(other.labels) || !included(constraint, pod, node, affinity)) continue;
      const value = node.labels[constraint.topologyKey] as string;
      const counts = this.counts[i] as Map<string, number>;
      const count = (counts.get(value) ?? 0) + delta;
      counts.set(value, count);
      const min = this.minimum[i] as number;
      // A count falling below the minimum is the new minimum; anything else may have raised it.
      if (delta < 0 && !Number.isNaN(min)) this.minimum[i] = Math.min(min, count);
      else this.minimum[i] = Number.NaN;
    }
  }
}

/** Filter's verdict from the counts: a missing topology key, or a skew above maxSkew. */
function skewRejection(spread: SpreadCounts, node: NodeInfo): Status | undefined {
  const { constraints, counts, selfMatch } = spread;
  for (let i = 0; i < constraints.length; i++) {
    const constraint = constraints[i] as SpreadConstraint;
    const value = labelOf(node.labels, constraint.topologyKey);
    if (value === undefined) return missingLabel;
    const matching = (counts[i] as Map<string, number>).get(value) ?? 0;
    const skew = matching + (selfMatch[i] as number) - spread.globalMinimum(i);
    if (skew > constraint.maxSkew) return skewTooLarge;
  }
  return undefined;
}

/** What Score reads: per ScheduleAnyway constraint, matching pods per seeded domain. */
class SpreadScores implements StateData {
  constructor(
    readonly constraints: readonly SpreadConstraint[],
    readonly requireAllKeys: boolean,
    readonly counts: Map<string, number>[],
    readonly weights: readonly number[],
  ) {}

  clone(): SpreadScores {
    return this;
  }
}

/**
 * No inclusion policy leaves a node out for this pod: nodeTaintsPolicy Ignore, and
 * nodeAffinityPolicy Ignore or a pod without nodeSelector and required node affinity.
 */
function everyNodeIncluded(constraints: readonly SpreadConstraint[], pod: PodInfo): boolean {
  const free = pod.nodeSelector === undefined && pod.requiredNodeAffinity === undefined;
  return constraints.every(
    (c) => c.nodeTaintsPolicy === "Ignore" && (c.nodeAffinityPolicy === "Ignore" || free),
  );
}

/**
 * The topology domains of the nodes that carry every key of a constraint list (each with a
 * count of 0), by the keys, kept while the nodes' labels stay the same (nodeLabelsVersion):
 * PreFilter then counts only on the nodes that hold pods.
 */
class DomainCache {
  private readonly entries = new Map<string, readonly ReadonlyMap<string, number>[]>();
  private version = -1;

  constructor(private readonly cluster: ClusterState) {}

  of(constraints: readonly SpreadConstraint[]): readonly ReadonlyMap<string, number>[] {
    if (this.version !== this.cluster.nodeLabelsVersion || this.entries.size >= 64) {
      this.entries.clear();
      this.version = this.cluster.nodeLabelsVersion;
    }
    const key = constraints.map((c) => c.topologyKey).join("\u0000");
    let entry = this.entries.get(key);
    if (entry === undefined) {
      const values = constraints.map(() => new Map<string, number>());
      for (const node of this.cluster.nodes) {
        if (!hasAllKeys(node, constraints)) continue;
        for (let i = 0; i < constraints.length; i++) {
          const key = (constraints[i] as SpreadConstraint).topologyKey;
          (values[i] as Map<string, number>).set(node.labels[key] as string, 0);
        }
      }
      entry = values;
      this.entries.set(key, entry);
    }
    return entry;
  }
}

/** Marks a node Score must leave at 0 (it lacks a topologyKey); never a real raw score. */
const ignored = -1;

export function podTopologySpread(
  cluster: ClusterState,
  args: PodTopologySpreadArgs = defaultPodTopologySpreadArgs,
): PreFilterPlugin & FilterPlugin & PreScorePlugin & ScorePlugin {
  const systemDefaulted = args.defaultingType === "System";
  const defaults = systemDefaulted ? systemDefaultConstraints : args.defaultConstraints;
  const hardDefaults = defaults.filter((c) => c.whenUnsatisfiable !== "ScheduleAnyway");
  const softDefaults = defaults.filter((c) => c.whenUnsatisfiable === "ScheduleAnyway");

  /** The pod's own constraints of one kind, or (when it has none at all) the cluster defaults. */
  const constraintsOf = (pod: PodInfo, soft: boolean): readonly SpreadConstraint[] => {
    const own = pod.spreadConstraints;
    if (own.length > 0) {
      const kind = soft ? "ScheduleAnyway" : "DoNotSchedule";
      return own.every((c) => c.whenUnsatisfiable === kind)
        ? own
        : own.filter((c) => c.whenUnsatisfiable === kind);
    }
    const list = soft ? softDefaults : hardDefaults;
    if (list.length === 0) return noSpreadConstraints;
    const selector = cluster.spreadSelectors.selectorFor(pod);
    if (selector === undefined) return noSpreadConstraints;
    return list.map((c) => ({ ...spreadConstraint(c, pod.labels, {}), matches: selector }));
  };

  const domains = new DomainCache(cluster);

  const hasNoHardConstraints = (pod: PodInfo): boolean =>
    pod.spreadConstraints.length > 0
      ? !pod.spreadConstraints.some((c) => c.whenUnsatisfiable === "DoNotSchedule")
      : hardDefaults.length === 0;

  return {
    name: podTopologySpreadName,
    spansNodes: true,
    // As kube-scheduler's Pod/All and Node/Add|Delete|UpdateNodeLabel: a matching pod leaving a
    // crowded domain or a new (or relabelled) node opening one can help; a pod added elsewhere
    // can raise the global minimum; a node removed can take the least crowded domain away.
    // Taints count under nodeTaintsPolicy Honor.
    events: [
      "NodeAdd",
      "NodeUpdateLabel",
      "NodeUpdateTaint",
      "NodeDelete",
      "AssignedPodAdd",
      "AssignedPodUpdateLabel",
      "AssignedPodDelete",
    ],

    podOnlyFor: hasNoHardConstraints,

    preFilter(state, pod) {
      // Nothing written, nothing allocated: Filter, AddPod and RemovePod find no state and pass.
      if (hasNoHardConstraints(pod)) return undefined;
      const constraints = constraintsOf(pod, false);
      if (constraints.length === 0) return undefined;
      const selfMatch = constraints.map((c) => (c.matches(pod.labels) ? 1 : 0));
      const minimum = constraints.map(() => Number.NaN);
      const namespace = pod.namespace;
      if (everyNodeIncluded(constraints, pod)) {
        // Every node with the keys is a domain of the pod: start from the cached domains, count
        // on the nodes that hold pods.
        const counts = domains.of(constraints).map((values) => new Map(values));
        for (const node of cluster.nodes) {
          if (node.pods.size === 0 || !hasAllKeys(node, constraints)) continue;
          for (let i = 0; i < constraints.length; i++) {
            const constraint = constraints[i] as SpreadConstraint;
            const value = node.labels[constraint.topologyKey] as string;
            const domain = counts[i] as Map<string, number>;
            domain.set(value, (domain.get(value) ?? 0) + countOn(node, constraint, namespace));
          }
        }
        state.write(filterKey, new SpreadCounts(constraints, selfMatch, counts, minimum));
        return undefined;
      }
      const counts = constraints.map(() => new Map<string, number>());
      const honours = honoursAffinity(constraints);
      for (const node of cluster.nodes) {
        if (!hasAllKeys(node, constraints)) continue;
        const affinity = honours && matchesNodeAffinity(pod, node);
        for (let i = 0; i < constraints.length; i++) {
          const constraint = constraints[i] as SpreadConstraint;
          if (!included(constraint, pod, node, affinity)) continue;
          const value = node.labels[constraint.topologyKey] as string;
          const domain = counts[i] as Map<string, number>;
          domain.set(value, (domain.get(value) ?? 0) + countOn(node, constraint, namespace));
        }
      }
      state.write(filterKey, new SpreadCounts(constraints, selfMatch, counts, minimum));
      return undefined;
    },

    extensions: {
      addPod(state, pod, added, node) {
        state.read<SpreadCounts>(filterKey)?.update(pod, added, node, 1);
      },
      removePod(state, pod, removed, node) {
        state.read<SpreadCounts>(filterKey)?.update(pod, removed, node, -1);
      },
    },

    filter(pod, node, state) {
      const spread = state?.read<SpreadCounts>(filterKey);
      if (spread === undefined) return undefined;
      const rejected = skewRejection(spread, node);
      if (rejected !== undefined || !cluster.hasNominations(node.name)) return rejected;
      let withNominated: SpreadCounts | undefined;
      for (const other of cluster.nominatedFor(node.name, pod)) {
        withNominated ??= spread.clone();
        withNominated.update(pod, other, node, 1);
      }
      return withNominated === undefined ? undefined : skewRejection(withNominated, node);
    },

    scoresPod(pod) {
      const own = pod.spreadConstraints;
      if (own.length > 0) return own.some((c) => c.whenUnsatisfiable === "ScheduleAnyway");
      return softDefaults.length > 0 && cluster.spreadSelectors.selectorFor(pod) !== undefined;
    },

    preScore(state, pod, feasible) {
      if (cluster.nodes.length === 0) return skip;
      const constraints = constraintsOf(pod, true);
      if (constraints.length === 0) return skip;
      // Only a pod's own constraints (or List defaults) need every key: with the system defaults
      // a node without a zone label still spreads by hostname.
      const requireAllKeys = pod.spreadConstraints.length > 0 || !systemDefaulted;
      const counts = constraints.map(() => new Map<string, number>());
      let scored = 0;
      for (const node of feasible) {
        if (requireAllKeys && !hasAllKeys(node, constraints)) continue;
        scored++;
        for (let i = 0; i < constraints.length; i++) {
          const key = (constraints[i] as SpreadConstraint).topologyKey;
          // Per-node counts (hostname) are made in Score.
          if (key !== hostnameKey) (counts[i] as Map<string, number>).set(labelOf(node.labels, key) ?? "", 0);
        }
      }
      const weights = constraints.map((c, i) =>
        Math.log((c.topologyKey === hostnameKey ? scored : (counts[i] as Map<string, number>).size) + 2),
      );
      const namespace = pod.namespace;
      const honours = honoursAffinity(constraints);
      for (const node of cluster.nodes) {
        // A node without pods adds nothing to any domain.
        if (node.pods.size === 0 || (requireAllKeys && !hasAllKeys(node, constraints))) continue;
        let affinity: boolean | undefined;
        for (let i = 0; i < constraints.length; i++) {
          const constraint = constraints[i] as SpreadConstraint;
          // Per-node counts (hostname) are made in Score.
          if (constraint.topologyKey === hostnameKey) continue;
          const domain = counts[i] as Map<string, number>;
          const value = labelOf(node.labels, constraint.topologyKey) ?? "";
          const count = domain.get(value);
          // Domains no scored node is in are not counted.
          if (count === undefined) continue;
          affinity ??= honours && matchesNodeAffinity(pod, node);
          if (included(constraint, pod, node, affinity))
            domain.set(value, count + countOn(node, constraint, namespace));
        }
      }
      state.write(scoreKey, new SpreadScores(constraints, requireAllKeys, counts, weights));
      return undefined;
    },

    score(pod, node, state) {
      const spread = state.read<SpreadScores>(scoreKey);
      if (spread === undefined) return 0;
      const { constraints, counts, weights } = spread;
      if (spread.requireAllKeys && !hasAllKeys(node, constraints)) return ignored;
      let score = 0;
      for (let i = 0; i < constraints.length; i++) {
        const constraint = constraints[i] as SpreadConstraint;
        const value = labelOf(node.labels, constraint.topologyKey);
        if (value === undefined) continue;
        const count =
          constraint.topologyKey === hostnameKey
            ? countOn(node, constraint, pod.namespace)
            : ((counts[i] as Map<string, number>).get(value) ?? 0);
        score += count * (weights[i] as number) + constraint.maxSkew - 1;
      }
      return Math.round(score);
    },

    normalize(scores) {
      let min = Number.POSITIVE_INFINITY;
      let max = 0;
      for (const score of scores) {
        if (score === ignored) continue;
        if (score < min) min = score;
        if (score > max) max = score;
      }
      for (let i = 0; i < scores.length; i++) {
        const score = scores[i] as number;
        if (score === ignored) scores[i] = 0;
        else if (max === 0) scores[i] = maxNodeScore;
        else scores[i] = Math.floor((maxNodeScore * (max + min - score)) / max);
      }
    },
  };
}

/** The spread counts PreFilter computed for the pod, for tests and the check before bind. */
export function spreadCountsOf(state: CycleState): ReadonlyMap<string, number>[] | undefined {
  return state.read<SpreadCounts>(filterKey)?.counts;
}
