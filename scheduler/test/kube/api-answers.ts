/** Answers of the real API server that more than one kube adapter test replays. */

/**
 * The Eviction API refusing for a PodDisruptionBudget, as kube-apiserver 1.37 answers: a 429 whose
 * Status names a DisruptionBudget cause (a StatusCause's type travels as "reason" in JSON).
 */
export const budgetRefusal = {
  kind: "Status",
  apiVersion: "v1",
  status: "Failure",
  message: "Cannot evict pod as it would violate the pod's disruption budget.",
  reason: "TooManyRequests",
  details: {
    causes: [
      {
        reason: "DisruptionBudget",
        message: "The disruption budget web needs 2 healthy pods and has 2 currently",
      },
    ],
  },
  code: 429,
};
