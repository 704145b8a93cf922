/**
 * The scheduling core's view of the cluster: pods and nodes parsed once from their API
 * objects into the numbers and lists that filters, scores and gang placement use.
 */
import type { Node, NodeSelectorTerm, Pod, Taint, Toleration } from "./api-types.js";
import type { CrdGroupTerms } from "./gang/crd-pod-group.js";
import type { GroupKey } from "./gang/group-key.js";
import type { DisruptionMode } from "./gang/pod-group.js";
import type { TopologyConstraint } from "./gang/topology.js";
import type { InterPodConstraints } from "./inter-pod-constraints.js";
import type { InterPodAffinityTerms } from "./plugins/inter-pod-affinity/terms.js";
import type { Resources } from "./resources/resources.js";

export interface PodInfo {
  /** namespace/name */
  readonly key: string;
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly pod: Pod;
  readonly group: GroupKey;
  /**
   * How many members of its group must start together, as the pod's group source said when the
   * pod joined (toPodInfo); undefined: the members present after the settle window.
   */
  readonly minMember: number | undefined;
  /** Why the pod's group keys are malformed (its source's error): it is not scheduled, and told why. */
  readonly groupError: string | undefined;
  /** Why its group cannot be placed yet (its PodGroup does not exist): the group waits, and is told. */
  readonly groupWaitingFor: string | undefined;
  /** Its group's priority (a PodGroup's, or the pod's own for annotation gangs). */
  readonly priority: number;
  /** Its group's preemption policy when the group has one (a PodGroup), else the pod's own. */
  readonly preemptionPolicy: "PreemptLowerPriority" | "Never";
  /** How its group may be disrupted (see GroupMembership.disruption). */
  readonly disruption: DisruptionMode;
  /** Its group's PodGroup CRD terms (min resources, schedule timeout), when a CRD governs it. */
  readonly crdTerms: CrdGroupTerms | undefined;
  /** Where its group must and should land together (gang/topology.ts); undefined: anywhere. */
  readonly topology?: TopologyConstraint | undefined;
  /**
   * Effective requests as kube-scheduler computes them (containers, init containers, overhead).
   * Frozen: pods with the same containers share one (build-info.ts).
   */
  readonly requests: Resources;
  /** cpu/memory with kube-scheduler's defaults for unset requests; used only for scoring. */
  readonly nonZeroRequests: { readonly milliCpu: number; readonly memory: number };
  readonly nodeName: string | undefined;
  readonly nominatedNodeName: string | undefined;
  /** Being deleted: still occupies its node until it is gone. */
  readonly terminating: boolean;
  /** Finished (Succeeded/Failed): no longer occupies its node. */
  readonly finished: boolean;
  /** Has scheduling gates left: not to be scheduled yet (the API server refuses its bind). */
  readonly gated: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly nodeSelector: Readonly<Record<string, string>> | undefined;
  readonly requiredNodeAffinity: readonly NodeSelectorTerm[] | undefined;
  readonly tolerations: readonly Toleration[];
  /** The host ports the pod takes on its node (NodePorts); empty (shared, never written) when none. */
  readonly hostPorts: readonly HostPort[];
  /**
   * The pod's inter-pod (anti-)affinity terms, parsed once (InterPodAffinity); the shared frozen
   * noInterPodAffinity when it has none.
   */
  readonly interPodAffinity: InterPodAffinityTerms;
  /**
   * The pod's spec.topologySpreadConstraints, parsed once (PodTopologySpread): defaults applied,
   * matchLabelKeys merged into the selector. Empty (shared, never written) when it has none.
   */
  readonly spreadConstraints: readonly SpreadConstraint[];
  /**
   * The first hard constraint the pod carries that no plugin implements yet (a field path, e.g.
   * spec.topologySpreadConstraints[0]), or undefined: UnsupportedConstraints refuses such a pod.
   */
  readonly unsupportedConstraint: string | undefined;
  /**
   * The PersistentVolumeClaims the pod's volumes use (persistentVolumeClaim and generic ephemeral
   * volumes), in volume order: VolumeRestrictions, VolumeBinding, VolumeZone. Empty (shared, never
   * written) when none.
   */
  readonly volumeClaims: readonly PodVolumeClaim[];
  /**
   * The pod's inline in-tree disks (gcePersistentDisk, awsElasticBlockStore, rbd, iscsi), which
   * VolumeRestrictions keeps from being mounted read-write by two pods of a node. Empty (shared,
   * never written) when none.
   */
  readonly inlineDisks: readonly InlineDisk[];
  /**
   * Pod (anti-)affinity terms and topology spread constraints in the spec, as flags (hashing by
   * controller, owner-only placement by the coordinator); a shared frozen value.
   */
  readonly interPodConstraints: InterPodConstraints;
}

/** An inline in-tree disk, as VolumeRestrictions compares them. */
export type InlineDisk =
  | { readonly kind: "gce"; readonly name: string; readonly readOnly: boolean }
  | { readonly kind: "aws"; readonly id: string }
  | { readonly kind: "iscsi"; readonly iqn: string; readonly readOnly: boolean }
  | {
      readonly kind: "rbd";
      readonly monitors: readonly string[];
      readonly pool: string;
      readonly image: string;
      readonly readOnly: boolean;
    };

/** A pod volume backed by a PersistentVolumeClaim in the pod's namespace. */
export interface PodVolumeClaim {
  /** The claim's name: claimName, or <pod name>-<volume name> for a generic ephemeral volume. */
  readonly claim: string;
  /** A generic ephemeral volume: the claim is created for the pod, which must control it. */
  readonly ephemeral: boolean;
}

/** A host port as kube-scheduler's HostPortInfo keeps it: defaults applied once, when parsed. */
export interface HostPort {
  readonly port: number;
  /** TCP, UDP or SCTP; TCP when the spec leaves it unset. */
  readonly protocol: string;
  /** 0.0.0.0 (every address of the node) when the spec leaves it unset or empty. */
  readonly ip: string;
}

/** A topology spread constraint as PodTopologySpread reads it (kube-scheduler's internal form). */
export interface SpreadConstraint {
  readonly maxSkew: number;
  readonly topologyKey: string;
  readonly whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway";
  /** Whether an existing pod counts (its labels match the selector, matchLabelKeys merged in). */
  readonly matches: (labels: Readonly<Record<string, string>>) => boolean;
  /** 1 when unset. */
  readonly minDomains: number;
  /** Honor when unset. */
  readonly nodeAffinityPolicy: "Honor" | "Ignore";
  /** Ignore when unset. */
  readonly nodeTaintsPolicy: "Honor" | "Ignore";
}

export interface NodeInfo {
  readonly name: string;
  readonly node: Node;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
  readonly unschedulable: boolean;
  readonly ready: boolean;
  readonly allocatable: Resources;
  /** Sum of the requests of every pod that occupies this node (bound, assumed or terminating). */
  readonly requested: Resources;
  /** Sum of the scoring requests (non-zero defaults) of the same pods. */
  readonly nonZeroRequested: { milliCpu: number; memory: number };
  /** Pods occupying this node, by key. */
  readonly pods: Map<string, PodInfo>;
  /**
   * The pods of `pods` whose inter-pod affinity terms can score other pods (InterPodAffinity's
   * PreScore; kube-scheduler's PodsWithAffinity), kept by ClusterState.
   */
  readonly podsWithAffinity: PodInfo[];
  /** The pods of `pods` with required anti-affinity terms (kube-scheduler's PodsWithRequiredAntiAffinity). */
  readonly podsWithRequiredAntiAffinity: PodInfo[];
}
