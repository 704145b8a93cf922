/**
 * A what-if placement: could this group be placed, whole, on these nodes? Runs the cycle's own
 * profile (buildProfile: the same plugins as the shard's cycle) over every node (no sampling)
 * inside a Statement that is always discarded, so the cluster is left as it was. The
 * coordinator asks it of the capacity shards report; an offline oracle asks it of a final
 * cluster state.
 */

import type { ClusterState } from "./cluster-state.js";
import { maxNodeScore, type ScorePlugin } from "./framework.js";
import type { PendingGroup } from "./gang/index.js";
import { type Placement, type PlacementContext, placeGroup } from "./gang-placement.js";
import type { NodeInfo } from "./model.js";
import { buildProfile, defaultProfileConfig, type Profile, type ProfileConfig } from "./profile.js";
import { Statement } from "./statement.js";

const preferredNodesName = "PreferredNodes";

/**
 * The placements of every required member, or undefined when the group does not fit.
 * Among feasible nodes those `preferred` says yes to win (then the profile's scores, by default
 * MostAllocated), so a caller can ask for the placement that needs the fewest nodes from elsewhere.
 */
export function trialPlacement(
  cluster: ClusterState,
  nodes: readonly NodeInfo[],
  group: PendingGroup,
  preferred: (nodeName: string) => boolean = () => false,
  config: ProfileConfig = defaultProfileConfig,
): readonly Placement[] | undefined {
  const usable = new Set(nodes.map((node) => node.name));
  const ctx: PlacementContext = {
    cluster,
    nodes,
    ownsNode: (name) => usable.has(name),
    otherShardNodes: 0,
    profile: preferring(buildProfile(cluster, config), preferred),
    feasibleNodesToFind: nodes.length,
    nextStartIndex: 0,
  };
  const statement = new Statement(cluster);
  try {
    const result = placeGroup(ctx, statement, group, false);
    return result.fits ? result.placements : undefined;
  } finally {
    statement.discard();
  }
}

/** The profile with one more score: preferred nodes outrank every other, whatever else scores. */
function preferring(profile: Profile, preferred: (nodeName: string) => boolean): Profile {
  const outweigh = 1 + profile.scores.reduce((sum, { weight }) => sum + weight, 0);
  const preferredNodes: ScorePlugin = {
    name: preferredNodesName,
    score: (_pod, node) => (preferred(node.name) ? maxNodeScore : 0),
  };
  return { ...profile, scores: [...profile.scores, { plugin: preferredNodes, weight: outweigh }] };
}
