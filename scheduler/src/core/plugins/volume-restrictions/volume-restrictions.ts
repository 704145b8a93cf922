/**
 * VolumeRestrictions, as kube-scheduler's for ReadWriteOncePod claims: a claim with that access
 * mode is used by at most one pod in the cluster, so a pod whose claim is already used by a pod
 * occupying a node (bound, assumed — a gang member assumed earlier in the same cycle included —
 * or terminating) fits nowhere: "node has pod using PersistentVolumeClaim with the same name and
 * ReadWriteOncePod access mode", Unschedulable (evicting that pod cures it, so preemption may).
 *
 * PreFilter reads the pod's persistentVolumeClaim volumes (PodInfo.volumeClaims, ephemeral ones
 * excluded as in kube: they are the pod's own) from the ClusterState: a missing claim is refused on
 * every node with kube's "persistentvolumeclaim \"x\" not found"; the ReadWriteOncePod claims and
 * how many pods use them (ClusterState.claimInUse) go into the state; none: nothing to count
 * (Success without state, not Skip). AddPod/RemovePod keep the count true as the Statement
 * assumes gang members or removes preemption victims. The verdict depends on pods on every node (spansNodes): the check before
 * bind runs it again, so two shards cannot both bind a pod of the same claim.
 *
 * What differs from kube-scheduler, and why:
 *   - AddPod/RemovePod compare namespaces too (kube compares claim names only, so a pod of another
 *     namespace with a same-named claim counts there).
 *   - Nominated pods are not counted (kube adds them per node during Filter): a nominated pod's
 *     claim is counted once it is assumed or bound.
 *   - Inline disks: nominated pods are not counted either.
 *
 * Inline in-tree disks (gcePersistentDisk, awsElasticBlockStore, rbd, iscsi), as kube's: a node
 * where a pod already mounts the same disk is refused ("node(s) had no available disk",
 * Unschedulable) — the same GCE PD unless both mount it read-only, the same EBS volume always,
 * the same iSCSI IQN unless both are read-only, the same RBD image (a shared monitor, same pool
 * and image) unless both are read-only. The disks are parsed once per pod version
 * (PodInfo.inlineDisks); a pod without any costs one length check per node.
 */

import type { PodSpec } from "../../api-types.js";
import type { ClusterState } from "../../cluster-state.js";
import {
  type CycleState,
  type FilterPlugin,
  type PreFilterPlugin,
  type StateData,
  type Status,
  unresolvable,
  unschedulable,
} from "../../framework.js";
import type { InlineDisk, NodeInfo, PodInfo } from "../../model.js";
import { claimNotFound } from "../volume-binding/pod-claims.js";

export const volumeRestrictionsName = "VolumeRestrictions";

export const diskConflictReason = "node(s) had no available disk";

const noDisks: readonly InlineDisk[] = Object.freeze([]);

/** The pod's inline in-tree disks, in volume order (the pool of an RBD volume defaults to "rbd"). */
export function inlineDisksOf(spec: PodSpec): readonly InlineDisk[] {
  const volumes = spec.volumes;
  if (volumes === undefined || volumes.length === 0) return noDisks;
  let disks: InlineDisk[] | undefined;
  for (const v of volumes) {
    let disk: InlineDisk | undefined;
    if (v.gcePersistentDisk != null)
      disk = {
        kind: "gce",
        name: v.gcePersistentDisk.pdName,
        readOnly: v.gcePersistentDisk.readOnly === true,
      };
    else if (v.awsElasticBlockStore != null) disk = { kind: "aws", id: v.awsElasticBlockStore.volumeID };
    else if (v.iscsi != null) disk = { kind: "iscsi", iqn: v.iscsi.iqn, readOnly: v.iscsi.readOnly === true };
    else if (v.rbd != null)
      disk = {
        kind: "rbd",
        monitors: v.rbd.monitors ?? [],
        pool: v.rbd.pool || "rbd",
        image: v.rbd.image,
        readOnly: v.rbd.readOnly === true,
      };
    if (disk === undefined) continue;
    disks ??= [];
    disks.push(disk);
  }
  return disks === undefined ? noDisks : Object.freeze(disks);
}

/** Whether two pods mounting these disks on one node conflict (kube's isVolumeConflict). */
export function disksConflict(a: InlineDisk, b: InlineDisk): boolean {
  switch (a.kind) {
    case "gce":
      return b.kind === "gce" && a.name === b.name && !(a.readOnly && b.readOnly);
    case "aws":
      return b.kind === "aws" && a.id === b.id;
    case "iscsi":
      return b.kind === "iscsi" && a.iqn === b.iqn && !(a.readOnly && b.readOnly);
    case "rbd":
      return (
        b.kind === "rbd" &&
        a.pool === b.pool &&
        a.image === b.image &&
        !(a.readOnly && b.readOnly) &&
        a.monitors.some((m) => b.monitors.includes(m))
      );
  }
}

function diskTakenOn(node: NodeInfo, pod: PodInfo): boolean {
  const wanted = pod.inlineDisks;
  for (const other of node.pods.values()) {
    if (other.key === pod.key || other.inlineDisks.length === 0) continue;
    for (const disk of wanted)
      for (const taken of other.inlineDisks) if (disksConflict(disk, taken)) return true;
  }
  return false;
}

export const readWriteOncePodConflictReason =
  "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode";

/** The pod's ReadWriteOncePod claims and how many pods occupying nodes use them. */
class ReadWriteOncePodClaims implements StateData {
  constructor(
    readonly namespace: string,
    readonly claims: ReadonlySet<string>,
    public users: number,
  ) {}

  clone(): StateData {
    return new ReadWriteOncePodClaims(this.namespace, this.claims, this.users);
  }

  /** How many of its claims the other pod uses. */
  usedBy(other: PodInfo): number {
    if (other.namespace !== this.namespace) return 0;
    let count = 0;
    for (const { claim, ephemeral } of other.volumeClaims) if (!ephemeral && this.claims.has(claim)) count++;
    return count;
  }
}

const stateKey = volumeRestrictionsName;
const conflict = unschedulable(readWriteOncePodConflictReason);
const diskConflict = unschedulable(diskConflictReason);

export function volumeRestrictions(cluster: ClusterState): PreFilterPlugin & FilterPlugin {
  return {
    name: volumeRestrictionsName,
    // As kube-scheduler's: the pod using the claim deleted, a node added, the claim created.
    events: ["AssignedPodDelete", "NodeAdd", "PersistentVolumeClaimChange"],
    // A pod on any node holding the claim refuses every node: another shard binding one onto its
    // own nodes changes the verdict, so the check before bind runs this plugin again.
    spansNodes: true,
    podOnlyFor: (pod: PodInfo) => pod.volumeClaims.length === 0 && pod.inlineDisks.length === 0,
    preFilter(state: CycleState, pod: PodInfo): Status | undefined {
      // Success, not Skip (see VolumeBinding): Filter answers such a pod with two length checks.
      if (pod.volumeClaims.length === 0) return undefined;
      let claims: Set<string> | undefined;
      for (const { claim: name, ephemeral } of pod.volumeClaims) {
        if (ephemeral) continue;
        const claim = cluster.persistentVolumeClaim(pod.namespace, name);
        if (claim === undefined) return unresolvable(claimNotFound(name));
        if (!(claim.spec?.accessModes ?? []).includes("ReadWriteOncePod")) continue;
        claims ??= new Set();
        claims.add(name);
      }
      // Nothing to count: Success and no state (Filter then checks the disks only).
      if (claims === undefined) return undefined;
      let users = 0;
      // At most one pod can use a ReadWriteOncePod claim (as kube: one per claim in use).
      for (const name of claims) if (cluster.claimInUse(pod.namespace, name)) users++;
      state.write(stateKey, new ReadWriteOncePodClaims(pod.namespace, claims, users));
      return undefined;
    },
    extensions: {
      // The pod itself (told about its own assumption) is not a user that conflicts with it.
      addPod(state, pod, added) {
        const claims = state.read<ReadWriteOncePodClaims>(stateKey);
        if (claims !== undefined && added.key !== pod.key) claims.users += claims.usedBy(added);
      },
      removePod(state, pod, removed) {
        const claims = state.read<ReadWriteOncePodClaims>(stateKey);
        if (claims !== undefined && removed.key !== pod.key) claims.users -= claims.usedBy(removed);
      },
    },
    filter(pod: PodInfo, node: NodeInfo, state?: CycleState): Status | undefined {
      if (pod.inlineDisks.length > 0 && diskTakenOn(node, pod)) return diskConflict;
      if (pod.volumeClaims.length === 0) return undefined;
      const claims = state?.read<ReadWriteOncePodClaims>(stateKey);
      return claims !== undefined && claims.users > 0 ? conflict : undefined;
    },
  };
}
