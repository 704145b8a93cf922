/**
 * Where a pod's gang comes from. A GroupSource answers, for one pod: which group it is in, how
 * many members must start together, what priority it has and how its group is disrupted. Today
 * one source exists, the annotations and labels users already put on pods
 * (annotationGroupSource, the one parser of them in the project); the native PodGroup API
 * (pod.spec.schedulingGroup + PodGroup objects) and the PodGroup CRDs are the next ones. A
 * source is asked once, when a pod joins its group (toPodInfo); what it says travels on PodInfo.
 */
import { minMemberAnnotation, podGroupAnnotation } from "../../contracts/keys.js";
import type { Pod } from "../api-types.js";
import { type GroupKey, groupKey } from "./group-key.js";

/** The longest group name: an object name's limit (a DNS subdomain). */
export const maxGroupNameLength = 253;

/** Every place a group name may come from, in the order they are reported. */
const groupNameSources: readonly { kind: "annotation" | "label"; key: string }[] = [
  { kind: "annotation", key: podGroupAnnotation },
  { kind: "annotation", key: "pod-group" },
  { kind: "annotation", key: "pod_group" },
  { kind: "label", key: "scheduling.x-k8s.io/pod-group" },
  { kind: "annotation", key: "scheduling.k8s.io/group-name" },
];

/**
 * How a group's members are disrupted. "all": a victim group is evicted whole (today's gangs:
 * a gang missing members is as good as none). Sources of elastic groups may add modes later.
 */
export type DisruptionMode = "all";

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
  disruption: DisruptionMode;
}

/**
 * Objects other than the pod a source may read to answer (a native source looks up the PodGroup
 * the pod names). The shell fills it from its informers; the annotation source reads nothing.
 */
export interface GroupObjects {
  /** The PodGroup object of that name, or undefined when none is known (yet). */
  podGroup?(namespace: string, name: string): unknown;
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
  return { group, minMember, error, priority, disruption: "all" };
}

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
  if (!first) {
    const error =
      minMember !== undefined && minMember > 1
        ? `annotation ${minMemberAnnotation}="${rawMin}" needs a pod group, and the pod has none`
        : undefined;
    return answer(priority, solo, minMember, error);
  }
  return answer(priority, groupKey(namespace, first.value, false), minMember, undefined);
}
