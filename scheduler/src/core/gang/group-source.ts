/**
 * Where a pod's gang comes from. A GroupSource answers, for one pod: which group it is in, how
 * many members must start together, what priority it has and how its group is disrupted. Today
 * two sources exist: the annotations and labels users already put on pods
 * (annotationGroupSource, the one parser of them in the project) and the native PodGroup API
 * (podGroupSource: pod.spec.schedulingGroup names a scheduling.k8s.io/v1beta1 PodGroup object);
 * crd-group-source.ts adds the PodGroup CRDs (scheduler-plugins, Volcano) in front of both. A source is asked when a pod joins its group (toPodInfo),
 * and again for its members when their PodGroup changes; what it says travels on PodInfo.
 */
import {
  minMemberAnnotation,
  podGroupAnnotation,
  topologyPreferredAnnotation,
  topologyRequiredAnnotation,
} from "../../contracts/keys.js";
import type { Pod } from "../api-types.js";
import type { CrdGroupTerms } from "./crd-pod-group.js";
import { type GroupKey, groupKey, maxGroupNameLength, podGroupKey } from "./group-key.js";
import { type DisruptionMode, parsePodGroup, podGroupNameOf } from "./pod-group.js";
import { type TopologyConstraint, topologyOfAnnotations } from "./topology.js";

export { type DisruptionMode, maxGroupNameLength };

/** Every place a group name may come from, in the order they are reported. */
const groupNameSources: readonly { kind: "annotation" | "label"; key: string }[] = [
  { kind: "annotation", key: podGroupAnnotation },
  { kind: "annotation", key: "pod-group" },
  { kind: "annotation", key: "pod_group" },
  { kind: "label", key: "scheduling.x-k8s.io/pod-group" },
  { kind: "annotation", key: "scheduling.k8s.io/group-name" },
];

export interface PodGroupMembership {
  group: GroupKey;
  /** How many members must start together; undefined means "the members present after the settle window". */
  minMember: number | undefined;
  /** Set when the pod's group keys are malformed: the pod is not scheduled and is told why. */
  error: string | undefined;
}

/** What a source says about one pod: its membership, and the group's scheduling terms. */
export interface GroupMembership extends PodGroupMembership {
  /** The pod's priority as its group sees it. */
  priority: number;
  /**
   * How the group's members may be disrupted. "all": a victim group is evicted whole (an
   * annotation gang may still lose members above its min-member first; see core/preemption.ts);
   * "single": one by one (a PodGroup that says so).
   */
  disruption: DisruptionMode;
  /** The group's preemption policy, which overrides the pod's own; undefined: the pod's own. */
  preemptionPolicy: "PreemptLowerPriority" | "Never" | undefined;
  /**
   * Why the pod's group cannot be placed yet though nothing is malformed (its PodGroup does not
   * exist yet): the group waits, its pending pods are told, and it is looked at again when the
   * PodGroup appears. Undefined: nothing to wait for.
   */
  waitingFor: string | undefined;
  /** A PodGroup CRD's terms (crdGroupSource): min resources, schedule timeout; undefined otherwise. */
  crdTerms?: CrdGroupTerms | undefined;
  /** Where the group's members must and should land together; undefined: anywhere. */
  topology?: TopologyConstraint | undefined;
}

/**
 * Objects other than the pod a source may read to answer (a native source looks up the PodGroup
 * the pod names). The shell fills it from its informers; the annotation source reads nothing.
 */
export interface GroupObjects {
  /** The PodGroup object of that name, or undefined when none is known (yet). */
  podGroup?(namespace: string, name: string): unknown;
  /**
   * The scheduler-plugins (scheduling.x-k8s.io/v1alpha1) PodGroup of that name, or undefined.
   * The function itself is absent when the CRD is not served: then the pod label is an
   * annotation-style group name, as before.
   */
  coschedulingPodGroup?(namespace: string, name: string): unknown;
  /** The Volcano (scheduling.volcano.sh/v1beta1) PodGroup of that name; absent as above. */
  volcanoPodGroup?(namespace: string, name: string): unknown;
  /** PriorityClasses by name and the globalDefault one (a Volcano group's priority). */
  priorityClasses?: { byName(name: string): unknown; globalDefault(): unknown };
}

/** No objects: what a source sees when the shell watches none. */
export const noGroupObjects: GroupObjects = {};

/**
 * Where a pod's gang comes from. Pure: the same pod and objects give the same answer, and it
 * never throws (malformed input is an `error` the pod is told).
 */
export interface GroupSource {
  /** Names the source in logs and messages ("annotations", "PodGroup"). */
  readonly name: string;
  membership(pod: Pod, objects: GroupObjects): GroupMembership;
}

/** Today's gangs: the annotations and labels above; priority from the pod; evicted whole. */
export const annotationGroupSource: GroupSource = {
  name: "annotations",
  membership: (pod) => podGroupMembership(pod),
};

function answer(
  priority: number,
  group: GroupKey,
  minMember: number | undefined,
  error: string | undefined,
): GroupMembership {
  return {
    group,
    minMember,
    error,
    priority,
    disruption: "all",
    preemptionPolicy: undefined,
    waitingFor: undefined,
  };
}

/**
 * kube-scheduler 1.37's message for a pod whose PodGroup does not exist (GangScheduling's
 * PreEnqueue, UnschedulableAndUnresolvable until the PodGroup is added).
 */
export function missingPodGroupMessage(name: string): string {
  return `waiting for pod's pod group ${JSON.stringify(name)} to appear in scheduling queue`;
}

/**
 * Why a basic PodGroup's topology is refused: its pods are placed one by one here, so nothing
 * would keep them in one domain (kube-scheduler 1.37 places the pods one cycle sees together and
 * calls later ones inconsistent, KEP-5732); never placed as if the constraint were absent.
 */
export const basicTopologyMessage =
  "topology constraints of a basic PodGroup not supported yet (use the gang policy)";

/**
 * The native gangs, and every other pod's annotations: a pod with spec.schedulingGroup belongs
 * to the PodGroup it names (namespace-local), read from `objects`; a pod without one is answered
 * by annotationGroupSource. As kube-scheduler 1.37 (GangScheduling):
 * - a gang PodGroup is one group (podGroupKey) with min-member = minCount; a basic one leaves
 *   each pod a group of its own, scheduled as any pod at its own priority (the Job controller
 *   gives every Job a basic PodGroup, priority 0, which must not demote it), the PodGroup's
 *   preemptionPolicy Never still honoured;
 * - a gang's priority and preemption policy are the PodGroup's for every member, never a
 *   member's own (no member lends its priority to the rest, whatever its spec says);
 * - a PodGroup that does not exist (yet, or deleted) holds its pods: they wait, told
 *   missingPodGroupMessage, and the group is tried again when it appears. Their priority meanwhile
 *   is their own (a member still running keeps the priority it was admitted with);
 * - spec.schedulingConstraints.topology[0].key is the group's required topology (all members on
 *   nodes sharing one value of that label). The API allows one entry (maxItems 1); were there
 *   several, the first governs and the rest are ignored, as kube-scheduler's TopologyPlacement;
 * - what is not supported yet is refused by name, never placed as if absent: a parent
 *   CompositePodGroup, shared resource claims, a topology on a basic PodGroup.
 * A pod that also carries annotation or label group keys is refused: it would be in two groups;
 * so is one with topology annotations (the PodGroup's constraint governs its members).
 */
export const podGroupSource: GroupSource = {
  name: "PodGroup",
  membership(pod, objects) {
    const { namespace, name } = pod.metadata;
    const named = podGroupNameOf(pod.spec.schedulingGroup);
    if (named.error === undefined && named.name === undefined) return podGroupMembership(pod);
    const ownPriority = pod.spec.priority ?? 0;
    const solo = groupKey(namespace, name, true);
    if (named.error !== undefined) return answer(ownPriority, solo, undefined, named.error);
    const pgName = named.name as string;
    const key = podGroupKey(namespace, pgName);
    const annotated = podGroupMembership(pod);
    if (!annotated.group.solo || annotated.minMember !== undefined) {
      const error = `pod names PodGroup ${pgName} in spec.schedulingGroup and also carries annotation group keys; a pod is in one group`;
      return answer(ownPriority, key, undefined, error);
    }
    const annotations = pod.metadata.annotations ?? {};
    for (const annotation of [topologyRequiredAnnotation, topologyPreferredAnnotation])
      if (annotations[annotation] !== undefined) {
        const error = `pod names PodGroup ${pgName} in spec.schedulingGroup and carries annotation ${annotation}; the PodGroup's spec.schedulingConstraints.topology governs its members`;
        return answer(ownPriority, key, undefined, error);
      }
    const object = objects.podGroup?.(namespace, pgName);
    if (object === undefined)
      return {
        ...answer(ownPriority, key, undefined, undefined),
        waitingFor: missingPodGroupMessage(pgName),
      };
    const parsed = parsePodGroup(object);
    const label = `PodGroup ${namespace}/${pgName}`;
    if (parsed.error !== undefined) return answer(ownPriority, key, undefined, `${label}: ${parsed.error}`);
    const terms = parsed.terms;
    const refused =
      terms.parent !== undefined
        ? `has a parent CompositePodGroup (${terms.parent}): CompositePodGroup not supported yet`
        : terms.resourceClaims > 0
          ? "has spec.resourceClaims: resource claims shared by a PodGroup not supported yet"
          : terms.policy === "basic" && terms.topologyKeys.length > 0
            ? `has spec.schedulingConstraints.topology (${terms.topologyKeys[0]}) with the basic policy: ${basicTopologyMessage}`
            : undefined;
    if (refused !== undefined) return answer(terms.priority, key, undefined, `${label} ${refused}`);
    // Basic: standard scheduling, pod by pod, where kube-scheduler's DefaultPreemption reads the
    // pod's own priority; a pod on its own lends its priority to no one. The PodGroup's Never
    // still holds (it can only take preemption away).
    if (terms.policy === "basic") {
      const preemptionPolicy = terms.preemptionPolicy === "Never" ? "Never" : undefined;
      return { ...answer(ownPriority, solo, undefined, undefined), preemptionPolicy };
    }
    const required = terms.topologyKeys[0];
    return {
      group: key,
      minMember: terms.minCount,
      error: undefined,
      priority: terms.priority,
      disruption: terms.disruption,
      preemptionPolicy: terms.preemptionPolicy,
      waitingFor: undefined,
      topology: required === undefined ? undefined : { required, preferred: [] },
    };
  },
};

/** Reads a pod's group name and min-member from its annotations and labels; never throws. */
export function podGroupMembership(pod: Pod): GroupMembership {
  const { namespace, name, annotations = {}, labels = {} } = pod.metadata;
  const priority = pod.spec.priority ?? 0;
  const found: { source: string; value: string }[] = [];
  for (const source of groupNameSources) {
    const value = (source.kind === "annotation" ? annotations : labels)[source.key];
    if (value !== undefined) found.push({ source: `${source.kind} ${source.key}`, value });
  }
  const solo = groupKey(namespace, name, true);
  const distinct = new Set(found.map((f) => f.value));
  if (distinct.size > 1) {
    const listed = found.map((f) => `${f.source}="${f.value}"`).join(", ");
    return answer(priority, solo, undefined, `pod carries group keys that disagree: ${listed}`);
  }
  const first = found[0];
  if (first && first.value.length > maxGroupNameLength) {
    // Names travel into keys, logs, summaries and messages: as long as an object name, no longer.
    const error = `${first.source} is ${first.value.length} characters long; a pod group name has at most ${maxGroupNameLength}`;
    return answer(priority, solo, undefined, error);
  }
  if (first && first.value.trim() === "") {
    return answer(priority, solo, undefined, `${first.source} is empty`);
  }
  if (first && first.value !== first.value.trim()) {
    // " web" would silently form a second group next to "web".
    const error = `${first.source}=${JSON.stringify(first.value)} has surrounding whitespace`;
    return answer(priority, solo, undefined, error);
  }
  const rawMin = annotations[minMemberAnnotation];
  let minMember: number | undefined;
  if (rawMin !== undefined) {
    minMember = /^[1-9][0-9]{0,5}$/.test(rawMin.trim()) ? Number(rawMin.trim()) : undefined;
    if (minMember === undefined) {
      return answer(
        priority,
        first ? groupKey(namespace, first.value, false) : solo,
        undefined,
        `annotation ${minMemberAnnotation}="${rawMin}" is not a positive integer`,
      );
    }
  }
  const group = first ? groupKey(namespace, first.value, false) : solo;
  const topology = topologyOfAnnotations(annotations);
  if (topology.error !== undefined) return answer(priority, group, undefined, topology.error);
  if (!first) {
    const error =
      minMember !== undefined && minMember > 1
        ? `annotation ${minMemberAnnotation}="${rawMin}" needs a pod group, and the pod has none`
        : undefined;
    return { ...answer(priority, solo, minMember, error), topology: topology.topology };
  }
  return { ...answer(priority, group, minMember, undefined), topology: topology.topology };
}
