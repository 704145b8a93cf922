/**
 * Who owned a node under a ring epoch, derived by the checker itself from what the ring Lease
 * records (members and lent nodes) and the documented ring scheme: ketama over md5, 1000
 * virtual nodes per member, members in code-unit order; a node lent to a live member belongs
 * to that member. Built on the hashring library directly, not on the scheduler's ring.
 * With --shard-by-label the Lease also lists whole domains of a node label per member
 * (ring-domains, JSON {key, owners: member → label value → node names}): a listed node belongs to
 * the member listing it, unless lent; nodes listed nowhere are hashed.
 */
import HashRing from "hashring";

export const ringEpochAnnotation = "sharded-scheduler.io/ring-epoch";
export const ringMembersAnnotation = "sharded-scheduler.io/ring-members";
export const ringNodeOwnersAnnotation = "sharded-scheduler.io/ring-node-owners";
export const ringDomainsAnnotation = "sharded-scheduler.io/ring-domains";

const virtualNodesPerMember = 1000;

export class RingOwners {
  readonly members: readonly string[];
  private readonly ring: HashRing;
  /** Nodes of the domains members own whole: node name → member. */
  private readonly listed = new Map<string, string>();

  constructor(
    members: Iterable<string>,
    /** Lent nodes: node name → the member it is lent to. */
    readonly lends: Readonly<Record<string, string>> = {},
    /** Whole domains per member: member → label value → node names. */
    domains: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {},
  ) {
    this.members = [...new Set(members)].sort();
    for (const [member, owned] of Object.entries(domains))
      if (this.members.includes(member))
        for (const nodes of Object.values(owned)) for (const node of nodes) this.listed.set(node, member);
    this.ring = new HashRing(
      Object.fromEntries(this.members.map((member) => [member, { vnodes: virtualNodesPerMember }])),
      "md5",
    );
  }

  ownerOf(node: string): string | undefined {
    const lent = Object.hasOwn(this.lends, node) ? this.lends[node] : undefined;
    if (lent !== undefined && this.members.includes(lent)) return lent;
    return this.listed.get(node) ?? this.ring.range(node, 1)[0];
  }

  /** The member a group hashes to (its groupHashKeyOf), before any owner annotation. */
  groupOwnerOf(hashKey: string): string | undefined {
    return this.ring.range(hashKey, 1)[0];
  }
}

/** The epoch and owners a ring Lease's annotations record; undefined when it records no epoch. */
export function readRingLease(
  annotations: Readonly<Record<string, string>>,
): { epoch: number; owners: RingOwners } | undefined {
  const epoch = Number(annotations[ringEpochAnnotation]);
  if (!Number.isInteger(epoch)) return undefined;
  const members = (annotations[ringMembersAnnotation] ?? "").split(",").filter(Boolean);
  let lends: Record<string, string> = {};
  try {
    lends = JSON.parse(annotations[ringNodeOwnersAnnotation] ?? "{}");
  } catch {
    lends = {};
  }
  return { epoch, owners: new RingOwners(members, lends, readDomains(annotations[ringDomainsAnnotation])) };
}

/** The ring-domains annotation's owners (member → label value → node names); malformed parts left out. */
function readDomains(text: string | undefined): Record<string, Record<string, string[]>> {
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  const owners = (parsed as { owners?: unknown } | null)?.owners;
  if (typeof owners !== "object" || owners === null) return {};
  const domains: Record<string, Record<string, string[]>> = {};
  for (const [member, owned] of Object.entries(owners)) {
    if (typeof owned !== "object" || owned === null) continue;
    domains[member] = Object.fromEntries(
      Object.entries(owned).map(([value, nodes]) => [
        value,
        Array.isArray(nodes) ? nodes.filter((node): node is string => typeof node === "string") : [],
      ]),
    );
  }
  return domains;
}

/**
 * The PodGroup CRDs a pod may join, by the pod key each project defines (docs/semantics.md,
 * "PodGroup CRDs"): scheduler-plugins' scheduling.x-k8s.io/v1alpha1 PodGroup by label, Volcano's
 * scheduling.volcano.sh/v1beta1 PodGroup by annotation.
 */
export const crdPodGroupKeys = [
  {
    apiGroup: "scheduling.x-k8s.io",
    version: "v1alpha1",
    kind: "label",
    key: "scheduling.x-k8s.io/pod-group",
  },
  {
    apiGroup: "scheduling.volcano.sh",
    version: "v1beta1",
    kind: "annotation",
    key: "scheduling.k8s.io/group-name",
  },
] as const;
export type CrdApiGroup = (typeof crdPodGroupKeys)[number]["apiGroup"];

/**
 * Every key that names a pod's group as an annotation-style group name, in the documented order
 * (docs/semantics.md, "Gangs"): the CRDs' keys are plain group names where their CRD is not served.
 */
const groupNameKeys: readonly { kind: "annotation" | "label"; key: string }[] = [
  { kind: "annotation", key: "sharded-scheduler.io/pod-group" },
  { kind: "annotation", key: "pod-group" },
  { kind: "annotation", key: "pod_group" },
  { kind: "label", key: "scheduling.x-k8s.io/pod-group" },
  { kind: "annotation", key: "scheduling.k8s.io/group-name" },
];

/** The parts of a pod its hash key depends on (structural: any client's pod object fits). */
export interface HashedPod {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Readonly<Record<string, string>>;
    annotations?: Readonly<Record<string, string>>;
    ownerReferences?: readonly { kind: string; name: string; controller?: boolean }[];
  };
  spec?: {
    affinity?: {
      podAffinity?: {
        requiredDuringSchedulingIgnoredDuringExecution?: readonly unknown[];
        preferredDuringSchedulingIgnoredDuringExecution?: readonly unknown[];
      };
      podAntiAffinity?: {
        requiredDuringSchedulingIgnoredDuringExecution?: readonly unknown[];
        preferredDuringSchedulingIgnoredDuringExecution?: readonly unknown[];
      };
    };
    topologySpreadConstraints?: readonly unknown[];
    /** Kubernetes 1.37's native gang membership (scheduling.k8s.io PodGroup). */
    schedulingGroup?: { podGroupName?: string };
  };
}

/**
 * The pod's annotation-style group name: the first of the documented keys it carries, undefined
 * when it carries none, keys that disagree, or a name that is empty, padded with whitespace or
 * longer than an object name (253): the scheduler refuses such a pod, a group of one.
 */
export function groupNameOf(pod: HashedPod): string | undefined {
  const names = new Set<string>();
  let first: string | undefined;
  for (const { kind, key } of groupNameKeys) {
    const value = (kind === "label" ? pod.metadata?.labels : pod.metadata?.annotations)?.[key];
    if (value === undefined) continue;
    first ??= value;
    names.add(value);
  }
  const valid = first !== undefined && first !== "" && first === first.trim() && first.length <= 253;
  return names.size === 1 && valid ? first : undefined;
}

/**
 * The CRD PodGroup a pod joins: where exactly one served CRD's key names one, and its group keys
 * agree (a pod naming PodGroups of both CRDs, or with disagreeing keys, is refused by the
 * scheduler and stays a group of one). A pod with spec.schedulingGroup is the native PodGroup's.
 */
export function crdPodGroupOf(
  pod: HashedPod,
  served: ReadonlySet<CrdApiGroup>,
): { apiGroup: CrdApiGroup; name: string } | undefined {
  if ((pod.spec?.schedulingGroup?.podGroupName ?? "") !== "") return undefined;
  const named = crdPodGroupKeys
    .filter(({ apiGroup }) => served.has(apiGroup))
    .map(({ apiGroup, kind, key }) => ({
      apiGroup,
      name: (kind === "label" ? pod.metadata?.labels : pod.metadata?.annotations)?.[key],
    }))
    .filter((named): named is { apiGroup: CrdApiGroup; name: string } => named.name !== undefined);
  if (named.length !== 1 || groupNameOf(pod) === undefined) return undefined;
  return named[0];
}

/**
 * What the ring hashes for a pod, by the documented rule (docs/semantics.md, "Inter-pod
 * constraints across shards"): a member of a native PodGroup (spec.schedulingGroup),
 * "<ns>/PodGroup/<podGroupName>" (docs/semantics.md, "Native PodGroups"; whatever annotations it
 * carries); a member of a PodGroup CRD's object (crdPodGroupOf, `served` lists the CRDs served),
 * "<ns>/PodGroup.<api group>/<name>" (docs/semantics.md, "PodGroup CRDs"); an annotation pod group
 * member, "<ns>/<group>"; a pod of its own that carries
 * any pod affinity or anti-affinity term or topology spread constraint (required or preferred)
 * and has a controller (the ownerReference marked controller), "<ns>/<Kind>/<name>" of that
 * controller, and without one "<ns>/InterPodConstraints/<FNV-1a of the constraints' sorted-key
 * JSON>"; any other pod, "<ns>/<pod>".
 */
export function groupHashKeyOf(
  pod: HashedPod,
  groupName: string | undefined,
  served: ReadonlySet<CrdApiGroup> = new Set(),
): string {
  const namespace = pod.metadata?.namespace ?? "";
  const podGroup = pod.spec?.schedulingGroup?.podGroupName;
  if (podGroup !== undefined && podGroup !== "") return `${namespace}/PodGroup/${podGroup}`;
  const crd = crdPodGroupOf(pod, served);
  if (crd !== undefined) return `${namespace}/PodGroup.${crd.apiGroup}/${crd.name}`;
  if (groupName !== undefined) return `${namespace}/${groupName}`;
  const own = `${namespace}/${pod.metadata?.name ?? ""}`;
  const spec = pod.spec ?? {};
  const terms = [spec.affinity?.podAffinity, spec.affinity?.podAntiAffinity].flatMap((side) => [
    ...(side?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
    ...(side?.preferredDuringSchedulingIgnoredDuringExecution ?? []),
  ]);
  if (terms.length === 0 && (spec.topologySpreadConstraints ?? []).length === 0) return own;
  const controller = (pod.metadata?.ownerReferences ?? []).find((ref) => ref.controller === true);
  if (controller !== undefined && controller.kind !== "" && controller.name !== "")
    return `${namespace}/${controller.kind}/${controller.name}`;
  // No controller: the constraints themselves, as sorted-key JSON hashed with 32-bit FNV-1a.
  const constraints = [
    spec.affinity?.podAffinity ?? null,
    spec.affinity?.podAntiAffinity ?? null,
    spec.topologySpreadConstraints ?? null,
  ];
  let hash = 0x811c9dc5;
  const text = sortedJson(constraints);
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return `${namespace}/InterPodConstraints/${(hash >>> 0).toString(16).padStart(8, "0")}`;
}

/** JSON whose objects list their keys in sorted order (undefined members left out). */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${sortedJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
