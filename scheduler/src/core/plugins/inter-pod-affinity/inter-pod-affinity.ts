/**
 * InterPodAffinity (always on), kube-scheduler 1.37's interpodaffinity plugin:
 *
 * Filter (required terms):
 *   1. the pod's affinity: on the node's topology domain of every term there is ONE pod matching
 *      all its terms ("node(s) didn't match pod affinity rules", unresolvable: no eviction adds a
 *      pod), unless no pod anywhere matches them and the pod matches them itself (the first pod of
 *      a group of pods with affinity to each other) and the node has every topology key;
 *   2. the pod's anti-affinity: no pod matching a term in the node's domain of that term ("node(s)
 *      didn't match pod anti-affinity rules");
 *   3. symmetry: no pod in the node's domain whose required anti-affinity term matches this pod
 *      ("node(s) didn't satisfy existing pods anti-affinity rules").
 * Score (preferred terms): per topology domain, the weights of the pod's preferred terms matched
 * by the pods there (anti-affinity negative), plus the pods there whose preferred terms match this
 * pod, plus hardPodAffinityWeight for each of their required affinity terms this pod matches;
 * normalised min-max to 0-100.
 *
 * Terms with topologyKey kubernetes.io/hostname are checked on the node's own pods in Filter and
 * never counted cluster-wide (kube-scheduler's InterPodAffinityHostnameFastPath); wider terms
 * are counted per topology pair in PreFilter and kept true by AddPod/RemovePod, so gang members
 * assumed earlier in the cycle and preemption's victims count. PreFilter walks every pod only for
 * a pod with wider terms of its own; existing pods' anti-affinity is found through the nodes that
 * hold such pods (ClusterState keeps them, as kube-scheduler's snapshot keeps its lists). A pod
 * without terms, in a cluster without pods with wider required anti-affinity, gets no state at
 * all and Filter looks only at the node's own pods with required anti-affinity.
 *
 * Differences from kube-scheduler, and why:
 * - A pod without terms whose PreFilter found nothing writes no state instead of Skip: a gang's
 *   members are PreFilter'ed together before any is placed (kube-scheduler PreFilters each after
 *   the earlier ones are assumed), so AddPod must still be able to tell it of a member with
 *   anti-affinity against it (the state is then created).
 * - Nominated pods: kube-scheduler runs Filter a second time with the higher-priority pods
 *   nominated to the node added; here Filter checks those pods' and the pod's anti-affinity
 *   against each other directly (the only way they can reject; affinity they could only help).
 * - matchLabelKeys/mismatchLabelKeys are merged into the selector when the API server has not
 *   done so already (terms.ts); kube-scheduler relies on the API server alone.
 * - The namespaces' labels come from ClusterState (the shard's namespace informer); a namespace
 *   relabelled wakes no rejected pod (kube-scheduler registers no Namespace event either): the
 *   unschedulable flush retries it.
 * - PodsWithAffinity is narrowed to the pods whose terms can score others (not those with only
 *   required anti-affinity): the same scores, fewer pods walked.
 */

import { invalid, type Parsed, parsed, quoted } from "../../../contracts/parsed.js";
import type { ClusterState } from "../../cluster-state.js";
import {
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
import type { NodeInfo, PodInfo } from "../../model.js";
import {
  type AffinityTerm,
  hostnameLabel,
  matchesAllTerms,
  noInterPodAffinity,
  termMatches,
  type WeightedAffinityTerm,
  withSelectedNamespaces,
} from "./terms.js";

export const interPodAffinityName = "InterPodAffinity";

export const affinityRulesReason = "node(s) didn't match pod affinity rules";
export const antiAffinityRulesReason = "node(s) didn't match pod anti-affinity rules";
export const existingAntiAffinityReason = "node(s) didn't satisfy existing pods anti-affinity rules";

/** kube-scheduler's InterPodAffinityArgs. */
export interface InterPodAffinityArgs {
  /** Score weight of an existing pod's required affinity term the incoming pod matches (0-100; 1). */
  readonly hardPodAffinityWeight?: number;
  /** Score only by the incoming pod's own preferred terms (false). */
  readonly ignorePreferredTermsOfExistingPods?: boolean;
}

/** InterPodAffinity's arguments as a profile configuration gives them (pluginConfig args), checked. */
export function interPodAffinityArgs(value: unknown): Parsed<InterPodAffinityArgs> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return invalid("must be a map of hardPodAffinityWeight, ignorePreferredTermsOfExistingPods");
  const args = value as Record<string, unknown>;
  const known = ["hardPodAffinityWeight", "ignorePreferredTermsOfExistingPods"];
  const unknown = Object.keys(args).find((key) => !known.includes(key));
  if (unknown !== undefined) return invalid(`unknown field ${quoted(unknown)} (known: ${known.join(", ")})`);
  const weight = args.hardPodAffinityWeight;
  if (
    weight !== undefined &&
    (typeof weight !== "number" || !Number.isInteger(weight) || weight < 0 || weight > maxNodeScore)
  )
    return invalid(
      `hardPodAffinityWeight: Invalid value: ${quoted(String(weight))}: not in valid range [0-100]`,
    );
  const ignore = args.ignorePreferredTermsOfExistingPods;
  if (ignore !== undefined && typeof ignore !== "boolean")
    return invalid("ignorePreferredTermsOfExistingPods must be true or false");
  return parsed(args as InterPodAffinityArgs);
}

type Labels = Readonly<Record<string, string>>;

/** Counts per topology pair (key → value → count), zero entries dropped: kube's topologyToMatchedTermCount. */
class TopologyCounts {
  readonly byKey = new Map<string, Map<string, number>>();
  /** How many pairs have a non-zero count. */
  pairs = 0;

  add(node: NodeInfo, key: string, delta: number): void {
    const value = node.labels[key];
    if (value === undefined) return;
    let values = this.byKey.get(key);
    if (values === undefined) {
      values = new Map();
      this.byKey.set(key, values);
    }
    const before = values.get(value) ?? 0;
    const after = before + delta;
    if (after === 0) {
      values.delete(value);
      if (values.size === 0) this.byKey.delete(key);
      this.pairs--;
    } else {
      values.set(value, after);
      if (before === 0) this.pairs++;
    }
  }

  get(key: string, value: string): number {
    return this.byKey.get(key)?.get(value) ?? 0;
  }

  clone(): TopologyCounts {
    const copy = new TopologyCounts();
    for (const [key, values] of this.byKey) copy.byKey.set(key, new Map(values));
    copy.pairs = this.pairs;
    return copy;
  }
}

const noTerms: readonly AffinityTerm[] = Object.freeze([]);

/** What PreFilter computed for Filter (kube-scheduler's preFilterState). */
class FilterState implements StateData {
  constructor(
    readonly namespaceLabels: Labels | undefined,
    /** The pod's required affinity terms (namespace selectors resolved), for the self-match. */
    readonly affinity: readonly AffinityTerm[],
    /** All of them when any is wider than a node, else none. */
    readonly clusterWideAffinity: readonly AffinityTerm[],
    /** All of them when every one is host-scoped, else none. */
    readonly hostScopedAffinity: readonly AffinityTerm[],
    readonly clusterWideAntiAffinity: readonly AffinityTerm[],
    readonly hostScopedAntiAffinity: readonly AffinityTerm[],
    /** Existing pods' wider required anti-affinity terms matching this pod. */
    readonly existingAntiAffinity: TopologyCounts,
    /** Pods matching all of clusterWideAffinity, per pair of each term. */
    readonly affinityCounts: TopologyCounts,
    /** Pods matching a term of clusterWideAntiAffinity, per pair of that term. */
    readonly antiAffinityCounts: TopologyCounts,
    /** Pods anywhere matching all of hostScopedAffinity. */
    public hostScopedAffinityMatches: number,
  ) {}

  clone(): FilterState {
    return new FilterState(
      this.namespaceLabels,
      this.affinity,
      this.clusterWideAffinity,
      this.hostScopedAffinity,
      this.clusterWideAntiAffinity,
      this.hostScopedAntiAffinity,
      this.existingAntiAffinity.clone(),
      this.affinityCounts.clone(),
      this.antiAffinityCounts.clone(),
      this.hostScopedAffinityMatches,
    );
  }

  /** kube-scheduler's updateWithPod: `other` comes onto (+1) or leaves (-1) `node`. */
  update(pod: PodInfo, other: PodInfo, node: NodeInfo, delta: number): void {
    for (const term of other.interPodAffinity.requiredAntiAffinity)
      if (!term.hostScoped && termMatches(term, pod.namespace, pod.labels, this.namespaceLabels))
        this.existingAntiAffinity.add(node, term.topologyKey, delta);
    countIncoming(this, other, node, delta);
    if (
      this.hostScopedAffinity.length > 0 &&
      matchesAllTerms(this.hostScopedAffinity, other.namespace, other.labels)
    )
      this.hostScopedAffinityMatches += delta;
  }
}

/** Counts `other` against the pod's own wider terms. */
function countIncoming(state: FilterState, other: PodInfo, node: NodeInfo, delta: number): void {
  const affinity = state.clusterWideAffinity;
  if (affinity.length > 0 && matchesAllTerms(affinity, other.namespace, other.labels))
    for (const term of affinity) state.affinityCounts.add(node, term.topologyKey, delta);
  for (const term of state.clusterWideAntiAffinity)
    if (termMatches(term, other.namespace, other.labels, undefined))
      state.antiAffinityCounts.add(node, term.topologyKey, delta);
}

/** What PreScore computed for Score: summed weights per topology pair (kube-scheduler's scoreMap). */
class ScoreState implements StateData {
  constructor(readonly scores: TopologyCounts) {}
  clone(): ScoreState {
    return this;
  }
}

const preScoreKey = `${interPodAffinityName}/score`;

const parseRefusals = new Map<string, Status>();
const affinityRejected = unresolvable(affinityRulesReason);
const antiAffinityRejected = unschedulable(antiAffinityRulesReason);
const existingAntiAffinityRejected = unschedulable(existingAntiAffinityReason);

export type InterPodAffinityPlugin = PreFilterPlugin & FilterPlugin & PreScorePlugin & ScorePlugin;

export function interPodAffinity(
  cluster: ClusterState,
  args: InterPodAffinityArgs = {},
): InterPodAffinityPlugin {
  const hardPodAffinityWeight = args.hardPodAffinityWeight ?? 1;
  const ignoreExistingPreferences = args.ignorePreferredTermsOfExistingPods === true;

  /** Rule 1 on one node. */
  const satisfiesAffinity = (state: FilterState, pod: PodInfo, node: NodeInfo): boolean => {
    const hostScoped = state.hostScopedAffinity;
    if (hostScoped.length > 0) {
      if (node.labels[hostnameLabel] === undefined) return false;
      for (const other of node.pods.values())
        if (other.key !== pod.key && matchesAllTerms(hostScoped, other.namespace, other.labels)) return true;
      return (
        state.hostScopedAffinityMatches <= 0 && matchesAllTerms(state.affinity, pod.namespace, pod.labels)
      );
    }
    const terms = state.clusterWideAffinity;
    if (terms.length === 0) return true;
    let podsExist = true;
    for (const term of terms) {
      const value = node.labels[term.topologyKey];
      // Every topology key must be on the node, the first pod's case included.
      if (value === undefined) return false;
      if (state.affinityCounts.get(term.topologyKey, value) <= 0) podsExist = false;
    }
    if (podsExist) return true;
    return state.affinityCounts.pairs === 0 && matchesAllTerms(state.affinity, pod.namespace, pod.labels);
  };

  /** Rule 2 on one node: a pod matching a term of the pod's anti-affinity in the node's domain. */
  const violatesAntiAffinity = (state: FilterState, pod: PodInfo, node: NodeInfo): boolean => {
    if (state.antiAffinityCounts.pairs > 0)
      for (const term of state.clusterWideAntiAffinity) {
        const value = node.labels[term.topologyKey];
        if (value !== undefined && state.antiAffinityCounts.get(term.topologyKey, value) > 0) return true;
      }
    const hostScoped = state.hostScopedAntiAffinity;
    if (hostScoped.length === 0 || node.labels[hostnameLabel] === undefined) return false;
    for (const other of node.pods.values()) {
      if (other.key === pod.key) continue;
      for (const term of hostScoped)
        if (termMatches(term, other.namespace, other.labels, undefined)) return true;
    }
    return false;
  };

  /** Rule 3, the node-local part: the node's own pods' host-scoped required anti-affinity. */
  const violatesHostScopedExisting = (
    pod: PodInfo,
    node: NodeInfo,
    namespaceLabels: Labels | undefined,
  ): boolean => {
    if (node.labels[hostnameLabel] === undefined) return false;
    for (const other of node.podsWithRequiredAntiAffinity) {
      if (other.key === pod.key) continue;
      for (const term of other.interPodAffinity.requiredAntiAffinity)
        if (term.hostScoped && termMatches(term, pod.namespace, pod.labels, namespaceLabels)) return true;
    }
    return false;
  };

  /**
   * Pods nominated to the node that this pod must leave room for (kube-scheduler adds them and
   * filters again): their anti-affinity against it, or its anti-affinity against them.
   */
  const nominatedRejection = (
    state: FilterState | undefined,
    pod: PodInfo,
    node: NodeInfo,
  ): Status | undefined => {
    for (const other of cluster.nominatedFor(node.name, pod)) {
      if (state !== undefined) {
        for (const terms of [state.clusterWideAntiAffinity, state.hostScopedAntiAffinity])
          for (const term of terms)
            if (
              node.labels[term.topologyKey] !== undefined &&
              termMatches(term, other.namespace, other.labels, undefined)
            )
              return antiAffinityRejected;
      }
      const namespaceLabels = state?.namespaceLabels ?? cluster.namespaceLabels(pod.namespace);
      for (const term of other.interPodAffinity.requiredAntiAffinity)
        if (
          node.labels[term.topologyKey] !== undefined &&
          termMatches(term, pod.namespace, pod.labels, namespaceLabels)
        )
          return existingAntiAffinityRejected;
    }
    return undefined;
  };

  return {
    name: interPodAffinityName,
    spansNodes: true,
    // kube-scheduler's EventsToRegister: a pod added (affinity), relabelled or deleted
    // (anti-affinity); a node added or relabelled (a topology key), or whose taints changed
    // (its workaround for nodes added before they are ready).
    events: [
      "AssignedPodAdd",
      "AssignedPodUpdateLabel",
      "AssignedPodDelete",
      "NodeAdd",
      "NodeUpdateLabel",
      "NodeUpdateTaint",
    ],

    // Every node passes a pod without terms while no pod, placed or nominated, has required
    // anti-affinity: then preemption may reuse one pod's answers for another of its shape.
    podOnlyFor(pod) {
      const terms = pod.interPodAffinity;
      if (
        terms !== noInterPodAffinity &&
        terms.requiredAffinity.length + terms.requiredAntiAffinity.length > 0
      )
        return false;
      if (terms.error !== undefined || cluster.nodesWithRequiredAntiAffinityPods().size > 0) return false;
      for (const node of cluster.nominatedNodes())
        for (const other of cluster.nominatedOn(node))
          if (other.interPodAffinity.requiredAntiAffinity.length > 0) return false;
      return true;
    },

    preFilter(state, pod) {
      const terms = pod.interPodAffinity;
      if (terms.error !== undefined) {
        let refusal = parseRefusals.get(terms.error);
        if (refusal === undefined) {
          refusal = unresolvable(`parsing pod: ${terms.error}`);
          if (parseRefusals.size < 1024) parseRefusals.set(terms.error, refusal);
        }
        return refusal;
      }
      const own = terms.requiredAffinity.length + terms.requiredAntiAffinity.length > 0;
      const namespaceLabels = cluster.namespaceLabels(pod.namespace);
      let existing: TopologyCounts | undefined;
      for (const node of cluster.nodesWithClusterWideAntiAffinityPods())
        for (const other of node.podsWithRequiredAntiAffinity)
          for (const term of other.interPodAffinity.requiredAntiAffinity)
            if (!term.hostScoped && termMatches(term, pod.namespace, pod.labels, namespaceLabels)) {
              existing ??= new TopologyCounts();
              existing.add(node, term.topologyKey, 1);
            }
      // Nothing to count: Filter looks at the node's own pods only (no state; see the header).
      if (!own && (existing === undefined || existing.pairs === 0)) return undefined;
      const namespaces = cluster.namespaces;
      const affinity = withSelectedNamespaces(terms.requiredAffinity, namespaces);
      const anti = withSelectedNamespaces(terms.requiredAntiAffinity, namespaces);
      const allHostScoped = affinity.every((t) => t.hostScoped);
      const filterState = new FilterState(
        namespaceLabels,
        affinity,
        allHostScoped ? noTerms : affinity,
        allHostScoped ? affinity : noTerms,
        anti.filter((t) => !t.hostScoped),
        anti.filter((t) => t.hostScoped),
        existing ?? new TopologyCounts(),
        new TopologyCounts(),
        new TopologyCounts(),
        0,
      );
      if (filterState.clusterWideAffinity.length > 0 || filterState.clusterWideAntiAffinity.length > 0)
        for (const node of cluster.nodes)
          for (const other of node.pods.values()) countIncoming(filterState, other, node, 1);
      if (filterState.hostScopedAffinity.length > 0)
        for (const node of cluster.nodes)
          for (const other of node.pods.values())
            if (matchesAllTerms(filterState.hostScopedAffinity, other.namespace, other.labels))
              filterState.hostScopedAffinityMatches++;
      state.write(interPodAffinityName, filterState);
      return undefined;
    },

    extensions: {
      addPod(state, pod, added, node) {
        if (added.key === pod.key) return;
        const current = state.read<FilterState>(interPodAffinityName);
        if (current !== undefined) {
          current.update(pod, added, node, 1);
          return;
        }
        // A pod without state (no terms, nothing counted) learns of a wider anti-affinity against it.
        if (!added.interPodAffinity.clusterWideRequiredAnti) return;
        const namespaceLabels = cluster.namespaceLabels(pod.namespace);
        const fresh = new FilterState(
          namespaceLabels,
          noTerms,
          noTerms,
          noTerms,
          noTerms,
          noTerms,
          new TopologyCounts(),
          new TopologyCounts(),
          new TopologyCounts(),
          0,
        );
        fresh.update(pod, added, node, 1);
        if (fresh.existingAntiAffinity.pairs > 0) state.write(interPodAffinityName, fresh);
      },
      removePod(state, pod, removed, node) {
        if (removed.key === pod.key) return;
        state.read<FilterState>(interPodAffinityName)?.update(pod, removed, node, -1);
      },
    },

    filter(pod, node, cycleState) {
      const state = cycleState?.read<FilterState>(interPodAffinityName);
      if (state !== undefined) {
        if (!satisfiesAffinity(state, pod, node)) return affinityRejected;
        if (violatesAntiAffinity(state, pod, node)) return antiAffinityRejected;
        const existing = state.existingAntiAffinity;
        if (existing.pairs > 0)
          for (const [key, values] of existing.byKey) {
            const value = node.labels[key];
            if (value !== undefined && (values.get(value) ?? 0) > 0) return existingAntiAffinityRejected;
          }
      }
      if (
        node.podsWithRequiredAntiAffinity.length > 0 &&
        violatesHostScopedExisting(
          pod,
          node,
          state !== undefined ? state.namespaceLabels : cluster.namespaceLabels(pod.namespace),
        )
      )
        return existingAntiAffinityRejected;
      if (cluster.hasNominations(node.name)) return nominatedRejection(state, pod, node);
      return undefined;
    },

    // Scores only a pod with preferences of its own, or while running pods' terms may score it.
    scoresPod(pod) {
      const terms = pod.interPodAffinity;
      const own = terms.preferredAffinity.length + terms.preferredAntiAffinity.length > 0;
      return own || (!ignoreExistingPreferences && cluster.nodesWithAffinityPods().size > 0);
    },

    preScore(state, pod) {
      const terms = pod.interPodAffinity;
      const own = terms.preferredAffinity.length + terms.preferredAntiAffinity.length > 0;
      if (!own && (ignoreExistingPreferences || cluster.nodesWithAffinityPods().size === 0)) return skip;
      const namespaces = cluster.namespaces;
      const preferred = withSelectedNamespaces(terms.preferredAffinity, namespaces);
      const preferredAnti = withSelectedNamespaces(terms.preferredAntiAffinity, namespaces);
      const namespaceLabels = cluster.namespaceLabels(pod.namespace);
      const scores = new TopologyCounts();
      const weigh = (
        terms: readonly WeightedAffinityTerm[],
        other: PodInfo,
        node: NodeInfo,
        sign: number,
      ) => {
        for (const term of terms)
          if (termMatches(term, other.namespace, other.labels, undefined))
            scores.add(node, term.topologyKey, sign * term.weight);
      };
      const weighExisting = (other: PodInfo, node: NodeInfo) => {
        const theirs = other.interPodAffinity;
        if (!theirs.scoresOthers) return;
        if (hardPodAffinityWeight > 0)
          for (const term of theirs.requiredAffinity)
            if (termMatches(term, pod.namespace, pod.labels, namespaceLabels))
              scores.add(node, term.topologyKey, hardPodAffinityWeight);
        for (const term of theirs.preferredAffinity)
          if (termMatches(term, pod.namespace, pod.labels, namespaceLabels))
            scores.add(node, term.topologyKey, term.weight);
        for (const term of theirs.preferredAntiAffinity)
          if (termMatches(term, pod.namespace, pod.labels, namespaceLabels))
            scores.add(node, term.topologyKey, -term.weight);
      };
      if (own) {
        for (const node of cluster.nodes) {
          if (node.pods.size === 0) continue;
          for (const other of node.pods.values()) {
            if (other.key === pod.key) continue;
            if (preferred.length > 0) weigh(preferred, other, node, 1);
            if (preferredAnti.length > 0) weigh(preferredAnti, other, node, -1);
          }
          for (const other of node.podsWithAffinity) if (other.key !== pod.key) weighExisting(other, node);
        }
      } else {
        for (const node of cluster.nodesWithAffinityPods())
          for (const other of node.podsWithAffinity) if (other.key !== pod.key) weighExisting(other, node);
      }
      if (scores.pairs === 0) return skip;
      state.write(preScoreKey, new ScoreState(scores));
      return undefined;
    },

    score(_pod, node, state) {
      const scores = state.read<ScoreState>(preScoreKey)?.scores;
      if (scores === undefined) return 0;
      let score = 0;
      for (const [key, values] of scores.byKey) {
        const value = node.labels[key];
        if (value !== undefined) score += values.get(value) ?? 0;
      }
      return score;
    },

    // kube-scheduler's NormalizeScore: min-max to 0-100, all 0 when every node scored the same.
    normalize(scores) {
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (const score of scores) {
        if (score < min) min = score;
        if (score > max) max = score;
      }
      const spread = max - min;
      for (let i = 0; i < scores.length; i++)
        scores[i] = spread > 0 ? Math.trunc((maxNodeScore * ((scores[i] as number) - min)) / spread) : 0;
    },
  };
}

/**
 * Whether InterPodAffinity's Filter can reject the pod anywhere: it has required terms of its own,
 * or some pod in the cluster has required anti-affinity (which may match it). Cheap: for the
 * check before bind, which skips pods this says no to.
 */
export function mayBeConstrainedByInterPodAffinity(cluster: ClusterState, pod: PodInfo): boolean {
  const terms = pod.interPodAffinity;
  return (
    terms.error !== undefined ||
    terms.requiredAffinity.length + terms.requiredAntiAffinity.length > 0 ||
    cluster.nodesWithRequiredAntiAffinityPods().size > 0 ||
    cluster.nominatedNodes()[Symbol.iterator]().next().done !== true
  );
}
