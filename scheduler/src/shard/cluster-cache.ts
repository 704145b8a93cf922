/**
 * The shard's in-memory view of the cluster, fed by informers: the ClusterState the core
 * reads (nodes, pods occupying them, nominations, budgets), the pending pods this shard's
 * scheduler name serves grouped into gangs, and the pods it has assumed while binds are in flight.
 */
import {
  agreedMinMember,
  assignedPodUpdateEvents,
  budgetUpdateEvents,
  type ClusterEvents,
  ClusterState,
  type CrdApi,
  coschedulingApi,
  coschedulingPodGroupLabel,
  crdGroupSource,
  eventsOf,
  type GangState,
  type GroupKey,
  type GroupObjects,
  GroupRouter,
  type GroupSource,
  groupPin,
  groupStarted,
  minResourcesGap,
  type Namespace,
  type Node,
  type PendingGroup,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type Pod,
  type PodDisruptionBudget,
  type PodGroupObject,
  type PodInfo,
  parseCrdPodGroup,
  parsePodGroup,
  pendingGroup,
  podGroupNameOf,
  type StorageClass,
  toPodInfo,
  volcanoApi,
  volcanoGroupNameAnnotation,
} from "../core/index.js";
import { matchesLabelSelector } from "../core/label-selector.js";
import type { Resources } from "../core/resources/resources.js";
import type { Ownership } from "../sharding/ownership.js";

/** What the cache reads of a PriorityClass (scheduling.k8s.io/v1). */
export interface PriorityClassObject {
  readonly metadata: { readonly name: string };
  readonly value?: number;
  readonly globalDefault?: boolean;
}

/**
 * A gang as the cache knows it: pending members (ours) and members already running. A pod of no
 * gang (a gang of one) has an entry while it waits (pending, gated, or placed by us and its bind
 * not yet confirmed) and none once the watch shows it bound: nothing waits on a solo pod that runs,
 * and most of a cluster's pods are such pods (each entry cost a shard some 370 bytes a pod).
 */
export interface GroupMembers {
  readonly key: GroupKey;
  readonly pending: Map<string, PodInfo>;
  readonly running: Map<string, PodInfo>;
  /**
   * Members of ours with scheduling gates left: not scheduled, never bound, and not counted
   * toward min-member until their last gate is removed (they are not ready to start).
   */
  readonly gated: Map<string, PodInfo>;
  /**
   * Members bound to a node that does not exist (PodGC deletes them as orphans): they hold no
   * room and do not count as running; a node of that name appearing makes them running.
   */
  readonly orphaned: Map<string, PodInfo>;
  /**
   * Members that ran to completion (phase Succeeded, not yet deleted), from their own watch:
   * they count toward min-member (see succeededMembers).
   */
  readonly succeeded: Set<string>;
  /** Pending members that name another scheduler: the group cannot be placed as a whole by us. */
  readonly foreignPending: Map<string, string>;
  lastArrivalAt: number;
  /**
   * The group has started (groupStarted: min-member ran, or without min-member a member runs):
   * later members join as room allows and the group is never rolled back. Set when the watches
   * show it, kept while a member runs that is not being deleted; a group with none left (a
   * whole gang evicted) starts afresh, all or nothing. In memory only, but every shard watches
   * every pod, so a group handed to another shard keeps it; a shard that restarts learns it
   * again from its first list, and treats a group with fewer than min-member running then as
   * never started.
   */
  started: boolean;
}

/**
 * How many members succeeded: the two pod watches may both show a pod that just finished for a
 * moment (still running in one, succeeded in the other); it is counted once.
 */
export function succeededMembers(group: GroupMembers): number {
  let count = 0;
  for (const key of group.succeeded)
    if (!group.running.has(key) && !group.orphaned.has(key) && !group.pending.has(key)) count++;
  return count;
}

/** The group's min-member when its members agree on one, else undefined (carried on PodInfo). */
export function declaredMinMember(members: GroupMembers): number | undefined {
  return agreedMinMember(members.pending.values(), members.running.values());
}

/**
 * Whether this shard schedules the group now: groupOwner (core/gang/owner.ts) of its hash key,
 * the shard its pending members pin it to, and the shard feasibility-aware routing sends it to
 * (core/gang/routing.ts; only with a router and a ring of several).
 */
export function ownsGroup(
  ownership: Pick<Ownership, "ownsGroup" | "routing">,
  members: GroupMembers,
  router?: GroupRouter,
): boolean {
  const pin = groupPin(members.pending.values());
  return ownership.ownsGroup(members.key.hashKey, pin, routedTo(ownership, members, router, pin));
}

/** The shard routing sends the group to, or undefined (no router, no ring of several, a live pin, the ring's owner keeps it). */
export function routedTo(
  ownership: Pick<Ownership, "routing">,
  members: GroupMembers,
  router: GroupRouter | undefined,
  pin: string | undefined = groupPin(members.pending.values()),
): string | undefined {
  const ring = router && ownership.routing?.();
  if (!ring || (pin !== undefined && ring.live.has(pin))) return undefined;
  return router?.route(members.key.hashKey, members.pending.values(), ring);
}

/** What the gang rules (core/gang/lifecycle.ts) read of a group. */
export function gangState(members: GroupMembers): GangState {
  return {
    // Every member names the same PodGroup: the first one's answer is the group's.
    waitingFor: members.pending.values().next().value?.groupWaitingFor,
    key: members.key,
    minMember: declaredMinMember(members),
    pending: members.pending.size,
    running: members.running.size,
    succeeded: succeededMembers(members),
    started: members.started,
    lastArrivalAt: members.lastArrivalAt,
  };
}

/** The group as the core places it (the one builder, pendingGroup), from the state read of it. */
export function pendingGroupOf(members: GroupMembers, state: GangState = gangState(members)): PendingGroup {
  return pendingGroup(
    members.key,
    [...members.pending.values()],
    [...members.running.values()],
    state.minMember,
    state.succeeded,
    state.started,
  );
}

/**
 * Why a group whose CRD PodGroup sets spec.minResources is not tried yet (coscheduling's
 * PreFilter), or undefined: the room left on this shard's usable nodes (owned, ready, not
 * cordoned), its own members' room counted as free, must hold minResources and minMember pods.
 * A group that started is not held again.
 */
export function minResourcesGapOf(
  members: GroupMembers,
  ownsNode: (name: string) => boolean,
  cluster: Pick<ClusterCache, "cluster">,
): string | undefined {
  const terms = members.pending.values().next().value?.crdTerms;
  if (terms?.minResources === undefined || members.started) return undefined;
  const usable = cluster.cluster.nodes.filter((n) => n.ready && !n.unschedulable && ownsNode(n.name));
  const gap = minResourcesGap(
    terms.minResources,
    terms.minMember,
    usable,
    (pod) => pod.group.id === members.key.id,
  );
  if (gap === undefined) return undefined;
  const { namespace, name } = members.key;
  return `${terms.api} PodGroup ${namespace}/${name}: spec.minResources is not free on this shard's ${usable.length} usable node(s), ${gap}`;
}

export type CacheChange =
  /**
   * Room may have appeared or rules changed: the unschedulable groups waiting for one of these
   * cluster events (the queueing hints of the plugins that rejected them) deserve another try.
   */
  | { kind: "capacity"; events: ClusterEvents }
  /** A group gained or changed a pending member. */
  | { kind: "member"; groupId: string }
  /** A pod of ours is malformed (or no longer is). */
  | { kind: "invalid"; podKey: string }
  /**
   * A node came, went, or changed what feasibility-aware routing reads: groups this shard
   * dropped as another's may be its own now (core/gang/routing.ts).
   */
  | { kind: "routing" };

/** Node changes that may change a group's feasible nodes (allocatable: also when it shrinks). */
export const routingNodeEvents = eventsOf([
  "NodeAdd",
  "NodeUpdateLabel",
  "NodeUpdateTaint",
  "NodeUpdateAllocatable",
]);

function sameAmounts(a: Resources, b: Resources): boolean {
  if (a.milliCpu !== b.milliCpu || a.memory !== b.memory || a.ephemeralStorage !== b.ephemeralStorage)
    return false;
  if (a.pods !== b.pods || a.scalar.size !== b.scalar.size) return false;
  for (const [name, amount] of a.scalar) if (b.scalar.get(name) !== amount) return false;
  return true;
}

const nodeDelete = eventsOf(["NodeDelete"]);

/** Room came back: a pod stopped occupying its node, or a nomination stopped reserving one. */
const podLeft = eventsOf(["AssignedPodDelete"]);
const podArrived = eventsOf(["AssignedPodAdd"]);

/** Where a pod stood in the cluster before a change: what the change's events are measured against. */
interface PodStanding {
  readonly placed: PodInfo | undefined;
  /** The node it occupied (ClusterState.placementOf). */
  readonly placedOn: string | undefined;
  /** Whether that placement was our assumption (its confirmation is the pod's arrival). */
  readonly assumed: boolean;
  /** The node its nomination reserved, as the watch or the cluster last had it. */
  readonly nominatedOn: string | undefined;
}

/**
 * The empty collections every group starts with, shared until its first member of that kind
 * (memberMap and the two below): most groups are one pod, and six empty collections a pod were a
 * fifth of a shard's memory per pod. Only these functions add to a group's collections.
 */
const noMembers: Map<string, PodInfo> = new Map();
const noSucceeded: Set<string> = new Set();
const noForeignPending: Map<string, string> = new Map();

type MemberKind = "pending" | "running" | "gated" | "orphaned";

function memberMap(group: GroupMembers, kind: MemberKind): Map<string, PodInfo> {
  if (group[kind] === noMembers) (group as { [K in MemberKind]: Map<string, PodInfo> })[kind] = new Map();
  return group[kind];
}

function succeededOf(group: GroupMembers): Set<string> {
  if (group.succeeded === noSucceeded) (group as { succeeded: Set<string> }).succeeded = new Set();
  return group.succeeded;
}

function foreignPendingOf(group: GroupMembers): Map<string, string> {
  if (group.foreignPending === noForeignPending)
    (group as { foreignPending: Map<string, string> }).foreignPending = new Map();
  return group.foreignPending;
}

export class ClusterCache {
  readonly cluster = new ClusterState();
  /**
   * Bumped by everything given to the cache (each object a watch or relist delivers, each
   * assumption and its outcome): what was read of it holds while this stands (with the
   * cluster's own version, which also moves with the cycles' placements and nominations).
   */
  version = 0;
  private readonly groups = new Map<string, GroupMembers>();
  private readonly groupOfPod = new Map<string, string>();
  /** Pods this shard placed whose binding the watch has not confirmed yet, by pod key. */
  private readonly assumed = new Map<string, { pod: PodInfo; nodeName: string }>();
  /** Our pods that cannot be scheduled because of malformed input, with the reason. */
  readonly invalid = new Map<string, { pod: Pod; error: string }>();
  /**
   * Bumped when a node comes or goes or its labels, taints or allocatable change: what
   * feasibility-aware routing reads of nodes (core/gang/routing.ts).
   */
  private nodesRoutingVersion = 0;
  /** Which shard a group whose feasible nodes other shards own goes to (see ownsGroup). */
  readonly router = new GroupRouter(this.cluster, () => this.nodesRoutingVersion);
  /**
   * PodGroups (scheduling.k8s.io/v1beta1) by "<ns>/<name>", from their watch, with the terms
   * last parsed of each (a status write changes no term and re-reads no member).
   */
  private readonly podGroups = new Map<string, { object: PodGroupObject; terms: string }>();
  /**
   * The latest version of every unfinished pod naming a PodGroup, by the PodGroup's "<ns>/<name>"
   * then pod key: when the PodGroup appears, changes its terms or goes, its members are read
   * again (and only they: exactly that group wakes, as kube-scheduler's PodGroup Add hint).
   */
  private readonly podGroupMembers = new Map<string, Map<string, Pod>>();
  /** The podGroupMembers keys each tracked pod is under. */
  private readonly podGroupKeysOf = new Map<string, string[]>();
  /**
   * PodGroup CRD objects (scheduler-plugins, Volcano) by "<api>:<ns>/<name>", with their terms
   * last parsed; their members are tracked in podGroupMembers under the same key.
   */
  private readonly crdPodGroups = new Map<string, { object: PodGroupObject; terms: string }>();
  /** PriorityClasses by name (a Volcano group's priority), watched with the Volcano CRD. */
  private readonly priorityClasses = new Map<string, PriorityClassObject>();
  /** Members of ours that failed, by group id (a scheduler-plugins PodGroup's status.failed). */
  private readonly failedMembers = new Map<string, Set<string>>();
  /** What the group source reads besides the pod; a CRD's lookup only once its informer is on. */
  private objects: GroupObjects = {
    podGroup: (namespace, name) => this.podGroups.get(`${namespace}/${name}`)?.object,
  };

  constructor(
    private readonly schedulerName: string,
    private readonly onChange: (change: CacheChange) => void,
    private readonly now: () => number = Date.now,
    /** Which group each pod is in, and its min-member (asked per pod version, in toPodInfo). */
    private readonly source: GroupSource = crdGroupSource,
  ) {}

  /** What the cache holds (kube-scheduler's cache_size): nodes, pods on them, and those assumed. */
  sizes(): { nodes: number; pods: number; assumedPods: number } {
    return {
      nodes: this.cluster.nodes.length,
      pods: this.cluster.placedPods,
      assumedPods: this.assumed.size,
    };
  }

  upsertNode(node: Node): void {
    this.version++;
    const before = this.cluster.node(node.metadata.name);
    const known = before !== undefined;
    const allocatableBefore = before?.allocatable;
    const { info, events } = this.cluster.updateNode(node);
    if (
      !known ||
      (events & routingNodeEvents) !== 0 ||
      !sameAmounts(allocatableBefore as Resources, info.allocatable)
    ) {
      this.nodesRoutingVersion++;
      this.onChange({ kind: "routing" });
    }
    // A node that appears holds the pods bound to it: they are running members now.
    if (!known) for (const key of info.pods.keys()) this.adopt(key);
    // An update no plugin reads (a heartbeat, a new resourceVersion) wakes nobody.
    if (events !== 0) this.onChange({ kind: "capacity", events });
  }

  removeNode(node: Node): void {
    this.version++;
    const known = this.cluster.node(node.metadata.name);
    const pods = known?.pods.keys() ?? [];
    for (const key of pods) {
      const group = this.groups.get(this.groupOfPod.get(key) ?? "");
      const pod = group?.running.get(key);
      if (!group || !pod) continue;
      group.running.delete(key);
      memberMap(group, "orphaned").set(key, pod);
      this.observeStart(group);
    }
    this.cluster.removeNode(node.metadata.name);
    this.nodesRoutingVersion++;
    this.onChange({ kind: "routing" });
    if (known !== undefined) this.onChange({ kind: "capacity", events: nodeDelete });
  }

  /** A namespace's labels, for InterPodAffinity's namespaceSelector (no event: kube-scheduler registers none). */
  upsertNamespace(namespace: Namespace): void {
    this.version++;
    this.cluster.upsertNamespace(namespace.metadata.name, namespace.metadata.labels ?? {});
  }

  removeNamespace(namespace: Namespace): void {
    this.version++;
    this.cluster.removeNamespace(namespace.metadata.name);
  }

  upsertPodDisruptionBudget(pdb: PodDisruptionBudget): void {
    this.version++;
    const { namespace, name } = pdb.metadata;
    const before = this.cluster.podDisruptionBudget(namespace, name);
    this.cluster.upsertPodDisruptionBudget(pdb);
    this.emit(budgetUpdateEvents(before, pdb));
  }

  removePodDisruptionBudget(pdb: PodDisruptionBudget): void {
    this.version++;
    const { namespace, name } = pdb.metadata;
    const before = this.cluster.podDisruptionBudget(namespace, name);
    this.cluster.removePodDisruptionBudget(namespace, name);
    // Groups it protected may be evicted now: preemptors waiting for room may find it.
    this.emit(budgetUpdateEvents(before, undefined));
  }

  /**
   * The Eviction API refused to evict the pod for its PodDisruptionBudget: the budget allows no
   * disruption now, whatever the cached status says (the watch may not have brought its newest
   * version yet). Until the watch brings a newer one, it counts as allowing none, so preemption
   * does not pick the pod's group again meanwhile.
   */
  budgetRefused(pod: PodInfo): void {
    this.version++;
    for (const pdb of this.cluster.podDisruptionBudgets(pod.namespace)) {
      if ((pdb.status?.disruptionsAllowed ?? 0) === 0) continue;
      if (!matchesLabelSelector(pdb.spec?.selector, pod.labels)) continue;
      this.upsertPodDisruptionBudget({ ...pdb, status: { ...pdb.status, disruptionsAllowed: 0 } });
    }
  }

  upsertPod(pod: Pod): void {
    this.version++;
    const info = toPodInfo(pod, this.source, this.objects);
    this.trackPodGroupMember(info.key, pod);
    const standing = this.standing(info.key);
    this.applyPod(pod, info);
    this.emit(this.podEvents(info.key, standing));
  }

  /**
   * A PodGroup appeared or changed. When what the group source reads of it changed (its policy,
   * minCount, priority, …; not its status), its members are read again: pending ones wake (a
   * member change) and running ones carry the new terms, undisturbed.
   */
  upsertPodGroup(podGroup: PodGroupObject): void {
    this.version++;
    const key = `${podGroup.metadata.namespace ?? ""}/${podGroup.metadata.name}`;
    const terms = JSON.stringify(parsePodGroup(podGroup));
    const before = this.podGroups.get(key);
    this.podGroups.set(key, { object: podGroup, terms });
    if (before?.terms !== terms) this.rereadMembers(key);
  }

  /**
   * A PodGroup was deleted. As kube-scheduler 1.37: its pending members wait again for a
   * PodGroup of that name (GangScheduling's PreEnqueue finds none); running ones keep running.
   */
  removePodGroup(podGroup: PodGroupObject): void {
    this.version++;
    const key = `${podGroup.metadata.namespace ?? ""}/${podGroup.metadata.name}`;
    if (this.podGroups.delete(key)) this.rereadMembers(key);
  }

  /** The watch's latest version of a PodGroup, or undefined. */
  podGroupObject(namespace: string, name: string): PodGroupObject | undefined {
    return this.podGroups.get(`${namespace}/${name}`)?.object;
  }

  /**
   * The shard watches this PodGroup CRD (discovery serves it): its label or annotation names a
   * PodGroup of it from now on. Called before the informers start.
   */
  watchCrd(api: CrdApi): void {
    this.version++;
    const lookup = (namespace: string, name: string) =>
      this.crdPodGroups.get(`${api}:${namespace}/${name}`)?.object;
    this.objects =
      api === coschedulingApi
        ? { ...this.objects, coschedulingPodGroup: lookup }
        : {
            ...this.objects,
            volcanoPodGroup: lookup,
            priorityClasses: {
              byName: (name) => this.priorityClasses.get(name),
              globalDefault: () => [...this.priorityClasses.values()].find((c) => c.globalDefault === true),
            },
          };
  }

  /** A CRD PodGroup appeared or changed: as upsertPodGroup, its members are read again when its terms changed. */
  upsertCrdPodGroup(api: CrdApi, podGroup: PodGroupObject): void {
    this.version++;
    const key = `${api}:${podGroup.metadata.namespace ?? ""}/${podGroup.metadata.name}`;
    const terms = JSON.stringify(parseCrdPodGroup(api, podGroup));
    const before = this.crdPodGroups.get(key);
    this.crdPodGroups.set(key, { object: podGroup, terms });
    if (before?.terms !== terms) this.rereadMembers(key);
  }

  /** A CRD PodGroup was deleted: its pending members wait for it again, running ones keep running. */
  removeCrdPodGroup(api: CrdApi, podGroup: PodGroupObject): void {
    this.version++;
    const key = `${api}:${podGroup.metadata.namespace ?? ""}/${podGroup.metadata.name}`;
    if (this.crdPodGroups.delete(key)) this.rereadMembers(key);
  }

  /** The id of the group a pod is in, or undefined. */
  groupIdOf(podKey: string): string | undefined {
    return this.groupOfPod.get(podKey);
  }

  /** The watch's latest version of a CRD PodGroup, or undefined. */
  crdPodGroupObject(api: CrdApi, namespace: string, name: string): PodGroupObject | undefined {
    return this.crdPodGroups.get(`${api}:${namespace}/${name}`)?.object;
  }

  /**
   * A PriorityClass came, changed or went: the Volcano groups' priority may have changed, so
   * their members are read again (PriorityClasses change rarely).
   */
  upsertPriorityClass(priorityClass: PriorityClassObject, removed = false): void {
    this.version++;
    const name = priorityClass.metadata.name;
    const before = this.priorityClasses.get(name);
    if (removed) this.priorityClasses.delete(name);
    else this.priorityClasses.set(name, priorityClass);
    if (
      before?.value === priorityClass.value &&
      before?.globalDefault === priorityClass.globalDefault &&
      !removed
    )
      return;
    for (const key of [...this.podGroupMembers.keys()])
      if (key.startsWith(`${volcanoApi}:`)) this.rereadMembers(key);
  }

  /** A pod of ours failed (status.failed of its scheduler-plugins PodGroup), or was deleted (`removed`). */
  upsertFailedPod(pod: Pod, removed = false): void {
    this.version++;
    const membership = this.source.membership(pod, this.objects);
    if (!membership.group.crd || pod.spec.schedulerName !== this.schedulerName) return;
    const id = membership.group.id;
    const podKey = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const failed = this.failedMembers.get(id) ?? new Set<string>();
    if (removed) failed.delete(podKey);
    else failed.add(podKey);
    if (failed.size === 0) this.failedMembers.delete(id);
    else this.failedMembers.set(id, failed);
  }

  /** How many members of the group failed (only counted where a scheduler-plugins CRD is watched). */
  failedCount(groupId: string): number {
    return this.failedMembers.get(groupId)?.size ?? 0;
  }

  private rereadMembers(podGroupKey: string): void {
    const members = this.podGroupMembers.get(podGroupKey);
    if (members) for (const pod of [...members.values()]) this.upsertPod(pod);
  }

  /**
   * Remembers (pod given) or forgets (removed) the latest version of a pod naming a PodGroup:
   * native ("<ns>/<name>") or, by its label or annotation, a CRD one ("<api>:<ns>/<name>").
   */
  private trackPodGroupMember(podKey: string, pod: Pod, removed = false): void {
    const { namespace, labels = {}, annotations = {} } = pod.metadata;
    const keys: string[] = [];
    // spec.schedulingGroup is immutable: a pod's PodGroup is the one it named when created.
    const name = podGroupNameOf(pod.spec.schedulingGroup).name;
    if (name !== undefined) keys.push(`${namespace}/${name}`);
    const coscheduling = labels[coschedulingPodGroupLabel];
    if (coscheduling !== undefined) keys.push(`${coschedulingApi}:${namespace}/${coscheduling}`);
    const volcano = annotations[volcanoGroupNameAnnotation];
    if (volcano !== undefined) keys.push(`${volcanoApi}:${namespace}/${volcano}`);
    // Labels and annotations may change: a key the pod no longer names must not keep an old version.
    const before = this.podGroupKeysOf.get(podKey) ?? [];
    for (const key of before)
      if (removed || !keys.includes(key)) {
        const members = this.podGroupMembers.get(key);
        if (members?.delete(podKey) && members.size === 0) this.podGroupMembers.delete(key);
      }
    if (removed || keys.length === 0) this.podGroupKeysOf.delete(podKey);
    else this.podGroupKeysOf.set(podKey, keys);
    for (const key of keys) {
      let members = this.podGroupMembers.get(key);
      if (removed) {
        if (members?.delete(podKey) && members.size === 0) this.podGroupMembers.delete(key);
        continue;
      }
      if (!members) {
        members = new Map();
        this.podGroupMembers.set(key, members);
      }
      members.set(podKey, pod);
    }
  }

  /** Records the watch's version of a pod in the cluster and its group (events: see podEvents). */
  private applyPod(pod: Pod, info: PodInfo): void {
    const key = info.key;
    const previousGroup = this.groupOfPod.get(key);
    if (previousGroup !== undefined && previousGroup !== info.group.id) this.detach(key, previousGroup);

    if (info.nodeName) {
      const confirmed = this.assumed.delete(key);
      this.clearInvalid(key);
      if (info.group.solo) {
        // A bound pod of no gang: the cluster holds it, no group entry does (see GroupMembers).
        if (previousGroup === info.group.id) this.detach(key, previousGroup);
        if (info.finished) this.cluster.removePod(key);
        else this.cluster.upsertPod(info);
        return;
      }
      const group = this.attach(key, info.group);
      group.pending.delete(key);
      group.gated.delete(key);
      group.foreignPending.delete(key);
      if (info.finished) {
        this.cluster.removePod(key);
        group.running.delete(key);
        group.orphaned.delete(key);
        this.observeStart(group);
        this.dropIfEmpty(group);
      } else if (!this.cluster.node(info.nodeName)) {
        // Bound to a node that does not exist (yet, or any more): it runs nowhere.
        this.cluster.upsertPod(info);
        group.running.delete(key);
        memberMap(group, "orphaned").set(key, info);
        this.observeStart(group);
      } else {
        this.cluster.upsertPod(info);
        group.orphaned.delete(key);
        const joined = !group.running.has(key);
        memberMap(group, "running").set(key, info);
        if (joined || confirmed || info.terminating) this.observeStart(group);
        // A member bound by someone else changes what the rest of its gang needs.
        if (joined && group.pending.size > 0) this.onChange({ kind: "member", groupId: info.group.id });
      }
      return;
    }

    if (info.terminating || info.finished) {
      this.forgetPod(key);
      return;
    }
    if (pod.spec.schedulerName !== this.schedulerName) {
      // Another scheduler's pending pod: it may reserve a node, and may be a member of a gang of ours.
      this.cluster.upsertPod(info);
      if (!info.group.solo) {
        foreignPendingOf(this.attach(key, info.group)).set(
          key,
          pod.spec.schedulerName ?? "default-scheduler",
        );
      }
      return;
    }
    if (info.gated) {
      // Not ready to be scheduled (kube-scheduler's SchedulingGates): the API server already says
      // so (PodScheduled=False, SchedulingGated); the pod is looked at again when its gates go.
      this.assumed.delete(key);
      this.cluster.removePod(key);
      const group = this.attach(key, info.group);
      group.pending.delete(key);
      group.running.delete(key);
      memberMap(group, "gated").set(key, info);
      return;
    }
    if (info.groupError) {
      const known = this.invalid.get(key);
      this.invalid.set(key, { pod, error: info.groupError });
      this.detach(key, info.group.id);
      if (known?.error !== info.groupError) this.onChange({ kind: "invalid", podKey: key });
      return;
    }
    this.clearInvalid(key);
    const assumed = this.assumed.get(key);
    if (assumed) {
      // Bind in flight: keep the placement; only refresh what we know of the pod.
      this.assumed.set(key, { pod: info, nodeName: assumed.nodeName });
      return;
    }
    // kube-scheduler's nominator (UpdateNominatedPod): a node a cycle reserved in memory for the
    // pod, its nominatedNodeName write not back yet, stays reserved through an update that says
    // nothing of a nomination, as the version before it did not either: that update was written
    // before the nomination (a condition, an Owner pin). Once written, moved or cleared, the
    // pod's own nominatedNodeName is what counts; a write that failed restores the watch's
    // version (restorePending).
    const seen = this.groups.get(info.group.id)?.pending.get(key);
    const reserved = this.cluster.nominatedPod(key)?.nominatedNodeName;
    const keepsReservation =
      reserved !== undefined &&
      seen !== undefined &&
      seen.nominatedNodeName === undefined &&
      info.nominatedNodeName === undefined;
    this.cluster.upsertPod(keepsReservation ? { ...info, nominatedNodeName: reserved } : info);
    const group = this.attach(key, info.group);
    group.gated.delete(key);
    const isNew = !group.pending.has(key);
    memberMap(group, "pending").set(key, info);
    if (isNew) group.lastArrivalAt = this.now();
    this.onChange({ kind: "member", groupId: info.group.id });
  }

  removePod(pod: Pod): void {
    this.version++;
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    this.trackPodGroupMember(key, pod, true);
    const standing = this.standing(key);
    this.forgetPod(key);
    this.emit(this.podEvents(key, standing));
  }

  private forgetPod(key: string): void {
    const groupId = this.groupOfPod.get(key);
    if (groupId !== undefined) this.detach(key, groupId);
    this.assumed.delete(key);
    this.clearInvalid(key);
    this.cluster.removePod(key);
  }

  /** Where the pod stands in the cluster now (see PodStanding). */
  private standing(key: string): PodStanding {
    const groupId = this.groupOfPod.get(key);
    // The watch's version first: a cycle may have withdrawn the nomination from the cluster
    // already, and the room it gives back is news to the groups that were not in that cycle.
    const seen = groupId === undefined ? undefined : this.groups.get(groupId)?.pending.get(key);
    return {
      placed: this.cluster.placedPod(key),
      placedOn: this.cluster.placementOf(key),
      assumed: this.assumed.has(key),
      nominatedOn: seen?.nominatedNodeName ?? this.cluster.nominatedPod(key)?.nominatedNodeName,
    };
  }

  /**
   * The cluster events of a pod's change, from where it stood before to where it stands now:
   * it arrived on a node (the watch shows it bound, or confirms our assumption), it changed
   * there (assignedPodUpdateEvents), it left one, or its nomination stopped reserving a node
   * (kube-scheduler's AssignedPodDelete for a changed nominatedNodeName). A pod that binds
   * where it was nominated gives nothing back.
   */
  private podEvents(key: string, before: PodStanding): ClusterEvents {
    const placed = this.cluster.placedPod(key);
    const placedOn = this.cluster.placementOf(key);
    let events = 0;
    if (before.placed && !placed) {
      // A pod bound to a node the cluster does not hold gave no room back.
      if (this.cluster.node(before.placedOn ?? "")) events |= podLeft;
    } else if (placed && this.cluster.node(placedOn ?? "")) {
      if (!before.placed || (before.assumed && !this.assumed.has(key))) events |= podArrived;
      else events |= assignedPodUpdateEvents(before.placed, placed);
    }
    const nominatedOn = this.cluster.nominatedPod(key)?.nominatedNodeName;
    if (!placed && before.nominatedOn !== undefined && before.nominatedOn !== nominatedOn) events |= podLeft;
    return events;
  }

  private emit(events: ClusterEvents): void {
    if (events !== 0) this.onChange({ kind: "capacity", events });
  }

  /**
   * Records that the core placed a pod (the cycle already assumed it in the cluster): it
   * counts as a running member of its group until the watch confirms the bind or it fails.
   */
  markAssumed(pod: PodInfo, nodeName: string): void {
    this.version++;
    this.assumed.set(pod.key, { pod, nodeName });
    const group = this.attach(pod.key, pod.group);
    group.pending.delete(pod.key);
    memberMap(group, "running").set(pod.key, pod);
  }

  /** A bind failed: the pod is pending again (unless the watch has news). */
  forget(podKey: string): void {
    this.version++;
    const assumed = this.assumed.get(podKey);
    if (!assumed) return;
    this.assumed.delete(podKey);
    const group = this.groups.get(assumed.pod.group.id);
    group?.running.delete(podKey);
    group?.orphaned.delete(podKey);
    this.cluster.removePod(podKey);
    this.applyPod(assumed.pod.pod, toPodInfo(assumed.pod.pod, this.source, this.objects));
    // The room it held is free again (kube-scheduler's ForgetPod wakes pods the same way).
    this.emit(podLeft);
  }

  /**
   * The API server refused the bind because the pod still has scheduling gates (gates are only
   * ever removed, so our copy was older): it waits as gated until the watch shows them gone.
   */
  forgetGated(podKey: string): void {
    this.version++;
    const assumed = this.assumed.get(podKey);
    if (!assumed) return;
    this.assumed.delete(podKey);
    const group = this.attach(podKey, assumed.pod.group);
    group.running.delete(podKey);
    group.orphaned.delete(podKey);
    memberMap(group, "gated").set(podKey, assumed.pod);
    this.cluster.removePod(podKey);
    this.emit(podLeft);
  }

  /**
   * The API server refused the bind because the pod of that name has another UID: the pod we
   * placed was deleted and created again. It is dropped; the watch brings its replacement (if
   * the watch brought it already, that one is pending).
   */
  forgetReplaced(podKey: string, uid: string): void {
    this.version++;
    const assumed = this.assumed.get(podKey);
    if (!assumed) return;
    if (assumed.pod.uid !== uid) this.forget(podKey);
    else this.removePod(assumed.pod.pod);
  }

  /**
   * A nomination the cycle reserved in the cluster but could not write to the API server: the
   * pod goes back to what the watch last delivered, so no shard keeps room for a reservation
   * that exists nowhere else (a watch event would not come to correct it).
   */
  restorePending(pod: PodInfo): void {
    this.version++;
    const seen = this.groups.get(pod.group.id)?.pending.get(pod.key);
    if (seen) this.cluster.upsertPod(seen);
  }

  group(groupId: string): GroupMembers | undefined {
    return this.groups.get(groupId);
  }

  groupIds(): IterableIterator<string> {
    return this.groups.keys();
  }

  pendingPodCount(): number {
    let count = 0;
    for (const group of this.groups.values()) count += group.pending.size;
    return count;
  }

  /**
   * A pod of ours that succeeded (the succeeded-pods watch): a member that started with its
   * gang. Only the members of a pod group are kept; the pod holds no room.
   */
  upsertSucceededPod(pod: Pod): void {
    this.version++;
    const membership = this.source.membership(pod, this.objects);
    if (membership.group.solo || membership.error || pod.spec.schedulerName !== this.schedulerName) return;
    const group = this.groupEntry(membership.group);
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (group.succeeded.has(key)) return;
    succeededOf(group).add(key);
    this.observeStart(group);
    if (group.pending.size > 0) this.onChange({ kind: "member", groupId: group.key.id });
  }

  /** A succeeded pod was deleted. */
  removeSucceededPod(pod: Pod): void {
    this.version++;
    const group = this.groups.get(this.source.membership(pod, this.objects).group.id);
    if (!group) return;
    group.succeeded.delete(`${pod.metadata.namespace}/${pod.metadata.name}`);
    this.dropIfEmpty(group);
  }

  /** The pod's group entry, created on first use; remembers which group the pod is in. */
  private attach(podKey: string, key: GroupKey): GroupMembers {
    this.groupOfPod.set(podKey, key.id);
    return this.groupEntry(key);
  }

  private groupEntry(key: GroupKey): GroupMembers {
    let group = this.groups.get(key.id);
    if (!group) {
      group = {
        key,
        pending: noMembers,
        running: noMembers,
        gated: noMembers,
        orphaned: noMembers,
        succeeded: noSucceeded,
        foreignPending: noForeignPending,
        lastArrivalAt: this.now(),
        started: false,
      };
      this.groups.set(key.id, group);
    }
    return group;
  }

  private detach(podKey: string, groupId: string): void {
    const group = this.groups.get(groupId);
    this.groupOfPod.delete(podKey);
    if (!group) return;
    group.pending.delete(podKey);
    group.running.delete(podKey);
    group.gated.delete(podKey);
    group.orphaned.delete(podKey);
    group.foreignPending.delete(podKey);
    this.observeStart(group);
    this.dropIfEmpty(group);
  }

  /** A member bound to a node that just appeared runs there now. */
  private adopt(podKey: string): void {
    const group = this.groups.get(this.groupOfPod.get(podKey) ?? "");
    const pod = group?.orphaned.get(podKey);
    if (!group || !pod) return;
    group.orphaned.delete(podKey);
    memberMap(group, "running").set(podKey, pod);
    this.observeStart(group);
    if (group.pending.size > 0) this.onChange({ kind: "member", groupId: group.key.id });
  }

  /**
   * Sets started once the watches show the group started (members this shard assumed and whose
   * bind is not confirmed do not count), and clears it when no member runs any more but ones
   * being deleted (an evicted gang's replacements start afresh, all or nothing).
   */
  private observeStart(group: GroupMembers): void {
    let staying = 0;
    let confirmed = 0;
    for (const [key, pod] of group.running) {
      if (pod.terminating) continue;
      staying++;
      if (!this.assumed.has(key)) confirmed++;
    }
    if (staying === 0) group.started = false;
    else group.started ||= groupStarted(confirmed, succeededMembers(group), declaredMinMember(group));
  }

  private dropIfEmpty(group: GroupMembers): void {
    const { pending, running, gated, orphaned, succeeded, foreignPending } = group;
    if (
      pending.size + running.size + gated.size + orphaned.size + succeeded.size + foreignPending.size ===
      0
    ) {
      this.groups.delete(group.key.id);
    }
  }

  private clearInvalid(podKey: string): void {
    if (this.invalid.delete(podKey)) this.onChange({ kind: "invalid", podKey });
  }

  // --- volumes: claims, volumes and classes the volume plugins read. A new or changed one may
  // let a pod in (the events say which); a deleted one never does. A claim bound, or a volume's
  // node affinity changed, may route its pods' groups elsewhere (core/gang/routing.ts).

  upsertPersistentVolumeClaim(claim: PersistentVolumeClaim): void {
    this.version++;
    this.volumeTopologyChanged(() => this.emit(this.cluster.upsertPersistentVolumeClaim(claim)));
  }

  removePersistentVolumeClaim(claim: PersistentVolumeClaim): void {
    this.version++;
    this.volumeTopologyChanged(() =>
      this.cluster.removePersistentVolumeClaim(claim.metadata.namespace, claim.metadata.name),
    );
  }

  upsertPersistentVolume(volume: PersistentVolume): void {
    this.version++;
    this.volumeTopologyChanged(() => this.emit(this.cluster.upsertPersistentVolume(volume)));
  }

  removePersistentVolume(volume: PersistentVolume): void {
    this.version++;
    this.volumeTopologyChanged(() => this.cluster.removePersistentVolume(volume.metadata.name));
  }

  private volumeTopologyChanged(update: () => void): void {
    const before = this.cluster.volumeTopologyVersion;
    update();
    if (this.cluster.volumeTopologyVersion !== before) this.onChange({ kind: "routing" });
  }

  upsertStorageClass(storageClass: StorageClass): void {
    this.version++;
    this.emit(this.cluster.upsertStorageClass(storageClass));
  }

  removeStorageClass(storageClass: StorageClass): void {
    this.version++;
    this.cluster.removeStorageClass(storageClass.metadata.name);
  }
}
