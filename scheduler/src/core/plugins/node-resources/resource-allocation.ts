/**
 * Scores by how full a node would be with the pod, over cpu and memory (weight 1 each),
 * with kube-scheduler's integer arithmetic and non-zero request defaults:
 *   MostAllocated  – bin-packing (the default): fuller nodes first, whole nodes stay free for gangs.
 *   LeastAllocated – spreading: emptier nodes first.
 */
import type { ScorePlugin } from "../../framework.js";
import type { NodeInfo, PodInfo } from "../../model.js";

export type ScoringStrategy = "MostAllocated" | "LeastAllocated";
export const scoringStrategies: readonly ScoringStrategy[] = ["MostAllocated", "LeastAllocated"];

const maxNodeScore = 100;

function mostRequested(requested: number, capacity: number): number {
  if (capacity === 0) return 0;
  // Requests may exceed capacity because unset requests count with their defaults.
  return Math.floor((Math.min(requested, capacity) * maxNodeScore) / capacity);
}

function leastRequested(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return Math.floor(((capacity - requested) * maxNodeScore) / capacity);
}

export function resourceAllocationScore(strategy: ScoringStrategy): ScorePlugin {
  const perResource = strategy === "MostAllocated" ? mostRequested : leastRequested;
  return {
    name: strategy,
    score(pod: PodInfo, node: NodeInfo): number {
      const cpu = perResource(
        node.nonZeroRequested.milliCpu + pod.nonZeroRequests.milliCpu,
        node.allocatable.milliCpu,
      );
      const memory = perResource(
        node.nonZeroRequested.memory + pod.nonZeroRequests.memory,
        node.allocatable.memory,
      );
      return Math.floor((cpu + memory) / 2);
    },
  };
}
