/**
 * What the parts of the chaos suite hand each other: the run's environment, the record of an
 * injected fault, and the load's counters. The suite is cli.ts (the run), workload.ts (the
 * load), faults.ts (the faults, each verified as injected) and ../checker/ (the independent
 * invariant checker).
 */
import type * as k8s from "@kubernetes/client-node";

/** Where a run happens: the local control plane (processes) or a kind cluster (the Helm chart). */
export type ChaosPlatform = "local" | "kind";

export interface ChaosEnv {
  platform: ChaosPlatform;
  /** Local: the cluster's state folder (tests/cluster/local); kind: unused. */
  clusterDir: string;
  kc: k8s.KubeConfig;
  /** The workload's namespace (created and removed by the run). */
  namespace: string;
  /** The schedulerName the shards serve. */
  schedulerName: string;
  /** Namespace of the shard and coordinator Leases (local: default; kind: the release namespace). */
  leaseNamespace: string;
  /** The shard replicas' count at rest; faults that scale return to it. */
  shards: number;
  /** The shards' --lease-duration-ms. */
  leaseDurationMs: number;
  /** Seeded: the same seed gives the same choices. */
  random: () => number;
  log: (line: string) => void;
}

export const faultKinds = [
  "kill-shard",
  "scale-shards",
  "freeze-shard",
  "kill-coordinator-leader",
  "stop-redis",
  "restart-apiserver",
  "expire-watches",
] as const;
export type FaultKind = (typeof faultKinds)[number];

/** One fault as injected. verified is true only when its effect was observed, not merely requested. */
export interface FaultRecord {
  fault: FaultKind;
  /** What was hit, e.g. "sharded-scheduler-1 (pid 4242)". */
  target: string;
  /** Epoch milliseconds. */
  startedAt: number;
  endedAt: number;
  verified: boolean;
  /** What was observed (or why verification failed), one line. */
  evidence: string;
}

export interface WorkloadStats {
  /** Planned Jobs created (a mixed-priority gang's two Jobs count once). */
  jobsCreated: number;
  /** Gangs (min-member declared): plain, wide, gated and mixed-priority ones. */
  gangJobs: number;
  soloJobs: number;
  /** Pod groups without min-member that grow while they run. */
  growingGroups: number;
  /** Gangs whose pods are created gated. */
  gatedGangs: number;
  /** Gangs whose members disagree on priority (invalid: never placed, never preempt). */
  mixedPriorityGangs: number;
  /** Gangs whose pods joined a native PodGroup (scheduling.k8s.io/v1beta1) the workload created. */
  nativePodGroups: number;
  /** Gangs whose pods joined a scheduler-plugins PodGroup (scheduling.x-k8s.io/v1alpha1 CRD, pod label). */
  schedulerPluginsPodGroups: number;
  /** Gangs whose pods joined a Volcano PodGroup (scheduling.volcano.sh/v1beta1 CRD, pod annotation). */
  volcanoPodGroups: number;
  /** Gates lifted (PATCH spec.schedulingGates: []). */
  podsUngated: number;
  /** Growing groups grown, and of them those that had a member bound first. */
  groupsGrown: number;
  groupsGrownRunning: number;
  /** Job creations the API server refused or that failed (they are retried, then counted here). */
  createErrors: number;
  /** Constrained workloads created (constrained-workload.ts), and of them each shape. */
  constrainedWorkloads: number;
  antiAffinityDeployments: number;
  spreadDeployments: number;
  hostPortJobs: number;
  volumeJobs: number;
  /** Gangs that require one rack (constrained shape rack, on nodes labelled in racks). */
  rackGangs: number;
}
