/**
 * NodeResourcesBalancedAllocation (always on, weight 1): kube-scheduler's score of how evenly a
 * node's cpu and memory would be used with the pod: (1 - the standard deviation of the
 * requested/allocatable fractions) × 100, fractions capped at 1. Two resources make the standard
 * deviation |f1 - f2| / 2. Requests are the pods' real ones (not the scoring defaults of unset
 * requests), as kube-scheduler's useRequested. A best-effort pod (no cpu or memory request) is
 * not scored (kube-scheduler's PreScore Skip, kubernetes#129138): otherwise they would all
 * crowd onto the same node.
 *
 * Differs from kube-scheduler: no PreScore state (the pod's requests are parsed once into
 * PodInfo), so the cycle scores it as it scans the nodes; its resources are cpu and memory, not
 * configurable (NodeResourcesBalancedAllocationArgs.resources).
 */
import { maxNodeScore, type ScorePlugin } from "../../framework.js";
import type { NodeInfo, PodInfo } from "../../model.js";

export const balancedAllocationName = "NodeResourcesBalancedAllocation";

/** The fraction of the resource in use with the pod, capped at 1; undefined when the node has none. */
function fraction(requested: number, allocatable: number): number | undefined {
  if (allocatable === 0) return undefined;
  return Math.min(1, requested / allocatable);
}

/** 0-100: 100 when cpu and memory would be used in the same proportion. */
export function balancedScore(cpu: number | undefined, memory: number | undefined): number {
  const deviation = cpu === undefined || memory === undefined ? 0 : Math.abs(cpu - memory) / 2;
  return Math.trunc((1 - deviation) * maxNodeScore);
}

export const balancedAllocation: ScorePlugin = {
  name: balancedAllocationName,
  scoresPod(pod: PodInfo): boolean {
    return pod.requests.milliCpu > 0 || pod.requests.memory > 0;
  },
  score(pod: PodInfo, node: NodeInfo): number {
    return balancedScore(
      fraction(node.requested.milliCpu + pod.requests.milliCpu, node.allocatable.milliCpu),
      fraction(node.requested.memory + pod.requests.memory, node.allocatable.memory),
    );
  },
};
