/**
 * ClusterState: nodes with the pods that occupy them, kept current by the shard's cache
 * and read by every cycle. Cycles change it only through a Statement (statement.ts), which
 * either commits its assumptions or rolls them back.
 */
import type { Node, PodDisruptionBudget, Taint } from "./api-types.js";
import { toNodeInfo } from "./build-info.js";
import { type ClusterEvents, eventsOf } from "./framework.js";
import type { NodeInfo, PodInfo } from "./model.js";
import type { Resources } from "./resources/resources.js";

/** A group of pods that run, as preemption sees it: evicted whole or not at all. */
export interface RunningGroup {
  readonly id: string;
  readonly pods: PodInfo[];
  readonly priority: number;
}

export class ClusterState {
  private readonly nodeMap = new Map<string, NodeInfo>();
  /** Nodes in a stable order (insertion), for deterministic iteration. */
  private nodeOrder: NodeInfo[] = [];
  /** Pods occupying a node, by key, with the node they occupy. */
  private readonly placed = new Map<string, PodInfo & { readonly placedOn: string }>();
  /** Pending pods reserved a node by preemption (status.nominatedNodeName), by node. */
  private readonly nominations = new Map<string, Map<string, PodInfo>>();
  /** The node each nominated pod reserves, by pod key: finding a pod's nomination is O(1). */
  private readonly nominatedNode = new Map<string, string>();
  /** Placed pods by group id, and the running groups built from them (rebuilt when one changes). */
  private readonly groupPods = new Map<string, Map<string, PodInfo>>();
  private readonly runningGroupCache = new Map<string, RunningGroup>();
  /** Placed pods being deleted, by key: the earlier victims preemption counts as gone. */
  private readonly terminatingPlaced = new Map<string, PodInfo>();
  /** When each node's pods or nominations last changed (a counter, never reused). */
  private readonly nodeChangedAt = new Map<string, number>();
  private changes = 0;
  /** Placed pods whose node the cluster does not hold (yet, or any more), by node name. */
  private readonly awaitingNode = new Map<string, Map<string, PodInfo>>();
  private readonly pdbs = new Map<string, PodDisruptionBudget>();
  /** crossshard: placed pods with required pod anti-affinity (kube's symmetry), by key. */
  private readonly antiAffinePlaced = new Set<string>();
  /**
   * Bumped whenever a node is added or removed (not when one is updated: its NodeInfo is updated
   * in place), so lists of NodeInfo can be cached by it.
   */
  nodeSetVersion = 0;

  get nodes(): readonly NodeInfo[] {
    return this.nodeOrder;
  }

  /** Pods occupying a node (bound, or assumed by a cycle), finished ones not included. */
  get placedPods(): number {
    return this.placed.size;
  }

  node(name: string): NodeInfo | undefined {
    return this.nodeMap.get(name);
  }

  /** Adds or updates a node, keeping the pods it already holds. */
  upsertNode(node: Node): NodeInfo {
    return this.updateNode(node).info;
  }

  /**
   * Adds or updates a node; says which cluster events that was (queueing hints): NodeAdd, the
   * fields of an update that plugins read, or none (e.g. a heartbeat). An update changes the
   * node's NodeInfo in place: the one object stays the node's while it exists.
   */
  updateNode(node: Node): { info: NodeInfo; events: ClusterEvents } {
    const fresh = toNodeInfo(node);
    const previous = this.nodeMap.get(fresh.name);
    if (previous) {
      const events = nodeUpdateEvents(previous, fresh);
      const { name, labels, taints, unschedulable, ready, allocatable } = fresh;
      Object.assign(previous as Mutable<NodeInfo>, {
        name,
        node,
        labels,
        taints,
        unschedulable,
        ready,
        allocatable,
      });
      this.touch(previous.name);
      return { info: previous, events };
    }
    // Pods may arrive before their node, or outlive its removal: they occupy it now.
    for (const pod of this.awaitingNode.get(fresh.name)?.values() ?? []) occupy(fresh, pod);
    this.awaitingNode.delete(fresh.name);
    this.nodeOrder.push(fresh);
    this.nodeMap.set(fresh.name, fresh);
    this.nodeSetVersion++;
    this.touch(fresh.name);
    return { info: fresh, events: nodeAdd };
  }

  removeNode(name: string): void {
    const node = this.nodeMap.get(name);
    if (!node) return;
    this.nodeMap.delete(name);
    this.nodeOrder = this.nodeOrder.filter((n) => n !== node);
    // Pods keep their placement record: if the node comes back they occupy it again.
    if (node.pods.size > 0) this.awaitingNode.set(name, new Map(node.pods));
    this.nodeSetVersion++;
    this.touch(name);
  }

  /**
   * Changes whenever the node, its pods or its nominations change: what was computed for the
   * node at one version holds while the version stays the same.
   */
  nodeVersion(name: string): number {
    return this.nodeChangedAt.get(name) ?? 0;
  }

  private touch(nodeName: string): void {
    this.nodeChangedAt.set(nodeName, ++this.changes);
  }

  /**
   * Records a pod's current state: a pod with a node (bound or assumed) that has not
   * finished occupies that node; a pending pod with a nomination reserves its node.
   */
  upsertPod(pod: PodInfo): void {
    this.removePod(pod.key);
    if (pod.nodeName && !pod.finished) {
      this.place(pod, pod.nodeName);
    } else if (!pod.nodeName && pod.nominatedNodeName && !pod.terminating) {
      const onNode = this.nominations.get(pod.nominatedNodeName) ?? new Map<string, PodInfo>();
      this.nominations.set(pod.nominatedNodeName, onNode);
      onNode.set(pod.key, pod);
      this.nominatedNode.set(pod.key, pod.nominatedNodeName);
      this.touch(pod.nominatedNodeName);
    }
  }

  removePod(key: string): void {
    const placed = this.placed.get(key);
    if (placed) {
      this.placed.delete(key);
      const node = this.nodeMap.get(placed.placedOn);
      if (node?.pods.delete(key)) release(node, placed);
      const awaiting = this.awaitingNode.get(placed.placedOn);
      if (awaiting?.delete(key) && awaiting.size === 0) this.awaitingNode.delete(placed.placedOn);
      const members = this.groupPods.get(placed.group.id);
      if (members?.delete(key) && members.size === 0) this.groupPods.delete(placed.group.id);
      this.runningGroupCache.delete(placed.group.id);
      this.terminatingPlaced.delete(key);
      this.antiAffinePlaced.delete(key);
      this.touch(placed.placedOn);
    }
    const nominatedOn = this.nominatedNode.get(key);
    if (nominatedOn !== undefined) {
      this.nominatedNode.delete(key);
      const onNode = this.nominations.get(nominatedOn);
      if (onNode?.delete(key) && onNode.size === 0) this.nominations.delete(nominatedOn);
      this.touch(nominatedOn);
    }
  }

  /** Puts a pending pod on a node before the API server confirms it (kube-scheduler's "assume"). */
  assume(pod: PodInfo, nodeName: string): void {
    this.removePod(pod.key);
    this.place(pod, nodeName);
  }

  /** The node a pod occupies in the cluster, if any. */
  placementOf(key: string): string | undefined {
    return this.placed.get(key)?.placedOn;
  }

  placedPod(key: string): (PodInfo & { readonly placedOn: string }) | undefined {
    return this.placed.get(key);
  }

  private place(pod: PodInfo, nodeName: string): void {
    const placed = { ...pod, placedOn: nodeName };
    this.placed.set(pod.key, placed);
    const members = this.groupPods.get(pod.group.id) ?? new Map<string, PodInfo>();
    this.groupPods.set(pod.group.id, members);
    members.set(pod.key, placed);
    this.runningGroupCache.delete(pod.group.id);
    if (pod.terminating) this.terminatingPlaced.set(pod.key, placed);
    if (pod.interPodConstraints.requiredAntiAffinity) this.antiAffinePlaced.add(pod.key);
    this.touch(nodeName);
    const node = this.nodeMap.get(nodeName);
    if (node) {
      occupy(node, pod);
    } else {
      const awaiting = this.awaitingNode.get(nodeName) ?? new Map<string, PodInfo>();
      this.awaitingNode.set(nodeName, awaiting);
      awaiting.set(pod.key, pod);
    }
  }

  /** Nominated pods on a node that a pod of this priority must leave room for (kube-scheduler's rule). */
  nominatedFor(nodeName: string, pod: PodInfo): PodInfo[] {
    const onNode = this.nominations.get(nodeName);
    if (!onNode) return [];
    const result: PodInfo[] = [];
    for (const other of onNode.values()) {
      if (other.priority >= pod.priority && other.group.id !== pod.group.id && other.key !== pod.key) {
        result.push(other);
      }
    }
    return result;
  }

  /** A pending pod's nomination as the cluster holds it, if any. */
  nominatedPod(key: string): PodInfo | undefined {
    const nodeName = this.nominatedNode.get(key);
    return nodeName === undefined ? undefined : this.nominations.get(nodeName)?.get(key);
  }

  /** Every pending pod that holds a nomination on this node. */
  nominatedOn(nodeName: string): Iterable<PodInfo> {
    return this.nominations.get(nodeName)?.values() ?? [];
  }

  /** The nodes pending pods are nominated to. */
  nominatedNodes(): Iterable<string> {
    return this.nominations.keys();
  }

  hasNominations(nodeName: string): boolean {
    return this.nominations.has(nodeName);
  }

  upsertPodDisruptionBudget(pdb: PodDisruptionBudget): void {
    this.pdbs.set(`${pdb.metadata.namespace}/${pdb.metadata.name}`, pdb);
  }

  removePodDisruptionBudget(namespace: string, name: string): void {
    this.pdbs.delete(`${namespace}/${name}`);
  }

  podDisruptionBudget(namespace: string, name: string): PodDisruptionBudget | undefined {
    return this.pdbs.get(`${namespace}/${name}`);
  }

  podDisruptionBudgets(namespace: string): PodDisruptionBudget[] {
    return [...this.pdbs.values()].filter((pdb) => pdb.metadata.namespace === namespace);
  }

  /**
   * Every group with pods occupying nodes, with its priority (the highest of its pods). Only the
   * groups changed since the last call are built again: a preemption storm asks once per preemptor.
   */
  runningGroups(): Map<string, RunningGroup> {
    const groups = new Map<string, RunningGroup>();
    for (const id of this.groupPods.keys()) groups.set(id, this.runningGroup(id) as RunningGroup);
    return groups;
  }

  /** Placed pods that are being deleted. */
  terminatingPods(): Iterable<PodInfo> {
    return this.terminatingPlaced.values();
  }

  /** The group's pods occupying nodes, or undefined when none does. */
  runningGroup(id: string): RunningGroup | undefined {
    const cached = this.runningGroupCache.get(id);
    if (cached) return cached;
    const members = this.groupPods.get(id);
    if (!members) return undefined;
    const pods = [...members.values()];
    let priority = Number.NEGATIVE_INFINITY;
    for (const pod of pods) priority = Math.max(priority, pod.priority);
    const group: RunningGroup = { id, pods, priority };
    this.runningGroupCache.set(id, group);
    return group;
  }

  // --- crossshard: inter-pod constraints across shards ---

  /**
   * How many pods occupying nodes carry required pod anti-affinity: while none does, a pod
   * without required inter-pod constraints of its own cannot be rejected by a plugin that spans
   * nodes (bind-check.ts), as kube's InterPodAffinity skips such a pod.
   */
  get placedWithRequiredAntiAffinity(): number {
    return this.antiAffinePlaced.size;
  }
}

function occupy(node: NodeInfo, pod: PodInfo): void {
  node.pods.set(pod.key, pod);
  node.requested.add(pod.requests);
  node.requested.pods += 1;
  node.nonZeroRequested.milliCpu += pod.nonZeroRequests.milliCpu;
  node.nonZeroRequested.memory += pod.nonZeroRequests.memory;
}

function release(node: NodeInfo, pod: PodInfo): void {
  node.requested.subtract(pod.requests);
  node.requested.pods -= 1;
  node.nonZeroRequested.milliCpu -= pod.nonZeroRequests.milliCpu;
  node.nonZeroRequested.memory -= pod.nonZeroRequests.memory;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const nodeAdd = eventsOf(["NodeAdd"]);
const allocatableIncrease = eventsOf(["NodeUpdateAllocatable"]);
const labelChange = eventsOf(["NodeUpdateLabel"]);
const taintChange = eventsOf(["NodeUpdateTaint"]);
const uncordoned = eventsOf(["NodeUpdateUnschedulable"]);
const conditionChange = eventsOf(["NodeUpdateCondition"]);
const annotationChange = eventsOf(["NodeUpdateAnnotation"]);

/** What changed between two versions of a node, as far as any plugin could care. */
export function nodeUpdateEvents(before: NodeInfo, after: NodeInfo): ClusterEvents {
  let events = 0;
  // Less room never helps a rejected pod (kube-scheduler's hint asks for an increase too).
  if (grew(before.allocatable, after.allocatable)) events |= allocatableIncrease;
  if (!sameRecord(before.labels, after.labels)) events |= labelChange;
  if (!sameTaints(before.taints, after.taints)) events |= taintChange;
  // Being cordoned never helps a rejected pod (kube-scheduler's extractor asks for uncordon too).
  if (before.unschedulable && !after.unschedulable) events |= uncordoned;
  if (readyStatus(before) !== readyStatus(after)) events |= conditionChange;
  if (!sameRecord(before.node.metadata.annotations ?? {}, after.node.metadata.annotations ?? {}))
    events |= annotationChange;
  return events;
}

const podLabelChange = eventsOf(["AssignedPodUpdateLabel"]);
const podScaleDown = eventsOf(["AssignedPodUpdateScaleDown"]);
const podTerminating = eventsOf(["AssignedPodUpdateTerminating"]);

/**
 * What changed between two versions of a pod that occupies a node, as far as any plugin could
 * care: its labels, a request made smaller (an in-place resize), the start of its deletion.
 * A request that grows or a pod that stops being deleted (impossible) helps no one.
 */
export function assignedPodUpdateEvents(before: PodInfo, after: PodInfo): ClusterEvents {
  let events = 0;
  if (!sameRecord(before.labels, after.labels)) events |= podLabelChange;
  if (grew(after.requests, before.requests)) events |= podScaleDown;
  if (!before.terminating && after.terminating) events |= podTerminating;
  return events;
}

const budgetLoosened = eventsOf(["PodDisruptionBudgetChange"]);

/**
 * What a budget's change means for preemption, which reads its selector and disruptionsAllowed:
 * an event when it may allow more evictions (removed, selector changed, more disruptions
 * allowed); none for a new budget, fewer disruptions, or a resync with the same content.
 */
export function budgetUpdateEvents(
  before: PodDisruptionBudget | undefined,
  after: PodDisruptionBudget | undefined,
): ClusterEvents {
  if (before === undefined) return 0;
  if (after === undefined) return budgetLoosened;
  if (JSON.stringify(before.spec?.selector) !== JSON.stringify(after.spec?.selector)) return budgetLoosened;
  const allowedBefore = before.status?.disruptionsAllowed ?? 0;
  return (after.status?.disruptionsAllowed ?? 0) > allowedBefore ? budgetLoosened : 0;
}

/** Whether after holds more than before of any resource. */
function grew(before: Resources, after: Resources): boolean {
  if (after.milliCpu > before.milliCpu || after.memory > before.memory) return true;
  if (after.ephemeralStorage > before.ephemeralStorage || after.pods > before.pods) return true;
  for (const [name, value] of after.scalar) if (value > (before.scalar.get(name) ?? 0)) return true;
  return false;
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  let count = 0;
  for (const key in a) {
    if (a[key] !== b[key]) return false;
    count++;
  }
  for (const _ in b) count--;
  return count === 0;
}

function sameTaints(a: readonly Taint[], b: readonly Taint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as Taint;
    const y = b[i] as Taint;
    if (x.key !== y.key || (x.value ?? "") !== (y.value ?? "") || x.effect !== y.effect) return false;
  }
  return true;
}

/** The Ready condition's status (NodeReady tells Unknown from False). */
function readyStatus(node: NodeInfo): string | undefined {
  return node.node.status?.conditions?.find((c) => c.type === "Ready")?.status;
}
