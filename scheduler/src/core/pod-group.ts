/**
 * Which pod group (gang) a pod belongs to, read from the keys users already put on pods.
 * The one parser of group membership in the project.
 */
import type { Pod } from "./api-types.js";

/** The project's own keys. */
export const podGroupAnnotation = "sharded-scheduler.io/pod-group";
export const minMemberAnnotation = "sharded-scheduler.io/min-member";

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

/** A gang's identity. A pod without a group is a gang of one, keyed by the pod. */
export interface GroupKey {
  /** Unique across kinds: "group:<ns>/<name>" or "pod:<ns>/<name>". */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly solo: boolean;
  /** What the shard ring hashes: "<ns>/<name>" (a gang is hashed as one unit). */
  readonly hashKey: string;
}

export function groupKey(namespace: string, name: string, solo: boolean): GroupKey {
  return {
    id: `${solo ? "pod" : "group"}:${namespace}/${name}`,
    namespace,
    name,
    solo,
    hashKey: `${namespace}/${name}`,
  };
}

export interface PodGroupMembership {
  group: GroupKey;
  /** From sharded-scheduler.io/min-member; undefined means "the members present after the settle window". */
  minMember: number | undefined;
  /** Set when the pod's group keys are malformed: the pod is not scheduled and is told why. */
  error: string | undefined;
}

/** Reads a pod's group name and min-member; never throws. */
export function podGroupMembership(pod: Pod): PodGroupMembership {
  const { namespace, name, annotations = {}, labels = {} } = pod.metadata;
  const found: { source: string; value: string }[] = [];
  for (const source of groupNameSources) {
    const value = (source.kind === "annotation" ? annotations : labels)[source.key];
    if (value !== undefined) found.push({ source: `${source.kind} ${source.key}`, value });
  }
  const solo = groupKey(namespace, name, true);
  const distinct = new Set(found.map((f) => f.value));
  if (distinct.size > 1) {
    const listed = found.map((f) => `${f.source}="${f.value}"`).join(", ");
    return { group: solo, minMember: undefined, error: `pod carries group keys that disagree: ${listed}` };
  }
  const first = found[0];
  if (first && first.value.length > maxGroupNameLength) {
    // Names travel into keys, logs, summaries and messages: as long as an object name, no longer.
    const error = `${first.source} is ${first.value.length} characters long; a pod group name has at most ${maxGroupNameLength}`;
    return { group: solo, minMember: undefined, error };
  }
  if (first && first.value.trim() === "") {
    return { group: solo, minMember: undefined, error: `${first.source} is empty` };
  }
  if (first && first.value !== first.value.trim()) {
    // " web" would silently form a second group next to "web".
    const error = `${first.source}=${JSON.stringify(first.value)} has surrounding whitespace`;
    return { group: solo, minMember: undefined, error };
  }
  const rawMin = annotations[minMemberAnnotation];
  let minMember: number | undefined;
  if (rawMin !== undefined) {
    minMember = /^[1-9][0-9]{0,5}$/.test(rawMin.trim()) ? Number(rawMin.trim()) : undefined;
    if (minMember === undefined) {
      return {
        group: first ? groupKey(namespace, first.value, false) : solo,
        minMember: undefined,
        error: `annotation ${minMemberAnnotation}="${rawMin}" is not a positive integer`,
      };
    }
  }
  if (!first) {
    const error =
      minMember !== undefined && minMember > 1
        ? `annotation ${minMemberAnnotation}="${rawMin}" needs a pod group, and the pod has none`
        : undefined;
    return { group: solo, minMember, error };
  }
  return { group: groupKey(namespace, first.value, false), minMember, error: undefined };
}
