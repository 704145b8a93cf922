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
 * - Volumes whose placement depends on objects the scheduler does not read:
 *   - persistentVolumeClaim: the claim may be bound to a PV with node affinity (a local PV, a
 *     zonal disk: VolumeBinding's and VolumeZone's Filter), or unbound with a WaitForFirstConsumer
 *     class (VolumeBinding picks the node and provisions for it), or ReadWriteOncePod (used by
 *     another pod: VolumeRestrictions); none of it is visible without PVCs, PVs and StorageClasses.
 *   - ephemeral (generic ephemeral volumes): the pod's own PVC, created from the template; the
 *     same as a persistentVolumeClaim.
 *   - gcePersistentDisk, awsElasticBlockStore, rbd, iscsi (in-tree, inline): VolumeRestrictions
 *     refuses a node where another pod mounts the same disk read-write; the API server of current
 *     releases rejects most of them already, so refusing costs nothing in practice.
 * Not refused:
 * - Preferred (soft) pod affinity and anti-affinity: they only score, and ignoring a preference
 *   is not a wrong placement.
 * - spec.topologySpreadConstraints (DoNotSchedule and ScheduleAnyway): PodTopologySpread
 *   implements them.
 * - Every other volume (emptyDir, hostPath, configMap, secret, projected, downwardAPI, nfs, csi
 *   inline ephemeral, image, …): kube-scheduler's volume plugins place nothing by them (inline csi
 *   volumes are not counted by NodeVolumeLimits).
 * - hostPort: NodePorts implements it.
 *
 * Cheap: the spec is read once per pod version (unsupportedConstraintOf, from toPodInfo into
 * PodInfo.unsupportedConstraint); PreFilter only reads that field. A pod without affinity or
 * volumes costs two property reads, once.
 */

import type { PodSpec } from "../../api-types.js";
import { type PreFilterPlugin, type Status, unresolvable } from "../../framework.js";

export const unsupportedConstraintsName = "UnsupportedConstraints";

/** The volume sources whose placement depends on objects we do not read, or on other pods. */
const unsupportedVolumeSources = [
  "persistentVolumeClaim",
  "ephemeral",
  "gcePersistentDisk",
  "awsElasticBlockStore",
  "rbd",
  "iscsi",
] as const;

/** The first hard constraint of the spec no plugin implements yet, as a field path; undefined when none. */
export function unsupportedConstraintOf(spec: PodSpec): string | undefined {
  const { affinity, volumes } = spec;
  if (affinity !== undefined) {
    if ((affinity.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0)
      return "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution";
    if ((affinity.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0)
      return "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution";
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
