/** Turns API objects into the core's PodInfo and NodeInfo: parsed once, reused every cycle. */
import type { Node, Pod, PodSpec } from "./api-types.js";
import { crdGroupSource } from "./gang/crd-group-source.js";
import { controllerOf, hashedByConstraints, hashedByController, podKeyOf } from "./gang/group-key.js";
import { type GroupObjects, type GroupSource, noGroupObjects } from "./gang/group-source.js";
import { interPodConstraintsOf } from "./inter-pod-constraints.js";
import type { NodeInfo, PodInfo } from "./model.js";
import { interPodAffinityOf } from "./plugins/inter-pod-affinity/terms.js";
import { hostPortsOf } from "./plugins/node-ports/node-ports.js";
import { spreadConstraintsOf } from "./plugins/pod-topology-spread/spread-constraints.js";
import { unsupportedConstraintOf } from "./plugins/unsupported-constraints/unsupported-constraints.js";
import { volumeClaimsOf } from "./plugins/volume-binding/pod-claims.js";
import { inlineDisksOf } from "./plugins/volume-restrictions/volume-restrictions.js";
import { podNonZeroRequests, podRequests, Resources } from "./resources/resources.js";

/**
 * The pod's group, min-member, priority, preemption policy and disruption mode come from its
 * group source, asked here: when the pod (or a new version of it) joins the cache, and when its
 * PodGroup changes. The default source reads spec.schedulingGroup, then the annotations.
 */
export function toPodInfo(
  pod: Pod,
  source: GroupSource = crdGroupSource,
  objects: GroupObjects = noGroupObjects,
): PodInfo {
  const { metadata, spec, status } = pod;
  const phase = status?.phase;
  const membership = source.membership(pod, objects);
  const interPodConstraints = interPodConstraintsOf(spec);
  return {
    key: podKeyOf(metadata.namespace, metadata.name, membership.group),
    uid: metadata.uid ?? "",
    namespace: metadata.namespace,
    name: metadata.name,
    pod,
    group: soloHashing(membership.group, interPodConstraints.any, metadata, spec),
    minMember: membership.minMember,
    groupError: membership.error,
    groupWaitingFor: membership.waitingFor,
    priority: membership.priority,
    preemptionPolicy: membership.preemptionPolicy ?? spec.preemptionPolicy ?? "PreemptLowerPriority",
    disruption: membership.disruption,
    crdTerms: membership.crdTerms,
    topology: membership.topology,
    ...requestsOf(spec),
    nodeName: spec.nodeName || undefined,
    nominatedNodeName: status?.nominatedNodeName || undefined,
    terminating: metadata.deletionTimestamp !== undefined,
    finished: phase === "Succeeded" || phase === "Failed",
    gated: (spec.schedulingGates?.length ?? 0) > 0,
    labels: metadata.labels ?? {},
    nodeSelector: spec.nodeSelector,
    requiredNodeAffinity:
      spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
    tolerations: spec.tolerations ?? [],
    hostPorts: hostPortsOf(spec),
    interPodAffinity: interPodAffinityOf(spec, metadata.namespace, metadata.labels ?? {}),
    spreadConstraints: spreadConstraintsOf(spec, metadata.labels ?? {}),
    unsupportedConstraint: unsupportedConstraintOf(spec),
    volumeClaims: volumeClaimsOf(metadata.name, spec),
    inlineDisks: inlineDisksOf(spec),
    interPodConstraints,
  };
}

type PodRequests = Pick<PodInfo, "requests" | "nonZeroRequests">;

/** The requests of pods whose containers alone make them, by their containers array. */
const requestsByContainers = new WeakMap<object, PodRequests>();

/**
 * The pod's requests and scoring requests. Where its containers alone make them (no init
 * containers, overhead or pod-level resources: most pods), they are computed once per containers
 * array: the watch gives every version of a pod, and every replica declaring the same containers,
 * one shared array (shard/watch-projection.ts), so a bind's or a status change's event, and a
 * thousand replicas, do not parse the same quantities again.
 */
function requestsOf(spec: PodSpec): PodRequests {
  const { containers } = spec;
  const byContainersAlone =
    Array.isArray(containers) &&
    spec.initContainers === undefined &&
    spec.overhead === undefined &&
    spec.resources === undefined;
  if (!byContainersAlone) return computedRequests(spec);
  let known = requestsByContainers.get(containers);
  if (known === undefined) {
    known = computedRequests(spec);
    requestsByContainers.set(containers, known);
  }
  return known;
}

/** Frozen alike whether shared or not: a write to a pod's requests fails wherever it is made. */
function computedRequests(spec: PodSpec): PodRequests {
  const requests = podRequests(spec);
  Object.freeze(requests);
  return { requests, nonZeroRequests: Object.freeze(podNonZeroRequests(spec)) };
}

/**
 * A solo pod with inter-pod constraints hashes by its controller, or without one by the
 * constraints themselves: pods that constrain each other alike are decided in one shard. Every
 * other pod keeps its own hash key: placements that do not constrain each other spread over the
 * shards.
 */
function soloHashing(
  group: PodInfo["group"],
  interPod: boolean,
  metadata: Pod["metadata"],
  spec: PodSpec,
): PodInfo["group"] {
  if (!group.solo || !interPod) return group;
  const controller = controllerOf(metadata.ownerReferences);
  if (controller !== undefined) return hashedByController(group, controller);
  const { affinity, topologySpreadConstraints } = spec;
  return hashedByConstraints(group, [
    affinity?.podAffinity ?? null,
    affinity?.podAntiAffinity ?? null,
    topologySpreadConstraints ?? null,
  ]);
}

export function toNodeInfo(node: Node): NodeInfo {
  const conditions = node.status?.conditions ?? [];
  return {
    name: node.metadata.name,
    node,
    labels: node.metadata.labels ?? {},
    taints: node.spec?.taints ?? [],
    unschedulable: node.spec?.unschedulable === true,
    ready: conditions.some((c) => c.type === "Ready" && c.status === "True"),
    allocatable: Resources.fromResourceList(node.status?.allocatable),
    requested: new Resources(),
    nonZeroRequested: { milliCpu: 0, memory: 0 },
    pods: new Map(),
    podsWithAffinity: [],
    podsWithRequiredAntiAffinity: [],
  };
}
