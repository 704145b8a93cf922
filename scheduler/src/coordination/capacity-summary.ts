/**
 * Builds the compact account of its capacity a shard publishes for the coordinator (pure, no
 * I/O; the format and its parser are contracts/capacity-summary.ts), and turns a summarized node
 * back into a Node for the coordinator's what-if placement.
 */
import {
  type CapacitySummary,
  hostnameLabel,
  type NodeCapacity,
  type NodeClass,
  type ResourceAmounts,
  type StuckGroupReport,
} from "../contracts/capacity-summary.js";
import { lentForAnnotation } from "../contracts/keys.js";
import type { Node, ResourceList } from "../core/api-types.js";
import { heldFor } from "../core/plugins/index.js";
import { Resources } from "../core/resources/resources.js";
import type { ClusterSnapshot } from "../core/snapshot.js";

// Temporary (issue 19): shard/shard.ts and the coordinator still import the format from here.
export * from "../contracts/capacity-summary.js";
export { summaryKey } from "../contracts/keys.js";

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
