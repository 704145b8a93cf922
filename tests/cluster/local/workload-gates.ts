/**
 * The Workload API (scheduling.k8s.io/v1beta1 Workload and PodGroup, KEP-4671) on the local
 * control plane. Kubernetes 1.37 ships it as beta but off by default: the GenericWorkload gate
 * and the v1beta1 group must be switched on together, on every component that touches it
 * (kube-apiserver serves it, kube-controller-manager's podgroup-protection and Job controllers
 * write it, kube-scheduler's gang plugins read it).
 */

/** off: no Workload API; beta: GenericWorkload; alpha: beta plus the alpha gates built on it. */
export type WorkloadGates = "off" | "beta" | "alpha";

export const workloadGateLevels: readonly WorkloadGates[] = ["off", "beta", "alpha"];

/**
 * The API versions each level serves: v1beta1 holds Workload and PodGroup; CompositePodGroup
 * lives in v1alpha3, and kube-scheduler with the CompositePodGroup gate waits for its informer
 * (it schedules nothing at all while that list fails), so alpha must serve it too.
 */
export function workloadRuntimeConfig(level: WorkloadGates): string[] {
  if (level === "off") return [];
  const beta = "scheduling.k8s.io/v1beta1";
  return level === "beta" ? [beta] : [beta, "scheduling.k8s.io/v1alpha3"];
}

/** Beta gate of the Workload API. */
export const betaWorkloadGates = ["GenericWorkload"] as const;

/**
 * Alpha gates over it: Jobs with spec.scheduling get a PodGroup from the Job controller
 * (WorkloadWithJob), PodGroups' schedulingConstraints.topology is honoured by kube-scheduler
 * (TopologyAwareWorkloadScheduling), and PodGroups of PodGroups (CompositePodGroup).
 */
export const alphaWorkloadGates = [
  "WorkloadWithJob",
  "TopologyAwareWorkloadScheduling",
  "CompositePodGroup",
] as const;

/** The gates a level switches on (the same set on all three components). */
export function enabledWorkloadGates(level: WorkloadGates): string[] {
  if (level === "off") return [];
  return level === "beta" ? [...betaWorkloadGates] : [...betaWorkloadGates, ...alphaWorkloadGates];
}

/** Command-line flags for one component; kube-apiserver also gets --runtime-config. */
export function workloadGateFlags(
  level: WorkloadGates,
  component: "kube-apiserver" | "kube-controller-manager" | "kube-scheduler",
): string[] {
  const gates = enabledWorkloadGates(level);
  if (gates.length === 0) return [];
  const flags = [`--feature-gates=${gates.map((gate) => `${gate}=true`).join(",")}`];
  if (component === "kube-apiserver") {
    flags.push(
      `--runtime-config=${workloadRuntimeConfig(level)
        .map((version) => `${version}=true`)
        .join(",")}`,
    );
  }
  return flags;
}
