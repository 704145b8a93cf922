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

/**
 * A shard's summaries, built again and again (at most once a second while pods come and go, over
 * every node the shard owns): a node's entry is kept while nothing it is read from changed — the
 * node, its pods and its nominations (ClusterState.nodeVersion), its class's place in the list,
 * the group it is held for and whether that group still waits — so a summary costs a pass over
 * the nodes plus a new entry for each node that changed, and leaves garbage only for those.
 */
export class CapacitySummarizer {
  private cluster: ClusterState | undefined;
  private entries = new Map<string, NodeEntry>();

  summarize(
    cluster: ClusterState,
    ownsNode: (nodeName: string) => boolean,
    header: { shard: string; epoch: number; publishedAt: number },
    stuck: readonly StuckGroupReport[],
    /** Whether a group (GroupKey.id) still has members waiting for a node (pending or gated). */
    waiting: (groupId: string) => boolean = () => true,
  ): CapacitySummary {
    // Node versions are one cluster's counter: another cluster (a relist) starts afresh.
    if (cluster !== this.cluster) this.entries.clear();
    this.cluster = cluster;
    const classes: NodeClass[] = [];
    const classIndex = new Map<string, number>();
    const nodes: NodeCapacity[] = [];
    const entries = new Map<string, NodeEntry>();
    for (const node of cluster.nodes) {
      // A node that takes no new pods has no capacity to offer.
      if (!ownsNode(node.name) || !node.ready || node.unschedulable) continue;
      const { nodeClass, key } = classOf(node);
      let index = classIndex.get(key);
      if (index === undefined) {
        index = classes.push(nodeClass) - 1;
        classIndex.set(key, index);
      }
      const version = cluster.nodeVersion(node.name);
      const lentFor = heldFor(node, cluster);
      const lentForPlaced = lentFor !== undefined && !waiting(lentFor);
      const kept = this.entries.get(node.name);
      const entry =
        kept !== undefined &&
        kept.node === node &&
        kept.version === version &&
        kept.classIndex === index &&
        kept.lentFor === lentFor &&
        kept.lentForPlaced === lentForPlaced
          ? kept
          : {
              node,
              version,
              classIndex: index,
              lentFor,
              lentForPlaced,
              capacity: nodeCapacity(node, cluster, index, lentFor, lentForPlaced),
            };
      entries.set(node.name, entry);
      nodes.push(entry.capacity);
    }
    this.entries = entries;
    return { ...header, classes, nodes, stuck };
  }
}

/** What a node's summary entry was built from, with the entry. */
interface NodeEntry {
  readonly node: NodeInfo;
  readonly version: number;
  readonly classIndex: number;
  readonly lentFor: string | undefined;
  readonly lentForPlaced: boolean;
  readonly capacity: NodeCapacity;
}

/** One summary, built from nothing kept (the coordinator's planning in the simulation, tests). */
export function summarizeCapacity(
  cluster: ClusterState,
  ownsNode: (nodeName: string) => boolean,
  header: { shard: string; epoch: number; publishedAt: number },
  stuck: readonly StuckGroupReport[],
  waiting?: (groupId: string) => boolean,
): CapacitySummary {
  return new CapacitySummarizer().summarize(cluster, ownsNode, header, stuck, waiting);
}

/** A node's entry: its free room, what each priority would free, its hold and its promises. */
function nodeCapacity(
  node: NodeInfo,
  cluster: ClusterState,
  classIndex: number,
  lentFor: string | undefined,
  lentForPlaced: boolean,
): NodeCapacity {
  const byPriority = new Map<number, Resources>();
  for (const pod of node.pods.values()) {
    if (pod.terminating) continue;
    const freed = byPriority.get(pod.priority) ?? new Resources();
    freed.add(pod.requests);
    freed.pods += 1;
    byPriority.set(pod.priority, freed);
  }
  const free = node.allocatable.clone().subtract(node.requested);
  let nominatedFor: Set<string> | undefined;
  for (const nominated of cluster.nominatedOn(node.name)) {
    free.subtract(nominated.requests);
    free.pods -= 1;
    nominatedFor ??= new Set();
    nominatedFor.add(nominated.group.id);
  }
  return {
    name: node.name,
    class: classIndex,
    free: amountsOf(free),
    freeable: [...byPriority]
      .sort(([a], [b]) => a - b)
      .map(([priority, freed]) => ({ priority, amounts: amountsOf(freed) })),
    ...(lentFor ? { lentFor } : {}),
    ...(lentForPlaced ? { lentForPlaced: true as const } : {}),
    ...(nominatedFor ? { nominatedFor: [...nominatedFor].sort() } : {}),
  };
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
