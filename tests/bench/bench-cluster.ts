/** The local clusters the benchmarks run on: one for scheduling throughput, one for fragmentation. */
import type { KubeRest } from "../cluster/local/kube-rest.js";
import {
  adminClient,
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
import { waitFor } from "../support/wait.js";
import { readApiWrites } from "./api-writes.js";

/**
 * Node Leases of a day, renewed every 6 hours: none is renewed during a benchmark (the nodes come
 * up together, so their renewals come together too). At the default 10 s, 5000 fake nodes would
 * write 500 Leases a second, more than a scheduler's binds and Events. Renewed every minute, a
 * cluster's renewals came as a burst every minute — every node's Lease written, read by KWOK and
 * the node lifecycle controller, several CPU-seconds of the API server, etcd, KWOK and the
 * controller-manager — and landed in whichever system's run was going then, not in every
 * system's alike: in one bench both runs of 3 shards had 930 Lease writes in their window,
 * kube-scheduler's none.
 */
const throughputNodeLeaseSeconds = 24 * 3600;

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
  const state = await up(options, log);
  await fakeKubeletSettled(state, log);
  return state;
}

/** How long the API server must count no pod list for the fake kubelet to be settled. */
const settledQuietMs = 5_000;

/**
 * Waits until KWOK (the fake kubelet) has done its start-up work. Once it manages a node it
 * lists that node's pods, a request per node at its own pace while the nodes come up (1000
 * nodes: 30–45 s, outlasting their readiness), and a run measured meanwhile pays for those
 * lists: in whichever system's window they fall, they add API-server CPU per pod that is not the
 * system's. Settled: the API server counted no pod list for settledQuietMs. A cluster reused
 * from an earlier run is settled already and waits that long only.
 */
async function fakeKubeletSettled(state: ClusterState, log: (line: string) => void): Promise<void> {
  const kube = adminClient(state);
  const started = Date.now();
  let last: number | undefined;
  let quietSince = started;
  try {
    await waitFor(
      "the fake kubelet's start-up pod lists to end",
      async () => {
        const now = await podLists(kube);
        if (now !== last) quietSince = Date.now();
        last = now;
        return Date.now() - quietSince >= settledQuietMs ? true : undefined;
      },
      600_000,
      1_000,
    );
    const waited = (Date.now() - started) / 1000;
    if (waited > settledQuietMs / 1000 + 2)
      log(`the fake kubelet settled (its pod lists done) in ${waited.toFixed(0)}s`);
  } catch (error) {
    log(`${error instanceof Error ? error.message : String(error)}; measuring anyway`);
  } finally {
    kube.close();
  }
}

/** Pod lists the API server has counted so far (every scope and code). */
async function podLists(kube: KubeRest): Promise<number | undefined> {
  return (await readApiWrites(kube))?.requests.get("LIST pods");
}
