/**
 * UnsupportedConstraints (always on, the first PreFilter): refuses a pod that carries a hard
 * constraint no plugin implements yet, naming the field, rather than placing it as if the
 * constraint were absent. A pod refused here gets PodScheduled=False with that message; its
 * rejection is UnschedulableAndUnresolvable, so preemption never evicts for it and the
 * coordinator's trial placement refuses its group too. Remove a field from the list below when
 * the plugin that honours it (InterPodAffinity, PodTopologySpread, the volume plugins) lands.
 *
 * Refused (hard constraints, kube-scheduler would never place the pod against them):
 * - spec.affinity.podAffinity / podAntiAffinity .requiredDuringSchedulingIgnoredDuringExecution
 *   (non-empty): InterPodAffinity.
 * - spec.topologySpreadConstraints entries with whenUnsatisfiable DoNotSchedule (the API
 *   requires the field; anything but ScheduleAnyway is taken as DoNotSchedule): PodTopologySpread.
 * - gcePersistentDisk, awsElasticBlockStore, rbd, iscsi volumes (in-tree, inline):
 *   kube-scheduler's VolumeRestrictions refuses a node where another pod mounts the same disk
 *   read-write; ours checks only ReadWriteOncePod claims. The API server of current releases
 *   rejects most of them already, so refusing costs nothing in practice.
 * Not refused:
 * - Preferred (soft) pod affinity and anti-affinity, and ScheduleAnyway spread: they only score,
 *   and ignoring a preference is not a wrong placement.
 * - Every other volume (emptyDir, hostPath, configMap, secret, projected, downwardAPI, nfs, csi
 *   inline ephemeral, image, …): kube-scheduler's volume plugins place nothing by them (inline csi
 *   volumes are not counted by NodeVolumeLimits).
 * - hostPort: NodePorts implements it.
 * - persistentVolumeClaim and generic ephemeral volumes: VolumeRestrictions, VolumeBinding and
 *   VolumeZone implement them (VolumeBinding refuses, naming the claim, what it does not: an
 *   unbound claim of a WaitForFirstConsumer class).
 *
 * Cheap: the spec is read once per pod version (unsupportedConstraintOf, from toPodInfo into
 * PodInfo.unsupportedConstraint); PreFilter only reads that field. A pod without affinity, spread
 * constraints or volumes costs three property reads, once.
 */

import type { PodSpec } from "../../api-types.js";
import { type PreFilterPlugin, type Status, unresolvable } from "../../framework.js";

export const unsupportedConstraintsName = "UnsupportedConstraints";

/** The inline volume sources whose conflicts between pods no plugin checks yet. */
const unsupportedVolumeSources = ["gcePersistentDisk", "awsElasticBlockStore", "rbd", "iscsi"] as const;

/** The first hard constraint of the spec no plugin implements yet, as a field path; undefined when none. */
export function unsupportedConstraintOf(spec: PodSpec): string | undefined {
  const { affinity, topologySpreadConstraints, volumes } = spec;
  if (affinity !== undefined) {
    if ((affinity.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0)
      return "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution";
    if ((affinity.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0)
      return "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution";
  }
  if (topologySpreadConstraints !== undefined) {
    for (let i = 0; i < topologySpreadConstraints.length; i++) {
      const constraint = topologySpreadConstraints[i];
      if (constraint !== undefined && constraint.whenUnsatisfiable !== "ScheduleAnyway")
        return `spec.topologySpreadConstraints[${i}] (whenUnsatisfiable: DoNotSchedule)`;
    }
  }
  if (volumes !== undefined) {
    for (let i = 0; i < volumes.length; i++) {
      const volume = volumes[i];
      if (volume === undefined) continue;
      for (const source of unsupportedVolumeSources)
        if (volume[source] !== undefined && volume[source] !== null)
          return `spec.volumes[${i}].${source} (volume ${JSON.stringify(volume.name)})`;
    }
  }
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
