/**
 * The selector cluster-default spread constraints count with (kube-scheduler's
 * helper.DefaultSelector): the labels of every Service in the pod's namespace whose selector
 * selects the pod, ANDed with the selector of the pod's controller when that is a
 * ReplicationController, ReplicaSet or StatefulSet. A pod selected by none gets no default
 * constraints. ClusterState keeps one of these (spreadSelectors), fed by the shard's informers.
 */

import type { LabelSelector } from "../../api-types.js";
import { labelSelectorMatcher } from "../../label-selector.js";
import type { PodInfo } from "../../model.js";

/** The controller kinds whose selector counts, by ownerReference apiVersion/kind. */
const controllerKinds: Readonly<Record<string, string>> = {
  "v1/ReplicationController": "ReplicationController",
  "apps/v1/ReplicaSet": "ReplicaSet",
  "apps/v1/StatefulSet": "StatefulSet",
};

export type SelectorOwnerKind = "Service" | "ReplicationController" | "ReplicaSet" | "StatefulSet";

type Matcher = (labels: Readonly<Record<string, string>>) => boolean;

export class SpreadSelectors {
  /** Services' spec.selector (a map; a Service without one selects nothing), by namespace then name. */
  private readonly services = new Map<string, Map<string, Readonly<Record<string, string>>>>();
  /** Controllers' selectors, by "<namespace>/<kind>/<name>". */
  private readonly controllers = new Map<string, LabelSelector>();

  get size(): number {
    let count = this.controllers.size;
    for (const byName of this.services.values()) count += byName.size;
    return count;
  }

  /**
   * Records an object's selector (a ReplicationController's and a Service's are maps, given as
   * matchLabels); undefined forgets it.
   */
  set(kind: SelectorOwnerKind, namespace: string, name: string, selector: LabelSelector | undefined): void {
    if (kind === "Service") {
      const byName = this.services.get(namespace) ?? new Map<string, Readonly<Record<string, string>>>();
      if (selector?.matchLabels === undefined) byName.delete(name);
      else byName.set(name, selector.matchLabels);
      if (byName.size === 0) this.services.delete(namespace);
      else this.services.set(namespace, byName);
      return;
    }
    const key = `${namespace}/${kind}/${name}`;
    if (selector === undefined) this.controllers.delete(key);
    else this.controllers.set(key, selector);
  }

  /** The default selector of the pod, or undefined when nothing selects it (no default constraints). */
  selectorFor(pod: PodInfo): Matcher | undefined {
    if (this.services.size === 0 && this.controllers.size === 0) return undefined;
    let matchLabels: Record<string, string> | undefined;
    const services = this.services.get(pod.namespace);
    if (services !== undefined) {
      for (const selector of services.values()) {
        if (!matchesMap(selector, pod.labels)) continue;
        matchLabels ??= {};
        Object.assign(matchLabels, selector);
      }
    }
    let matchExpressions: LabelSelector["matchExpressions"];
    const owner = pod.pod.metadata.ownerReferences?.find((ref) => ref.controller === true);
    const kind = owner === undefined ? undefined : controllerKinds[`${owner.apiVersion}/${owner.kind}`];
    const controller =
      owner === undefined || kind === undefined
        ? undefined
        : this.controllers.get(`${pod.namespace}/${kind}/${owner.name}`);
    if (controller !== undefined) {
      if (controller.matchLabels !== undefined) matchLabels = { ...matchLabels, ...controller.matchLabels };
      if ((controller.matchExpressions?.length ?? 0) > 0) matchExpressions = controller.matchExpressions;
    }
    if (
      (matchLabels === undefined || Object.keys(matchLabels).length === 0) &&
      matchExpressions === undefined
    )
      return undefined;
    return labelSelectorMatcher({
      ...(matchLabels ? { matchLabels } : {}),
      ...(matchExpressions ? { matchExpressions } : {}),
    });
  }
}

function matchesMap(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const key in selector) if (!Object.hasOwn(labels, key) || labels[key] !== selector[key]) return false;
  return true;
}
