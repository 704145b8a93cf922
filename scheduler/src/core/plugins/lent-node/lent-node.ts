/**
 * LentNode: a node the coordinator lent to a shard for one pod group takes only that group's
 * pods (and pods nominated to it) until the group runs on it. Otherwise the borrower's other
 * groups could fill the room the lend was made for, and the group would stay stuck with its
 * nodes taken. Once the group is there, the rest of the node is anyone's again.
 *
 * Preemption may take the node from the group itself (a higher-priority group, the group's pods
 * its victims): its simulated evictions do not bring the hold back, as the real ones do not
 * while the victims terminate (they still occupy the node); once they are gone the hold is back,
 * and the preemptor, nominated to the node, passes it.
 */
import { lentForAnnotation } from "../../../contracts/keys.js";
import type { ClusterState } from "../../cluster-state.js";
import { type FilterPlugin, unresolvable } from "../../framework.js";
import type { NodeInfo } from "../../model.js";

export const lentNodeReason = "node(s) were lent for another pod group";

/** No eviction ends the hold: only the group it is lent for arriving does. */
const rejected = unresolvable(lentNodeReason);

/**
 * The group a node is held for: lent for it, and none of its pods there yet (nor taken off it by
 * a simulated eviction in the cluster's current trial).
 */
export function heldFor(node: NodeInfo, cluster: ClusterState): string | undefined {
  const lentFor = node.node.metadata.annotations?.[lentForAnnotation];
  if (!lentFor) return undefined;
  for (const pod of node.pods.values()) if (pod.group.id === lentFor) return undefined;
  if (cluster.evictedFrom(node.name, lentFor)) return undefined;
  return lentFor;
}

export const lentNode = (cluster: ClusterState): FilterPlugin => ({
  name: "LentNode",
  // The hold ends when the group arrives, or when the lend is given back (the annotation goes).
  // No kube-scheduler counterpart: lends are the coordinator's.
  events: ["NodeAdd", "NodeUpdateAnnotation", "AssignedPodAdd"],
  filter(pod, node) {
    const group = heldFor(node, cluster);
    if (group === undefined || group === pod.group.id) return undefined;
    // A preemptor nominated here won room on the node while the group ran on it; if the group
    // leaves before the preemptor is bound, the hold comes back, but must not shut the preemptor
    // out of the room its evictions freed (its nomination keeps the group's pods off it).
    if (pod.nominatedNodeName === node.name) return undefined;
    return rejected;
  },
});
