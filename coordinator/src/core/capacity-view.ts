/**
 * The cluster as the shards' capacity summaries describe it, turned into a ClusterState the
 * scheduling core can place on: one node per summarized node, whose allocatable is the room
 * it has — free, or free plus what preempting groups below a priority would free.
 */
import {
  type CapacitySummary,
  capacityNode,
  lentForAnnotation,
  type ResourceAmounts,
} from "@sharded-scheduler/scheduler/contracts";
import { ClusterState, type NodeInfo } from "@sharded-scheduler/scheduler/core";

export interface CapacityView {
  readonly cluster: ClusterState;
  /** Each shard's nodes, in its summary's order. */
  readonly nodesOf: ReadonlyMap<string, readonly NodeInfo[]>;
  /** Which shard reported each node. */
  readonly ownerOf: ReadonlyMap<string, string>;
}

/**
 * With `preemptBelow`, a node's room also counts the pods of every priority strictly below it:
 * an upper bound, since preemption evicts whole groups and honours disruption budgets; the
 * shard that preempts decides exactly. Except on the nodes of `freeOnlyOn`: a shard that has
 * searched its own nodes for victims already (the owner reporting a group stuck) and found none.
 */
export function capacityView(
  summaries: Iterable<CapacitySummary>,
  preemptBelow: number | undefined = undefined,
  freeOnlyOn: string | undefined = undefined,
): CapacityView {
  const cluster = new ClusterState();
  const nodesOf = new Map<string, NodeInfo[]>();
  const ownerOf = new Map<string, string>();
  for (const summary of summaries) {
    const nodes: NodeInfo[] = [];
    for (const node of summary.nodes) {
      // A node two summaries claim (one of them stale, mid-handover) counts for neither.
      if (ownerOf.has(node.name)) {
        ownerOf.set(node.name, "");
        continue;
      }
      const nodeClass = summary.classes[node.class];
      if (!nodeClass) continue;
      let room: ResourceAmounts = node.free;
      if (preemptBelow !== undefined && summary.shard !== freeOnlyOn) {
        room = { ...node.free };
        for (const level of node.freeable) {
          if (level.priority >= preemptBelow) break;
          for (const [resource, amount] of Object.entries(level.amounts))
            room[resource] = Math.max(0, room[resource] ?? 0) + amount;
        }
      }
      nodes.push(cluster.upsertNode(capacityNode(node.name, nodeClass, room, node.lentFor)));
      ownerOf.set(node.name, summary.shard);
    }
    nodesOf.set(summary.shard, nodes);
  }
  for (const [shard, nodes] of nodesOf)
    nodesOf.set(
      shard,
      nodes.filter((node) => ownerOf.get(node.name) === shard),
    );
  return { cluster, nodesOf, ownerOf };
}

/** Total free cpu a shard reports: a handoff goes to the roomiest shard that fits. */
export function freeCpu(summary: CapacitySummary): number {
  let total = 0;
  for (const node of summary.nodes) total += Math.max(0, node.free.cpu ?? 0);
  return total;
}

/**
 * Free cpu per shard as the planner may use it for the group (millicores): on the nodes the view
 * gives the shard (not those two summaries claim), leaving out nodes held for another group (lent
 * for it, which has not arrived). For reading an "impossible" answer beside each summary's own
 * free cpu (freeCpu), which counts every node it lists.
 */
export function usableFreeCpu(view: CapacityView, groupId: string): Record<string, number> {
  const usable: Record<string, number> = {};
  for (const [shard, nodes] of view.nodesOf) {
    let total = 0;
    for (const node of nodes) {
      const heldFor = node.node.metadata.annotations?.[lentForAnnotation];
      if (heldFor === undefined || heldFor === groupId) total += node.allocatable.milliCpu;
    }
    usable[shard] = total;
  }
  return usable;
}
