/**
 * VolumeBinding, as kube-scheduler's for claims that are already bound: a pod whose claim is
 * bound to a PersistentVolume with node affinity (a local volume, a zonal disk) goes only to nodes
 * that affinity matches.
 *
 * PreFilter reads the pod's claims (PodInfo.volumeClaims) from the ClusterState and refuses, on
 * every node and unresolvably (no eviction helps), with kube-scheduler's messages:
 *   - a claim that does not exist, is Lost or being deleted, or an ephemeral volume's claim the
 *     pod does not control;
 *   - a claim not bound yet that binds at once (no class, a missing class, an Immediate class) or
 *     is pre-bound (volumeName set, the PV controller not done): "pod has unbound immediate
 *     PersistentVolumeClaims". A PersistentVolumeClaimChange wakes it when the claim is bound.
 * Filter: for each bound claim, its volume must exist (else "node(s) unavailable due to one or
 * more pvc(s) bound to non-existent pv(s)") and its nodeAffinity.required must match the node
 * (else "node(s) had volume node affinity conflict"), both UnschedulableAndUnresolvable.
 *
 * What differs from kube-scheduler, and why:
 *   - An unbound claim of a WaitForFirstConsumer class is refused (unresolvable, naming the claim
 *     and its class), where kube-scheduler would pick a node, match a static PV or provision one
 *     (FindPodVolumes, AssumePodVolumes, PreBind): that binder runs once per scheduler and writes
 *     claims, which shards deciding concurrently could not do safely yet. Such pods belong to
 *     kube-scheduler; a claim that gets bound (by it, or by hand) wakes the pod.
 *   - No CSI translation of in-tree PVs (kube's tryTranslatePVToCSI with CSINode): in-tree volume
 *     plugins are gone from current releases; a PV's own nodeAffinity is what is matched.
 *   - PV node affinity matches matchFields metadata.name against the node's name (the pod
 *     affinity matcher); kube matches against a node made of the labels only.
 *   - No storage-capacity Score (it ranks nodes only for claims still to be provisioned).
 */

import type { NodeSelectorTerm } from "../../api-types.js";
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
import { matchesRequiredNodeAffinity } from "../node-affinity/node-affinity.js";
import {
  bindsOnFirstConsumer,
  claimClass,
  claimFullyBound,
  claimTopologyEvents,
  unusableClaimReason,
  withoutClaims,
} from "./pod-claims.js";

export const volumeBindingName = "VolumeBinding";

export const unboundImmediateReason = "pod has unbound immediate PersistentVolumeClaims";
export const volumeNodeConflictReason = "node(s) had volume node affinity conflict";
export const volumeNotExistReason =
  "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";

/** Our refusal of a claim kube-scheduler's binder would bind: the claim and its class named. */
export function waitForFirstConsumerReason(claim: string, storageClass: string): string {
  return (
    `persistentvolumeclaim ${JSON.stringify(claim)} is not bound and its StorageClass ` +
    `${JSON.stringify(storageClass)} binds it to the first pod that uses it (WaitForFirstConsumer), ` +
    "which sharded-scheduler does not support yet; schedule the pod with kube-scheduler " +
    "(spec.schedulerName) or bind the claim first"
  );
}

/** The bound volumes' node affinities: what Filter matches each node against. */
class BoundVolumes implements StateData {
  constructor(
    /** Some bound claim's volume does not exist (yet). */
    readonly missingVolume: boolean,
    /** The required terms of each bound volume that has them. */
    readonly affinities: readonly (readonly NodeSelectorTerm[])[],
  ) {}

  clone(): StateData {
    return this; // never written after PreFilter
  }
}

const stateKey = volumeBindingName;
const volumeNotExist = unresolvable(volumeNotExistReason);
const nodeConflict = unresolvable(volumeNodeConflictReason);
const unboundImmediate = unresolvable(unboundImmediateReason);

export function volumeBinding(cluster: ClusterState): PreFilterPlugin & FilterPlugin {
  return {
    name: volumeBindingName,
    events: claimTopologyEvents,
    podOnlyFor: withoutClaims,
    preFilter(state: CycleState, pod: PodInfo): Status | undefined {
      const volumes = pod.volumeClaims;
      // Success, not Skip: a Skip makes every filter of the profile look the pod's skips up on
      // every node; Filter below answers a pod without claims with one length check.
      if (volumes.length === 0) return undefined;
      const claims = [];
      for (const volume of volumes) {
        const claim = cluster.persistentVolumeClaim(pod.namespace, volume.claim);
        const unusable = unusableClaimReason(pod, volume, claim);
        if (unusable !== undefined) return unresolvable(unusable);
        if (claim !== undefined) claims.push(claim);
      }
      let waitsForConsumer: Status | undefined;
      let missingVolume = false;
      const affinities: (readonly NodeSelectorTerm[])[] = [];
      for (const claim of claims) {
        if (claimFullyBound(claim)) {
          const volume = cluster.persistentVolume(claim.spec?.volumeName ?? "");
          if (volume === undefined) missingVolume = true;
          const terms = volume?.spec?.nodeAffinity?.required?.nodeSelectorTerms;
          if (terms != null) affinities.push(terms);
          continue;
        }
        const className = claimClass(claim);
        const delayed = className !== "" && bindsOnFirstConsumer(cluster.storageClass(className));
        // A pre-bound claim (volumeName set) binds at once, whatever its class (as kube).
        if (!delayed || (claim.spec?.volumeName ?? "") !== "") return unboundImmediate;
        waitsForConsumer ??= unresolvable(waitForFirstConsumerReason(claim.metadata.name, className));
      }
      if (waitsForConsumer !== undefined) return waitsForConsumer;
      // Nothing to check: Success and no state (Filter then passes; see above for why not Skip).
      if (!missingVolume && affinities.length === 0) return undefined;
      state.write(stateKey, new BoundVolumes(missingVolume, affinities));
      return undefined;
    },
    filter(pod: PodInfo, node: NodeInfo, state?: CycleState): Status | undefined {
      if (pod.volumeClaims.length === 0) return undefined;
      const bound = state?.read<BoundVolumes>(stateKey);
      if (bound === undefined) return undefined;
      if (bound.missingVolume) return volumeNotExist;
      for (const terms of bound.affinities)
        if (!matchesRequiredNodeAffinity(terms, node)) return nodeConflict;
      return undefined;
    },
  };
}
