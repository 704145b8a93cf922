/**
 * The node-local Filter plugins of the scheduling core, one folder each, and the order they run
 * in. The profile (../profile.ts) runs them first, then the optional ones config turns on, then
 * NodeResourcesFit and the score.
 */
import type { FilterPlugin } from "../framework.js";
import { nodeAffinity } from "./node-affinity/node-affinity.js";
import { nodeReady } from "./node-ready/node-ready.js";
import { nodeUnschedulable } from "./node-unschedulable/node-unschedulable.js";
import { taintToleration } from "./taint-toleration/taint-toleration.js";

export { heldFor, lentNode, lentNodeReason } from "./lent-node/lent-node.js";
export {
  matchesNodeSelector,
  matchesRequiredNodeAffinity,
  nodeAffinity,
  nodeAffinityError,
  nodeAffinityReason,
} from "./node-affinity/node-affinity.js";
export { nodeReady, notReadyReason, notReadyTaintKey, unreachableTaintKey } from "./node-ready/node-ready.js";
export {
  nodeUnschedulable,
  unschedulableReason,
  unschedulableTaint,
} from "./node-unschedulable/node-unschedulable.js";
export {
  firstUntoleratedTaint,
  repelsPods,
  taintToleration,
  tolerates,
  toleratesTaint,
  untoleratedTaintReason,
} from "./taint-toleration/taint-toleration.js";

/**
 * kube-scheduler's filter order, cheapest and most decisive first. A node is rejected by the
 * first plugin that fails, so this order also decides which reason a user is shown.
 */
export const defaultFilterPlugins: readonly FilterPlugin[] = [
  nodeUnschedulable,
  nodeReady,
  taintToleration,
  nodeAffinity,
  // LentNode (lent-node/) comes next, then NodePorts, the volume plugins, the inter-pod ones and
  // NodeResourcesFit last: they read the cluster, so buildProfile adds them per cluster.
];
