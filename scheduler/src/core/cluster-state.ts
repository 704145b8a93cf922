/**
 * ClusterState: nodes with the pods that occupy them, kept current by the shard's cache
 * and read by every cycle. Cycles change it only through a Statement (statement.ts), which
 * either commits its assumptions or rolls them back.
 */
import type {
  Node,
  PersistentVolume,
  PersistentVolumeClaim,
  PodDisruptionBudget,
  StorageClass,
  Taint,
} from "./api-types.js";
import { toNodeInfo } from "./build-info.js";
import { type ClusterEvents, eventsOf } from "./framework.js";
import { soloPodKey } from "./gang/group-key.js";
import type { NodeInfo, PodInfo } from "./model.js";
import { SpreadSelectors } from "./plugins/pod-topology-spread/default-selector.js";
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
  /**
   * Pods occupying a node, by key, with the node they occupy: the pod's own PodInfo beside its
   * node, not a copy of it (a cluster of 50 000 pods would hold every PodInfo twice).
   */
  private readonly placed = new Map<string, { readonly pod: PodInfo; readonly node: string }>();
  /** Pending pods reserved a node by preemption (status.nominatedNodeName), by node. */
  private readonly nominations = new Map<string, Map<string, PodInfo>>();
  /** The node each nominated pod reserves, by pod key: finding a pod's nomination is O(1). */
  private readonly nominatedNode = new Map<string, string>();
  /** Placed pods by group id, and the running groups built from them (rebuilt when one changes). */
  private readonly groupPods = new Map<string, Map<string, PodInfo>>();
  private readonly runningGroupCache = new Map<string, RunningGroup>();
  /** Placed pods being deleted, by key: the earlier victims preemption counts as gone. */
  private readonly terminatingPlaced = new Map<string, PodInfo>();
  /**
   * Pods a Statement took off their node as if evicted (simulations: preemption's trials), by key,
   * with the node and group they left: the group still counts as having been there (evictedFrom).
   */
  private readonly evictedInTrial = new Map<string, { readonly node: string; readonly group: string }>();
  /** When each node's pods or nominations last changed (a counter, never reused). */
  private readonly nodeChangedAt = new Map<string, number>();
  private changes = 0;
  /** Placed pods whose node the cluster does not hold (yet, or any more), by node name. */
  private readonly awaitingNode = new Map<string, Map<string, PodInfo>>();
  private readonly pdbs = new Map<string, PodDisruptionBudget>();
  /**
   * Bumped whenever a node is added or removed (not when one is updated: its NodeInfo is updated
   * in place), so lists of NodeInfo can be cached by it.
   */
  nodeSetVersion = 0;

  // --- PodTopologySpread ---
  /**
   * The selectors of the Services, ReplicationControllers, ReplicaSets and StatefulSets, which
   * cluster-default spread constraints count with (default-selector.ts). Empty until the shard
   * feeds it: then no pod gets default constraints.
   */
  readonly spreadSelectors = new SpreadSelectors();
  /**
   * Bumped when a node is added or removed or its labels change: what was derived from the
   * nodes' labels alone (PodTopologySpread's topology domains) holds while it stays the same.
   */
  nodeLabelsVersion = 0;

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
      if ((events & labelChange) !== 0) this.nodeLabelsVersion++;
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
    for (const pod of this.awaitingNode.get(fresh.name)?.values() ?? []) {
      occupy(fresh, pod);
      this.indexAffinity(fresh, pod, true);
    }
    this.awaitingNode.delete(fresh.name);
    this.nodeOrder.push(fresh);
    this.nodeMap.set(fresh.name, fresh);
    this.nodeSetVersion++;
    this.nodeLabelsVersion++;
    this.touch(fresh.name);
    return { info: fresh, events: nodeAdd };
  }

  removeNode(name: string): void {
    const node = this.nodeMap.get(name);
    if (!node) return;
    this.nodeMap.delete(name);
    this.nodeOrder = this.nodeOrder.filter((n) => n !== node);
    this.forgetAffinityNode(node);
    // Pods keep their placement record: if the node comes back they occupy it again.
    if (node.pods.size > 0) this.awaitingNode.set(name, new Map(node.pods));
    this.nodeSetVersion++;
    this.nodeLabelsVersion++;
    this.touch(name);
  }

  /**
   * Changes whenever the node, its pods or its nominations change: what was computed for the
   * node at one version holds while the version stays the same.
   */
  nodeVersion(name: string): number {
    return this.nodeChangedAt.get(name) ?? 0;
  }

  /** Changes whenever any node, its pods or its nominations change (the counter nodeVersion gives). */
  get version(): number {
    return this.changes;
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
    if (this.evictedInTrial.size > 0) this.evictedInTrial.delete(key);
    const placement = this.placed.get(key);
    if (placement) {
      const { pod: placed, node: placedOn } = placement;
      this.placed.delete(key);
      const node = this.nodeMap.get(placedOn);
      if (node?.pods.delete(key)) {
        release(node, placed);
        this.indexAffinity(node, placed, false);
      }
      const awaiting = this.awaitingNode.get(placedOn);
      if (awaiting?.delete(key) && awaiting.size === 0) this.awaitingNode.delete(placedOn);
      if (!placed.group.solo) {
        const members = this.groupPods.get(placed.group.id);
        if (members?.delete(key) && members.size === 0) this.groupPods.delete(placed.group.id);
      }
      this.runningGroupCache.delete(placed.group.id);
      this.terminatingPlaced.delete(key);
      if (placed.volumeClaims.length > 0) this.countClaimUsers(placed, -1);
      this.touch(placedOn);
    }
    const nominatedOn = this.nominatedNode.get(key);
    if (nominatedOn !== undefined) {
      this.nominatedNode.delete(key);
      const onNode = this.nominations.get(nominatedOn);
      if (onNode?.delete(key) && onNode.size === 0) this.nominations.delete(nominatedOn);
      this.touch(nominatedOn);
    }
  }

  /**
   * Takes a pod off its node as if it had been evicted (Statement.evict): it frees its room like
   * removePod, but its group is still known to have been on the node (evictedFrom) until the pod
   * is put back or its record changes. A simulated eviction does not undo what the group's
   * arrival settled (LentNode's hold).
   */
  evict(key: string): void {
    const placed = this.placed.get(key);
    this.removePod(key);
    if (placed !== undefined) this.evictedInTrial.set(key, { node: placed.node, group: placed.pod.group.id });
  }

  /** Whether a pod of the group was on the node until a simulated eviction (evict) took it off. */
  evictedFrom(nodeName: string, groupId: string): boolean {
    for (const { node, group } of this.evictedInTrial.values())
      if (node === nodeName && group === groupId) return true;
    return false;
  }

  /** Puts a pending pod on a node before the API server confirms it (kube-scheduler's "assume"). */
  assume(pod: PodInfo, nodeName: string): void {
    this.removePod(pod.key);
    this.place(pod, nodeName);
  }

  /** The node a pod occupies in the cluster, if any. */
  placementOf(key: string): string | undefined {
    return this.placed.get(key)?.node;
  }

  /** The pod occupying a node under this key (placementOf names the node), if any. */
  placedPod(key: string): PodInfo | undefined {
    return this.placed.get(key)?.pod;
  }

  private place(pod: PodInfo, nodeName: string): void {
    this.placed.set(pod.key, { pod, node: nodeName });
    if (!pod.group.solo) {
      const members = this.groupPods.get(pod.group.id) ?? new Map<string, PodInfo>();
      this.groupPods.set(pod.group.id, members);
      members.set(pod.key, pod);
    }
    this.runningGroupCache.delete(pod.group.id);
    if (pod.terminating) this.terminatingPlaced.set(pod.key, pod);
    if (pod.volumeClaims.length > 0) this.countClaimUsers(pod, 1);
    this.touch(nodeName);
    const node = this.nodeMap.get(nodeName);
    if (node) {
      occupy(node, pod);
      this.indexAffinity(node, pod, true);
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
    for (const { pod } of this.placed.values())
      if (pod.group.solo) groups.set(pod.group.id, this.runningGroup(pod.group.id) as RunningGroup);
    return groups;
  }

  /** Placed pods that are being deleted. */
  terminatingPods(): Iterable<PodInfo> {
    return this.terminatingPlaced.values();
  }

  // ---- InterPodAffinity: namespace labels, and the nodes holding pods with affinity ----

  /** Namespace labels by name (namespaceSelector), from the namespaces informer. */
  private readonly namespaceLabelMap = new Map<string, Readonly<Record<string, string>>>();
  /** Nodes with a pod whose affinity terms can score others (NodeInfo.podsWithAffinity non-empty). */
  private readonly affinityNodes = new Set<NodeInfo>();
  /** Nodes with a pod with required anti-affinity (NodeInfo.podsWithRequiredAntiAffinity non-empty). */
  private readonly requiredAntiAffinityNodes = new Set<NodeInfo>();
  /** Nodes with pods with a required anti-affinity term wider than the node, and how many such pods. */
  private readonly clusterWideAntiAffinityNodes = new Map<NodeInfo, number>();

  upsertNamespace(name: string, labels: Readonly<Record<string, string>>): void {
    this.namespaceLabelMap.set(name, labels);
  }

  removeNamespace(name: string): void {
    this.namespaceLabelMap.delete(name);
  }

  /** A namespace's labels; undefined when the namespace is not known (kube-scheduler: none). */
  namespaceLabels(name: string): Readonly<Record<string, string>> | undefined {
    return this.namespaceLabelMap.get(name);
  }

  /** Every known namespace with its labels. */
  get namespaces(): ReadonlyMap<string, Readonly<Record<string, string>>> {
    return this.namespaceLabelMap;
  }

  /** Nodes holding a pod whose affinity terms can score other pods (kube-scheduler's HavePodsWithAffinityList). */
  nodesWithAffinityPods(): ReadonlySet<NodeInfo> {
    return this.affinityNodes;
  }

  /** Nodes holding a pod with required anti-affinity (kube-scheduler's HavePodsWithRequiredAntiAffinityList). */
  nodesWithRequiredAntiAffinityPods(): ReadonlySet<NodeInfo> {
    return this.requiredAntiAffinityNodes;
  }

  /** Nodes holding a pod with a required anti-affinity term whose topology is wider than one node. */
  nodesWithClusterWideAntiAffinityPods(): Iterable<NodeInfo> {
    return this.clusterWideAntiAffinityNodes.keys();
  }

  /** Keeps the node's affinity lists and the sets of such nodes true as a pod comes or goes. */
  private indexAffinity(node: NodeInfo, pod: PodInfo, added: boolean): void {
    const terms = pod.interPodAffinity;
    if (terms.requiredAntiAffinity.length === 0 && !terms.scoresOthers) return;
    if (terms.scoresOthers) {
      listed(node.podsWithAffinity, pod, added);
      if (node.podsWithAffinity.length > 0) this.affinityNodes.add(node);
      else this.affinityNodes.delete(node);
    }
    if (terms.requiredAntiAffinity.length > 0) {
      listed(node.podsWithRequiredAntiAffinity, pod, added);
      if (node.podsWithRequiredAntiAffinity.length > 0) this.requiredAntiAffinityNodes.add(node);
      else this.requiredAntiAffinityNodes.delete(node);
    }
    if (terms.clusterWideRequiredAnti) {
      const count = (this.clusterWideAntiAffinityNodes.get(node) ?? 0) + (added ? 1 : -1);
      if (count > 0) this.clusterWideAntiAffinityNodes.set(node, count);
      else this.clusterWideAntiAffinityNodes.delete(node);
    }
  }

  private forgetAffinityNode(node: NodeInfo): void {
    this.affinityNodes.delete(node);
    this.requiredAntiAffinityNodes.delete(node);
    this.clusterWideAntiAffinityNodes.delete(node);
  }

  /**
   * A solo group's one pod occupying a node. Solo groups (a pod without a group) are most pods:
   * they are found through the placed pods, not kept in groupPods (a Map each would cost more
   * than the pod's own entry).
   */
  private soloPlaced(id: string): PodInfo[] | undefined {
    const pod = this.placed.get(soloPodKey(id))?.pod;
    return pod !== undefined && pod.group.id === id ? [pod] : undefined;
  }

  /** The group's pods occupying nodes, or undefined when none does. */
  runningGroup(id: string): RunningGroup | undefined {
    const cached = this.runningGroupCache.get(id);
    if (cached) return cached;
    const members = this.groupPods.get(id);
    const pods = members ? [...members.values()] : this.soloPlaced(id);
    if (pods === undefined) return undefined;
    let priority = Number.NEGATIVE_INFINITY;
    for (const pod of pods) priority = Math.max(priority, pod.priority);
    const group: RunningGroup = { id, pods, priority };
    this.runningGroupCache.set(id, group);
    return group;
  }

  // --- volumes: PersistentVolumeClaims, PersistentVolumes, StorageClasses (VolumeBinding,
  // VolumeZone, VolumeRestrictions), fed by the shard's informers. The coordinator's state holds
  // none: a pod with a claim is refused there ("not found"), so its group is never handed over.

  private readonly claims = new Map<string, PersistentVolumeClaim>();
  private readonly volumes = new Map<string, PersistentVolume>();
  private readonly classes = new Map<string, StorageClass>();
  /** How many pods occupying nodes use each claim (persistentVolumeClaim volumes), by namespace/name. */
  private readonly claimUsers = new Map<string, number>();
  /**
   * Changes whenever a claim's binding or a volume's topology may have changed (a claim or volume
   * added, changed as the plugins read it, or removed): routing's answers hold while it stays.
   */
  volumeTopologyVersion = 0;

  /** Adds or updates a claim; says whether that can help a pod the volume plugins rejected. */
  upsertPersistentVolumeClaim(claim: PersistentVolumeClaim): ClusterEvents {
    const key = `${claim.metadata.namespace}/${claim.metadata.name}`;
    const before = this.claims.get(key);
    this.claims.set(key, claim);
    if (before !== undefined && claimView(before) === claimView(claim)) return 0;
    this.volumeTopologyVersion++;
    return claimChange;
  }

  removePersistentVolumeClaim(namespace: string, name: string): void {
    if (this.claims.delete(`${namespace}/${name}`)) this.volumeTopologyVersion++;
  }

  persistentVolumeClaim(namespace: string, name: string): PersistentVolumeClaim | undefined {
    return this.claims.get(`${namespace}/${name}`);
  }

  /** Adds or updates a volume; says whether that can help a pod the volume plugins rejected. */
  upsertPersistentVolume(volume: PersistentVolume): ClusterEvents {
    const before = this.volumes.get(volume.metadata.name);
    this.volumes.set(volume.metadata.name, volume);
    if (before !== undefined && volumeView(before) === volumeView(volume)) return 0;
    this.volumeTopologyVersion++;
    return volumeChange;
  }

  removePersistentVolume(name: string): void {
    if (this.volumes.delete(name)) this.volumeTopologyVersion++;
  }

  persistentVolume(name: string): PersistentVolume | undefined {
    return this.volumes.get(name);
  }

  /** Adds or updates a class; says whether that can help a pod the volume plugins rejected. */
  upsertStorageClass(storageClass: StorageClass): ClusterEvents {
    const before = this.classes.get(storageClass.metadata.name);
    this.classes.set(storageClass.metadata.name, storageClass);
    return before === undefined || before.volumeBindingMode !== storageClass.volumeBindingMode
      ? classChange
      : 0;
  }

  removeStorageClass(name: string): void {
    this.classes.delete(name);
  }

  storageClass(name: string): StorageClass | undefined {
    return this.classes.get(name);
  }

  /** Whether a pod occupying a node (bound, assumed or terminating) uses the claim. */
  claimInUse(namespace: string, name: string): boolean {
    return (this.claimUsers.get(`${namespace}/${name}`) ?? 0) > 0;
  }

  private countClaimUsers(pod: PodInfo, delta: 1 | -1): void {
    for (const { claim, ephemeral } of pod.volumeClaims) {
      // As kube-scheduler's PVCRefCounts: persistentVolumeClaim volumes only.
      if (ephemeral) continue;
      const key = `${pod.namespace}/${claim}`;
      const users = (this.claimUsers.get(key) ?? 0) + delta;
      if (users > 0) this.claimUsers.set(key, users);
      else this.claimUsers.delete(key);
    }
  }
}

const claimChange = eventsOf(["PersistentVolumeClaimChange"]);
const volumeChange = eventsOf(["PersistentVolumeChange"]);
const classChange = eventsOf(["StorageClassChange"]);

/** What the volume plugins read of a claim: a change elsewhere (a resync, status.capacity) helps no one. */
function claimView(claim: PersistentVolumeClaim): string {
  return JSON.stringify([
    claim.spec?.volumeName,
    claim.spec?.storageClassName,
    claim.spec?.accessModes,
    claim.status?.phase,
    claim.metadata.deletionTimestamp,
    claim.metadata.annotations?.["pv.kubernetes.io/bind-completed"],
    claim.metadata.annotations?.["volume.beta.kubernetes.io/storage-class"],
    claim.metadata.ownerReferences,
  ]);
}

/** What the volume plugins read of a volume: its node affinity and its labels (zone, region). */
function volumeView(volume: PersistentVolume): string {
  return JSON.stringify([volume.spec?.nodeAffinity, volume.metadata.labels]);
}

function occupy(node: NodeInfo, pod: PodInfo): void {
  node.pods.set(pod.key, pod);
  node.requested.add(pod.requests);
  node.requested.pods += 1;
  node.nonZeroRequested.milliCpu += pod.nonZeroRequests.milliCpu;
  node.nonZeroRequested.memory += pod.nonZeroRequests.memory;
}

/** Adds the pod to (or removes it, by key, from) a node's affinity list. */
function listed(list: PodInfo[], pod: PodInfo, added: boolean): void {
  const at = list.findIndex((p) => p.key === pod.key);
  if (added) {
    if (at < 0) list.push(pod);
    else list[at] = pod;
  } else if (at >= 0) {
    list.splice(at, 1);
  }
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
