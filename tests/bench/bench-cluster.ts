/** The local clusters the benchmarks run on: one for scheduling throughput, one for fragmentation. */
import {
  type ClusterOptions,
  type ClusterState,
  defaultClusterOptions,
  down,
  readState,
  recordedNodeLeaseSeconds,
  recordedPodLifecycle,
  recordedWorkloadGates,
  status,
  up,
} from "../cluster/local/local-cluster.js";

/**
 * Node Leases renewed every minute instead of every 10 s: 5000 fake nodes would otherwise write
 * 500 Leases a second, more than a scheduler's binds and Events, a cost per second that a slower
 * system would pay more of per pod.
 */
const throughputNodeLeaseSeconds = 240;

/**
 * Roomy nodes (32 cpu, 110 pods) and kube-scheduler, for the basic, gangs and memory scenarios.
 * No pod lifecycle: KWOK's status patch per bound pod (pod turning Running) would land inside a
 * run's measured window for a share of the pods that depends on how fast the system binds, so
 * systems would pay for it unequally; without it every system's run costs only its own writes.
 */
export function throughputCluster(stateDir: string, nodes: number): ClusterOptions {
  return {
    ...defaultClusterOptions,
    stateDir,
    nodes,
    nodePods: 110,
    podLifecycle: false,
    nodeLeaseSeconds: throughputNodeLeaseSeconds,
  };
}

/** Roomy nodes over three zones and kube-scheduler, for the affinity and spread scenarios. */
export function zonedCluster(stateDir: string, nodes: number): ClusterOptions {
  return { ...throughputCluster(stateDir, nodes), zones: 3 };
}

/** Small nodes that gang members nearly fill, and no kube-scheduler. */
export function fragmentationCluster(stateDir: string, nodes: number, nodeCpu: string): ClusterOptions {
  return {
    ...defaultClusterOptions,
    stateDir,
    nodes,
    nodeCpu,
    nodeMemory: "64Gi",
    kubeScheduler: false,
  };
}

/** Reuses a healthy cluster of the same shape in options.stateDir; replaces any other. */
export async function benchCluster(
  options: ClusterOptions,
  log: (line: string) => void,
): Promise<ClusterState> {
  const existing = readState(options.stateDir);
  if (
    existing &&
    (existing.options.nodes !== options.nodes ||
      existing.options.nodeCpu !== options.nodeCpu ||
      existing.options.kubeScheduler !== options.kubeScheduler ||
      (existing.options.zones ?? 0) !== options.zones ||
      recordedWorkloadGates(existing) !== options.workloadGates ||
      recordedPodLifecycle(existing) !== (options.podLifecycle ?? true) ||
      recordedNodeLeaseSeconds(existing) !== recordedNodeLeaseSeconds({ ...existing, options }) ||
      !(await status(options.stateDir)).healthy)
  )
    await down(options.stateDir, log);
  return up(options, log);
}
