/** A gang's identity: the one key shards, the coordinator, the status command and the ring use. */
import type { CrdApi } from "./crd-pod-group.js";

/** The longest group name: an object name's limit (a DNS subdomain). */
export const maxGroupNameLength = 253;

/** A gang's identity. A pod without a group is a gang of one, keyed by the pod. */
export interface GroupKey {
  /**
   * Unique across kinds: "group:<ns>/<name>" (annotations and labels), "podgroup:<ns>/<name>"
   * (a scheduling.k8s.io PodGroup object), "podgroup.<api group>:<ns>/<name>" (a PodGroup CRD
   * object, e.g. "podgroup.scheduling.x-k8s.io:<ns>/<name>") or "pod:<ns>/<name>". An annotation group, a
   * PodGroup and a CRD PodGroup of the same name are different groups.
   */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly solo: boolean;
  /** What the shard ring hashes: "<ns>/<name>" (a gang is hashed as one unit). */
  readonly hashKey: string;
  /** The group is a scheduling.k8s.io PodGroup object (the pods' spec.schedulingGroup). */
  readonly podGroup?: true;
  /** The group is an object of a PodGroup CRD (scheduler-plugins or Volcano): which one. */
  readonly crd?: CrdApi;
}

export function groupKey(namespace: string, name: string, solo: boolean): GroupKey {
  // One "<ns>/<name>" string, the id built on it: a shard holds one group key per pod.
  const hashKey = `${namespace}/${name}`;
  return { id: (solo ? "pod:" : "group:") + hashKey, namespace, name, solo, hashKey };
}

/**
 * The key ("<namespace>/<name>") of the pod a pod's group says it is: a solo group's own hash
 * key (the same string, not another copy of it), else built.
 */
export function podKeyOf(namespace: string, name: string, group: GroupKey): string {
  return group.solo && group.namespace === namespace && group.name === name
    ? group.hashKey
    : `${namespace}/${name}`;
}

/** The key ("<namespace>/<name>") of the pod a solo group's id names. */
export function soloPodKey(soloGroupId: string): string {
  return soloGroupId.slice("pod:".length);
}

/**
 * A native PodGroup (scheduling.k8s.io/v1beta1) is its own unit: id "podgroup:<ns>/<name>",
 * hashed as "<ns>/PodGroup/<name>", so all its members go to one shard and neither collides
 * with an annotation group of the same name (an annotation group named "PodGroup/<name>" would
 * only share the shard, as with hashedByController).
 */
export function podGroupKey(namespace: string, name: string): GroupKey {
  return {
    id: `podgroup:${namespace}/${name}`,
    namespace,
    name,
    solo: false,
    hashKey: `${namespace}/PodGroup/${name}`,
    podGroup: true,
  };
}

/**
 * A PodGroup CRD object (scheduler-plugins scheduling.x-k8s.io/v1alpha1, Volcano
 * scheduling.volcano.sh/v1beta1) is its own unit too: id "podgroup.<api group>:<ns>/<name>", hashed as
 * "<ns>/PodGroup.<api group>/<name>" — apart from native PodGroups, annotation groups and each
 * other (an annotation group named "PodGroup.scheduling.x-k8s.io/<name>" would only share the shard).
 */
export function crdPodGroupKey(api: CrdApi, namespace: string, name: string): GroupKey {
  const apiGroup = api.slice(0, api.indexOf("/"));
  return {
    id: `podgroup.${apiGroup}:${namespace}/${name}`,
    namespace,
    name,
    solo: false,
    hashKey: `${namespace}/PodGroup.${apiGroup}/${name}`,
    crd: api,
  };
}

/** A pod's controller, as its ownerReference with controller: true names it. */
export interface ControllerRef {
  readonly kind: string;
  readonly name: string;
}

/** The controller of a pod (the ownerReference marked controller), if any. */
export function controllerOf(
  ownerReferences: readonly { kind: string; name: string; controller?: boolean }[] | undefined,
): ControllerRef | undefined {
  const ref = ownerReferences?.find((owner) => owner.controller === true);
  return ref === undefined || ref.kind === "" || ref.name === "" ? undefined : ref;
}

/**
 * A solo pod whose placement depends on other pods (inter-pod constraints) hashes by its
 * controller, "<ns>/<Kind>/<name>": a workload's own anti-affinity and spread are then decided
 * inside one shard. By name, not uid, so anyone can tell the owner from the object (tests, the
 * status command); a controller deleted and recreated under the same name hashes the same. Kind
 * and name cannot clash with a pod's key (pod names have no "/"); a group named "<Kind>/<name>"
 * would only share the shard. The id is unchanged: the pod stays a gang of one.
 */
export function hashedByController(key: GroupKey, controller: ControllerRef): GroupKey {
  return { ...key, hashKey: `${key.namespace}/${controller.kind}/${controller.name}` };
}

/**
 * A solo pod with inter-pod constraints and no controller (a bare pod, as scripts and benchmark
 * harnesses create them) hashes by its constraints, "<ns>/InterPodConstraints/<hash>": pods
 * carrying the same pod (anti-)affinity and spread constraints are decided inside one shard, as a
 * controller's pods are. The hash is FNV-1a of the constraints' JSON with keys sorted, so any
 * client's copy of the same spec hashes alike.
 */
export function hashedByConstraints(key: GroupKey, constraints: unknown): GroupKey {
  const hash = fnv1a(canonicalJson(constraints)).toString(16).padStart(8, "0");
  return { ...key, hashKey: `${key.namespace}/InterPodConstraints/${hash}` };
}

/** JSON with every object's keys sorted: equal values give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(",")}}`;
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
