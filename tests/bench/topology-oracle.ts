/**
 * The topology scenario's judge: which pending pod groups ONE scheduler owning every node could
 * still place on the cluster as it stands, a group that requires a topology domain (its pods'
 * sharded-scheduler.io/topology-required annotation names the node label) all inside one domain
 * of that label. Pure: the shard's scheduling core with preemption off and every node scored (as
 * fragmentation-oracle.ts), offered one domain's nodes at a time; domains that cannot hold the
 * group's cpu are skipped, the others tried tightest first (big domains stay whole for big groups).
 */
import { topologyRequiredAnnotation } from "../../scheduler/src/contracts/keys.js";
import type { ClusterState, Node, Pod, PodInfo } from "../../scheduler/src/core/index.js";
import { type OracleVerdict, placePendingGroups } from "./fragmentation-oracle.js";

/**
 * Places the pending groups as placePendingGroups does, a group whose pods' annotation
 * requires a domain offered the domains that could hold its cpu, one at a time.
 */
export function placePendingTopologyGroups(nodes: readonly Node[], pods: readonly Pod[]): OracleVerdict {
  return placePendingGroups(nodes, pods, (entry, cluster) => {
    const key = entry.pods
      .map((pod) => pod.metadata.annotations?.[topologyRequiredAnnotation])
      .find((value) => value);
    if (key === undefined) return [() => true];
    return domainsToTry(cluster, key, cpuOf(entry.members)).map(
      (domain) => (name: string) => domain.has(name),
    );
  });
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
