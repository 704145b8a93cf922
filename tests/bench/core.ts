/**
 * The "core" scenario: the pure scheduling core alone, in process, no API server. N nodes,
 * P pending pods (solo, or gangs of --gang-size), handed to SchedulingCore.cycle in batches
 * of --batch groups, as a shard does when pods arrive a few at a time. Measures the hot path
 * of a cycle (filter, score, gang placement, assume).
 */
import {
  ClusterState,
  groupKey,
  type Node,
  type PendingGroup,
  type Pod,
  type PodInfo,
  pendingGroup,
  SchedulingCore,
  toPodInfo,
} from "../../scheduler/src/core/index.js";

export interface CoreBenchOptions {
  nodes: number;
  pods: number;
  gangSize: number;
  batch: number;
  /** Reuse the owned-node list between cycles (what the shard does). */
  cacheNodeList: boolean;
}

export interface CoreBenchResult {
  system: "core";
  nodes: number;
  pods: number;
  gangSize: number;
  batch: number;
  cacheNodeList: boolean;
  scheduled: number;
  podsPerSecond: number;
  cycleP50Us: number;
  cycleP99Us: number;
  durationSeconds: number;
}

/** Bench node i: 32 cores, 256 GiB, 110 pods. */
export function node(i: number): Node {
  const resources = { cpu: "32", memory: "256Gi", pods: "110", "ephemeral-storage": "1Ti" };
  return {
    metadata: { name: `node-${i}`, labels: { "kubernetes.io/hostname": `node-${i}` } },
    status: { allocatable: resources, capacity: resources, conditions: [{ type: "Ready", status: "True" }] },
  };
}

/** Bench pod i (100m, 128 MiB), pending, of a gang when group is given. */
export function pod(i: number, group: string | undefined): Pod {
  return {
    metadata: {
      name: `pod-${i}`,
      namespace: "bench",
      uid: `uid-${i}`,
      creationTimestamp: "2026-01-01T00:00:00Z",
      annotations: group ? { "sharded-scheduler.io/pod-group": group } : {},
    },
    spec: {
      schedulerName: "sharded-scheduler",
      containers: [{ name: "c", resources: { requests: { cpu: "100m", memory: "128Mi" } } }],
    },
  };
}

export function runCoreBench(options: CoreBenchOptions): CoreBenchResult {
  const cluster = new ClusterState();
  for (let i = 0; i < options.nodes; i++) cluster.upsertNode(node(i));
  const core = new SchedulingCore(cluster);
  const groups: PendingGroup[] = [];
  for (let g = 0; g * options.gangSize < options.pods; g++) {
    const size = Math.min(options.gangSize, options.pods - g * options.gangSize);
    const solo = options.gangSize === 1;
    const name = solo ? `pod-${g}` : `gang-${g}`;
    const members = Array.from({ length: size }, (_, m) =>
      toPodInfo(pod(g * options.gangSize + m, solo ? undefined : name)),
    );
    groups.push(pendingGroup(groupKey("bench", name, solo), members, [], undefined));
  }
  const owns = () => true;
  const cycleMicros: number[] = [];
  let scheduled = 0;
  const started = performance.now();
  for (let i = 0; i < groups.length; i += options.batch) {
    const t0 = performance.now();
    const decisions = core.cycle(
      groups.slice(i, i + options.batch),
      owns,
      options.cacheNodeList ? 0 : undefined,
    );
    cycleMicros.push((performance.now() - t0) * 1000);
    for (const d of decisions) if (d.kind === "bind") scheduled += d.placements.length;
  }
  const seconds = (performance.now() - started) / 1000;
  cycleMicros.sort((a, b) => a - b);
  const at = (p: number) =>
    cycleMicros[Math.min(cycleMicros.length - 1, Math.floor((p / 100) * cycleMicros.length))] ?? 0;
  return {
    system: "core",
    ...options,
    scheduled,
    podsPerSecond: Math.round(scheduled / seconds),
    cycleP50Us: Math.round(at(50)),
    cycleP99Us: Math.round(at(99)),
    durationSeconds: Math.round(seconds * 1000) / 1000,
  };
}

export interface CorePreemptionBenchOptions {
  nodes: number;
  /** Low-priority pods running on each node, filling it (kube-scheduler's preemption workload). */
  runningPerNode: number;
  /** High-priority pods that each need room of all but one running pod of a node. */
  preemptors: number;
  batch: number;
}

export interface CorePreemptionBenchResult {
  system: "core";
  scenario: "preemption";
  nodes: number;
  runningPods: number;
  preemptors: number;
  batch: number;
  /** Preemptors that won a node (a preempt decision) in their first cycle. */
  nominated: number;
  /** Running pods the plans evict. */
  evictions: number;
  /** Preemptors bound in a second pass, once their victims are gone. */
  bound: number;
  cycleP50Us: number;
  cycleP99Us: number;
  /** The first pass: every preemptor through a cycle. */
  durationSeconds: number;
}

function preemptionNode(i: number, cpu: number): Node {
  const resources = { cpu: String(cpu), memory: `${4 * cpu}Gi`, pods: "110" };
  return {
    metadata: { name: `node-${i}`, labels: { "kubernetes.io/hostname": `node-${i}` } },
    status: { allocatable: resources, capacity: resources, conditions: [{ type: "Ready", status: "True" }] },
  };
}

function preemptionPod(name: string, cpu: number, priority: number, nodeName?: string): Pod {
  return {
    metadata: { name, namespace: "bench", uid: `uid-${name}`, creationTimestamp: "2026-01-01T00:00:00Z" },
    spec: {
      schedulerName: "sharded-scheduler",
      priority,
      ...(nodeName ? { nodeName } : {}),
      containers: [{ name: "c", resources: { requests: { cpu: String(cpu), memory: `${cpu}Gi` } } }],
    },
    status: { phase: nodeName ? "Running" : "Pending" },
  };
}

/**
 * The "core" preemption scenario, after kube-scheduler's own preemption workload: every node is
 * full with low-priority pods of 1 cpu, then high-priority pods of (runningPerNode − 1) cpu each
 * arrive, each needing that many victims on one node. Cycles of --batch preemptors are timed; a
 * second pass evicts the planned victims and binds the preemptors on their nominated nodes.
 */
export function runCorePreemptionBench(options: CorePreemptionBenchOptions): CorePreemptionBenchResult {
  const { nodes, runningPerNode, preemptors, batch } = options;
  const cluster = new ClusterState();
  for (let i = 0; i < nodes; i++) cluster.upsertNode(preemptionNode(i, runningPerNode));
  for (let i = 0; i < nodes; i++)
    for (let j = 0; j < runningPerNode; j++)
      cluster.upsertPod(toPodInfo(preemptionPod(`low-${i}-${j}`, 1, 0, `node-${i}`)));
  const core = new SchedulingCore(cluster);
  const need = Math.max(1, runningPerNode - 1);
  let pending = Array.from({ length: preemptors }, (_, i) =>
    toPodInfo(preemptionPod(`high-${i}`, need, 100)),
  );
  const groupOf = (pod: PodInfo): PendingGroup => pendingGroup(pod.group, [pod], [], undefined);
  const owns = () => true;
  const cycleMicros: number[] = [];
  const victims = new Map<string, PodInfo>();
  let nominated = 0;
  const started = performance.now();
  for (let i = 0; i < pending.length; i += batch) {
    const t0 = performance.now();
    const decisions = core.cycle(pending.slice(i, i + batch).map(groupOf), owns, 0);
    cycleMicros.push((performance.now() - t0) * 1000);
    for (const d of decisions) {
      if (d.kind !== "preempt") continue;
      nominated++;
      for (const victim of d.plan.victims) for (const pod of victim.pods) victims.set(pod.key, pod);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  // The victims leave; the preemptors come back with their nominations and take the room.
  for (const key of victims.keys()) cluster.removePod(key);
  pending = pending.map((pod) => cluster.nominatedPod(pod.key) ?? pod);
  let bound = 0;
  for (const d of core.cycle(pending.map(groupOf), owns, 0))
    if (d.kind === "bind") bound += d.placements.length;
  cycleMicros.sort((a, b) => a - b);
  const at = (p: number) =>
    cycleMicros[Math.min(cycleMicros.length - 1, Math.floor((p / 100) * cycleMicros.length))] ?? 0;
  return {
    system: "core",
    scenario: "preemption",
    nodes,
    runningPods: nodes * runningPerNode,
    preemptors,
    batch,
    nominated,
    evictions: victims.size,
    bound,
    cycleP50Us: Math.round(at(50)),
    cycleP99Us: Math.round(at(99)),
    durationSeconds: Math.round(seconds * 1000) / 1000,
  };
}
