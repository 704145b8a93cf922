/**
 * The PodGroup CRDs as a group source, in front of podGroupSource (native PodGroups, then
 * annotations). A pod joins a CRD PodGroup by the key each project defines, which the annotation
 * source already read as a plain group name:
 *   label scheduling.x-k8s.io/pod-group    → scheduling.x-k8s.io/v1alpha1 PodGroup (coscheduling)
 *   annotation scheduling.k8s.io/group-name → scheduling.volcano.sh/v1beta1 PodGroup (Volcano)
 * Only where the shard watches that CRD (discovery serves it; GroupObjects then has its lookup).
 * Elsewhere the key stays an annotation-style group name, exactly as before.
 *
 * Where the CRD is served:
 * - the PodGroup's spec governs (crd-pod-group.ts): its own group (crdPodGroupKey), min-member =
 *   spec.minMember, min resources, schedule timeout, and for Volcano the PriorityClass's priority;
 * - a PodGroup that does not exist (yet) holds its pods: they wait, told "PodGroup not found"
 *   (coscheduling's Permit refuses such a pod with that text; Volcano schedules no job without
 *   its PodGroup), and are read again when it appears;
 * - a pod naming both CRDs' PodGroups is refused (a pod is in one group); so is one whose
 *   sharded-scheduler.io/min-member disagrees with spec.minMember. Our own group annotations
 *   naming the same group are accepted (they agree, as today); differing names already are not.
 * A pod with spec.schedulingGroup is podGroupSource's alone (which refuses any group key beside it).
 */
import { minMemberAnnotation } from "../../contracts/keys.js";
import type { Pod } from "../api-types.js";
import {
  type CrdApi,
  coschedulingApi,
  coschedulingPodGroupLabel,
  parseCrdPodGroup,
  volcanoApi,
  volcanoGroupNameAnnotation,
  volcanoGroupPriority,
} from "./crd-pod-group.js";
import { crdPodGroupKey } from "./group-key.js";
import { type GroupMembership, type GroupObjects, type GroupSource, podGroupSource } from "./group-source.js";

/** coscheduling's Permit text for a pod whose PodGroup does not exist, with what it waits for. */
export function crdPodGroupNotFoundMessage(api: CrdApi, namespace: string, name: string): string {
  return `PodGroup not found: waiting for ${api} PodGroup ${namespace}/${name} to exist`;
}

export const crdGroupSource: GroupSource = {
  name: "PodGroup CRDs",
  membership(pod, objects) {
    const base = podGroupSource.membership(pod, objects);
    if (base.error !== undefined || (pod.spec.schedulingGroup ?? undefined) !== undefined) return base;
    const named = crdNamesOf(pod, objects);
    if (named.length === 0) return base;
    const { namespace } = pod.metadata;
    if (named.length > 1) {
      const listed = named.map((n) => `${n.api} PodGroup ${n.name} (${n.via})`).join(" and ");
      return { ...base, error: `pod names ${listed}; a pod is in one group` };
    }
    const { api, name, lookup } = named[0] as CrdName;
    const group = crdPodGroupKey(api, namespace, name);
    const object = lookup(namespace, name);
    if (object === undefined)
      return {
        ...base,
        group,
        minMember: undefined,
        waitingFor: crdPodGroupNotFoundMessage(api, namespace, name),
      };
    const label = `${api} PodGroup ${namespace}/${name}`;
    const parsed = parseCrdPodGroup(api, object);
    if (parsed.error !== undefined)
      return { ...base, group, minMember: undefined, error: `${label} ${parsed.error}` };
    const terms = parsed.terms;
    if (base.minMember !== undefined && base.minMember !== terms.minMember)
      return {
        ...base,
        group,
        minMember: undefined,
        error: `annotation ${minMemberAnnotation}="${base.minMember}" disagrees with ${label} spec.minMember=${terms.minMember}`,
      };
    const priority =
      api === volcanoApi && objects.priorityClasses
        ? volcanoGroupPriority(terms.priorityClassName, objects.priorityClasses)
        : api === volcanoApi
          ? 0
          : base.priority;
    const membership: GroupMembership = {
      ...base,
      group,
      minMember: terms.minMember,
      priority,
      crdTerms: terms,
    };
    return membership;
  },
};

interface CrdName {
  api: CrdApi;
  name: string;
  via: string;
  lookup: (namespace: string, name: string) => unknown;
}

/** The CRD PodGroups a pod names, among the CRDs the shard watches. */
function crdNamesOf(pod: Pod, objects: GroupObjects): CrdName[] {
  const { annotations = {}, labels = {} } = pod.metadata;
  const named: CrdName[] = [];
  const label = labels[coschedulingPodGroupLabel];
  if (label !== undefined && objects.coschedulingPodGroup)
    named.push({
      api: coschedulingApi,
      name: label,
      via: `label ${coschedulingPodGroupLabel}`,
      lookup: objects.coschedulingPodGroup,
    });
  const annotation = annotations[volcanoGroupNameAnnotation];
  if (annotation !== undefined && objects.volcanoPodGroup)
    named.push({
      api: volcanoApi,
      name: annotation,
      via: `annotation ${volcanoGroupNameAnnotation}`,
      lookup: objects.volcanoPodGroup,
    });
  return named;
}
