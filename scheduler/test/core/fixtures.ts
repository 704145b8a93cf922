/**
 * Builders for core tests: plain API JSON objects (as a watch delivers them), turned into the
 * core's cluster and pending groups through the core's own parsers.
 */
import { minMemberAnnotation, podGroupAnnotation } from "../../src/contracts/keys.js";
import type { Node, Pod, PodDisruptionBudget, Taint, Toleration } from "../../src/core/api-types.js";
import { toPodInfo } from "../../src/core/build-info.js";
import { ClusterState } from "../../src/core/cluster-state.js";
import { type CoreConfig, type Decision, defaultCoreConfig, SchedulingCore } from "../../src/core/cycle.js";
import { type PendingGroup, pendingGroup, podGroupMembership } from "../../src/core/gang/index.js";
import { feasibleNodesToFind, type PlacementContext } from "../../src/core/gang-placement.js";
import type { NodeInfo, PodInfo } from "../../src/core/model.js";
import type { ScoringStrategy } from "../../src/core/plugins/node-resources/resource-allocation.js";
import { buildProfile, type Profile } from "../../src/core/profile.js";

export const gpu = "nvidia.com/gpu";

export interface NodeOptions {
  /** Whole or fractional cores, or a quantity string; default 4. */
  cpu?: number | string;
  /** A quantity string; default "8Gi". */
  memory?: string;
  /** Pod slots; default 110. */
  pods?: number;
  gpus?: number;
  labels?: Record<string, string>;
  taints?: Taint[];
  unschedulable?: boolean;
  /** Ready condition True (default) or False. */
  ready?: boolean;
}

export function node(name: string, options: NodeOptions = {}): Node {
  const allocatable: Record<string, string> = {
    cpu: String(options.cpu ?? 4),
    memory: options.memory ?? "8Gi",
    pods: String(options.pods ?? 110),
  };
  if (options.gpus !== undefined) allocatable[gpu] = String(options.gpus);
  return {
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...options.labels } },
    spec: {
      ...(options.taints ? { taints: options.taints } : {}),
      ...(options.unschedulable !== undefined ? { unschedulable: options.unschedulable } : {}),
    },
    status: {
      allocatable,
      capacity: { ...allocatable },
      conditions: [{ type: "Ready", status: options.ready === false ? "False" : "True" }],
    },
  };
}

export interface PodOptions {
  /** Cores or a quantity string; default "1". */
  cpu?: number | string;
  /** A quantity string; default "1Gi". */
  memory?: string;
  gpus?: number;
  priority?: number;
  /** Pod group name (sharded-scheduler.io/pod-group). */
  group?: string;
  minMember?: number;
  /** Bound to this node (running). */
  nodeName?: string;
  namespace?: string;
  preemptionPolicy?: "PreemptLowerPriority" | "Never";
  /** Has a deletionTimestamp. */
  terminating?: boolean;
  labels?: Record<string, string>;
  nominatedNodeName?: string;
  /** Seconds after a fixed epoch; default 0. */
  createdAt?: number;
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
}

const epoch = Date.parse("2025-01-01T00:00:00Z");

export function pod(name: string, options: PodOptions = {}): Pod {
  const requests: Record<string, string> = {
    cpu: String(options.cpu ?? 1),
    memory: options.memory ?? "1Gi",
  };
  if (options.gpus !== undefined) requests[gpu] = String(options.gpus);
  const annotations: Record<string, string> = {};
  if (options.group !== undefined) annotations[podGroupAnnotation] = options.group;
  if (options.minMember !== undefined) annotations[minMemberAnnotation] = String(options.minMember);
  const namespace = options.namespace ?? "default";
  return {
    metadata: {
      name,
      namespace,
      uid: `uid-${namespace}-${name}`,
      labels: options.labels ?? {},
      annotations,
      creationTimestamp: new Date(epoch + (options.createdAt ?? 0) * 1000).toISOString(),
      ...(options.terminating ? { deletionTimestamp: new Date(epoch).toISOString() } : {}),
    },
    spec: {
      ...(options.nodeName !== undefined ? { nodeName: options.nodeName } : {}),
      priority: options.priority ?? 0,
      ...(options.preemptionPolicy !== undefined ? { preemptionPolicy: options.preemptionPolicy } : {}),
      ...(options.nodeSelector !== undefined ? { nodeSelector: options.nodeSelector } : {}),
      ...(options.tolerations !== undefined ? { tolerations: options.tolerations } : {}),
      containers: [{ name: "main", resources: { requests } }],
    },
    status: {
      phase: options.nodeName !== undefined ? "Running" : "Pending",
      ...(options.nominatedNodeName !== undefined ? { nominatedNodeName: options.nominatedNodeName } : {}),
    },
  };
}

/** A pod pinned to its node as the DaemonSet controller pins it (matchFields metadata.name In). */
export function daemonPod(name: string, nodeName: string, options: PodOptions = {}): Pod {
  const base = pod(name, { cpu: "100m", ...options });
  return {
    ...base,
    spec: {
      ...base.spec,
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchFields: [{ key: "metadata.name", operator: "In", values: [nodeName] }] },
            ],
          },
        },
      },
    },
  };
}

/** size pods <name>-0… in pod group <name>. */
export function gang(name: string, size: number, options: PodOptions = {}): Pod[] {
  return Array.from({ length: size }, (_, i) => pod(`${name}-${i}`, { group: name, ...options }));
}

/** Three nodes that each fit exactly one 1-cpu pod. */
export const threeSingleSlotNodes = (): Node[] => [
  node("n1", { cpu: 1 }),
  node("n2", { cpu: 1 }),
  node("n3", { cpu: 1 }),
];

/** The decision a cycle made for the group named groupName. */
export function decisionFor(decisions: readonly Decision[], groupName: string): Decision {
  const found = decisions.find((d) => d.group.name === groupName);
  if (!found) throw new Error(`no decision for ${groupName}`);
  return found;
}

export function pdb(
  name: string,
  matchLabels: Record<string, string>,
  disruptionsAllowed: number,
  namespace = "default",
): PodDisruptionBudget {
  return {
    metadata: { name, namespace },
    spec: { selector: { matchLabels } },
    status: { disruptionsAllowed },
  };
}

/** A cluster holding the nodes, every pod that occupies or reserves a node, and the budgets. */
export function snapshotOf(
  nodes: readonly Node[],
  pods: readonly Pod[] = [],
  budgets: readonly PodDisruptionBudget[] = [],
): ClusterState {
  const cluster = new ClusterState();
  for (const n of nodes) cluster.upsertNode(n);
  for (const p of pods) cluster.upsertPod(toPodInfo(p));
  for (const b of budgets) cluster.upsertPodDisruptionBudget(b);
  return cluster;
}

/**
 * The pending groups among the pods, as the shard's queue would build them: pods without a node
 * grouped by podGroupMembership, with the group's running (bound, unfinished) and succeeded
 * members counted.
 */
export function pendingGroupsOf(pods: readonly Pod[]): PendingGroup[] {
  const byGroup = new Map<
    string,
    { pending: PodInfo[]; running: PodInfo[]; succeeded: number; minMember: number | undefined }
  >();
  for (const p of pods) {
    const membership = podGroupMembership(p);
    const info = toPodInfo(p);
    const entry = byGroup.get(membership.group.id) ?? {
      pending: [],
      running: [],
      succeeded: 0,
      minMember: undefined,
    };
    byGroup.set(membership.group.id, entry);
    entry.minMember ??= membership.minMember;
    if (info.nodeName === undefined) entry.pending.push(info);
    else if (!info.finished) entry.running.push(info);
    else if (p.status?.phase === "Succeeded") entry.succeeded++;
  }
  const groups: PendingGroup[] = [];
  for (const { pending, running, succeeded, minMember } of byGroup.values()) {
    const first = pending[0];
    if (first) groups.push(pendingGroup(first.group, pending, running, minMember, succeeded));
  }
  return groups;
}

/** The one pending group among the pods (fails the test when there is not exactly one). */
export function onlyPendingGroup(pods: readonly Pod[]): PendingGroup {
  const groups = pendingGroupsOf(pods);
  if (groups.length !== 1) throw new Error(`expected one pending group, found ${groups.length}`);
  return groups[0] as PendingGroup;
}

export const ownsAll = (): boolean => true;

/** A placement context like the one SchedulingCore.cycle builds, for calling placeGang directly. */
export function placementContext(
  cluster: ClusterState,
  ownsNode: (nodeName: string) => boolean = ownsAll,
  strategy: ScoringStrategy = "MostAllocated",
  profile: Profile = buildProfile(cluster, { scoringStrategy: strategy }),
): PlacementContext {
  const nodes: NodeInfo[] = cluster.nodes.filter((n) => ownsNode(n.name));
  return {
    cluster,
    nodes,
    ownsNode,
    otherShardNodes: cluster.nodes.length - nodes.length,
    profile,
    feasibleNodesToFind: feasibleNodesToFind(nodes.length, 0),
    nextStartIndex: 0,
  };
}

/** Builds a cluster from all pods and runs one cycle over the pending ones. */
export function runCycle(
  nodes: readonly Node[],
  pods: readonly Pod[],
  options: {
    budgets?: readonly PodDisruptionBudget[];
    ownsNode?: (nodeName: string) => boolean;
    config?: Partial<CoreConfig>;
  } = {},
) {
  const cluster = snapshotOf(nodes, pods, options.budgets);
  const core = new SchedulingCore(cluster, { ...defaultCoreConfig, ...options.config });
  const decisions = core.cycle(pendingGroupsOf(pods), options.ownsNode ?? ownsAll);
  return { cluster, core, decisions };
}

/** Per-node requested resources, comparable with toEqual. */
export function requestedByNode(cluster: ClusterState): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const n of cluster.nodes) {
    result[n.name] = {
      milliCpu: n.requested.milliCpu,
      memory: n.requested.memory,
      ephemeralStorage: n.requested.ephemeralStorage,
      pods: n.requested.pods,
      scalar: Object.fromEntries([...n.requested.scalar].sort()),
      podKeys: [...n.pods.keys()].sort(),
    };
  }
  return result;
}
