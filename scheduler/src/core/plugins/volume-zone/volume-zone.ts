/**
 * VolumeZone, as kube-scheduler's: a pod whose claim is bound to a PersistentVolume labelled with
 * a zone or region (topology.kubernetes.io/zone|region, or the deprecated
 * failure-domain.beta.kubernetes.io/ ones) goes only to nodes in one of those zones/regions. A
 * label's value may list several, separated by "__". A node with none of these labels passes (a
 * single-zone cluster whose nodes are unlabelled); a node with some must carry each key the
 * volumes name (a beta key on the volume is also matched by the node's GA key) with a listed value,
 * else "node(s) had no available volume zone", UnschedulableAndUnresolvable.
 *
 * PreFilter, as kube-scheduler's getPVbyPod (its messages): a claim that does not exist, a claim
 * with neither volume nor class, a missing class or volume: refused on every node; an unbound
 * claim of a WaitForFirstConsumer class is skipped (VolumeBinding refuses it before this runs);
 * an unbound claim of an Immediate class: "PersistentVolume had no name". No zone labels: nothing
 * to check (Success without state rather than kube's Skip, which would make every filter look
 * the pod's skips up on every node).
 *
 * Differs from kube-scheduler: only Success without state where it says Skip (the same verdict);
 * its error paths for lister failures other than NotFound cannot happen here (the stores are in
 * memory).
 */

import type { PersistentVolume } from "../../api-types.js";
import type { ClusterState } from "../../cluster-state.js";
import {
  type CycleState,
  type FilterPlugin,
  type PreFilterPlugin,
  type StateData,
  type Status,
  unresolvable,
} from "../../framework.js";
import type { NodeInfo, PodInfo } from "../../model.js";
import {
  bindsOnFirstConsumer,
  claimClass,
  claimNotFound,
  claimTopologyEvents,
  withoutClaims,
} from "../volume-binding/pod-claims.js";

export const volumeZoneName = "VolumeZone";

export const volumeZoneReason = "node(s) had no available volume zone";

/** The topology labels VolumeZone reads, deprecated ones first (kube's order). */
export const volumeTopologyLabels = [
  "failure-domain.beta.kubernetes.io/zone",
  "failure-domain.beta.kubernetes.io/region",
  "topology.kubernetes.io/zone",
  "topology.kubernetes.io/region",
] as const;

const gaLabel: Readonly<Record<string, string>> = {
  "failure-domain.beta.kubernetes.io/zone": "topology.kubernetes.io/zone",
  "failure-domain.beta.kubernetes.io/region": "topology.kubernetes.io/region",
};

/** One volume label: the node must carry the key with one of the values. */
interface VolumeTopology {
  readonly key: string;
  readonly values: ReadonlySet<string>;
}

class VolumeTopologies implements StateData {
  constructor(readonly topologies: readonly VolumeTopology[]) {}
  clone(): StateData {
    return this; // never written after PreFilter
  }
}

/** The zone/region labels of a volume (a value may list several, "__"-separated). */
export function volumeTopologiesOf(volume: PersistentVolume): VolumeTopology[] {
  const labels = volume.metadata.labels;
  if (labels === undefined) return [];
  const topologies: VolumeTopology[] = [];
  for (const key of volumeTopologyLabels) {
    const value = labels[key];
    if (value !== undefined) topologies.push({ key, values: zoneSet(value) });
  }
  return topologies;
}

/** kube's LabelZonesToSet: "__"-separated, empty parts dropped. */
function zoneSet(value: string): ReadonlySet<string> {
  return new Set(
    value
      .split("__")
      .map((zone) => zone.trim())
      .filter((zone) => zone !== ""),
  );
}

function hasTopologyLabel(labels: Readonly<Record<string, string>>): boolean {
  for (const key of volumeTopologyLabels) if (labels[key] !== undefined) return true;
  return false;
}

const stateKey = volumeZoneName;
const conflict = unresolvable(volumeZoneReason);

export function volumeZone(cluster: ClusterState): PreFilterPlugin & FilterPlugin {
  return {
    name: volumeZoneName,
    events: claimTopologyEvents,
    podOnlyFor: withoutClaims,
    preFilter(state: CycleState, pod: PodInfo): Status | undefined {
      // Success, not Skip (see VolumeBinding): Filter answers such a pod with one length check.
      if (pod.volumeClaims.length === 0) return undefined;
      const topologies: VolumeTopology[] = [];
      for (const { claim: name } of pod.volumeClaims) {
        if (name === "") return unresolvable("PersistentVolumeClaim had no name");
        const claim = cluster.persistentVolumeClaim(pod.namespace, name);
        if (claim === undefined) return unresolvable(claimNotFound(name));
        const volumeName = claim.spec?.volumeName ?? "";
        if (volumeName === "") {
          const className = claimClass(claim);
          if (className === "")
            return unresolvable("PersistentVolumeClaim had no pv name and storageClass name");
          const storageClass = cluster.storageClass(className);
          if (storageClass === undefined)
            return unresolvable(`storageclass.storage.k8s.io ${JSON.stringify(className)} not found`);
          if (bindsOnFirstConsumer(storageClass)) continue;
          return unresolvable("PersistentVolume had no name");
        }
        const volume = cluster.persistentVolume(volumeName);
        if (volume === undefined)
          return unresolvable(`persistentvolume ${JSON.stringify(volumeName)} not found`);
        topologies.push(...volumeTopologiesOf(volume));
      }
      // No zone labels: Success and no state (Filter then passes; not Skip, see above).
      if (topologies.length === 0) return undefined;
      state.write(stateKey, new VolumeTopologies(topologies));
      return undefined;
    },
    filter(pod: PodInfo, node: NodeInfo, state?: CycleState): Status | undefined {
      if (pod.volumeClaims.length === 0) return undefined;
      const wanted = state?.read<VolumeTopologies>(stateKey);
      if (wanted === undefined) return undefined;
      const labels = node.labels;
      // A node without any topology label: a single-zone cluster, anything goes (as kube).
      if (!hasTopologyLabel(labels)) return undefined;
      for (const { key, values } of wanted.topologies) {
        let value = labels[key];
        if (value === undefined) {
          const ga = gaLabel[key];
          if (ga !== undefined) value = labels[ga];
        }
        if (value === undefined || !values.has(value)) return conflict;
      }
      return undefined;
    },
  };
}
