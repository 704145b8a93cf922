/**
 * The invariant checker's books: fed the nodes, pods, ring Lease and scheduler Events it
 * watches (each with the time it saw them), it counts violations of what the product promises.
 * Pure: no I/O and no clock of its own, so a test can drive it object by object. It shares no
 * code with the scheduler; it reads only what the API server shows (pod specs and status, the
 * ring Lease's annotations, the Events' reason, message and reportingInstance). A pod's shard
 * override is its sharded-scheduler.io/Owner condition and its relief count its
 * sharded-scheduler.io/Relief condition (documented formats below), never its annotations, which
 * the pod's tenant could write.
 *
 *   overcommit      a node whose bound, unfinished pods request more than its allocatable
 *   partialGangs    a gang with some but not all of min-member bound for longer than allowed
 *   doubleBinds     a pod (by UID) bound to one node and later to another
 *   foreignBinds    a bind by a shard that did not own the node under the ring epoch it bound in
 *   lostPods        pods still pending at the end that the free room could hold (see lostPods())
 *   badPreemptions  an eviction that left its group partly bound where its disruption mode
 *                   forbids it (a PodGroup with disruptionMode all: any member still bound; an
 *                   annotation gang: fewer than min-member still bound, but some; a PodGroup
 *                   with disruptionMode single may lose members one by one), hit a group of
 *                   equal or higher priority than its preemptor, or after which the preemptor still did
 *                   not fit: it was not fully bound within preemptorBoundMs of its first
 *                   victim's eviction (where it lands is the scheduler's choice; that it lands
 *                   is the promise), unless a pod of higher priority was nominated to or bound
 *                   on one of its nominated nodes meanwhile and so took the room first
 *   gatedPartialGangs       a gang that never started, with members bound while gated members
 *                           (spec.schedulingGates) kept it from min-member: bound, succeeded and
 *                           ungated pending members together fewer than min-member, for longer
 *                           than gatedPartialGangMs (gated pods do not count toward min-member,
 *                           so nothing of such a gang may be bound)
 *   rolledBackRunningGangs  a pod group that had started (bound and succeeded members reached
 *                           min-member; without min-member, one member bound) whose bound member
 *                           was then deleted by the scheduler's rollback while the group still
 *                           ran: not finished, not evicted or disrupted (no DisruptionTarget
 *                           condition), its group not a victim since it started, and a shard's
 *                           GangRollback Event names the pod (a shard announces every rollback
 *                           deletion; a deletion by anyone else — a test, an operator — is not
 *                           the scheduler's). Once per group and run.
 *   priorityEscalations     a preemption (Preempted Event) by a group that may not preempt: its
 *                           members disagree on priority, or one has preemptionPolicy Never.
 *                           Once per preemptor and victim group. (A preemptor whose members
 *                           agree evicting a victim not below it stays a badPreemption.)
 *   topologySplitGangs      a gang that requires a topology domain (a member's annotation
 *                           sharded-scheduler.io/topology-required, or its native PodGroup's
 *                           spec.schedulingConstraints.topology[].key) whose members bound at one
 *                           moment sit on nodes with different values of the key, or on a node
 *                           without it (./topology-gangs.ts). Once per group and run.
 *   unmarkedVictimPodGroups a native PodGroup (scheduling.k8s.io, its pods' spec.schedulingGroup)
 *                           whose member a scheduler's preemption evicted (a Preempted Event names
 *                           it) without the PodGroup showing DisruptionTarget True (reason
 *                           PreemptionByScheduler) from before that eviction: the mark's
 *                           lastTransitionTime later than the evicted pod's DisruptionTarget
 *                           lastTransitionTime (both in whole seconds, as the API server keeps
 *                           them: a mark written within the same second as the eviction passes),
 *                           or no mark at all wholeGroupEvictionMs after the eviction. Once per
 *                           victim group; a PodGroup the checker never saw is not judged.
 *
 * Native PodGroups: a pod naming one is a member of "podgroup:<ns>/<name>" with min-member its
 * gang minCount (1 until the PodGroup is seen; a basic PodGroup's pods are pods of their own).
 * Once such a gang ran, fewer members than minCount is not partial (minCount binds scheduling
 * only, as upstream: a raised minCount, a `single` victim).
 *
 * PodGroup CRDs (scheduler-plugins scheduling.x-k8s.io/v1alpha1 by the pod label
 * scheduling.x-k8s.io/pod-group, Volcano scheduling.volcano.sh/v1beta1 by the annotation
 * scheduling.k8s.io/group-name), where the CRD is served (serveCrd): a pod naming one is a member
 * of "podgroup.<api group>:<ns>/<name>" with min-member the PodGroup's spec.minMember (0 or unset:
 * 1; 1 until the PodGroup is seen), judged as an annotation gang (all-or-nothing per minMember,
 * surplus members may be preempted, never rolled back while it runs). A Volcano group's priority
 * is its PodGroup's PriorityClass's value (no class named, or an unknown one: the globalDefault
 * class's, else 0), never its members'. A group whose PodGroup (native or CRD) the checker has not
 * seen is held by the scheduler until it exists: its pending pods are not lost.
 *
 * Placement rules (./placement-rules.ts), each judged once per pod when the checker sees it bound,
 * against the pods bound then (a bind first seen in a relist against the state after the relist;
 * spread and affinity, when they look breached, again staleViewMs later, counting the binds seen
 * meanwhile as possible: one cycle's binds go out side by side and may be seen in any order):
 *   podAntiAffinity     its required anti-affinity selects a pod in the term's domain, or a
 *                       pod there has required anti-affinity that selects it
 *   podAffinity         a required affinity term has no matching pod in its domain (and the
 *                       first-pod exception does not apply)
 *   spreadSkew          a DoNotSchedule topology spread constraint's skew above maxSkew (with
 *                       minDomains and the node inclusion policies), or its key missing on the
 *                       node; also judgeSettled() at a quiet end without deletions (spread
 *                       and affinity)
 *   hostPortConflicts   a host port already taken on the node
 *   volumeZone          a bound PersistentVolume of its claims whose node affinity or zone labels
 *                       exclude the node (judged once the claims are bound and the volumes seen)
 * A scheduler may lawfully not have seen pods that left, or binds that completed, within
 * staleViewMs of the bind; the rules do not blame what those could excuse.
 */
import type * as k8s from "@kubernetes/client-node";
import { groupsThatFit, type RoomGroup, type RoomNode } from "./free-room.js";
import {
  affinityBreach,
  antiAffinityBreach,
  claimsOf,
  hasRequiredAntiAffinity,
  hostPortBreach,
  hostPortsOf,
  type Placed,
  type RuleBreach,
  type RuleNode,
  type RuleWorld,
  settledAffinityBreaches,
  settledSpreadBreaches,
  spreadBreach,
  volumeNodeMismatch,
} from "./placement-rules.js";
import { type Amounts, addAmounts, podRequests, tolerance } from "./quantities.js";
import {
  type CrdApiGroup,
  crdPodGroupOf,
  groupHashKeyOf,
  groupNameOf,
  type RingOwners,
  readRingLease,
} from "./ring-owners.js";
import { annotationTopologyKey, podGroupTopologyKeys, topologySplit } from "./topology-gangs.js";

export const podGroupAnnotation = "sharded-scheduler.io/pod-group";
export const minMemberAnnotation = "sharded-scheduler.io/min-member";
/** The documented override: status True, message "shard=<identity> epoch=<ring epoch>". */
const ownerConditionType = "sharded-scheduler.io/Owner";
/** The documented relief record: status True, message "attempts=<n> at=<ms since the epoch>". */
const reliefConditionType = "sharded-scheduler.io/Relief";
/** The documented meaning: a node lent for a pod group takes only that group's pods until it runs there. */
const lentForAnnotation = "sharded-scheduler.io/lent-for";

export const violationKinds = [
  "overcommit",
  "partialGangs",
  "doubleBinds",
  "foreignBinds",
  "lostPods",
  "badPreemptions",
  "gatedPartialGangs",
  "rolledBackRunningGangs",
  "priorityEscalations",
  "unmarkedVictimPodGroups",
  "unscheduledBoundPods",
  "topologySplitGangs",
  "podAntiAffinity",
  "podAffinity",
  "spreadSkew",
  "hostPortConflicts",
  "volumeZone",
] as const;
export type ViolationKind = (typeof violationKinds)[number];

export interface Violation {
  kind: ViolationKind;
  /** Epoch milliseconds when it was found. */
  at: number;
  detail: string;
}

export interface CheckerLimits {
  /** How long a gang may stay partially bound: the gang timeout, a shard lease and a grace. */
  partialGangMs: number;
  /** Every bound member of a victim group must be evicted within this long of the first. */
  wholeGroupEvictionMs: number;
  /** A preemptor must be fully bound within this long of its first victim's eviction. */
  preemptorBoundMs: number;
  /**
   * How long a never-started gang may have members bound while gated members keep it below
   * min-member. A correct scheduler binds none of it; the grace only spares a member deleted and
   * recreated gated in the moment its gang was being bound.
   */
  gatedPartialGangMs: number;
  /**
   * How far a scheduler's view may lag a bind: pods that left, or were bound, this long before a
   * pod's bind do not decide whether it broke a placement rule (default 5 s).
   */
  staleViewMs?: number;
}

export const defaultLimits: CheckerLimits = {
  partialGangMs: 15_000,
  wholeGroupEvictionMs: 15_000,
  preemptorBoundMs: 60_000,
  gatedPartialGangMs: 5_000,
  staleViewMs: 5_000,
};

/** One bind as a shard reported it in its Scheduled Event. */
export interface BindRecord {
  namespace: string;
  /** The pod's name. */
  pod: string;
  node: string;
  /** The reporting shard's identity. */
  by: string;
  /** The ring epoch it bound under, when its Event named one. */
  epoch: number | undefined;
}

interface PodRecord {
  uid: string;
  /** namespace/name */
  key: string;
  /**
   * "group:<ns>/<name>" for an annotation pod-group member, "podgroup:<ns>/<name>" for a native
   * PodGroup's, "pod:<ns>/<name>" for a pod of its own.
   */
  group: string;
  /** What the shard ring hashes for it (groupHashKeyOf). */
  hashKey: string;
  minMember: number;
  priority: number;
  nodeName: string | undefined;
  requests: Amounts;
  finished: boolean;
  /** Ran to completion: counts toward its gang's min-member (its replacements do not wait for it). */
  succeeded: boolean;
  deleting: boolean;
  gone: boolean;
  evictedAt: number | undefined;
  /** Its eviction's DisruptionTarget lastTransitionTime, in whole seconds (ms since the epoch). */
  evictedConditionAt: number | undefined;
  /** Shows a DisruptionTarget condition (evicted, or deleted by the taint manager or pod GC). */
  disrupted: boolean;
  /** spec.schedulingGates not empty: not pending, does not count toward min-member. */
  gated: boolean;
  preemptionPolicy: string | undefined;
  spec: k8s.V1PodSpec | undefined;
  labels: Record<string, string>;
  /** The topology key its annotation requires its gang to share, if any. */
  topologyRequired: string | undefined;
  /** When the checker first saw it bound. */
  boundAt: number | undefined;
  /** When it was first seen finished, deleting or gone. */
  leftAt: number | undefined;
  /** What the pod shows about why it waits, for reading a lostPods violation. */
  waiting: PendingStatus;
}

/** A pending pod's own account: its nomination, the shard the coordinator named, its condition. */
interface PendingStatus {
  nominatedNodeName: string | undefined;
  owner: string | undefined;
  reliefAttempts: string | undefined;
  message: string | undefined;
  /** When that condition was written (ms since the epoch). */
  messageAt: number | undefined;
}

interface NodeRecord {
  name: string;
  labels: Record<string, string>;
  taints: RoomNode["taints"];
  usable: boolean;
  allocatable: Amounts;
  lentFor: string | undefined;
}

interface GroupRecord {
  members: Set<string>;
  partialSince: number | undefined;
  partialReported: boolean;
  /** Last time every one of min-member was bound at once. */
  fullyBoundAt: number | undefined;
  /** Bound and succeeded members once reached min-member (sticky: a gang starts once). */
  everStarted: boolean;
  /** Since when the group runs: min-member reached, until no member is bound any more. */
  runningSince: number | undefined;
  rollbackReported: boolean;
  /** Since when members are bound while gated members keep the never-started gang incomplete. */
  gatedPartialSince: number | undefined;
  gatedPartialReported: boolean;
  /** A topology split was reported since the group last had no member bound. */
  topologySplitReported: boolean;
}

interface VictimGroup {
  group: string;
  firstEvictionAt: number;
  /** The first evicted member's DisruptionTarget lastTransitionTime (whole seconds), if shown. */
  firstEvictionConditionAt: number | undefined;
  judgedMark: boolean;
  /** Members bound (and not leaving) when the first of them was evicted. */
  boundAtFirst: Set<string>;
  judgedWhole: boolean;
  judgedPriority: boolean;
}

interface Preemption {
  preemptor: string;
  firstEvictionAt: number;
  judged: boolean;
}

/** A Preempted Event's preemptor and victim pod, until the pair is judged for escalation. */
interface EvictionClaim {
  preemptor: string;
  victimPod: string;
}

const evictionReason = "EvictionByEvictionAPI";
const disruptionTargetReason = "PreemptionByScheduler";

/** A native PodGroup as the checker reads it (scheduling.k8s.io/v1beta1). */
export interface PodGroupRecord {
  /** Gang minCount; undefined: basic policy (each pod on its own). */
  minCount: number | undefined;
  disruption: "single" | "all";
  /** The group's priority (spec.priority, 0 unset): its members' own priorities do not count. */
  priority: number;
  /** spec.preemptionPolicy, overriding the members' own; undefined: theirs. */
  preemptionPolicy: string | undefined;
  /** The earliest DisruptionTarget True (reason PreemptionByScheduler) lastTransitionTime seen. */
  markedAt: number | undefined;
  /** spec.schedulingConstraints.topology[].key: every one must be shared by the bound members. */
  topologyKeys: string[];
}

/** A native PodGroup object's fields the checker reads (it does not share the scheduler's parser). */
function readPodGroup(object: unknown): PodGroupRecord {
  const spec = (object as { spec?: Record<string, unknown> }).spec ?? {};
  const policy = (spec.schedulingPolicy ?? {}) as { gang?: { minCount?: unknown } };
  const min = policy.gang?.minCount;
  const mode = (spec.disruptionMode ?? {}) as Record<string, unknown>;
  const conditions = (object as { status?: { conditions?: unknown } }).status?.conditions;
  const mark = (Array.isArray(conditions) ? conditions : []).find(
    (c) => c?.type === "DisruptionTarget" && c.status === "True" && c.reason === disruptionTargetReason,
  ) as { lastTransitionTime?: unknown } | undefined;
  return {
    minCount: policy.gang === undefined ? undefined : typeof min === "number" && min > 0 ? min : 1,
    disruption: mode.all !== undefined ? "all" : "single",
    priority: typeof spec.priority === "number" ? spec.priority : 0,
    preemptionPolicy: typeof spec.preemptionPolicy === "string" ? spec.preemptionPolicy : undefined,
    markedAt: wholeSeconds(mark?.lastTransitionTime),
    topologyKeys: podGroupTopologyKeys(spec),
  };
}

/** A condition's time in whole seconds (as the API server keeps it), ms since the epoch. */
function wholeSeconds(time: unknown): number | undefined {
  const ms = time instanceof Date ? time.getTime() : typeof time === "string" ? Date.parse(time) : Number.NaN;
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000) * 1000;
}

/** The PodGroup a pod names in spec.schedulingGroup, if any. */
function podGroupNameOf(pod: k8s.V1Pod): string | undefined {
  const name = (pod.spec as { schedulingGroup?: { podGroupName?: unknown } } | undefined)?.schedulingGroup
    ?.podGroupName;
  return typeof name === "string" && name !== "" ? name : undefined;
}

/** A PodGroup CRD's object as the checker reads it (its own reading, not the scheduler's parser). */
export interface CrdPodGroupRecord {
  /** spec.minMember; 0, unset or malformed: 1. */
  minMember: number;
  /** spec.priorityClassName (Volcano: the group's priority); undefined when unset. */
  priorityClassName: string | undefined;
}

function readCrdPodGroup(object: unknown): CrdPodGroupRecord {
  const spec = (object as { spec?: Record<string, unknown> }).spec ?? {};
  const min = spec.minMember;
  const className = spec.priorityClassName;
  return {
    minMember: typeof min === "number" && Number.isInteger(min) && min > 0 ? min : 1,
    priorityClassName: typeof className === "string" && className !== "" ? className : undefined,
  };
}

/** The group id of a CRD PodGroup, as the scheduler's Events name it. */
const crdGroupId = (apiGroup: CrdApiGroup, namespace: string, name: string) =>
  `podgroup.${apiGroup}:${namespace}/${name}`;
/** The API group of a CRD PodGroup's group id, undefined for any other group. */
function crdApiGroupOf(group: string): CrdApiGroup | undefined {
  if (group.startsWith("podgroup.scheduling.x-k8s.io:")) return "scheduling.x-k8s.io";
  if (group.startsWith("podgroup.scheduling.volcano.sh:")) return "scheduling.volcano.sh";
  return undefined;
}

/** The group id a pod belongs to, as the scheduler's Events name groups. */
function groupOf(
  pod: k8s.V1Pod,
  podGroups: ReadonlyMap<string, PodGroupRecord>,
  crdPodGroups: ReadonlyMap<string, CrdPodGroupRecord>,
  servedCrds: ReadonlySet<CrdApiGroup>,
): { group: string; hashKey: string; minMember: number } {
  const namespace = pod.metadata?.namespace ?? "";
  const native = podGroupNameOf(pod);
  const known = native === undefined ? undefined : podGroups.get(`${namespace}/${native}`);
  if (native !== undefined && (known === undefined || known.minCount !== undefined))
    return {
      group: `podgroup:${namespace}/${native}`,
      hashKey: groupHashKeyOf(pod, `PodGroup/${native}`),
      minMember: known?.minCount ?? 1,
    };
  const crd = crdPodGroupOf(pod, servedCrds);
  if (crd !== undefined) {
    const group = crdGroupId(crd.apiGroup, namespace, crd.name);
    return {
      group,
      hashKey: groupHashKeyOf(pod, crd.name, servedCrds),
      minMember: crdPodGroups.get(group)?.minMember ?? 1,
    };
  }
  const name = groupNameOf(pod);
  const min = Number(pod.metadata?.annotations?.[minMemberAnnotation]);
  if (name === undefined)
    return {
      group: `pod:${namespace}/${pod.metadata?.name ?? ""}`,
      hashKey: groupHashKeyOf(pod, undefined),
      minMember: 1,
    };
  return {
    group: `group:${namespace}/${name}`,
    hashKey: groupHashKeyOf(pod, name),
    minMember: Number.isInteger(min) && min > 0 ? min : 1,
  };
}

/** A group's priority: its highest pod priority (members must not be empty). */
const priorityOf = (members: readonly PodRecord[]) => Math.max(...members.map((pod) => pod.priority));
/** The distinct priorities of a group's members still present, lowest first. */
const prioritiesOf = (members: readonly PodRecord[]) =>
  [...new Set(members.filter((pod) => !pod.gone).map((pod) => pod.priority))].sort((a, b) => a - b);
/** Members that disagree on priority make a group invalid: it is never placed and never preempts. */
const disagreeOnPriority = (members: readonly PodRecord[]) => prioritiesOf(members).length > 1;

/** A pod as the placement rules read it. */
function ruleSubject(pod: PodRecord): Placed["pod"] {
  return { key: pod.key, namespace: pod.key.split("/")[0] as string, labels: pod.labels, spec: pod.spec };
}

export class InvariantLedger {
  readonly violations: Violation[] = [];
  readonly binds: BindRecord[] = [];
  /** pod, node and shard of every bind recorded: an Event seen again (a relist) is not a new bind. */
  private readonly bindsSeen = new Set<string>();
  /** Ring owners by epoch, as recorded on the ring Lease. */
  readonly rings = new Map<number, RingOwners>();
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly pods = new Map<string, PodRecord>();
  private readonly uidByKey = new Map<string, string>();
  private readonly groups = new Map<string, GroupRecord>();
  /** (node, resource) pairs over their allocatable right now. */
  private readonly overcommitted = new Set<string>();
  private readonly victimGroups = new Map<string, VictimGroup>();
  /** Native PodGroups by namespace/name. */
  private readonly podGroups = new Map<string, PodGroupRecord>();
  /** The PodGroup CRDs the API server serves (the checker's discovery), and their objects by group id. */
  private readonly servedCrds = new Set<CrdApiGroup>();
  private readonly crdPodGroups = new Map<string, CrdPodGroupRecord>();
  /** The PodGroups ever read: native ones by namespace/name, CRD ones by group id. */
  private readonly podGroupsRead = { native: new Set<string>(), crd: new Set<string>() };
  /** PriorityClasses by name (a Volcano group's priority). */
  private readonly priorityClasses = new Map<string, { value: number; globalDefault: boolean }>();
  private readonly preemptions = new Map<string, Preemption>();
  /** Victim pod key → the group its Preempted Event names. */
  private readonly preemptorOf = new Map<string, string>();
  private readonly podsBound = new Set<string>();
  private evictions = 0;
  /** The coordinator's reliefs seen in its Events: one entry per group and message. */
  private readonly reliefs = { HandedOff: new Set<string>(), NodesLent: new Set<string>() };
  private unjudgedPreemptors = 0;
  /** Preemptors excused: a higher-priority pod was nominated to or bound on their nominated node. */
  private displacedPreemptors = 0;
  /** Per node: when pods were nominated to it or bound on it, and at which priority. */
  private readonly claims = new Map<string, { priority: number; at: number }[]>();
  /** Per group: the nodes its pods were ever nominated to. */
  private readonly nominatedNodes = new Map<string, Set<string>>();
  /** Uids of the pods bound to each node (finished and gone ones included until forgotten). */
  private readonly podsOnNode = new Map<string, Set<string>>();
  /** Preempted Events not yet judged for escalation, and the (preemptor, victim group) pairs judged. */
  private readonly evictionClaims: EvictionClaim[] = [];
  private readonly escalationsJudged = new Set<string>();
  private readonly gatedPods = new Set<string>();
  /** Groups seen with members that disagree on priority. */
  private readonly mixedPriorityGroups = new Set<string>();
  /** Binds of a pod whose group's members disagreed on priority at that moment. */
  private mixedPriorityBinds = 0;
  /** The shards' GangRollback Events: one entry per group and message. */
  private readonly rollbacks = new Set<string>();
  /** Pods (namespace/name) a GangRollback Event names. */
  private readonly rolledBackPods = new Set<string>();
  /** Bound members deleted while their group ran, until a GangRollback Event names them. */
  private readonly deletedWhileRunning = new Map<string, { group: string; detail: string }>();

  /** Namespaces' labels (for namespaceSelector), PVCs' bound volume names and PVs, as watched. */
  private readonly namespaces = new Map<string, Record<string, string>>();
  private readonly claimVolumes = new Map<string, string | undefined>();
  private readonly volumes = new Map<string, k8s.V1PersistentVolume>();
  /** Bound pods with required anti-affinity (their terms bind every incoming pod). */
  private readonly antiAffine = new Set<string>();
  /** Bound pods seen with PodScheduled=False (reported once each). */
  private readonly unscheduledBound = new Set<string>();
  /** Bound pods whose claims were not all bound to a seen volume yet: judged when they are. */
  private readonly volumesUnjudged = new Set<string>();
  /** Pods already blamed for a placement rule, per rule: once per pod. */
  private readonly placementBlamed = new Set<string>();
  /** While a watch relists, binds wait for the relist's end (its items come in name order). */
  private relistsUnderWay = 0;
  private readonly bindsDuringRelist = new Set<string>();
  /**
   * Binds whose spread or affinity looked breached when seen (uid → when seen bound), judged
   * again staleViewMs later: a scheduler binds the pods one cycle placed side by side, and a pod
   * it placed first (whose bind is what keeps the later one within its skew, or gives it its
   * affinity peer) may be seen bound after it.
   */
  private readonly suspectBinds = new Map<string, number>();

  constructor(readonly limits: CheckerLimits = defaultLimits) {}

  private violation(kind: ViolationKind, at: number, detail: string): void {
    this.violations.push({ kind, at, detail });
  }

  node(node: k8s.V1Node, deleted: boolean): void {
    const name = node.metadata?.name ?? "";
    if (deleted) {
      this.nodes.delete(name);
      return;
    }
    const allocatable: Amounts = new Map();
    addAmounts(allocatable, node.status?.allocatable);
    const ready = node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
    this.nodes.set(name, {
      name,
      labels: { ...(node.metadata?.labels ?? {}) },
      taints: (node.spec?.taints ?? [])
        .filter((taint) => taint.effect === "NoSchedule" || taint.effect === "NoExecute")
        .map((taint) => ({ key: taint.key, value: taint.value, effect: taint.effect })),
      usable: ready && !node.spec?.unschedulable,
      allocatable,
      lentFor: node.metadata?.annotations?.[lentForAnnotation] || undefined,
    });
  }

  pod(pod: k8s.V1Pod, deleted: boolean, now: number): void {
    const uid = pod.metadata?.uid ?? "";
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const phase = pod.status?.phase;
    const before = this.pods.get(uid);
    const { group, hashKey, minMember } = groupOf(pod, this.podGroups, this.crdPodGroups, this.servedCrds);
    const nativeGroup = group.startsWith("podgroup:") ? this.podGroups.get(group.slice(9)) : undefined;
    const groupPriority = nativeGroup?.priority ?? this.volcanoPriorityOf(group);
    const nodeName = pod.spec?.nodeName || undefined;
    if (before?.nodeName !== undefined && nodeName !== undefined && before.nodeName !== nodeName)
      this.violation("doubleBinds", now, `${key} was bound to ${before.nodeName}, then to ${nodeName}`);
    const disruptions = (pod.status?.conditions ?? []).filter(
      (c) => c.type === "DisruptionTarget" && c.status === "True",
    );
    const eviction = disruptions.find((c) => c.reason === evictionReason);
    const evicted = eviction !== undefined;
    const unscheduled = pod.status?.conditions?.find(
      (c) => c.type === "PodScheduled" && c.status === "False",
    );
    const record: PodRecord = {
      uid,
      key,
      group,
      hashKey,
      minMember,
      priority: groupPriority ?? pod.spec?.priority ?? 0,
      nodeName: nodeName ?? before?.nodeName,
      requests: podRequests(pod),
      finished: phase === "Succeeded" || phase === "Failed",
      succeeded: phase === "Succeeded",
      deleting: Boolean(pod.metadata?.deletionTimestamp),
      gone: deleted,
      evictedAt: before?.evictedAt ?? (evicted ? now : undefined),
      evictedConditionAt: before?.evictedConditionAt ?? wholeSeconds(eviction?.lastTransitionTime),
      disrupted: disruptions.length > 0,
      gated: (pod.spec?.schedulingGates?.length ?? 0) > 0,
      preemptionPolicy: nativeGroup?.preemptionPolicy ?? pod.spec?.preemptionPolicy,
      spec: pod.spec,
      labels: { ...(pod.metadata?.labels ?? {}) },
      topologyRequired: annotationTopologyKey(pod.metadata?.annotations),
      boundAt: before?.boundAt ?? (nodeName !== undefined ? now : undefined),
      leftAt:
        before?.leftAt ??
        (deleted || phase === "Succeeded" || phase === "Failed" || pod.metadata?.deletionTimestamp
          ? now
          : undefined),
      waiting: {
        nominatedNodeName: pod.status?.nominatedNodeName || undefined,
        owner: conditionField(pod, ownerConditionType, /^shard=(\S+) epoch=\d+$/),
        reliefAttempts: conditionField(pod, reliefConditionType, /^attempts=(\d+) at=\d+$/),
        message: unscheduled?.message,
        messageAt: unscheduled?.lastTransitionTime
          ? Date.parse(String(unscheduled.lastTransitionTime))
          : undefined,
      },
    };
    this.pods.set(uid, record);
    this.uidByKey.set(key, uid);
    const nominated = pod.status?.nominatedNodeName || undefined;
    if (nominated !== undefined && nodeName === undefined) {
      this.claim(nominated, record.priority, now);
      const nodes = this.nominatedNodes.get(group) ?? new Set<string>();
      nodes.add(nominated);
      this.nominatedNodes.set(group, nodes);
    }
    if (nodeName !== undefined && before?.nodeName === undefined) this.claim(nodeName, record.priority, now);
    const groupRecord = this.groups.get(group) ?? {
      members: new Set<string>(),
      partialSince: undefined,
      partialReported: false,
      fullyBoundAt: undefined,
      everStarted: false,
      runningSince: undefined,
      rollbackReported: false,
      gatedPartialSince: undefined,
      gatedPartialReported: false,
      topologySplitReported: false,
    };
    groupRecord.members.add(uid);
    this.groups.set(group, groupRecord);
    if (record.gated) this.gatedPods.add(uid);
    if (disagreeOnPriority(this.membersOf(group))) {
      this.mixedPriorityGroups.add(group);
      if (nodeName !== undefined && before?.nodeName === undefined) this.mixedPriorityBinds++;
    }
    if (before !== undefined && this.boundAndStaying(before) && record.deleting && !record.finished)
      this.boundMemberDeleted(record, now);
    if (record.nodeName !== undefined) {
      this.podsBound.add(uid);
      const onNode = this.podsOnNode.get(record.nodeName) ?? new Set<string>();
      onNode.add(uid);
      this.podsOnNode.set(record.nodeName, onNode);
    }
    if (record.evictedAt !== undefined && before?.evictedAt === undefined) this.evicted(record, now);
    if (nodeName !== undefined && before?.nodeName === undefined && !deleted) this.bound(record, now);
    // A bind sets PodScheduled=True with spec.nodeName in one write: a bound pod saying False was
    // told "unschedulable" after its bind (a status write that raced it) and tells users a falsehood.
    if (nodeName !== undefined && unscheduled !== undefined && !this.unscheduledBound.has(uid)) {
      this.unscheduledBound.add(uid);
      this.violation(
        "unscheduledBoundPods",
        now,
        `${key} is bound to ${nodeName} but its PodScheduled condition is False (${unscheduled.reason}: ${unscheduled.message})`,
      );
    }
    if (hasRequiredAntiAffinity(record.spec) && !deleted) this.antiAffine.add(uid);
    else this.antiAffine.delete(uid);
    if (record.nodeName !== undefined) this.checkNode(record.nodeName, now);
    if (before?.nodeName !== undefined && before.nodeName !== record.nodeName)
      this.checkNode(before.nodeName, now);
    this.checkGroup(group, now);
  }

  private claim(nodeName: string, priority: number, at: number): void {
    const claims = this.claims.get(nodeName) ?? [];
    claims.push({ priority, at });
    this.claims.set(nodeName, claims);
  }

  /** A pod that holds room on its node: bound and not finished (a terminating pod still holds it). */
  private holdsRoom(pod: PodRecord): boolean {
    return pod.nodeName !== undefined && !pod.finished && !pod.gone;
  }

  /** Bound, not finished and not leaving: counts towards its gang. */
  private boundAndStaying(pod: PodRecord): boolean {
    return this.holdsRoom(pod) && !pod.deleting;
  }

  /** Not bound yet and still to be (neither gone, leaving nor finished); gated or not. */
  private waitingToBind(pod: PodRecord): boolean {
    return pod.nodeName === undefined && !pod.gone && !pod.deleting && !pod.finished;
  }

  private usedOn(nodeName: string): Amounts {
    const used: Amounts = new Map();
    for (const uid of this.podsOnNode.get(nodeName) ?? []) {
      const pod = this.pods.get(uid) as PodRecord;
      if (pod.nodeName !== nodeName || !this.holdsRoom(pod)) continue;
      for (const [resource, amount] of pod.requests) used.set(resource, (used.get(resource) ?? 0) + amount);
    }
    return used;
  }

  private groupRunsOn(group: string, nodeName: string): boolean {
    for (const uid of this.podsOnNode.get(nodeName) ?? []) {
      const pod = this.pods.get(uid) as PodRecord;
      if (pod.nodeName === nodeName && pod.group === group && this.holdsRoom(pod)) return true;
    }
    return false;
  }

  private checkNode(nodeName: string, now: number): void {
    const node = this.nodes.get(nodeName);
    if (!node) return;
    const used = this.usedOn(nodeName);
    for (const resource of new Set([...used.keys(), ...this.overcommittedResources(nodeName)])) {
      const pair = `${nodeName}\u0000${resource}`;
      const requested = used.get(resource) ?? 0;
      const has = node.allocatable.get(resource) ?? 0;
      if (requested > has + tolerance) {
        // One violation per episode: counted when the node goes over, not again while it stays.
        if (!this.overcommitted.has(pair))
          this.violation(
            "overcommit",
            now,
            `${nodeName}: ${resource} ${requested} requested of ${has} by ${this.holdersOn(nodeName, resource)}`,
          );
        this.overcommitted.add(pair);
      } else this.overcommitted.delete(pair);
    }
  }

  /** The pods holding room on a node, with what each requests of the resource (to tell who overcommitted). */
  private holdersOn(nodeName: string, resource: string): string {
    const holders: string[] = [];
    for (const uid of this.podsOnNode.get(nodeName) ?? []) {
      const pod = this.pods.get(uid) as PodRecord;
      if (pod.nodeName !== nodeName || !this.holdsRoom(pod)) continue;
      const amount = pod.requests.get(resource) ?? 0;
      if (amount === 0) continue;
      const bound =
        pod.boundAt === undefined ? "" : ` bound ${new Date(pod.boundAt).toISOString().slice(11, 23)}`;
      holders.push(`${pod.key} ${amount}${bound}${pod.deleting ? " (deleting)" : ""}`);
    }
    return holders.join(", ");
  }

  private overcommittedResources(nodeName: string): string[] {
    return [...this.overcommitted]
      .filter((pair) => pair.startsWith(`${nodeName}\u0000`))
      .map((pair) => pair.slice(nodeName.length + 1));
  }

  /**
   * A group's size: a native PodGroup's minCount or a CRD PodGroup's minMember as last seen, else
   * the largest min-member its pods declare (1 for a pod of its own).
   */
  private minMemberOf(members: readonly PodRecord[]): number {
    const group = members[0]?.group ?? "";
    const native = group.startsWith("podgroup:")
      ? this.podGroups.get(group.slice("podgroup:".length))
      : undefined;
    return (
      native?.minCount ??
      this.crdPodGroups.get(group)?.minMember ??
      Math.max(1, ...members.map((pod) => pod.minMember))
    );
  }

  /**
   * Whether a group waits for its PodGroup object (native or CRD) to exist: the scheduler holds
   * its pods until then (kube-scheduler and coscheduling do the same), so they are not lost.
   */
  private awaitsPodGroup(group: string): boolean {
    if (group.startsWith("podgroup:")) return !this.podGroups.has(group.slice("podgroup:".length));
    return crdApiGroupOf(group) !== undefined && !this.crdPodGroups.has(group);
  }

  /**
   * A Volcano group's priority: its PodGroup's PriorityClass's value; no class named or an unknown
   * one, the globalDefault class's; else 0. Undefined for other groups and before the PodGroup is
   * seen (the pods' own then, as the scheduler's).
   */
  private volcanoPriorityOf(group: string): number | undefined {
    if (crdApiGroupOf(group) !== "scheduling.volcano.sh") return undefined;
    const podGroup = this.crdPodGroups.get(group);
    if (podGroup === undefined) return undefined;
    const named =
      podGroup.priorityClassName === undefined
        ? undefined
        : this.priorityClasses.get(podGroup.priorityClassName);
    const fallback = [...this.priorityClasses.values()].find((priorityClass) => priorityClass.globalDefault);
    return (named ?? fallback)?.value ?? 0;
  }

  /** A PodGroup CRD the API server serves: from now on its keys name its objects (call before the pods). */
  serveCrd(apiGroup: CrdApiGroup): void {
    this.servedCrds.add(apiGroup);
  }

  /** A PodGroup CRD's object (scheduler-plugins or Volcano): its minMember and priority class. */
  crdPodGroup(
    apiGroup: CrdApiGroup,
    object: k8s.KubernetesObject & { spec?: unknown },
    deleted: boolean,
    now: number,
  ): void {
    const group = crdGroupId(apiGroup, object.metadata?.namespace ?? "", object.metadata?.name ?? "");
    if (deleted) this.crdPodGroups.delete(group);
    else {
      this.crdPodGroups.set(group, readCrdPodGroup(object));
      this.podGroupsRead.crd.add(group);
    }
    this.repriceVolcanoGroup(group);
    this.checkGroup(group, now);
  }

  /** A PriorityClass (a Volcano group's priority follows its value). */
  priorityClass(object: k8s.V1PriorityClass, deleted: boolean): void {
    const name = object.metadata?.name ?? "";
    if (deleted) this.priorityClasses.delete(name);
    else
      this.priorityClasses.set(name, {
        value: object.value ?? 0,
        globalDefault: object.globalDefault === true,
      });
    for (const group of this.crdPodGroups.keys()) this.repriceVolcanoGroup(group);
  }

  /** Sets a Volcano group's members' priority to the group's (their own while its PodGroup is unseen). */
  private repriceVolcanoGroup(group: string): void {
    if (crdApiGroupOf(group) !== "scheduling.volcano.sh") return;
    const priority = this.volcanoPriorityOf(group);
    for (const member of this.membersOf(group)) member.priority = priority ?? member.spec?.priority ?? 0;
  }

  /** A native PodGroup's disruption mode, or undefined for other groups. */
  private disruptionOf(group: string): "single" | "all" | undefined {
    if (!group.startsWith("podgroup:")) return undefined;
    return this.podGroups.get(group.slice("podgroup:".length))?.disruption ?? "single";
  }

  /** A native PodGroup (scheduling.k8s.io/v1beta1): its minCount, disruption mode and DisruptionTarget mark. */
  podGroup(
    object: k8s.KubernetesObject & { spec?: unknown; status?: unknown },
    deleted: boolean,
    now: number,
  ): void {
    const key = `${object.metadata?.namespace}/${object.metadata?.name}`;
    if (deleted) {
      this.podGroups.delete(key);
      return;
    }
    const read = readPodGroup(object);
    this.podGroupsRead.native.add(key);
    const before = this.podGroups.get(key);
    // The earliest mark seen stays: a later preemption's mark must not excuse an earlier eviction.
    const markedAt =
      before?.markedAt === undefined || read.markedAt === undefined
        ? (before?.markedAt ?? read.markedAt)
        : Math.min(before.markedAt, read.markedAt);
    this.podGroups.set(key, { ...read, markedAt });
    // A gang's priority and preemption policy are the PodGroup's, whatever its members say.
    for (const member of this.membersOf(`podgroup:${key}`)) {
      member.priority = read.priority;
      member.preemptionPolicy = read.preemptionPolicy ?? member.spec?.preemptionPolicy;
    }
    this.checkGroup(`podgroup:${key}`, now);
  }

  private membersOf(group: string): PodRecord[] {
    return [...(this.groups.get(group)?.members ?? [])].map((uid) => this.pods.get(uid) as PodRecord);
  }

  private checkGroup(group: string, now: number): void {
    const record = this.groups.get(group);
    if (!record) return;
    const members = this.membersOf(group);
    const minMember = this.minMemberOf(members);
    const bound = members.filter((pod) => this.boundAndStaying(pod)).length;
    if (bound >= minMember) record.fullyBoundAt = now;
    this.trackRun(record, members, minMember, bound, now);
    this.checkGatedPartial(group, record, members, minMember, bound, now);
    this.checkTopology(group, record, members, bound, now);
    // A gang whose members started to finish has run; its rest finishing later is not partial.
    // A native gang that ran may run with fewer than minCount (minCount binds scheduling only).
    const partial =
      minMember > 1 &&
      bound > 0 &&
      bound < minMember &&
      !members.some((pod) => pod.finished) &&
      !(group.startsWith("podgroup:") && record.everStarted);
    if (!partial) {
      record.partialSince = undefined;
      record.partialReported = false;
      return;
    }
    record.partialSince ??= now;
    if (!record.partialReported && now - record.partialSince > this.limits.partialGangMs) {
      record.partialReported = true;
      this.violation(
        "partialGangs",
        now,
        `${group}: ${bound} of ${minMember} bound for ${Math.round((now - record.partialSince) / 1000)}s`,
      );
    }
  }

  /**
   * A gang's members bound at once must share one value of every key it requires (the members'
   * annotations and its PodGroup's constraints), on nodes that carry the key.
   */
  private checkTopology(
    group: string,
    record: GroupRecord,
    members: readonly PodRecord[],
    bound: number,
    now: number,
  ): void {
    if (bound === 0) {
      record.topologySplitReported = false;
      return;
    }
    if (record.topologySplitReported || group.startsWith("pod:")) return;
    const keys = this.topologyKeysOf(group, members);
    if (keys.length === 0) return;
    const placed = members
      .filter((pod) => this.boundAndStaying(pod))
      .map((pod) => ({
        pod: pod.key,
        node: pod.nodeName as string,
        nodeLabels: this.nodes.get(pod.nodeName as string)?.labels,
      }));
    for (const key of keys) {
      const split = topologySplit(key, placed);
      if (split === undefined) continue;
      record.topologySplitReported = true;
      this.violation("topologySplitGangs", now, `${group} requires one ${key} domain: ${split}`);
      return;
    }
  }

  /** The node label keys a group requires one domain of: its PodGroup's and its members' annotations, sorted. */
  private topologyKeysOf(group: string, members: readonly PodRecord[]): string[] {
    const native = group.startsWith("podgroup:") ? this.podGroups.get(group.slice(9)) : undefined;
    const keys = new Set(native?.topologyKeys ?? []);
    for (const member of members) if (member.topologyRequired) keys.add(member.topologyRequired);
    return [...keys].sort();
  }

  /** A group runs from when bound and succeeded members reach min-member until none is bound. */
  private trackRun(
    record: GroupRecord,
    members: readonly PodRecord[],
    minMember: number,
    bound: number,
    now: number,
  ): void {
    if (bound === 0) {
      record.runningSince = undefined;
      record.rollbackReported = false;
      return;
    }
    const succeeded = members.filter((pod) => pod.succeeded).length;
    if (bound + succeeded < minMember) return;
    record.everStarted = true;
    record.runningSince ??= now;
  }

  /** Members of a never-started gang bound while gated members keep it below min-member. */
  private checkGatedPartial(
    group: string,
    record: GroupRecord,
    members: readonly PodRecord[],
    minMember: number,
    bound: number,
    now: number,
  ): void {
    const waiting = members.filter((pod) => this.waitingToBind(pod));
    const gated = waiting.filter((pod) => pod.gated).length;
    const succeeded = members.filter((pod) => pod.succeeded).length;
    const couldCount = bound + succeeded + waiting.length - gated;
    // Members evicted a moment ago are replaced (gated again) while the rest is still being
    // evicted: whether the victim goes whole is badPreemptions' question.
    const evicting = members.some(
      (pod) => pod.evictedAt !== undefined && now - pod.evictedAt <= this.limits.wholeGroupEvictionMs,
    );
    const gatedPartial =
      minMember > 1 && !record.everStarted && !evicting && bound > 0 && gated > 0 && couldCount < minMember;
    if (!gatedPartial) {
      record.gatedPartialSince = undefined;
      record.gatedPartialReported = false;
      return;
    }
    record.gatedPartialSince ??= now;
    if (record.gatedPartialReported || now - record.gatedPartialSince <= this.limits.gatedPartialGangMs)
      return;
    record.gatedPartialReported = true;
    this.violation(
      "gatedPartialGangs",
      now,
      `${group}: ${bound} of ${minMember} bound while ${gated} gated member(s) kept it from ` +
        `min-member (${couldCount} could count) for ${Math.round((now - record.gatedPartialSince) / 1000)}s`,
    );
  }

  /**
   * A bound member going away unfinished and undisrupted while its group runs: a rollback of a
   * running group once a GangRollback Event names it (the Event and the deletion come on two
   * watches, in either order).
   */
  private boundMemberDeleted(pod: PodRecord, now: number): void {
    const record = this.groups.get(pod.group);
    const gang = pod.group.startsWith("group:") || crdApiGroupOf(pod.group) !== undefined;
    if (!gang || pod.disrupted || record?.runningSince === undefined) return;
    const since = record.runningSince;
    const members = this.membersOf(pod.group);
    // A victim's members may be finished off by deletion; whether it went whole is badPreemptions'.
    if (members.some((member) => member.evictedAt !== undefined && member.evictedAt >= since)) return;
    const bound = members.filter((member) => this.boundAndStaying(member)).length;
    const pending = members.filter((member) => this.waitingToBind(member)).length;
    const detail =
      `${pod.group}: ${pod.key} deleted while bound, ${Math.round((now - since) / 1000)}s after the group ` +
      `started (min-member ${this.minMemberOf(members)}; ${bound} still bound, ${pending} pending)`;
    this.deletedWhileRunning.set(pod.key, { group: pod.group, detail });
    this.judgeRollback(pod.key, now);
  }

  private judgeRollback(podKey: string, now: number): void {
    const deleted = this.deletedWhileRunning.get(podKey);
    if (!deleted || !this.rolledBackPods.has(podKey)) return;
    this.deletedWhileRunning.delete(podKey);
    const record = this.groups.get(deleted.group);
    if (!record || record.rollbackReported) return;
    record.rollbackReported = true;
    this.violation("rolledBackRunningGangs", now, deleted.detail);
  }

  private evicted(pod: PodRecord, now: number): void {
    this.evictions++;
    if (this.victimGroups.has(pod.group)) return;
    const boundAtFirst = new Set(
      this.membersOf(pod.group)
        .filter((member) => member.uid === pod.uid || this.boundAndStaying(member))
        .map((member) => member.uid),
    );
    this.victimGroups.set(pod.group, {
      group: pod.group,
      firstEvictionAt: now,
      firstEvictionConditionAt: pod.evictedConditionAt,
      judgedMark: false,
      boundAtFirst,
      judgedWhole: false,
      judgedPriority: false,
    });
  }

  /** A namespace's labels, for terms with a namespaceSelector. */
  namespace(namespace: k8s.V1Namespace, deleted: boolean): void {
    const name = namespace.metadata?.name ?? "";
    if (deleted) this.namespaces.delete(name);
    else this.namespaces.set(name, { ...(namespace.metadata?.labels ?? {}) });
  }

  /** A PersistentVolumeClaim: the volume it is bound to (spec.volumeName), if any. */
  persistentVolumeClaim(claim: k8s.V1PersistentVolumeClaim, deleted: boolean, now: number): void {
    const key = `${claim.metadata?.namespace}/${claim.metadata?.name}`;
    if (deleted) this.claimVolumes.delete(key);
    else this.claimVolumes.set(key, claim.spec?.volumeName || undefined);
    this.judgeVolumesWaiting(now);
  }

  /** A PersistentVolume: its node affinity and zone labels. */
  persistentVolume(volume: k8s.V1PersistentVolume, deleted: boolean, now: number): void {
    const name = volume.metadata?.name ?? "";
    if (deleted) this.volumes.delete(name);
    else this.volumes.set(name, volume);
    this.judgeVolumesWaiting(now);
  }

  /**
   * A watch relists: its items arrive in name order, not in the order they changed, so binds seen
   * until relisted() are judged against the state after the relist (a conflict that ended during
   * the watch's outage then goes unnoticed; none is claimed wrongly).
   */
  relisting(): void {
    this.relistsUnderWay++;
  }

  relisted(now: number): void {
    this.relistsUnderWay = Math.max(0, this.relistsUnderWay - 1);
    if (this.relistsUnderWay > 0) return;
    const waiting = [...this.bindsDuringRelist];
    this.bindsDuringRelist.clear();
    for (const uid of waiting) {
      const pod = this.pods.get(uid);
      if (pod && this.holdsRoom(pod)) this.judgePlacement(pod, now);
    }
  }

  private bound(pod: PodRecord, now: number): void {
    if (this.relistsUnderWay > 0) this.bindsDuringRelist.add(pod.uid);
    else this.judgePlacement(pod, now);
  }

  /**
   * The other pods as a bind at `at` is judged against: those bound then (certain, unless bound
   * within staleViewMs before it), those that left within staleViewMs before it (possible: the
   * scheduler may not have seen them go), and — judged later — those bound within staleViewMs
   * after it (possible: placed in the same cycle, seen bound after it). A pod bound later than
   * that is not counted either way.
   */
  private ruleWorld(subject: PodRecord, at: number, everything: boolean): RuleWorld {
    const window = this.limits.staleViewMs ?? defaultLimits.staleViewMs ?? 0;
    const placed: Placed[] = [];
    const recentBinds = new Set<Placed>();
    const recentlyLeft: Placed[] = [];
    const view = (pod: PodRecord, terminating: boolean): Placed => ({
      pod: ruleSubject(pod),
      node: pod.nodeName as string,
      terminating,
    });
    const candidates = everything
      ? this.pods.values()
      : [...this.antiAffine, ...(this.podsOnNode.get(subject.nodeName as string) ?? [])].map(
          (uid) => this.pods.get(uid) as PodRecord,
        );
    const seen = new Set<string>();
    for (const pod of candidates) {
      if (pod.uid === subject.uid || pod.nodeName === undefined || seen.has(pod.uid)) continue;
      seen.add(pod.uid);
      if (pod.boundAt !== undefined && pod.boundAt > at + window) continue;
      const leftBefore = pod.leftAt !== undefined && pod.leftAt <= at;
      const recentlyLeftAt = leftBefore && at - (pod.leftAt as number) <= window;
      if (this.holdsRoom(pod) || !leftBefore) {
        // Still there, or there at `at` (it left since): terminating only if it was by then.
        const placedPod = view(pod, leftBefore && pod.deleting);
        placed.push(placedPod);
        if (pod.boundAt !== undefined && pod.boundAt >= at - window) recentBinds.add(placedPod);
        if (leftBefore && pod.deleting && recentlyLeftAt) recentlyLeft.push(view(pod, false));
      } else if (recentlyLeftAt) recentlyLeft.push(view(pod, false));
    }
    return {
      nodes: this.nodes,
      placed,
      recentBinds,
      recentlyLeft,
      namespaceLabels: (namespace) => this.namespaces.get(namespace),
    };
  }

  /** A pod just seen bound, against the placement rules. */
  private judgePlacement(pod: PodRecord, now: number): void {
    const nodeName = pod.nodeName as string;
    const spec = pod.spec;
    const constrained =
      (spec?.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0 ||
      hasRequiredAntiAffinity(spec) ||
      (spec?.topologySpreadConstraints ?? []).some((c) => c.whenUnsatisfiable === "DoNotSchedule");
    // Without constraints of its own, only other pods' anti-affinity and this node's ports concern it.
    const world = this.ruleWorld(pod, now, constrained);
    const subject = ruleSubject(pod);
    const breaches = [
      antiAffinityBreach(subject, nodeName, world),
      hostPortsOf(spec).length > 0 ? hostPortBreach(subject, nodeName, world) : undefined,
    ];
    for (const breach of breaches) if (breach) this.blame(pod.uid, breach, now);
    // A bind seen later can excuse these (see suspectBinds): judged again once it had the time to come.
    if (constrained && (affinityBreach(subject, nodeName, world) ?? spreadBreach(subject, nodeName, world)))
      this.suspectBinds.set(pod.uid, now);
    if (claimsOf(pod.key.split("/")[1] as string, spec).length > 0) {
      this.volumesUnjudged.add(pod.uid);
      this.judgeVolumes(pod, now);
    }
  }

  /** Suspect binds seen staleViewMs ago or more, against the pods around them then (ruleWorld). */
  private judgeSuspectBinds(now: number): void {
    const window = this.limits.staleViewMs ?? defaultLimits.staleViewMs ?? 0;
    for (const [uid, at] of this.suspectBinds) {
      if (now - at < window) continue;
      this.suspectBinds.delete(uid);
      const pod = this.pods.get(uid);
      if (pod?.nodeName === undefined) continue;
      const world = this.ruleWorld(pod, at, true);
      const subject = ruleSubject(pod);
      for (const breach of [
        affinityBreach(subject, pod.nodeName, world),
        spreadBreach(subject, pod.nodeName, world),
      ])
        if (breach) this.blame(uid, breach, now);
    }
  }

  private blame(uid: string, breach: RuleBreach, now: number): void {
    const key = `${breach.rule}\u0000${uid}`;
    if (this.placementBlamed.has(key)) return;
    this.placementBlamed.add(key);
    this.violation(breach.rule, now, breach.detail);
  }

  private judgeVolumesWaiting(now: number): void {
    for (const uid of [...this.volumesUnjudged]) this.judgeVolumes(this.pods.get(uid) as PodRecord, now);
  }

  /** Once every claim of the bound pod is bound to a volume the checker saw: each volume against its node. */
  private judgeVolumes(pod: PodRecord, now: number): void {
    const node = this.nodes.get(pod.nodeName ?? "");
    if (!this.holdsRoom(pod) || !node) {
      this.volumesUnjudged.delete(pod.uid);
      return;
    }
    const [namespace, name] = pod.key.split("/") as [string, string];
    const volumes: k8s.V1PersistentVolume[] = [];
    for (const claim of claimsOf(name, pod.spec)) {
      const volumeName = this.claimVolumes.get(`${namespace}/${claim}`);
      const volume = volumeName === undefined ? undefined : this.volumes.get(volumeName);
      if (!volume) return;
      volumes.push(volume);
    }
    this.volumesUnjudged.delete(pod.uid);
    for (const volume of volumes) {
      const mismatch = volumeNodeMismatch(volume, node as RuleNode);
      if (mismatch) {
        this.blame(pod.uid, { rule: "volumeZone", detail: `${pod.key} on ${node.name}: ${mismatch}` }, now);
        return;
      }
    }
  }

  /**
   * Spread and affinity judged on the cluster as it stands, for a quiet end after a load without
   * deletions (a benchmark's), where binds that completed out of decision order were forgiven at
   * the bind: a pod in a domain over its constraint's skew is a spreadSkew violation, a pod whose
   * required affinity no other pod meets a podAffinity one (but one first pod per set of terms).
   * Once per pod and rule, with the binds already blamed. Returns how many it found now.
   */
  judgeSettled(now: number): number {
    const placed: Placed[] = [];
    for (const pod of this.pods.values()) {
      if (!this.holdsRoom(pod) || pod.deleting) continue;
      placed.push({
        pod: ruleSubject(pod),
        node: pod.nodeName as string,
        terminating: false,
      });
    }
    const world: RuleWorld = {
      nodes: this.nodes,
      placed,
      recentBinds: new Set(),
      recentlyLeft: [],
      namespaceLabels: (namespace) => this.namespaces.get(namespace),
    };
    const breaches = [...settledSpreadBreaches(placed, world), ...settledAffinityBreaches(placed, world)];
    for (const { subject, breach } of breaches)
      this.blame(this.uidByKey.get(subject.pod.key) as string, breach, now);
    return breaches.length;
  }

  ringLease(lease: k8s.V1Lease): void {
    const ring = readRingLease(lease.metadata?.annotations ?? {});
    if (ring) this.rings.set(ring.epoch, ring.owners);
  }

  /** A scheduler Event: Scheduled (who bound a pod where, under which epoch), Preempted, a relief or a rollback. */
  event(event: k8s.CoreV1Event, now: number): void {
    const pod = `${event.involvedObject?.namespace}/${event.involvedObject?.name}`;
    const message = event.message ?? "";
    if (event.reason === "Scheduled") {
      const match = / to (\S+?)(?: \(ring epoch (\d+)\))?$/.exec(message);
      const node = match?.[1] ?? "";
      const by = event.reportingInstance ?? "";
      const namespace = event.involvedObject?.namespace ?? "";
      const name = event.involvedObject?.name ?? "";
      const bind = `${namespace}/${name}\u0000${node}\u0000${by}`;
      if (this.bindsSeen.has(bind)) return;
      this.bindsSeen.add(bind);
      const epoch = match?.[2] === undefined ? undefined : Number(match[2]);
      this.binds.push({ namespace, pod: name, node, by, epoch });
      return;
    }
    if (event.reason === "HandedOff" || event.reason === "NodesLent") {
      const uid = this.uidByKey.get(pod);
      const group = uid === undefined ? pod : (this.pods.get(uid) as PodRecord).group;
      this.reliefs[event.reason].add(`${group} ${message}`);
      return;
    }
    if (event.reason === "GangRollback") {
      const uid = this.uidByKey.get(pod);
      const group = uid === undefined ? pod : (this.pods.get(uid) as PodRecord).group;
      this.rollbacks.add(`${group} ${message}`);
      this.rolledBackPods.add(pod);
      this.judgeRollback(pod, now);
      return;
    }
    if (event.reason === "Preempted") {
      const preemptor = /^Preempted by (\S+)/.exec(message)?.[1];
      if (!preemptor) return;
      this.preemptorOf.set(pod, preemptor);
      this.evictionClaims.push({ preemptor, victimPod: pod });
      if (!this.preemptions.has(preemptor))
        this.preemptions.set(preemptor, { preemptor, firstEvictionAt: now, judged: false });
    }
  }

  /** Re-checks what depends on time passing: partial gangs, victims' wholeness, preemptors bound. */
  tick(now: number): void {
    this.judgeSuspectBinds(now);
    for (const group of this.groups.keys()) this.checkGroup(group, now);
    this.judgeEscalations(now);
    for (const victim of this.victimGroups.values()) this.judgeVictim(victim, now);
    for (const preemption of this.preemptions.values()) this.judgePreemptor(preemption, now);
    this.judgeVolumesWaiting(now);
  }

  /** Why a group may not preempt at all, or undefined when it may (members present as seen now). */
  private mayNotPreempt(members: readonly PodRecord[]): string | undefined {
    const priorities = prioritiesOf(members);
    if (priorities.length > 1) return `its members disagree on priority (${priorities.join(", ")})`;
    const never = members.find((pod) => !pod.gone && pod.preemptionPolicy === "Never");
    if (never) return `its member ${never.key} has preemptionPolicy Never`;
    return undefined;
  }

  /** Each Preempted Event whose preemptor and victim pod are known: once per preemptor and victim group. */
  private judgeEscalations(now: number): void {
    let kept = 0;
    for (const claim of this.evictionClaims) {
      const uid = this.uidByKey.get(claim.victimPod);
      const preemptorMembers = this.membersOf(claim.preemptor);
      if (uid === undefined || preemptorMembers.length === 0) {
        this.evictionClaims[kept++] = claim;
        continue;
      }
      const victim = (this.pods.get(uid) as PodRecord).group;
      const pair = `${claim.preemptor}\u0000${victim}`;
      if (this.escalationsJudged.has(pair)) continue;
      this.escalationsJudged.add(pair);
      const why = this.mayNotPreempt(preemptorMembers);
      if (why === undefined) continue;
      const victimPriority = priorityOf(this.membersOf(victim));
      const lowest = Math.min(...preemptorMembers.filter((pod) => !pod.gone).map((pod) => pod.priority));
      this.violation(
        "priorityEscalations",
        now,
        `${claim.preemptor} evicted ${victim} (priority ${victimPriority}${
          victimPriority >= lowest ? `, not below its member at ${lowest}` : ""
        }) though ${why}`,
      );
    }
    this.evictionClaims.length = kept;
  }

  private judgeVictim(victim: VictimGroup, now: number): void {
    if (!victim.judgedPriority) {
      const preemptor = this.victimPreemptor(victim);
      const preemptorMembers = preemptor === undefined ? [] : this.membersOf(preemptor);
      if (preemptor !== undefined && preemptorMembers.length > 0) {
        victim.judgedPriority = true;
        const preemptorPriority = priorityOf(preemptorMembers);
        // A group that may not preempt at all is a priorityEscalation, not also a badPreemption.
        const mayPreempt = this.mayNotPreempt(preemptorMembers) === undefined;
        const victimPriority = priorityOf(this.membersOf(victim.group));
        if (mayPreempt && victimPriority >= preemptorPriority)
          this.violation(
            "badPreemptions",
            now,
            `${preemptor} (priority ${preemptorPriority}) evicted ${victim.group} (priority ${victimPriority})`,
          );
      }
    }
    this.judgeMark(victim, now);
    if (victim.judgedWhole || now - victim.firstEvictionAt <= this.limits.wholeGroupEvictionMs) return;
    victim.judgedWhole = true;
    const members = [...victim.boundAtFirst].map((uid) => this.pods.get(uid) as PodRecord);
    const stayed = members.filter((pod) => pod.evictedAt === undefined && this.boundAndStaying(pod));
    const mode = this.disruptionOf(victim.group);
    if (stayed.length === 0 || mode === "single") return;
    // A PodGroup that says `all` goes whole; another gang may lose members above its min-member.
    const min = this.minMemberOf(members);
    if (mode === undefined && stayed.length >= min) return;
    this.violation(
      "badPreemptions",
      now,
      `${victim.group}: partly evicted${mode === "all" ? " (disruptionMode all)" : ` below min-member ${min}`}; ` +
        `${stayed.map((pod) => pod.key).join(", ")} still bound`,
    );
  }

  /** A native victim PodGroup evicted by a scheduler's preemption must have been marked first. */
  private judgeMark(victim: VictimGroup, now: number): void {
    if (victim.judgedMark || !victim.group.startsWith("podgroup:")) return;
    // Only a scheduler's preemption (a Preempted Event) promises the mark; other evictions do not.
    if (this.victimPreemptor(victim) === undefined) {
      if (now - victim.firstEvictionAt > this.limits.wholeGroupEvictionMs) victim.judgedMark = true;
      return;
    }
    const podGroup = this.podGroups.get(victim.group.slice("podgroup:".length));
    if (podGroup === undefined) return;
    const evictedAt = victim.firstEvictionConditionAt;
    const late = podGroup.markedAt !== undefined && evictedAt !== undefined && podGroup.markedAt > evictedAt;
    const missing = podGroup.markedAt === undefined;
    if (!late && !(missing && now - victim.firstEvictionAt > this.limits.wholeGroupEvictionMs)) {
      if (!missing) victim.judgedMark = true;
      return;
    }
    victim.judgedMark = true;
    this.violation(
      "unmarkedVictimPodGroups",
      now,
      missing
        ? `${victim.group}: members evicted by preemption, the PodGroup never showed DisruptionTarget`
        : `${victim.group}: DisruptionTarget at ${new Date(podGroup.markedAt as number).toISOString()}, ` +
            `after its first member's eviction at ${new Date(evictedAt as number).toISOString()}`,
    );
  }

  private victimPreemptor(victim: VictimGroup): string | undefined {
    for (const uid of victim.boundAtFirst) {
      const preemptor = this.preemptorOf.get((this.pods.get(uid) as PodRecord).key);
      if (preemptor !== undefined) return preemptor;
    }
    return undefined;
  }

  private judgePreemptor(preemption: Preemption, now: number): void {
    if (preemption.judged || now - preemption.firstEvictionAt <= this.limits.preemptorBoundMs) return;
    preemption.judged = true;
    const record = this.groups.get(preemption.preemptor);
    if (record?.fullyBoundAt !== undefined && record.fullyBoundAt >= preemption.firstEvictionAt) return;
    const members = this.membersOf(preemption.preemptor).filter((pod) => !pod.gone);
    // A preemptor whose pods all went away (its Job deleted) can no longer be judged.
    if (members.length === 0) {
      this.unjudgedPreemptors++;
      return;
    }
    // It should not have preempted at all (priorityEscalations); whether it then fit is moot.
    if (this.mayNotPreempt(members) !== undefined) return;
    // A higher-priority pod may take a lower preemptor's nominated room (as in kube-scheduler).
    const priority = priorityOf(members);
    const displaced = [...(this.nominatedNodes.get(preemption.preemptor) ?? [])].some((nodeName) =>
      (this.claims.get(nodeName) ?? []).some(
        (claim) => claim.priority > priority && claim.at >= preemption.firstEvictionAt,
      ),
    );
    if (displaced) {
      this.displacedPreemptors++;
      return;
    }
    const bound = members.filter((pod) => this.boundAndStaying(pod)).length;
    this.violation(
      "badPreemptions",
      now,
      `${preemption.preemptor} evicted victims but did not fit: ${bound} of ` +
        `${this.minMemberOf(members)} bound ${this.limits.preemptorBoundMs / 1000}s ` +
        `after its first victim's eviction (${new Date(preemption.firstEvictionAt).toISOString()})`,
    );
  }

  /** Binds whose shard did not own the node under the epoch it bound in; unverifiable ones apart. */
  foreignBinds(): { foreign: (BindRecord & { owner: string })[]; unverifiable: BindRecord[] } {
    const foreign: (BindRecord & { owner: string })[] = [];
    const unverifiable: BindRecord[] = [];
    for (const bind of this.binds) {
      const ring = bind.epoch === undefined ? undefined : this.rings.get(bind.epoch);
      if (!ring) {
        unverifiable.push(bind);
        continue;
      }
      const owner = ring.ownerOf(bind.node) ?? "(none)";
      if (owner !== bind.by) foreign.push({ ...bind, owner });
    }
    return { foreign, unverifiable };
  }

  /**
   * Groups still wholly pending (none of their pods bound; enough of them to be placed, counting
   * members that succeeded as placed) that the free room holds now, with their pending pods'
   * keys: a caller compares samples taken over some time (lostPods), since room freed a moment
   * ago is not yet a scheduler's fault.
   */
  pendingGroupsThatFit(): Map<string, string[]> {
    const nodes: RoomNode[] = [...this.nodes.values()].map((node) => ({
      ...node,
      used: this.usedOn(node.name),
      // Held for its group only until the group runs there.
      lentFor:
        node.lentFor !== undefined && !this.groupRunsOn(node.lentFor, node.name) ? node.lentFor : undefined,
    }));
    const candidates: RoomGroup[] = [];
    const pendingKeys = new Map<string, string[]>();
    for (const [group] of this.groups) {
      const present = this.membersOf(group).filter((pod) => !pod.gone);
      const members = present.filter((pod) => !pod.finished);
      const succeeded = present.filter((pod) => pod.succeeded).length;
      // Gated pods are not pending, and a group whose members disagree on priority is never placed.
      const pending = members.filter((pod) => pod.nodeName === undefined && !pod.deleting && !pod.gated);
      if (pending.length === 0 || members.some((pod) => pod.nodeName !== undefined)) continue;
      if (disagreeOnPriority(present) || this.awaitsPodGroup(group)) continue;
      if (pending.length < this.minMemberOf(members) - succeeded) continue;
      pendingKeys.set(
        group,
        pending.map((pod) => pod.key),
      );
      candidates.push({
        id: group,
        priority: priorityOf(pending),
        topologyKeys: this.topologyKeysOf(group, members),
        pods: pending.map((pod) => ({
          requests: pod.requests,
          nodeSelector: pod.spec?.nodeSelector ?? {},
          tolerations: pod.spec?.tolerations ?? [],
          hasAffinity:
            Boolean(pod.spec?.affinity) ||
            (pod.spec?.topologySpreadConstraints?.length ?? 0) > 0 ||
            hostPortsOf(pod.spec).length > 0 ||
            claimsOf(pod.key.split("/")[1] as string, pod.spec).length > 0,
        })),
      });
    }
    const fit = groupsThatFit(nodes, candidates);
    return new Map(fit.map((group) => [group, pendingKeys.get(group) as string[]]));
  }

  /**
   * Records as lost the pods of groups that fit in every sample (pendingGroupsThatFit, taken in
   * order over the end's window), with the last sample's pending pods pending in each earlier one.
   * Room that held a group in some looks and not in others (freed by pods finishing, then taken by
   * other pending groups) is a race the group lost, not a scheduler that lost it: only room that
   * held it at every look, for longer than the product takes to move a stuck group, makes it lost.
   */
  lostPods(samples: readonly Map<string, string[]>[], now: number): number {
    const last = samples[samples.length - 1];
    if (last === undefined || samples.length < 2) throw new Error("lostPods needs at least two samples");
    let lost = 0;
    for (const [group, pods] of last) {
      const everyLook = samples.every((sample) => {
        const pending = sample.get(group);
        return pending !== undefined && pods.every((pod) => pending.includes(pod));
      });
      if (!everyLook) continue;
      lost += pods.length;
      this.violation(
        "lostPods",
        now,
        `${group}: ${pods.length} pod(s) pending though the free room holds them; ${this.whyWaiting(group, now)}`,
      );
    }
    return lost;
  }

  /** What a lost group's pods say, and which pending pods of other groups hold nominations. */
  private whyWaiting(group: string, now: number): string {
    const pending = this.membersOf(group).filter((pod) => pod.nodeName === undefined && !pod.gone);
    const first = pending[0]?.waiting;
    const nominated = pending.map((pod) => pod.waiting.nominatedNodeName ?? "-").join(",");
    const others = [...this.pods.values()]
      .filter(
        (pod) =>
          pod.group !== group &&
          pod.nodeName === undefined &&
          !pod.gone &&
          !pod.finished &&
          pod.waiting.nominatedNodeName !== undefined,
      )
      .map((pod) => `${pod.key}@${pod.waiting.nominatedNodeName}(p${pod.priority})`);
    const latest = Math.max(...this.rings.keys());
    const ring = this.rings.get(latest);
    const freeByShard = new Map<string, string[]>();
    for (const node of this.nodes.values()) {
      if (!node.usable) continue;
      const free = (node.allocatable.get("cpu") ?? 0) - (this.usedOn(node.name).get("cpu") ?? 0);
      if (free <= tolerance) continue;
      const shard = ring?.ownerOf(node.name) ?? "?";
      freeByShard.set(shard, [...(freeByShard.get(shard) ?? []), `${node.name}:${free}`]);
    }
    const room = [...freeByShard].map(([shard, nodes]) => `${shard} [${nodes.join(" ")}]`).join("; ");
    // Members pinned to different shards (two writers raced) are told apart: each member's pin.
    const pins = new Set(pending.map((pod) => pod.waiting.owner));
    const owner =
      pins.size > 1
        ? `pins differ: ${pending.map((pod) => pod.waiting.owner ?? "-").join(",")}`
        : first?.owner;
    const said =
      first?.messageAt === undefined ? "when unknown" : `${Math.round((now - first.messageAt) / 1000)} s ago`;
    return (
      `priority ${priorityOf(pending.length > 0 ? pending : this.membersOf(group))}, ` +
      `cpu ${pending.map((pod) => pod.requests.get("cpu") ?? 0).join(",")}, ` +
      `owner ${owner ?? `(ring: ${ring?.groupOwnerOf(this.membersOf(group)[0]?.hashKey ?? group) ?? "?"})`}, ` +
      `relief attempts ${first?.reliefAttempts ?? 0}, nominated ${nominated}; ` +
      `says (${said}): ${first?.message ?? "(nothing)"}; ` +
      `other pending pods' nominations: ${others.length === 0 ? "none" : others.join(" ")}; ` +
      `free cpu by owner (epoch ${latest}): ${room}`
    );
  }

  counts(): Record<ViolationKind, number> {
    const counts = Object.fromEntries(violationKinds.map((kind) => [kind, 0])) as Record<
      ViolationKind,
      number
    >;
    for (const violation of this.violations) counts[violation.kind]++;
    counts.foreignBinds += this.foreignBinds().foreign.length;
    return counts;
  }

  stats(): {
    podsSeen: number;
    podsBound: number;
    binds: number;
    evictions: number;
    preemptors: number;
    unjudgedPreemptors: number;
    displacedPreemptors: number;
    handoffs: number;
    lends: number;
    /** Pods seen with scheduling gates at some point. */
    gatedPods: number;
    /** Groups seen with members that disagree on priority (invalid: never placed, never preempt). */
    mixedPriorityGroups: number;
    /** Binds of such a group's pods while its members disagreed (a detail, not a violation). */
    mixedPriorityBinds: number;
    /** The shards' GangRollback Events, one per group and message. */
    gangRollbacks: number;
    /** PodGroup objects the checker read (native, and of the CRDs), each counted once. */
    podGroupsRead: { native: number; crd: number };
  } {
    return {
      podsSeen: this.pods.size,
      podsBound: this.podsBound.size,
      binds: this.binds.length,
      evictions: this.evictions,
      preemptors: this.preemptions.size,
      unjudgedPreemptors: this.unjudgedPreemptors,
      displacedPreemptors: this.displacedPreemptors,
      handoffs: this.reliefs.HandedOff.size,
      lends: this.reliefs.NodesLent.size,
      gatedPods: this.gatedPods.size,
      mixedPriorityGroups: this.mixedPriorityGroups.size,
      mixedPriorityBinds: this.mixedPriorityBinds,
      gangRollbacks: this.rollbacks.size,
      podGroupsRead: { native: this.podGroupsRead.native.size, crd: this.podGroupsRead.crd.size },
    };
  }

  /** Pods bound and holding room right now, by the checker's own count. */
  boundPods(): number {
    return [...this.pods.values()].filter((pod) => this.holdsRoom(pod)).length;
  }

  /**
   * Pods pending now (not bound, not leaving, not finished): the scheduler's to place. Gated pods
   * are not pending, and pods of a group whose members disagree on priority, or whose PodGroup
   * does not exist, are never placed.
   */
  pendingPods(): number {
    let pending = 0;
    for (const group of this.groups.keys()) {
      const members = this.membersOf(group);
      if (disagreeOnPriority(members) || this.awaitsPodGroup(group)) continue;
      pending += members.filter((pod) => this.waitingToBind(pod) && !pod.gated).length;
    }
    return pending;
  }
}

/** The first field `pattern` captures in the message of a pod's True condition of this type. */
function conditionField(pod: k8s.V1Pod, type: string, pattern: RegExp): string | undefined {
  const condition = pod.status?.conditions?.find((c) => c.type === type && c.status === "True");
  return pattern.exec(condition?.message ?? "")?.[1];
}
