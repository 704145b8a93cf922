/**
 * The compact account of its capacity a shard publishes for the coordinator (pure, no I/O):
 * per owned node the free resources and what preempting each priority level would free, and
 * the groups it owns but cannot place. Node labels and taints are stored once per distinct
 * set (a "node class"), so a summary stays small on large uniform pools.
 */
import type { Node, ResourceList, Taint } from "../core/api-types.js";
import { heldFor, lentForAnnotation } from "../core/plugins/index.js";
import { Resources } from "../core/resources/resources.js";
import type { ClusterSnapshot } from "../core/snapshot.js";

/** Resource amounts by Kubernetes name in kube-scheduler's units (cpu in milli-cores, pods a count). */
export type ResourceAmounts = Record<string, number>;

export interface NodeClass {
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
}

export interface NodeCapacity {
  readonly name: string;
  /** Index into CapacitySummary.classes. */
  readonly class: number;
  /**
   * Allocatable minus the requests of every pod on the node and of every pending pod nominated
   * to it (room a preemption won is reserved: the owner will not give it to anyone else).
   */
  readonly free: ResourceAmounts;
  /** What evicting the (not terminating) pods of each priority would free, lowest priority first. */
  readonly freeable: readonly { readonly priority: number; readonly amounts: ResourceAmounts }[];
  /** A node lent for one pod group (GroupKey.id) takes only that group's pods until it arrives. */
  readonly lentFor?: string;
  /**
   * The groups (GroupKey.id) with pending pods nominated to this node: room their preemption
   * won, promised to them. The coordinator never lends such a node to another group, nor
   * returns it from its borrower while the promise stands.
   */
  readonly nominatedFor?: readonly string[];
}

/** A group its owner reported Unschedulable (no placement, not even by preemption). */
export interface StuckGroupReport {
  /** GroupKey.id. */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly solo: boolean;
  readonly hashKey: string;
  /** Names of the pending members, in the group's namespace. */
  readonly members: readonly string[];
  /** How many of them must start together. */
  readonly required: number;
  readonly priority: number;
  readonly mayPreempt: boolean;
  /** When the owner first found it unschedulable (ms since the epoch, the owner's clock). */
  readonly since: number;
  readonly message: string;
}

export interface CapacitySummary {
  readonly shard: string;
  /** The ring epoch the shard's node ownership is from. */
  readonly epoch: number;
  readonly publishedAt: number;
  readonly classes: readonly NodeClass[];
  readonly nodes: readonly NodeCapacity[];
  readonly stuck: readonly StuckGroupReport[];
}

/** Each node's own hostname label is not part of its class; a reader adds it back from the name. */
export const hostnameLabel = "kubernetes.io/hostname";

/** The Redis key of a shard's summary (the hash tag keeps one scheduler's keys on one cluster slot). */
export function summaryKey(schedulerName: string, shard: string): string {
  return `sharded-scheduler:{${schedulerName}}:capacity:${shard}`;
}

export function summarizeCapacity(
  snapshot: ClusterSnapshot,
  ownsNode: (nodeName: string) => boolean,
  header: { shard: string; epoch: number; publishedAt: number },
  stuck: readonly StuckGroupReport[],
): CapacitySummary {
  const classes: NodeClass[] = [];
  const classIndex = new Map<string, number>();
  const nodes: NodeCapacity[] = [];
  for (const node of snapshot.nodes) {
    // A node that takes no new pods has no capacity to offer.
    if (!ownsNode(node.name) || !node.ready || node.unschedulable) continue;
    const labels = { ...node.labels };
    if (labels[hostnameLabel] === node.name) delete labels[hostnameLabel];
    const nodeClass: NodeClass = { labels, taints: node.taints };
    const key = JSON.stringify(nodeClass);
    let index = classIndex.get(key);
    if (index === undefined) {
      index = classes.push(nodeClass) - 1;
      classIndex.set(key, index);
    }
    const byPriority = new Map<number, Resources>();
    for (const pod of node.pods.values()) {
      if (pod.terminating) continue;
      const freed = byPriority.get(pod.priority) ?? new Resources();
      freed.add(pod.requests);
      freed.pods += 1;
      byPriority.set(pod.priority, freed);
    }
    const lentFor = heldFor(node);
    const free = node.allocatable.clone().subtract(node.requested);
    let nominatedFor: Set<string> | undefined;
    for (const nominated of snapshot.nominatedOn(node.name)) {
      free.subtract(nominated.requests);
      free.pods -= 1;
      nominatedFor ??= new Set();
      nominatedFor.add(nominated.group.id);
    }
    nodes.push({
      name: node.name,
      class: index,
      free: amountsOf(free),
      freeable: [...byPriority]
        .sort(([a], [b]) => a - b)
        .map(([priority, freed]) => ({ priority, amounts: amountsOf(freed) })),
      ...(lentFor ? { lentFor } : {}),
      ...(nominatedFor ? { nominatedFor: [...nominatedFor].sort() } : {}),
    });
  }
  return { ...header, classes, nodes, stuck };
}

export function amountsOf(resources: Resources): ResourceAmounts {
  const amounts: ResourceAmounts = {};
  for (const name of resources.names()) amounts[name] = resources.get(name);
  return amounts;
}

/**
 * A Node as the coordinator's what-if placement sees a summarized one: its class's labels and
 * taints, Ready, with `room` (free, plus what preemption could free) as its allocatable, and
 * the group it is lent for (so the same LentNode filter applies).
 */
export function capacityNode(
  name: string,
  nodeClass: NodeClass,
  room: ResourceAmounts,
  lentFor?: string,
): Node {
  const allocatable: ResourceList = {};
  for (const [resource, amount] of Object.entries(room)) {
    const whole = Math.max(0, Math.floor(amount));
    allocatable[resource] = resource === "cpu" ? `${whole}m` : String(whole);
  }
  return {
    metadata: {
      name,
      labels: { ...nodeClass.labels, [hostnameLabel]: name },
      ...(lentFor ? { annotations: { [lentForAnnotation]: lentFor } } : {}),
    },
    spec: { taints: [...nodeClass.taints] },
    status: { allocatable, conditions: [{ type: "Ready", status: "True" }] },
  } as Node;
}
