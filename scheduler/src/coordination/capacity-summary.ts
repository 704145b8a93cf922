/**
 * Builds the compact account of its capacity a shard publishes for the coordinator (pure, no
 * I/O; the format, its parser and the way back to a Node are contracts/capacity-summary.ts).
 */
import {
  amountsOf,
  type CapacitySummary,
  hostnameLabel,
  type NodeCapacity,
  type NodeClass,
  type StuckGroupReport,
} from "../contracts/capacity-summary.js";
import type { ClusterState } from "../core/cluster-state.js";
import type { NodeInfo } from "../core/model.js";
import { heldFor } from "../core/plugins/index.js";
import { Resources } from "../core/resources/resources.js";

export function summarizeCapacity(
  cluster: ClusterState,
  ownsNode: (nodeName: string) => boolean,
  header: { shard: string; epoch: number; publishedAt: number },
  stuck: readonly StuckGroupReport[],
  /** Whether a group (GroupKey.id) still has members waiting for a node (pending or gated). */
  waiting: (groupId: string) => boolean = () => true,
): CapacitySummary {
  const classes: NodeClass[] = [];
  const classIndex = new Map<string, number>();
  const nodes: NodeCapacity[] = [];
  for (const node of cluster.nodes) {
    // A node that takes no new pods has no capacity to offer.
    if (!ownsNode(node.name) || !node.ready || node.unschedulable) continue;
    const { nodeClass, key } = classOf(node);
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
    const lentFor = heldFor(node, cluster);
    const free = node.allocatable.clone().subtract(node.requested);
    let nominatedFor: Set<string> | undefined;
    for (const nominated of cluster.nominatedOn(node.name)) {
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
      ...(lentFor && !waiting(lentFor) ? { lentForPlaced: true as const } : {}),
      ...(nominatedFor ? { nominatedFor: [...nominatedFor].sort() } : {}),
    });
  }
  return { ...header, classes, nodes, stuck };
}

/** Each node's class, with the labels and taints it was read from. */
const nodeClasses = new WeakMap<NodeInfo, NodeClassOf>();

interface NodeClassOf {
  readonly labels: NodeInfo["labels"];
  readonly taints: NodeInfo["taints"];
  readonly nodeClass: NodeClass;
  readonly key: string;
}

/**
 * The node's class (its labels but its own hostname, and its taints) and that class's identity.
 * A summary is built every interval while pods come and go, over every node the shard owns, and
 * a node's labels and taints seldom change: read again only when an update of the node brought
 * other ones.
 */
function classOf(node: NodeInfo): NodeClassOf {
  const known = nodeClasses.get(node);
  if (known !== undefined && known.labels === node.labels && known.taints === node.taints) return known;
  const labels = { ...node.labels };
  if (labels[hostnameLabel] === node.name) delete labels[hostnameLabel];
  const nodeClass: NodeClass = { labels, taints: node.taints };
  const read = { labels: node.labels, taints: node.taints, nodeClass, key: JSON.stringify(nodeClass) };
  nodeClasses.set(node, read);
  return read;
}
