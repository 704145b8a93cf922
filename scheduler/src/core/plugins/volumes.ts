/**
 * The volume plugins, in kube-scheduler's filter order: VolumeRestrictions, VolumeBinding,
 * VolumeZone (NodeVolumeLimits is not implemented: see docs/semantics.md). They read claims,
 * volumes and classes from the ClusterState, so buildProfile builds them per cluster.
 */
import type { ClusterState } from "../cluster-state.js";
import type { Plugin } from "../framework.js";
import { volumeBinding } from "./volume-binding/volume-binding.js";
import { volumeRestrictions } from "./volume-restrictions/volume-restrictions.js";
import { volumeZone } from "./volume-zone/volume-zone.js";

export function volumePlugins(cluster: ClusterState): Plugin[] {
  return [volumeRestrictions(cluster), volumeBinding(cluster), volumeZone(cluster)];
}
