/**
 * The fragmentation scenario's judge: which pending pod groups ONE scheduler owning every node
 * could still place on the cluster as it stands. Pure: it is the shard's scheduling core
 * (one resource arithmetic, one pod-group parser) with preemption off and every node scored.
 */
import {
  ClusterState,
  type CoreConfig,
  type GroupKey,
  type Node,
  type Pod,
  type PodInfo,
  pendingGroup,
  podGroupMembership,
  SchedulingCore,
  toPodInfo,
} from "../../scheduler/src/core/index.js";

/** A single scheduler packing as the shard does, but never evicting anything. */
const oracleConfig: CoreConfig = {
  scoringStrategy: "MostAllocated",
  percentageOfNodesToScore: 100,
  preemption: false,
};

export interface OracleVerdict {
  /** Pending groups that fit, all required members at once, given the groups tried before them. */
  readonly fits: readonly GroupKey[];
  /** Pending groups that do not fit. */
  readonly unfit: readonly GroupKey[];
}

/** A pending group as the oracle collects it: its key, min-member and pending members, in arrival order. */
export interface PendingEntry {
  readonly key: GroupKey;
  readonly minMember: number | undefined;
  readonly members: PodInfo[];
  /** The pending members as the pods were given (what a caller reads of them beyond PodInfo). */
  readonly pods: Pod[];
}

/**
 * Places the pending groups one at a time, in the order their first pending pod appears in
 * `pods`, all or nothing; a group that fits keeps its room, so later groups cannot count it
 * twice. Pods with a node (and not finished) occupy it; pods without one are the pending
 * members: pass only the pending pods that should be judged. `nodeSetsOf` says which node sets
 * a group is offered, one after another, until it fits in one (default: every node at once).
 */
export function placePendingGroups(
  nodes: readonly Node[],
  pods: readonly Pod[],
  nodeSetsOf: (entry: PendingEntry, cluster: ClusterState) => readonly ((name: string) => boolean)[] = () => [
    () => true,
  ],
): OracleVerdict {
  const cluster = new ClusterState();
  for (const node of nodes) cluster.upsertNode(node);
  const pending = new Map<string, PendingEntry>();
  const running = new Map<string, PodInfo[]>();
  for (const pod of pods) {
    const info = toPodInfo(pod);
    if (info.finished) continue;
    if (info.nodeName) {
      cluster.upsertPod(info);
      running.set(info.group.id, [...(running.get(info.group.id) ?? []), info]);
      continue;
    }
    const { group, minMember } = podGroupMembership(pod);
    const entry = pending.get(group.id) ?? { key: group, minMember, members: [], pods: [] };
    pending.set(group.id, entry);
    entry.members.push(info);
    entry.pods.push(pod);
  }
  const core = new SchedulingCore(cluster, oracleConfig);
  const fits: GroupKey[] = [];
  const unfit: GroupKey[] = [];
  for (const entry of pending.values()) {
    const { key, minMember, members } = entry;
    const placed = nodeSetsOf(entry, cluster).some((ownsNode) => {
      const group = pendingGroup(key, members, running.get(key.id) ?? [], minMember);
      const [decision] = core.cycle([group], ownsNode);
      return decision?.kind === "bind";
    });
    (placed ? fits : unfit).push(key);
  }
  return { fits, unfit };
}
