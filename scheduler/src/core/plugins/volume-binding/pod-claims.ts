/**
 * A pod's PersistentVolumeClaims and the facts about them every volume plugin reads, one way:
 * which claims a pod's volumes use (parsed once per pod version, into PodInfo.volumeClaims), a
 * claim's class, whether it is bound, and kube-scheduler's messages for claims that cannot be
 * used (VolumeBinding's podHasPVCs, VolumeZone's and VolumeRestrictions' lister errors).
 */

import type { PersistentVolumeClaim, PodSpec, StorageClass } from "../../api-types.js";
import type { ClusterEvent } from "../../framework.js";
import type { PodInfo, PodVolumeClaim } from "../../model.js";

const noClaims: readonly PodVolumeClaim[] = Object.freeze([]);

/**
 * The claims of the pod's persistentVolumeClaim and generic ephemeral volumes, in volume order;
 * an ephemeral volume's claim is named <pod name>-<volume name> (kube's ephemeral.VolumeClaimName).
 */
export function volumeClaimsOf(podName: string, spec: PodSpec): readonly PodVolumeClaim[] {
  const volumes = spec.volumes;
  if (volumes === undefined || volumes.length === 0) return noClaims;
  let claims: PodVolumeClaim[] | undefined;
  for (const volume of volumes) {
    if (volume.persistentVolumeClaim != null) {
      claims ??= [];
      claims.push({ claim: volume.persistentVolumeClaim.claimName ?? "", ephemeral: false });
    } else if (volume.ephemeral != null) {
      claims ??= [];
      claims.push({ claim: `${podName}-${volume.name}`, ephemeral: true });
    }
  }
  return claims === undefined ? noClaims : Object.freeze(claims);
}

/** The annotation the PV controller sets once it has finished binding a claim. */
export const bindCompletedAnnotation = "pv.kubernetes.io/bind-completed";
/** The class annotation older claims carry instead of spec.storageClassName (it wins, as in kube). */
export const betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class";

/** The claim's StorageClass name; "" for none (kube's GetPersistentVolumeClaimClass). */
export function claimClass(claim: PersistentVolumeClaim): string {
  const annotated = claim.metadata.annotations?.[betaStorageClassAnnotation];
  if (annotated !== undefined) return annotated;
  return claim.spec?.storageClassName ?? "";
}

/** Bound, and the PV controller has finished binding it (kube's isPVCFullyBound). */
export function claimFullyBound(claim: PersistentVolumeClaim): boolean {
  return (
    (claim.spec?.volumeName ?? "") !== "" &&
    claim.metadata.annotations?.[bindCompletedAnnotation] !== undefined
  );
}

/**
 * The class binds its claims only once a pod using them is scheduled (WaitForFirstConsumer). A
 * claim without a class, or whose class does not exist, binds at once (kube's IsDelayBindingMode;
 * the API server defaults volumeBindingMode to Immediate).
 */
export function bindsOnFirstConsumer(storageClass: StorageClass | undefined): boolean {
  return storageClass?.volumeBindingMode === "WaitForFirstConsumer";
}

/** kube's lister error for a claim that does not exist. */
export function claimNotFound(name: string): string {
  return `persistentvolumeclaim ${JSON.stringify(name)} not found`;
}

/**
 * Why the claim cannot be used by the pod at all (kube's VolumeBinding podHasPVCs, word for word),
 * or undefined. claim undefined: it does not exist (yet).
 */
export function unusableClaimReason(
  pod: { readonly namespace: string; readonly name: string; readonly uid: string },
  volume: PodVolumeClaim,
  claim: PersistentVolumeClaim | undefined,
): string | undefined {
  if (claim === undefined)
    return volume.ephemeral
      ? `waiting for ephemeral volume controller to create the persistentvolumeclaim ${JSON.stringify(volume.claim)}`
      : claimNotFound(volume.claim);
  if (claim.status?.phase === "Lost")
    return `persistentvolumeclaim ${JSON.stringify(volume.claim)} bound to non-existent persistentvolume ${JSON.stringify(claim.spec?.volumeName ?? "")}`;
  if (claim.metadata.deletionTimestamp !== undefined)
    return `persistentvolumeclaim ${JSON.stringify(volume.claim)} is being deleted`;
  if (volume.ephemeral && !controlledBy(claim, pod.uid))
    return `PVC ${pod.namespace}/${volume.claim} was not created for pod ${pod.namespace}/${pod.name} (pod is not owner)`;
  return undefined;
}

/** The claim's controller is the pod (kube's metav1.IsControlledBy). */
function controlledBy(claim: PersistentVolumeClaim, uid: string): boolean {
  return (claim.metadata.ownerReferences ?? []).some((ref) => ref.controller === true && ref.uid === uid);
}

/**
 * What can help a pod VolumeBinding or VolumeZone rejected (kube-scheduler's EventsToRegister of
 * both, less CSINode, CSIDriver and CSIStorageCapacity, which nothing here reads): a claim
 * created or bound, a volume created or its affinity or labels changed, a class created, a node
 * added or relabelled.
 */
export const claimTopologyEvents: readonly ClusterEvent[] = [
  "PersistentVolumeClaimChange",
  "PersistentVolumeChange",
  "StorageClassChange",
  "NodeAdd",
  "NodeUpdateLabel",
];

/** A pod without claims: the claim plugins have nothing to say about it (PreFilterPlugin.podOnlyFor). */
export const withoutClaims = (pod: PodInfo): boolean => pod.volumeClaims.length === 0;
