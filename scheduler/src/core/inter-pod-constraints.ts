/**
 * Which pods carry inter-pod constraints: the one answer hashing (gang/group-key.ts), the check
 * before bind (bind-check.ts) and the coordinator's owner-only rule (relief-plan.ts) read, and the
 * InterPodAffinity and PodTopologySpread plugins may reuse. Read from the pod spec once per pod
 * version (toPodInfo, into PodInfo.interPodConstraints); a pod without affinity or spread
 * constraints costs two property reads and shares one frozen value.
 */
import type { PodSpec } from "./api-types.js";
import type { PodInfo } from "./model.js";

/** What a pod's own spec says about the pods on other nodes. */
export interface InterPodConstraints {
  /**
   * Any pod affinity or anti-affinity term or topology spread constraint, required or preferred:
   * its placement depends on other pods, so a solo pod with a controller hashes by the controller.
   */
  readonly any: boolean;
  /**
   * Required pod affinity or anti-affinity, or a DoNotSchedule spread constraint: a placement can
   * violate it (preferred terms and ScheduleAnyway only score, and a score cannot be violated).
   */
  readonly required: boolean;
  /**
   * Required pod anti-affinity: the pod's terms also reject other pods onto its domain (kube's
   * symmetry), so once it runs every pod's placement may depend on it.
   */
  readonly requiredAntiAffinity: boolean;
}

/** The shared values: one per combination, frozen, never allocated per pod. */
const shared: readonly InterPodConstraints[] = [0, 1, 2, 3, 4, 5, 6, 7].map((bits) =>
  Object.freeze({
    any: (bits & 1) !== 0,
    required: (bits & 2) !== 0,
    requiredAntiAffinity: (bits & 4) !== 0,
  }),
);

/** A pod without inter-pod constraints. */
export const noInterPodConstraints = shared[0] as InterPodConstraints;

const nonEmpty = (list: readonly unknown[] | undefined): boolean => (list?.length ?? 0) > 0;

/**
 * What the spec carries. A spread constraint whose whenUnsatisfiable is anything but
 * ScheduleAnyway counts as DoNotSchedule (the API requires the field; unsupported-constraints
 * reads it the same way). Cluster-default spread constraints (PodTopologySpread's
 * defaultConstraints) are not in the spec and not seen here: see docs/semantics.md.
 */
export function interPodConstraintsOf(spec: PodSpec): InterPodConstraints {
  const { affinity, topologySpreadConstraints } = spec;
  if (affinity?.podAffinity === undefined && affinity?.podAntiAffinity === undefined) {
    if (!nonEmpty(topologySpreadConstraints)) return noInterPodConstraints;
  }
  const affinityTerms = affinity?.podAffinity;
  const antiTerms = affinity?.podAntiAffinity;
  const requiredAnti = nonEmpty(antiTerms?.requiredDuringSchedulingIgnoredDuringExecution);
  const required =
    requiredAnti ||
    nonEmpty(affinityTerms?.requiredDuringSchedulingIgnoredDuringExecution) ||
    (topologySpreadConstraints ?? []).some((c) => c.whenUnsatisfiable !== "ScheduleAnyway");
  const any =
    required ||
    nonEmpty(affinityTerms?.preferredDuringSchedulingIgnoredDuringExecution) ||
    nonEmpty(antiTerms?.preferredDuringSchedulingIgnoredDuringExecution) ||
    nonEmpty(topologySpreadConstraints);
  return shared[(any ? 1 : 0) | (required ? 2 : 0) | (requiredAnti ? 4 : 0)] as InterPodConstraints;
}

/**
 * A group placed by its owner only: a member carries required inter-pod constraints. Another
 * shard, or the coordinator's capacity view (it holds no pods of other groups), would judge them
 * blind; the coordinator never hands such a group over, and may only lend its owner nodes (the
 * owner judges them with its full cache).
 */
export function placedByOwnerOnly(members: Iterable<PodInfo>): boolean {
  for (const pod of members) if (pod.interPodConstraints.required) return true;
  return false;
}
