/**
 * Every name the scheduler's processes agree on outside their own memory: the
 * `sharded-scheduler.io/*` annotations, labels and condition types on Kubernetes objects, the
 * Lease names, the Events' reporting controllers and the Redis key layout. Shards, the
 * coordinator and the status command import them from here; the test tooling (tests/checker,
 * tests/integration) spells them out on purpose, as an independent reader of the same contract.
 */

/** The domain every key below lives under. */
export const keyDomain = "sharded-scheduler.io";

// Pods: what a tenant writes (its own annotations, read by the annotation group source).

/** A pod's group: pods that name the same group in one namespace are scheduled as one gang. */
export const podGroupAnnotation = "sharded-scheduler.io/pod-group";
/** How many of a group's members must start together (a decimal count). */
export const minMemberAnnotation = "sharded-scheduler.io/min-member";
/** A node label key: every member of the pod's group must land on nodes sharing one value of it. */
export const topologyRequiredAnnotation = "sharded-scheduler.io/topology-required";
/** Node label keys, comma-separated, finer levels first wanted: best-effort co-location. */
export const topologyPreferredAnnotation = "sharded-scheduler.io/topology-preferred";

// Pods: what only shards and the coordinator write (status conditions, through pods/status).

/** The shard that schedules a pod's group, whatever the ring says (owner-condition.ts). */
export const ownerConditionType = "sharded-scheduler.io/Owner";
/** The coordinator's record of a group's handoffs and lends (coordinator/src/kube/overrides.ts). */
export const reliefConditionType = "sharded-scheduler.io/Relief";

// Nodes: the coordinator's lends (tenants cannot patch nodes).

/** The shard a node is lent to; a lent node is fenced into the ring through the ring Lease. */
export const nodeOwnerAnnotation = "sharded-scheduler.io/owner";
/** The pod group (GroupKey.id) a node was lent for: it takes only that group's pods until they arrive. */
export const lentForAnnotation = "sharded-scheduler.io/lent-for";
/** When a node was lent (ms since the epoch). */
export const lentAtAnnotation = "sharded-scheduler.io/lent-at";
/** Label with the shard a node is lent to, so lent nodes can be listed. */
export const lentToLabel = "sharded-scheduler.io/lent-to";

// Leases (coordination.k8s.io) of one scheduler's shards, in the shards' namespace.

/** Label on every Lease of the shards of one scheduler: its scheduler name. */
export const shardLeaseLabel = "sharded-scheduler.io/shard";
/** "member" or "ring". */
export const leaseRoleLabel = "sharded-scheduler.io/role";
/** On a member Lease: the ring epoch its replica acknowledged. */
export const ackedEpochAnnotation = "sharded-scheduler.io/acked-epoch";
/** Set on a member Lease by a replica that drained its binds and left. */
export const releasedAnnotation = "sharded-scheduler.io/released";
export const ringEpochAnnotation = "sharded-scheduler.io/ring-epoch";
export const ringMembersAnnotation = "sharded-scheduler.io/ring-members";
/** JSON object node name → shard: nodes the coordinator lent, fenced like any ring change. */
export const ringNodeOwnersAnnotation = "sharded-scheduler.io/ring-node-owners";
/**
 * JSON {key, owners: member → label value → node names}: the whole domains of a node label each
 * member owns (--shard-by-label; sharding/domain-assignment.ts). Absent: nodes are hashed.
 */
export const ringDomainsAnnotation = "sharded-scheduler.io/ring-domains";

/** The ring Lease, whose annotations hold the ring {epoch, members, nodeOwners}. */
export const ringLeaseName = (schedulerName: string): string => `${schedulerName}-ring`;
/** The coordinator replicas' leader-election Lease, next to the shards' Leases. */
export const coordinatorLeaseName = (schedulerName: string): string => `${schedulerName}-coordinator`;

// Events.

/** reportingController of the Events a shard writes (kube-scheduler's is its scheduler name). */
export function schedulerReportingController(schedulerName: string): string {
  return `${keyDomain}/${schedulerName}`;
}

/** reportingController of the coordinator's Events. */
export const coordinatorReportingController = "sharded-scheduler.io/coordinator";

// Redis.

/**
 * The prefix of every Redis key of one scheduler (capacity summaries, the relief ledger). The
 * hash tag keeps one scheduler's keys on one Redis Cluster slot, so a Lua script may touch several.
 */
export function redisKeyPrefix(schedulerName: string): string {
  return `sharded-scheduler:{${schedulerName}}:`;
}

/** The Redis key of a shard's capacity summary (capacity-summary.ts). */
export function summaryKey(schedulerName: string, shard: string): string {
  return `${redisKeyPrefix(schedulerName)}capacity:${shard}`;
}

// The profile configuration file both the shards and the coordinator read (core/profile-config.ts).

/** Its apiVersion (optional in the file; another one is refused). */
export const profileApiVersion = "sharded-scheduler.io/v1alpha1";
/** Its kind (optional in the file). */
export const profileKind = "SchedulingProfile";
