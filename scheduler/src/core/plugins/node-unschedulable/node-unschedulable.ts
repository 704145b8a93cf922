/**
 * NodeUnschedulable: a cordoned node (spec.unschedulable) takes only pods that tolerate the
 * taint Kubernetes puts on cordoned nodes, so the field and the taint always agree.
 */
import type { Taint } from "../../api-types.js";
import { type FilterPlugin, unresolvable } from "../../framework.js";
import { tolerates } from "../taint-toleration/taint-toleration.js";

export const unschedulableReason = "node(s) were unschedulable";

export const unschedulableTaint: Taint = Object.freeze({
  key: "node.kubernetes.io/unschedulable",
  effect: "NoSchedule",
});

const rejected = unresolvable(unschedulableReason);

export const nodeUnschedulable: FilterPlugin = {
  name: "NodeUnschedulable",
  // kube-scheduler registers Node/Add|UpdateNodeTaint, as it reports an uncordon as a taint
  // change; ours has its own event for it, and the filter reads no taint. A pod's new
  // toleration (kube's UpdatePodToleration) wakes its group as a member change.
  events: ["NodeAdd", "NodeUpdateUnschedulable"],
  filter(pod, node) {
    if (!node.unschedulable || tolerates(pod.tolerations, unschedulableTaint)) return undefined;
    return rejected;
  },
};
