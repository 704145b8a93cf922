/** NodeResourcesFit: the pod's requests fit in what the node has left, leaving room for nominated pods. */

import type { ClusterState } from "../../cluster-state.js";
import type { FilterPlugin, Status } from "../../framework.js";
import type { NodeInfo, PodInfo } from "../../model.js";
import { insufficientResources, type Resources } from "../../resources/resources.js";

export function nodeResourcesFit(cluster: ClusterState): FilterPlugin {
  return {
    name: "NodeResourcesFit",
    // Room appears when pods leave or shrink, or nodes grow or come: kube-scheduler's
    // Node/Add|UpdateNodeAllocatable and Pod/Delete|UpdatePodScaleDown (with queueing hints on).
    events: ["NodeAdd", "NodeUpdateAllocatable", "AssignedPodDelete", "AssignedPodUpdateScaleDown"],
    filter(pod: PodInfo, node: NodeInfo): Status | undefined {
      let requested: Resources = node.requested;
      if (cluster.hasNominations(node.name)) {
        // Pods that won this node by preemption keep it from pods of lower or equal priority.
        const nominated = cluster.nominatedFor(node.name, pod);
        if (nominated.length > 0) {
          requested = requested.clone();
          for (const other of nominated) {
            requested.add(other.requests);
            requested.pods += 1;
          }
        }
      }
      const reasons = insufficientResources(node.allocatable, requested, pod.requests);
      if (reasons.length === 0) return undefined;
      // As kube-scheduler: a request larger than the whole node is not cured by any eviction.
      const code = exceedsAllocatable(node.allocatable, pod.requests)
        ? "UnschedulableAndUnresolvable"
        : "Unschedulable";
      return { code, reasons };
    },
  };
}

function exceedsAllocatable(allocatable: Resources, request: Resources): boolean {
  if (request.milliCpu > allocatable.milliCpu || request.memory > allocatable.memory) return true;
  if (request.ephemeralStorage > allocatable.ephemeralStorage) return true;
  for (const [name, amount] of request.scalar) if (amount > (allocatable.scalar.get(name) ?? 0)) return true;
  return false;
}
