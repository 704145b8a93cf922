/**
 * The extension points of a scheduling cycle, named once (after kube-scheduler's
 * framework/interface.go), and only those the core uses:
 *
 *   QueueSort         – which pending group goes first                 (gang/pending-group.ts queueOrder)
 *   PreFilter         – per pod, per cycle: what Filter needs, into the pod's CycleState
 *     AddPod/RemovePod– keep that state true while the Statement assumes or evicts pods
 *   Filter            – can this pod run on this node at all?          (Status)
 *   PreScore, Score   – of the feasible nodes, which is best? (weighted, normalised)
 *   PlacementGenerate – group level: candidate node sets to place a whole gang in
 *   PlacementScore    – group level: which candidate set's placement is best
 *   PostFilter        – gang preemption when a group does not fit      (preemption.ts)
 *
 * A plugin is one object implementing any of these; the profile (profile.ts) lists it under
 * each point it implements. Reserve/Bind happen outside the core: the cycle returns decisions
 * and the shard carries them out.
 */

import type { PendingGroup } from "./gang/index.js";
import type { Placement } from "./gang-placement.js";
import type { NodeInfo, PodInfo } from "./model.js";

/**
 * kube-scheduler's status codes. Unschedulable: the node may take the pod once pods leave it
 * (preemption may help); UnschedulableAndUnresolvable: no eviction can help (preemption skips
 * the node); Skip (PreFilter/PreScore only): this plugin has nothing to say about the pod.
 */
export type Code = "Success" | "Unschedulable" | "UnschedulableAndUnresolvable" | "Skip";

export interface Status {
  readonly code: Code;
  /** kube-scheduler-style reasons, counted per node in diagnoses. */
  readonly reasons: readonly string[];
}

/** A rejection that evictions may cure. Build once per reason set, not per node. */
export function unschedulable(...reasons: string[]): Status {
  return Object.freeze({ code: "Unschedulable", reasons: Object.freeze(reasons) });
}

/** A rejection no eviction cures. Build once per reason set, not per node. */
export function unresolvable(...reasons: string[]): Status {
  return Object.freeze({ code: "UnschedulableAndUnresolvable", reasons: Object.freeze(reasons) });
}

export const skip: Status = Object.freeze({ code: "Skip", reasons: Object.freeze([]) });

/** What a plugin keeps in a CycleState; cloned when a simulation forks the state. */
export interface StateData {
  clone(): StateData;
}

/**
 * Per pod, per cycle: what PreFilter computed for Filter to read (kube-scheduler's CycleState).
 * Empty and never allocated into when no plugin of the profile has a PreFilter.
 */
export class CycleState {
  private data: Map<string, StateData> | undefined;
  private skipped: Set<string> | undefined;

  read<T extends StateData>(key: string): T | undefined {
    return this.data?.get(key) as T | undefined;
  }

  write(key: string, value: StateData): void {
    this.data ??= new Map();
    this.data.set(key, value);
  }

  /** The plugin's PreFilter said Skip: its Filter is not asked about this pod. */
  skip(plugin: string): void {
    this.skipped ??= new Set();
    this.skipped.add(plugin);
  }

  skips(plugin: string): boolean {
    return this.skipped?.has(plugin) === true;
  }

  clone(): CycleState {
    const copy = new CycleState();
    if (this.data) copy.data = new Map([...this.data].map(([key, value]) => [key, value.clone()]));
    if (this.skipped) copy.skipped = new Set(this.skipped);
    return copy;
  }
}

/**
 * Cluster events (kube-scheduler's EventsToRegister): a plugin lists the ones that can make a
 * pod it rejected schedulable, and the queue wakes a rejected group only for those. The cache
 * (shard/cluster-cache.ts, from cluster-state.ts's nodeUpdateEvents/assignedPodUpdateEvents/
 * budgetUpdateEvents) emits each only when what it names changed in a way that can help:
 *
 *   NodeAdd                      a node appeared
 *   NodeUpdateAllocatable        a node's allocatable grew (less room never helps)
 *   NodeUpdateLabel              a node's labels changed
 *   NodeUpdateTaint              a node's taints changed
 *   NodeUpdateUnschedulable      a node was uncordoned (kube-scheduler folds this into UpdateNodeTaint)
 *   NodeUpdateCondition          a node's Ready condition changed status (the only condition read)
 *   NodeUpdateAnnotation         a node's annotations changed (e.g. LentNode's lent-for)
 *   NodeDelete                   a node went away (only topology spread registers it: the least
 *                                crowded domain may be gone, raising the minimum skew counts from)
 *   AssignedPodAdd               the watch shows a pod bound to an existing node (an assumed pod
 *                                confirmed included)
 *   AssignedPodUpdateLabel       a pod on a node changed labels          (kube: UpdatePodLabel)
 *   AssignedPodUpdateScaleDown   a pod on a node asks for less of some resource (in-place
 *                                resize; kube: UpdatePodScaleDown)
 *   AssignedPodUpdateTerminating a pod on a node started terminating: preemption counts it gone
 *                                (no kube-scheduler event: its preemption does not)
 *   AssignedPodDelete            room came back: a pod on a node deleted or finished, an assumed
 *                                pod forgotten, a pending pod's nomination dropped or moved (as
 *                                kube-scheduler: its informer drops finished pods)
 *   PodDisruptionBudgetChange    a budget may allow more evictions: removed, selector changed, or
 *                                disruptionsAllowed grew (kube-scheduler registers none: its
 *                                preemption may violate budgets, ours never does)
 *   PersistentVolumeClaimChange  a claim appeared, or changed what the volume plugins read (bound,
 *                                lost, being deleted, its class or access modes) (kube: PVC Add|Update)
 *   PersistentVolumeChange       a volume appeared, or its node affinity or labels changed
 *                                (kube: PV Add|Update)
 *   StorageClassChange           a class appeared or its binding mode changed (kube: StorageClass Add|Update)
 *
 * Nothing is emitted for a new budget (it only forbids), or a claim, volume or class deleted (a missing object never lets a pod in). The unschedulable flush (scheduling-queue.ts) retries every group anyway.
 */
export const clusterEvents = [
  "NodeAdd",
  "NodeUpdateAllocatable",
  "NodeUpdateLabel",
  "NodeUpdateTaint",
  "NodeUpdateUnschedulable",
  "NodeUpdateCondition",
  "NodeUpdateAnnotation",
  "NodeDelete",
  "AssignedPodAdd",
  "AssignedPodUpdateLabel",
  "AssignedPodUpdateScaleDown",
  "AssignedPodUpdateTerminating",
  "AssignedPodDelete",
  "PodDisruptionBudgetChange",
  // volumes (VolumeBinding, VolumeZone, VolumeRestrictions)
  "PersistentVolumeClaimChange",
  "PersistentVolumeChange",
  "StorageClassChange",
] as const;
export type ClusterEvent = (typeof clusterEvents)[number];

/** A set of cluster events as bits: what a rejected group waits for, or what just happened. */
export type ClusterEvents = number;

export const anyClusterEvent: ClusterEvents = (1 << clusterEvents.length) - 1;

export function eventsOf(events: readonly ClusterEvent[]): ClusterEvents {
  let mask = 0;
  for (const event of events) mask |= 1 << clusterEvents.indexOf(event);
  return mask;
}

/** The names of the events in a set, for logs and tests. */
export function eventNames(events: ClusterEvents): ClusterEvent[] {
  return clusterEvents.filter((_, i) => (events & (1 << i)) !== 0);
}

export interface Plugin {
  readonly name: string;
  /** The cluster events that can make a pod this plugin rejected schedulable. */
  readonly events?: readonly ClusterEvent[];
  /**
   * Its verdict on a node depends on pods on other nodes (a topology domain's pods: inter-pod
   * affinity, topology spread), so another shard binding onto its own nodes can change it. The
   * shard checks such plugins once more against its latest cache right before a bind goes out.
   */
  readonly spansNodes?: boolean;
}

/** Keeps a pod's PreFilter state true as other pods are assumed onto or removed from nodes. */
export interface PreFilterExtensions {
  addPod(state: CycleState, podToSchedule: PodInfo, added: PodInfo, node: NodeInfo): void;
  removePod(state: CycleState, podToSchedule: PodInfo, removed: PodInfo, node: NodeInfo): void;
}

export interface PreFilterPlugin extends Plugin {
  /**
   * Computes what this plugin's Filter needs for the pod into state. undefined (Success) or
   * Skip (its Filter is then not asked), or a rejection that applies to every node.
   */
  preFilter(state: CycleState, pod: PodInfo): Status | undefined;
  readonly extensions?: PreFilterExtensions;
  /**
   * Its PreFilter reads only the pod and writes no state: it never makes one node's answer
   * depend on other nodes (preemption's per-shape memo stays valid with it).
   */
  readonly podOnly?: boolean;
  /**
   * podOnly for this pod in the cluster as it is now (for plugins whose PreFilter reads the
   * cluster only for some pods): its verdicts on a node then depend on nothing but the pod's
   * preemption shape and the node.
   */
  podOnlyFor?(pod: PodInfo): boolean;
}

export interface FilterPlugin extends Plugin {
  /**
   * undefined when the pod fits; otherwise why not. Must not allocate when the pod fits. The
   * state is what PreFilter wrote (the cycle always passes it; a plugin without PreFilter ignores it).
   */
  filter(pod: PodInfo, node: NodeInfo, state?: CycleState): Status | undefined;
}

export interface PreScorePlugin extends Plugin {
  /**
   * Once per pod before its nodes are scored; Skip leaves this plugin's Score out for the pod.
   * feasible: the nodes that passed Filter, the ones Score will be asked about.
   */
  preScore(state: CycleState, pod: PodInfo, feasible: readonly NodeInfo[]): Status | undefined;
}

export interface ScorePlugin extends Plugin {
  /** 0 (worst) to 100 (best), before normalisation. */
  score(pod: PodInfo, node: NodeInfo, state: CycleState): number;
  /** Rescales the scores of the feasible nodes (in place) to 0-100. */
  normalize?(scores: number[], pod: PodInfo, state: CycleState): void;
  /**
   * false: this plugin has nothing to say about the pod (its PreScore would say Skip), known from
   * the pod alone before any node is filtered. Lets the cycle leave it out, and score nodes as it
   * scans them when what is left needs no PreScore or normalisation (pods without spread
   * constraints cost no per-pod arrays). Absent: it scores every pod.
   */
  scoresPod?(pod: PodInfo): boolean;
}

/** Group level: the candidate node sets to try to place a whole gang in (e.g. one per zone). */
export interface PlacementGeneratePlugin extends Plugin {
  /**
   * false: the plugin has nothing to say about the group. When no generator speaks for a group it
   * is placed on every usable node at once, with no placement step (absent: it speaks for every group).
   */
  generatesFor?(group: PendingGroup): boolean;
  generate(group: PendingGroup, nodes: readonly NodeInfo[]): readonly (readonly NodeInfo[])[];
  /**
   * When no candidate set held the group: why, in the user's words, or undefined (the first set's
   * node reasons are shown). `placed`: for each set that was tried, how many members fit in it
   * before placement gave up.
   */
  explainFailure?(
    group: PendingGroup,
    nodes: readonly NodeInfo[],
    placed: ReadonlyMap<readonly NodeInfo[], number>,
  ): string | undefined;
}

/** Group level: 0 (worst) to 100 (best) for a whole gang's placement in one candidate set. */
export interface PlacementScorePlugin extends Plugin {
  scorePlacement(group: PendingGroup, placements: readonly Placement[]): number;
}

/** Maximum node score, as kube-scheduler's MaxNodeScore. */
export const maxNodeScore = 100;
