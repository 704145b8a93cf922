/**
 * TaintToleration: a node's NoSchedule and NoExecute taints keep off every pod that does not
 * tolerate them; PreferNoSchedule only ever affects scoring. Also the project's one
 * implementation of toleration matching, used by every plugin that reasons about taints.
 */
import type { Taint, Toleration } from "../../api-types.js";
import { type FilterPlugin, unresolvable } from "../../framework.js";

/**
 * kube-scheduler's reason since v1.35 (backported to v1.34): the taint's key and value are left
 * out on purpose, as they may be sensitive, so nodes with different taints also count as one reason.
 */
export const untoleratedTaintReason = "node(s) had untolerated taint(s)";

const rejected = unresolvable(untoleratedTaintReason);

/**
 * Whether one toleration tolerates one taint, as Kubernetes decides it: an empty effect matches
 * every effect, an empty key every key, a missing operator means Equal (values compared) and
 * Exists matches any value. Operators Kubernetes does not enable by default (the alpha Gt/Lt)
 * match nothing, as they do in kube-scheduler with the feature gate off.
 */
export function toleratesTaint(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  // Wire data may carry operators outside the typed union; those match nothing.
  switch (toleration.operator as string | undefined) {
    case undefined:
    case "":
    case "Equal":
      return (toleration.value ?? "") === (taint.value ?? "");
    case "Exists":
      return true;
    default:
      return false;
  }
}

/** Whether any of the tolerations tolerates the taint. */
export function tolerates(tolerations: readonly Toleration[], taint: Taint): boolean {
  for (let i = 0; i < tolerations.length; i++) {
    if (toleratesTaint(tolerations[i] as Toleration, taint)) return true;
  }
  return false;
}

/** Whether a taint keeps pods that do not tolerate it off the node (rather than just scoring it down). */
export function repelsPods(taint: Taint): boolean {
  return taint.effect === "NoSchedule" || taint.effect === "NoExecute";
}

/** The first NoSchedule or NoExecute taint none of the tolerations tolerates; for logs and tests. */
export function firstUntoleratedTaint(
  tolerations: readonly Toleration[],
  taints: readonly Taint[],
): Taint | undefined {
  for (let i = 0; i < taints.length; i++) {
    const taint = taints[i] as Taint;
    if (repelsPods(taint) && !tolerates(tolerations, taint)) return taint;
  }
  return undefined;
}

export const taintToleration: FilterPlugin = {
  name: "TaintToleration",
  // As kube-scheduler's Node/Add|UpdateNodeTaint; its Pod/UpdatePodToleration is a member change here.
  events: ["NodeAdd", "NodeUpdateTaint"],
  filter(pod, node) {
    return firstUntoleratedTaint(pod.tolerations, node.taints) === undefined ? undefined : rejected;
  },
};
