/**
 * LentNode: a node the coordinator lent to a shard for one pod group takes only that group's
 * pods until the group runs on it. Otherwise the borrower's other groups could fill the room the
 * lend was made for, and the group would stay stuck with its nodes taken. Once the group is
 * there, the rest of the node is anyone's again.
 */
import type { FilterPlugin, FilterReasons } from "../../framework.js";
import type { NodeInfo } from "../../model.js";

/** On a lent node: the pod group (GroupKey.id) it was lent for. */
export const lentForAnnotation = "sharded-scheduler.io/lent-for";

export const lentNodeReason = "node(s) were lent for another pod group";

const lentNodeReasons: FilterReasons = Object.freeze([lentNodeReason]);

/** The group a node is held for: lent for it, and none of its pods there yet. */
export function heldFor(node: NodeInfo): string | undefined {
  const lentFor = node.node.metadata.annotations?.[lentForAnnotation];
  if (!lentFor) return undefined;
  for (const pod of node.pods.values()) if (pod.group.id === lentFor) return undefined;
  return lentFor;
}

export const lentNode: FilterPlugin = {
  name: "LentNode",
  // Reads the pods on the node: the hold ends when the group arrives.
  static: false,
  filter(pod, node) {
    const group = heldFor(node);
    if (group === undefined || group === pod.group.id) return undefined;
    return lentNodeReasons;
  },
};
