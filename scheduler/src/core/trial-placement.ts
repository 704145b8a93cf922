/**
 * A what-if placement: could this group be placed, whole, on these nodes? Runs the cycle's
 * own Filter, Score and Gang steps over every node (no sampling) inside a Statement that is
 * always discarded, so the snapshot is left as it was. The coordinator asks it of the
 * capacity shards report; an offline oracle asks it of a final cluster state.
 */
import type { ScorePlugin } from "./framework.js";
import type { PendingGroup } from "./gang/index.js";
import { type Placement, type PlacementContext, placeGang } from "./gang-placement.js";
import type { NodeInfo } from "./model.js";
import { defaultFilterPlugins } from "./plugins/index.js";
import { nodeResourcesFit } from "./plugins/node-resources/node-resources-fit.js";
import { resourceAllocationScore } from "./plugins/node-resources/resource-allocation.js";
import type { ClusterSnapshot } from "./snapshot.js";
import { Statement } from "./statement.js";

/**
 * The placements of every required member, or undefined when the group does not fit.
 * Among feasible nodes those `preferred` says yes to win (then MostAllocated), so a caller can
 * ask for the placement that needs the fewest nodes from elsewhere.
 */
export function trialPlacement(
  snapshot: ClusterSnapshot,
  nodes: readonly NodeInfo[],
  group: PendingGroup,
  preferred: (nodeName: string) => boolean = () => false,
): readonly Placement[] | undefined {
  const usable = new Set(nodes.map((node) => node.name));
  const packing = resourceAllocationScore("MostAllocated");
  const scorer: ScorePlugin = {
    name: "PreferredThenMostAllocated",
    // Packing scores are 0-100: a preferred node always outranks any other.
    score: (pod, node) => packing.score(pod, node) + (preferred(node.name) ? 101 : 0),
  };
  const ctx: PlacementContext = {
    snapshot,
    nodes,
    ownsNode: (name) => usable.has(name),
    otherShardNodes: 0,
    filters: [...defaultFilterPlugins, nodeResourcesFit(snapshot)],
    scorer,
    feasibleNodesToFind: nodes.length,
    nextStartIndex: 0,
  };
  const statement = new Statement(snapshot);
  try {
    const result = placeGang(ctx, statement, group, false);
    return result.fits ? result.placements : undefined;
  } finally {
    statement.discard();
  }
}
