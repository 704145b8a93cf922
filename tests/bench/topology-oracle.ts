/**
 * The topology scenario's judge: which pending pod groups ONE scheduler owning every node could
 * still place on the cluster as it stands, a group that requires a topology domain (its pods'
 * sharded-scheduler.io/topology-required annotation names the node label) all inside one domain
 * of that label. Pure: the shard's scheduling core with preemption off and every node scored (as
 * fragmentation-oracle.ts), offered one domain's nodes at a time; domains that cannot hold the
 * group's cpu are skipped, the others tried tightest first (big domains stay whole for big groups).
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
import type { OracleVerdict } from "./fragmentation-oracle.js";

/** The annotation a pod's group requires one domain of a node label with (its value: the label key). */
export const topologyRequiredAnnotation = "sharded-scheduler.io/topology-required";

const oracleConfig: CoreConfig = {
  scoringStrategy: "MostAllocated",
  percentageOfNodesToScore: 100,
  preemption: false,
};

interface PendingEntry {
  key: GroupKey;
  minMember: number | undefined;
  members: PodInfo[];
  /** The label key the group requires one domain of, if any. */
  topologyKey: string | undefined;
}

/**
 * Places the pending groups one at a time, in the order their first pending pod appears in
 * `pods`, all or nothing; a group that fits keeps its room. Pods with a node (and not finished)
 * occupy it; pods without one are the pending members.
 */
export function placePendingTopologyGroups(nodes: readonly Node[], pods: readonly Pod[]): OracleVerdict {
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
    const entry = pending.get(group.id) ?? { key: group, minMember, members: [], topologyKey: undefined };
    pending.set(group.id, entry);
    entry.members.push(info);
    entry.topologyKey ??= pod.metadata.annotations?.[topologyRequiredAnnotation] || undefined;
  }
  const core = new SchedulingCore(cluster, oracleConfig);
  const fits: GroupKey[] = [];
  const unfit: GroupKey[] = [];
  for (const entry of pending.values()) {
    const place = (ownsNode: (name: string) => boolean) => {
      const group = pendingGroup(entry.key, entry.members, running.get(entry.key.id) ?? [], entry.minMember);
      const [decision] = core.cycle([group], ownsNode);
      return decision?.kind === "bind";
    };
    const placed =
      entry.topologyKey === undefined
        ? place(() => true)
        : domainsToTry(cluster, entry.topologyKey, cpuOf(entry.members)).some((domain) =>
            place((name) => domain.has(name)),
          );
    (placed ? fits : unfit).push(entry.key);
  }
  return { fits, unfit };
}

const cpuOf = (members: readonly PodInfo[]) =>
  members.reduce((sum, member) => sum + member.requests.milliCpu, 0);

/**
 * The domains of the key (node sets sharing one value; nodes without the key belong to none)
 * with at least `milliCpu` free, the least free first, then by value.
 */
function domainsToTry(cluster: ClusterState, key: string, milliCpu: number): Set<string>[] {
  const domains = new Map<string, { nodes: Set<string>; free: number }>();
  for (const node of cluster.nodes) {
    const value = node.labels[key];
    if (value === undefined) continue;
    const domain = domains.get(value) ?? { nodes: new Set<string>(), free: 0 };
    domain.nodes.add(node.name);
    domain.free += Math.max(0, node.allocatable.milliCpu - node.requested.milliCpu);
    domains.set(value, domain);
  }
  return [...domains.entries()]
    .filter(([, domain]) => domain.free >= milliCpu)
    .sort((a, b) => a[1].free - b[1].free || a[0].localeCompare(b[0]))
    .map(([, domain]) => domain.nodes);
}
