/**
 * The parts of Kubernetes objects the scheduling core reads, in their JSON wire shape
 * (as a watch stream delivers them). Adapters pass plain parsed JSON; nothing here does I/O.
 */

export type ResourceList = Record<string, string>;

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  creationTimestamp?: string;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
}

export interface Container {
  name: string;
  resources?: { requests?: ResourceList; limits?: ResourceList };
  /** "Always" on an init container makes it a sidecar that keeps running. */
  restartPolicy?: string;
  ports?: ContainerPort[];
}

export interface ContainerPort {
  containerPort?: number;
  /** Exposed on the node when > 0: no two pods on a node may take the same one (NodePorts). */
  hostPort?: number;
  /** "" or unset: every address of the node (0.0.0.0). */
  hostIP?: string;
  /** TCP when unset. */
  protocol?: string;
}

export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: "" | "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  tolerationSeconds?: number;
}

export interface Taint {
  key: string;
  value?: string;
  effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

export interface NodeSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt";
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface Affinity {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
  };
  /** Read only to refuse the required terms (plugins/unsupported-constraints): not implemented yet. */
  podAffinity?: PodAffinityTerms;
  podAntiAffinity?: PodAffinityTerms;
}

/** Only their presence is read (plugins/unsupported-constraints); the terms are not interpreted. */
export interface PodAffinityTerms {
  requiredDuringSchedulingIgnoredDuringExecution?: unknown[];
  preferredDuringSchedulingIgnoredDuringExecution?: unknown[];
}

export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway";
  /** Which pods count; unset counts none (only matchLabelKeys' labels, when given). */
  labelSelector?: LabelSelector;
  /** Fewer eligible domains than this: the global minimum is taken as 0 (DoNotSchedule only). */
  minDomains?: number;
  /** Honor (default): only nodes matching the pod's nodeSelector/required affinity are domains. */
  nodeAffinityPolicy?: "Honor" | "Ignore";
  /** Ignore (default); Honor: nodes with taints the pod does not tolerate are not domains. */
  nodeTaintsPolicy?: "Honor" | "Ignore";
  /** The pod's values of these labels are ANDed into labelSelector (e.g. pod-template-hash). */
  matchLabelKeys?: string[];
}

/** A pod volume: only which source it names is read (plugins/unsupported-constraints). */
export interface Volume {
  name: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  ephemeral?: { volumeClaimTemplate?: unknown };
  gcePersistentDisk?: unknown;
  awsElasticBlockStore?: unknown;
  rbd?: unknown;
  iscsi?: unknown;
}

export interface PodSpec {
  nodeName?: string;
  schedulerName?: string;
  priority?: number;
  priorityClassName?: string;
  preemptionPolicy?: "PreemptLowerPriority" | "Never";
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  tolerations?: Toleration[];
  topologySpreadConstraints?: TopologySpreadConstraint[];
  volumes?: Volume[];
  containers: Container[];
  initContainers?: Container[];
  overhead?: ResourceList;
  /** Pod-level resources (PodLevelResources): when set they replace the containers' sum. */
  resources?: { requests?: ResourceList; limits?: ResourceList };
  /** While any is left the pod is not to be scheduled (Pod Scheduling Readiness). */
  schedulingGates?: { name: string }[];
}

export interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface Pod {
  metadata: ObjectMeta & { namespace: string };
  spec: PodSpec;
  status?: {
    phase?: string;
    nominatedNodeName?: string;
    conditions?: PodCondition[];
  };
}

export interface NodeCondition {
  type: string;
  status: string;
}

export interface Node {
  metadata: ObjectMeta;
  spec?: { unschedulable?: boolean; taints?: Taint[] };
  status?: { allocatable?: ResourceList; capacity?: ResourceList; conditions?: NodeCondition[] };
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: {
    key: string;
    operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    values?: string[];
  }[];
}

export interface PodDisruptionBudget {
  metadata: ObjectMeta & { namespace: string };
  spec?: { selector?: LabelSelector };
  status?: { disruptionsAllowed?: number };
}
