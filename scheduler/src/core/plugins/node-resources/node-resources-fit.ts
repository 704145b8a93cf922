/** NodeResourcesFit: the pod's requests fit in what the node has left, leaving room for nominated pods. */
import type { FilterPlugin } from "../../framework.js";
import type { NodeInfo, PodInfo } from "../../model.js";
import { insufficientResources, type Resources } from "../../resources/resources.js";
import type { ClusterSnapshot } from "../../snapshot.js";

export function nodeResourcesFit(snapshot: ClusterSnapshot): FilterPlugin {
  return {
    name: "NodeResourcesFit",
    static: false,
    filter(pod: PodInfo, node: NodeInfo) {
      let requested: Resources = node.requested;
      if (snapshot.hasNominations(node.name)) {
        // Pods that won this node by preemption keep it from pods of lower or equal priority.
        const nominated = snapshot.nominatedFor(node.name, pod);
        if (nominated.length > 0) {
          requested = requested.clone();
          for (const other of nominated) {
            requested.add(other.requests);
            requested.pods += 1;
          }
        }
      }
      const reasons = insufficientResources(node.allocatable, requested, pod.requests);
      return reasons.length > 0 ? reasons : undefined;
    },
  };
}
