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
  /** InterPodAffinity (plugins/inter-pod-affinity), parsed once into PodInfo.interPodAffinity. */
  podAffinity?: PodAffinityTerms;
  podAntiAffinity?: PodAffinityTerms;
}

export interface PodAffinityTerms {
  requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
  preferredDuringSchedulingIgnoredDuringExecution?: WeightedPodAffinityTerm[];
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

/** A pod volume: which source it names (plugins/unsupported-constraints) and its claim (the volume plugins). */
export interface Volume {
  name: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  ephemeral?: { volumeClaimTemplate?: unknown };
  gcePersistentDisk?: { pdName: string; readOnly?: boolean };
  awsElasticBlockStore?: { volumeID: string; readOnly?: boolean };
  rbd?: { monitors?: string[]; pool?: string; image: string; readOnly?: boolean };
  iscsi?: { iqn: string; readOnly?: boolean };
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
  /** Dynamic Resource Allocation claims: only their presence is read (plugins/unsupported-constraints). */
  resourceClaims?: unknown[];
  /** The PodGroup the pod belongs to (scheduling.k8s.io/v1beta1; core/gang podGroupSource). Immutable. */
  schedulingGroup?: { podGroupName?: string } | null;
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

// --- volumes (VolumeBinding, VolumeZone, VolumeRestrictions) -----------------------------------

/** A PersistentVolumeClaim: what the volume plugins read of it. */
export interface PersistentVolumeClaim {
  metadata: ObjectMeta & { namespace: string };
  spec?: {
    /** The PersistentVolume it is bound (or pre-bound) to; "" or unset: none yet. */
    volumeName?: string;
    /** "" asks for no class; unset: the default class (the admission plugin fills it in). */
    storageClassName?: string | null;
    accessModes?: string[];
  };
  status?: { phase?: string };
}

/** A PersistentVolume: its topology (node affinity and zone/region labels). */
export interface PersistentVolume {
  metadata: ObjectMeta;
  spec?: {
    nodeAffinity?: { required?: { nodeSelectorTerms: NodeSelectorTerm[] } | null } | null;
    storageClassName?: string;
  };
}

/** A StorageClass: only when its claims bind. */
export interface StorageClass {
  metadata: ObjectMeta;
  /** Immediate (the API server's default) or WaitForFirstConsumer. */
  volumeBindingMode?: string;
}

// ---- InterPodAffinity (plugins/inter-pod-affinity) ----

/** One pod (anti-)affinity term as the API holds it. */
export interface PodAffinityTerm {
  /** null/absent: matches no pod; {}: every pod. */
  labelSelector?: LabelSelector | null;
  /** Namespaces the term looks in; with namespaceSelector, the union. Neither: the pod's own. */
  namespaces?: string[];
  /** null/absent: none (then `namespaces`, or the pod's own); {}: every namespace. */
  namespaceSelector?: LabelSelector | null;
  topologyKey: string;
  /** Pod label keys whose incoming pod values are merged into labelSelector as `key In (value)`. */
  matchLabelKeys?: string[];
  /** Pod label keys whose incoming pod values are merged into labelSelector as `key NotIn (value)`. */
  mismatchLabelKeys?: string[];
}

export interface WeightedPodAffinityTerm {
  /** 1-100 (API validation). */
  weight: number;
  podAffinityTerm: PodAffinityTerm;
}

/** The parts of a Namespace the core reads: its labels (namespaceSelector). */
export interface Namespace {
  metadata: ObjectMeta;
}
