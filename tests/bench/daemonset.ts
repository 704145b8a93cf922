/**
 * The "daemonset" scenario: a backlog of pods that each fit few nodes, scheduled by
 * kube-scheduler and by sharded-scheduler with 1 and N shards (and the coordinator) in one run,
 * as the basic scenario measures them: backlog (the default: the pods wait, then the system
 * starts; system start to last bind, so N shards also pay forming their ring) or streaming (the
 * system runs, the pods are created; first create to last bind):
 *   - daemonset pods: per node of the cluster, `--per-node` pods pinned to it as the DaemonSet
 *     controller pins them (required node affinity, matchFields metadata.name In [node]), with
 *     its tolerations;
 *   - extended-resource pods: a third of the rest request 1 `nvidia.com/gpu`, which only the
 *     `--special-nodes` nodes this scenario adds have;
 *   - nodeSelector pods: the others select those nodes by a label only they carry.
 * With N shards each node has one owner, so a hash-chosen owner of such a pod has none of its
 * nodes N−1 times in N: what feasibility-aware routing is for. Goal: N shards ≤ 1.2× 1 shard.
 */

import type { Node } from "../../scheduler/src/core/index.js";
import { createFakeNodes, fakeNodeLabel } from "../cluster/local/fake-nodes.js";
import type { KubeRest } from "../cluster/local/kube-rest.js";
import { adminClient, type ClusterState } from "../cluster/local/local-cluster.js";
import { waitFor } from "../support/wait.js";
import { type BenchMode, type PodShape, runBasic, type SystemName } from "./basic.js";
import type { SystemResult } from "./stats.js";

/** The label only the scenario's special nodes carry, and the extended resource only they have. */
export const specialPoolLabel = { key: "bench.sharded-scheduler.io/pool", value: "special" } as const;
/** fake-nodes.ts gives a node this extended resource (its `gpus`). */
export const accelResource = "nvidia.com/gpu";
const specialNodeName = (i: number) => `special-${String(i).padStart(3, "0")}`;

export interface DaemonsetOptions {
  cluster: ClusterState;
  mode: BenchMode;
  /** Pods pinned to each of the cluster's own nodes. */
  perNode: number;
  /** Pods that need the special nodes (extended resource or nodeSelector). */
  narrowPods: number;
  specialNodes: number;
  shards: readonly number[];
  systems: readonly SystemName[];
  createConcurrency: number;
  /** Runs per system, interleaved; each result the median of its runs (absent: 1). */
  runs?: number;
  log: (line: string) => void;
}

export interface DaemonsetReport {
  scenario: "daemonset";
  mode: BenchMode;
  nodes: number;
  specialNodes: number;
  pods: number;
  workload: { daemonsetPods: number; extendedResourcePods: number; nodeSelectorPods: number };
  results: SystemResult[];
  /** Each sharded run's duration over the 1-shard run's (the goal: ≤ 1.2). */
  vsOneShard?: Record<string, number>;
}

/** Tolerations the DaemonSet controller adds to every daemon pod (those that concern scheduling). */
const daemonTolerations = [
  { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
  { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" },
  { key: "node.kubernetes.io/disk-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/memory-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/pid-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" },
];

/** Pod i of the workload: the daemon pods first (node by node), then the narrow ones. */
export function daemonsetPodShape(nodes: readonly string[], perNode: number): (i: number) => PodShape {
  const daemonPods = nodes.length * perNode;
  return (i) => {
    if (i < daemonPods) {
      const node = nodes[i % nodes.length] as string;
      return {
        spec: {
          tolerations: daemonTolerations,
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchFields: [{ key: "metadata.name", operator: "In", values: [node] }] },
                ],
              },
            },
          },
        },
      };
    }
    if ((i - daemonPods) % 3 === 0) return { requests: { [accelResource]: "1" } };
    return { spec: { nodeSelector: { [specialPoolLabel.key]: specialPoolLabel.value } } };
  };
}

export function workloadCounts(nodes: number, perNode: number, narrowPods: number) {
  const extendedResourcePods = Math.ceil(narrowPods / 3);
  return {
    daemonsetPods: nodes * perNode,
    extendedResourcePods,
    nodeSelectorPods: narrowPods - extendedResourcePods,
  };
}

export async function runDaemonset(options: DaemonsetOptions): Promise<DaemonsetReport> {
  const { cluster, log } = options;
  const kube = adminClient(cluster);
  const special = Array.from({ length: options.specialNodes }, (_, i) => specialNodeName(i));
  try {
    const nodes = (await listFakeNodes(kube))
      .map((node) => node.metadata.name)
      .filter((name) => !special.includes(name))
      .sort();
    // Roomy enough that every narrow pod fits whichever special node it lands on.
    await createFakeNodes(
      kube,
      special.map((name) => ({
        name,
        cpu: "256",
        memory: "1Ti",
        pods: options.narrowPods + 10,
        gpus: options.narrowPods + 10,
        labels: { [specialPoolLabel.key]: specialPoolLabel.value },
      })),
    );
    await waitFor(
      `${special.length} special nodes Ready`,
      async () => {
        const ready = (await listFakeNodes(kube)).filter(
          (node) =>
            special.includes(node.metadata.name) &&
            node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") &&
            (node.spec?.taints ?? []).length === 0,
        );
        return ready.length === special.length ? true : undefined;
      },
      60_000,
    );
    const workload = workloadCounts(nodes.length, options.perNode, options.narrowPods);
    const pods = workload.daemonsetPods + options.narrowPods;
    log(
      `${pods} pods: ${workload.daemonsetPods} daemon pods on ${nodes.length} nodes, ` +
        `${workload.extendedResourcePods} needing ${accelResource} and ${workload.nodeSelectorPods} selecting ` +
        `${specialPoolLabel.key}=${specialPoolLabel.value} (${special.length} special nodes)`,
    );
    const results = await runBasic({
      cluster,
      mode: options.mode,
      pods,
      shards: options.shards,
      systems: options.systems,
      createConcurrency: options.createConcurrency,
      ...(options.runs ? { runs: options.runs } : {}),
      podShape: daemonsetPodShape(nodes, options.perNode),
      // As deployed: what a shard cannot place waits for the coordinator's relief.
      coordinator: true,
      log,
    });
    const one = results.find((r) => r.system === "sharded-scheduler" && r.shards === 1);
    const vsOneShard =
      one && one.scheduled === one.pods
        ? Object.fromEntries(
            results
              .filter((r) => r.system === "sharded-scheduler" && r.shards !== 1)
              .map((r) => [
                `${r.shards} shards`,
                r.scheduled === r.pods
                  ? Math.round((r.durationSeconds / one.durationSeconds) * 100) / 100
                  : Number.POSITIVE_INFINITY,
              ]),
          )
        : undefined;
    return {
      scenario: "daemonset",
      mode: options.mode,
      nodes: nodes.length,
      specialNodes: special.length,
      pods,
      workload,
      results,
      ...(vsOneShard ? { vsOneShard } : {}),
    };
  } finally {
    for (const name of special) await kube.call("DELETE", `/api/v1/nodes/${name}`);
    kube.close();
  }
}

async function listFakeNodes(kube: KubeRest): Promise<Node[]> {
  const selector = encodeURIComponent(`${fakeNodeLabel.key}=${fakeNodeLabel.value}`);
  return (await kube.get<{ items: Node[] }>(`/api/v1/nodes?labelSelector=${selector}`)).items;
}
