/**
 * NodeReady: a node whose Ready condition is not True takes only pods that tolerate the taints
 * the node lifecycle controller puts on such a node. kube-scheduler relies on those taints alone;
 * a shard may see the condition before the taints land, so the condition is checked directly.
 */
import type { Taint, Toleration } from "../../api-types.js";
import { type FilterPlugin, unresolvable } from "../../framework.js";
import type { NodeInfo } from "../../model.js";
import { tolerates } from "../taint-toleration/taint-toleration.js";

export const notReadyReason = "node(s) were not ready";

/** Put on a node whose Ready condition is False (or not yet reported). */
export const notReadyTaintKey = "node.kubernetes.io/not-ready";
/** Put instead on a node whose Ready condition is Unknown: the node stopped reporting. */
export const unreachableTaintKey = "node.kubernetes.io/unreachable";

const notReadyNoSchedule: Taint = Object.freeze({ key: notReadyTaintKey, effect: "NoSchedule" });
const notReadyNoExecute: Taint = Object.freeze({ key: notReadyTaintKey, effect: "NoExecute" });
const unreachableNoSchedule: Taint = Object.freeze({ key: unreachableTaintKey, effect: "NoSchedule" });
const unreachableNoExecute: Taint = Object.freeze({ key: unreachableTaintKey, effect: "NoExecute" });

const rejected = unresolvable(notReadyReason);

/**
 * The controller puts both a NoSchedule and a NoExecute taint; a pod must tolerate both, as
 * TaintToleration would demand. Tolerating only NoExecute is not enough: admission gives every
 * pod that toleration (for 300s), and such pods are kept off not-ready nodes.
 */
function toleratesBoth(tolerations: readonly Toleration[], noSchedule: Taint, noExecute: Taint): boolean {
  return tolerates(tolerations, noSchedule) && tolerates(tolerations, noExecute);
}

function readyConditionUnknown(node: NodeInfo): boolean {
  const conditions = node.node.status?.conditions;
  if (conditions === undefined) return false;
  for (let i = 0; i < conditions.length; i++) {
    const condition = conditions[i];
    if (condition?.type === "Ready") return condition.status === "Unknown";
  }
  return false;
}

export const nodeReady: FilterPlugin = {
  name: "NodeReady",
  // No kube-scheduler counterpart (it waits for the taints: TaintToleration's NodeUpdateTaint).
  // The filter reads the Ready condition and no taint.
  events: ["NodeAdd", "NodeUpdateCondition"],
  filter(pod, node) {
    if (node.ready) return undefined;
    const tolerations = pod.tolerations;
    if (toleratesBoth(tolerations, notReadyNoSchedule, notReadyNoExecute)) return undefined;
    if (
      readyConditionUnknown(node) &&
      toleratesBoth(tolerations, unreachableNoSchedule, unreachableNoExecute)
    ) {
      return undefined;
    }
    return rejected;
  },
};
