/**
 * UnsupportedConstraints (always on, the first PreFilter): refuses a pod that carries a hard
 * constraint no plugin implements yet, naming the field, rather than placing it as if the
 * constraint were absent. A pod refused here gets PodScheduled=False with that message; its
 * rejection is UnschedulableAndUnresolvable, so preemption never evicts for it and the
 * coordinator's trial placement refuses its group too. Remove a field from the list below when
 * the plugin that honours it (InterPodAffinity, PodTopologySpread, the volume plugins) lands.
 *
 * Refused (hard constraints, kube-scheduler would never place the pod against them):
 * - spec.resourceClaims (non-empty): Dynamic Resource Allocation; kube-scheduler's
 *   DynamicResources plugin allocates the claims' devices on the chosen node. Without it a pod
 *   could land where its device does not exist.
 * Not refused (a plugin implements them):
 * - spec.schedulingGroup: the pod belongs to a PodGroup (scheduling.k8s.io/v1beta1), a native
 *   gang: core/gang's podGroupSource reads it (what of a PodGroup is not supported yet, e.g.
 *   topology constraints, the source refuses by name).
 * - Pod affinity and anti-affinity, required and preferred: InterPodAffinity.
 * - spec.topologySpreadConstraints (DoNotSchedule and ScheduleAnyway): PodTopologySpread.
 * - hostPort: NodePorts.
 * - Volumes: VolumeRestrictions (ReadWriteOncePod claims, inline gcePersistentDisk,
 *   awsElasticBlockStore, rbd and iscsi disks), VolumeBinding and VolumeZone implement
 *   persistentVolumeClaim and generic ephemeral volumes (VolumeBinding refuses, naming the claim,
 *   what it does not: an unbound claim of a WaitForFirstConsumer class). Every other volume
 *   (emptyDir, hostPath, configMap, secret, projected, downwardAPI, nfs, csi inline ephemeral,
 *   image, …): kube-scheduler's volume plugins place nothing by them (inline csi volumes are not
 *   counted by NodeVolumeLimits).
 *
 * Cheap: the spec is read once per pod version (unsupportedConstraintOf, from toPodInfo into
 * PodInfo.unsupportedConstraint); PreFilter only reads that field. A pod without resource
 * claims costs one property read, once.
 */

import type { PodSpec } from "../../api-types.js";
import { type PreFilterPlugin, type Status, unresolvable } from "../../framework.js";

export const unsupportedConstraintsName = "UnsupportedConstraints";

/** The first hard constraint of the spec no plugin implements yet, as a field path; undefined when none. */
export function unsupportedConstraintOf(spec: PodSpec): string | undefined {
  if ((spec.resourceClaims?.length ?? 0) > 0) return "spec.resourceClaims (Dynamic Resource Allocation)";
  return undefined;
}

/** The message a refused pod's PodScheduled=False condition carries. */
export function unsupportedConstraintReason(field: string): string {
  return (
    `pod uses ${field}, which sharded-scheduler does not support yet; ` +
    "schedule it with kube-scheduler (spec.schedulerName) or remove the constraint"
  );
}

const refusals = new Map<string, Status>();

export const unsupportedConstraints: PreFilterPlugin = {
  name: unsupportedConstraintsName,
  // Nothing in the cluster can help: these fields of a pod's spec are immutable, and a pod
  // created anew (or updated) joins the queue as a new member anyway.
  events: [],
  podOnly: true,
  preFilter(_state, pod) {
    const field = pod.unsupportedConstraint;
    if (field === undefined) return undefined;
    let status = refusals.get(field);
    if (status === undefined) {
      status = unresolvable(unsupportedConstraintReason(field));
      if (refusals.size < 1024) refusals.set(field, status);
    }
    return status;
  },
};
