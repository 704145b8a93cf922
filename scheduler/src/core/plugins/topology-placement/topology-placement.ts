/**
 * TopologyPlacement: places a gang with a topology constraint (gang/topology.ts) inside one domain
 * of its required node label, as kube-scheduler 1.37's TopologyPlacement (TopologyAwareWorkloadScheduling)
 * generates one placement per value of the PodGroup's topology key.
 *
 * PlacementGenerate: one candidate node set per domain (the usable nodes sharing one value of the
 * required key) that may hold the whole gang by a cheap upper bound (memberBound), and with
 * preferred keys also the sets of each finer domain inside it that may. Nodes without the
 * required label are in no set: they never take a member. Once members of the group run in a
 * domain (a started or partial gang), only that domain is offered.
 *
 * PlacementScore, in strict order (each level only breaks the ties of the one before):
 *   0. more members placed (a gang whose min-member is below its size starts as many as fit, as
 *      kube-scheduler's PodGroupPodsCount placement score);
 *   1. tightest fit: the share of the required domain's free room the gang takes; the domain
 *      whose free room is closest to what the gang needs wins, so big domains stay whole for big gangs;
 *   2. co-location at the preferred levels: the share of members in the most used domain of the
 *      first preferred key, then of the next;
 *   3. how full the chosen nodes are (MostAllocated over cpu and memory).
 *
 * Groups without a constraint are not its business (generatesFor false): they are placed on
 * every usable node at once, at no extra cost.
 */
import type { ClusterState } from "../../cluster-state.js";
import type { PlacementGeneratePlugin, PlacementScorePlugin } from "../../framework.js";
import { domainWord, type PendingGroup } from "../../gang/index.js";
import type { Placement } from "../../gang-placement.js";
import type { NodeInfo, PodInfo } from "../../model.js";
import { Resources } from "../../resources/resources.js";
import { matchesNodeSelector, matchesRequiredNodeAffinity } from "../node-affinity/node-affinity.js";
import { firstUntoleratedTaint } from "../taint-toleration/taint-toleration.js";

export const topologyPlacementName = "TopologyPlacement";

/** One value of the required key: its usable nodes, and how many members the bound lets in. */
interface Domain {
  readonly value: string;
  readonly nodes: readonly NodeInfo[];
  readonly bound: number;
}

/** What the last generate call found, for the scores and the explanation that follow it. */
interface Generated {
  readonly group: PendingGroup;
  readonly nodes: readonly NodeInfo[];
  readonly domains: readonly Domain[];
  /** The candidate set of each domain tried whole, by domain value. */
  readonly sets: ReadonlyMap<string, readonly NodeInfo[]>;
}

export function topologyPlacement(cluster: ClusterState): PlacementGeneratePlugin & PlacementScorePlugin {
  let last: Generated | undefined;

  /** The domains of the required key among the nodes, where members of the group run if any do. */
  const domainsFor = (group: PendingGroup, nodes: readonly NodeInfo[], key: string): Domain[] => {
    const byValue = nodesByValue(nodes, key);
    const running = runningDomain(cluster, group, key);
    const unit = smallestMember(group.members);
    const domains: Domain[] = [];
    for (const [value, members] of byValue) {
      if (running !== undefined && value !== running) continue;
      domains.push({ value, nodes: members, bound: memberBound(members, unit, group.members[0]) });
    }
    return domains;
  };

  return {
    name: topologyPlacementName,
    // New nodes or labels may open a domain; room coming back may make one big enough.
    events: ["NodeAdd", "NodeUpdateLabel", "NodeUpdateAllocatable", "AssignedPodDelete", "NodeDelete"],

    generatesFor: (group) => group.topology !== undefined,

    generate(group, nodes) {
      const topology = group.topology;
      if (topology === undefined) return [nodes];
      const sets: (readonly NodeInfo[])[] = [];
      const whole = new Map<string, readonly NodeInfo[]>();
      const unit = smallestMember(group.members);
      const first = group.members[0];
      // Finer sets inside one set: a domain of each preferred key that may hold the gang whole.
      const addFiner = (within: readonly NodeInfo[]) => {
        for (const key of topology.preferred)
          for (const finer of nodesByValue(within, key).values())
            if (finer.length < within.length && memberBound(finer, unit, first) >= group.required)
              sets.push(finer);
      };
      if (topology.required === undefined) {
        sets.push(nodes);
        addFiner(nodes);
        last = { group, nodes, domains: [], sets: whole };
        return sets;
      }
      const domains = domainsFor(group, nodes, topology.required);
      for (const domain of domains) {
        if (domain.bound < group.required) continue;
        sets.push(domain.nodes);
        whole.set(domain.value, domain.nodes);
        addFiner(domain.nodes);
      }
      last = { group, nodes, domains, sets: whole };
      return sets;
    },

    explainFailure(group, nodes, placed) {
      const key = group.topology?.required;
      if (key === undefined) return undefined;
      const known = last?.group === group && last.nodes === nodes ? last : undefined;
      const domains = known?.domains ?? domainsFor(group, nodes, key);
      // The most members one domain could take: where the domain was tried whole, the members
      // placement fitted there (largest first) before one found no node; else the bound that kept
      // it from being tried (an upper bound, below what the gang needs). Cheap: no placement runs
      // for the message, and the bound is one pass over the domain's nodes.
      let largest = 0;
      for (const domain of domains) {
        const set = known?.sets.get(domain.value);
        const taken = set === undefined ? domain.bound : (placed.get(set) ?? domain.bound);
        largest = Math.max(largest, Math.min(taken, group.members.length));
      }
      const word = domainWord(key);
      const running = runningDomain(cluster, group, key);
      if (running !== undefined && group.started)
        return `no room in the ${word} its group runs in (${key}=${running}) for pod ${group.members[0]?.name ?? ""}`;
      const none = domains.length === 0 ? `; no usable node has label ${key}` : "";
      return `no ${word} has room for all ${group.required} pods (largest free: ${largest})${none}`;
    },

    scorePlacement(group, placements) {
      const topology = group.topology;
      if (topology === undefined || placements.length === 0) return 0;
      const nodes = placements.map((p) => cluster.node(p.nodeName)).filter((n) => n !== undefined);
      const key = topology.required;
      const value = key === undefined ? undefined : nodes[0]?.labels[key];
      const generated = last?.group === group ? last : undefined;
      const domain =
        key === undefined || value === undefined
          ? (generated?.nodes ?? cluster.nodes)
          : (generated?.sets.get(value) ?? cluster.nodes.filter((n) => n.labels[key] === value));
      const levels = [placements.length / group.members.length, tightness(placements, domain)];
      for (const preferred of topology.preferred) levels.push(coLocation(nodes, preferred));
      levels.push(fullness(nodes));
      return lexicographic(levels);
    },
  };
}

/** The nodes that carry the key, by its value, in node order. */
function nodesByValue(nodes: readonly NodeInfo[], key: string): Map<string, NodeInfo[]> {
  const byValue = new Map<string, NodeInfo[]>();
  for (const node of nodes) {
    const value = node.labels[key];
    if (value === undefined) continue;
    const list = byValue.get(value);
    if (list === undefined) byValue.set(value, [node]);
    else list.push(node);
  }
  return byValue;
}

/** The value of the key where members of the group already run (the first one's), or undefined. */
function runningDomain(cluster: ClusterState, group: PendingGroup, key: string): string | undefined {
  const running = cluster.runningGroup(group.key.id);
  if (running === undefined) return undefined;
  for (const pod of running.pods) {
    if (pod.terminating) continue;
    const nodeName = cluster.placementOf(pod.key);
    const value = nodeName === undefined ? undefined : cluster.node(nodeName)?.labels[key];
    if (value !== undefined) return value;
  }
  return undefined;
}

/** Per resource, the least any member asks for: no member fits where this does not. */
function smallestMember(members: readonly PodInfo[]): Resources {
  const unit = new Resources();
  const first = members[0];
  if (first === undefined) return unit;
  unit.milliCpu = Math.min(...members.map((p) => p.requests.milliCpu));
  unit.memory = Math.min(...members.map((p) => p.requests.memory));
  unit.ephemeralStorage = Math.min(...members.map((p) => p.requests.ephemeralStorage));
  for (const name of first.requests.scalar.keys())
    unit.setAmount(name, Math.min(...members.map((p) => p.requests.scalar.get(name) ?? 0)));
  return unit;
}

/**
 * An upper bound on how many members the nodes can take: node by node, how many copies of the
 * smallest member fit its free room (cpu, memory, ephemeral storage, extended resources, pod
 * slots), on the nodes that are ready, not cordoned, match the first member's node selector and
 * required affinity and carry no taint it does not tolerate. O(nodes); no filter plugin runs.
 */
export function memberBound(nodes: readonly NodeInfo[], unit: Resources, pod: PodInfo | undefined): number {
  let total = 0;
  for (const node of nodes) {
    if (!node.ready || node.unschedulable) continue;
    if (pod !== undefined) {
      if (!matchesNodeSelector(pod.nodeSelector, node.labels)) continue;
      if (!matchesRequiredNodeAffinity(pod.requiredNodeAffinity, node)) continue;
      if (firstUntoleratedTaint(pod.tolerations, node.taints) !== undefined) continue;
    }
    const a = node.allocatable;
    const r = node.requested;
    let fit = Math.max(0, a.pods - r.pods);
    const limit = (free: number, need: number) => {
      if (need > 0) fit = Math.min(fit, Math.floor(Math.max(0, free) / need));
    };
    limit(a.milliCpu - r.milliCpu, unit.milliCpu);
    limit(a.memory - r.memory, unit.memory);
    limit(a.ephemeralStorage - r.ephemeralStorage, unit.ephemeralStorage);
    for (const [name, need] of unit.scalar)
      limit((a.scalar.get(name) ?? 0) - (r.scalar.get(name) ?? 0), need);
    total += fit;
  }
  return total;
}

/**
 * The share of the domain's free room the placed members take (0 to 1), cpu and memory averaged
 * (pod slots when they ask for neither). Read with the members assumed: free = what is left + need.
 */
function tightness(placements: readonly Placement[], domain: readonly NodeInfo[]): number {
  let needCpu = 0;
  let needMemory = 0;
  for (const { pod } of placements) {
    needCpu += pod.requests.milliCpu;
    needMemory += pod.requests.memory;
  }
  let leftCpu = 0;
  let leftMemory = 0;
  let leftPods = 0;
  for (const node of domain) {
    leftCpu += Math.max(0, node.allocatable.milliCpu - node.requested.milliCpu);
    leftMemory += Math.max(0, node.allocatable.memory - node.requested.memory);
    leftPods += Math.max(0, node.allocatable.pods - node.requested.pods);
  }
  const shares: number[] = [];
  if (needCpu > 0) shares.push(needCpu / (needCpu + leftCpu));
  if (needMemory > 0) shares.push(needMemory / (needMemory + leftMemory));
  if (shares.length === 0) shares.push(placements.length / (placements.length + leftPods));
  return shares.reduce((sum, share) => sum + share, 0) / shares.length;
}

/** The share of the members in the most used domain of the key (a node without it: a domain of its own). */
function coLocation(nodes: readonly NodeInfo[], key: string): number {
  const counts = new Map<string, number>();
  let most = 0;
  for (const node of nodes) {
    const value = node.labels[key];
    const domain = value === undefined ? `node:${node.name}` : `value:${value}`;
    const count = (counts.get(domain) ?? 0) + 1;
    counts.set(domain, count);
    most = Math.max(most, count);
  }
  return nodes.length === 0 ? 0 : most / nodes.length;
}

/** How full the nodes that took members are (0 to 1), cpu and memory averaged. */
function fullness(nodes: readonly NodeInfo[]): number {
  if (nodes.length === 0) return 0;
  let sum = 0;
  for (const node of nodes) {
    const a = node.allocatable;
    const cpu = a.milliCpu > 0 ? Math.min(1, node.requested.milliCpu / a.milliCpu) : 0;
    const memory = a.memory > 0 ? Math.min(1, node.requested.memory / a.memory) : 0;
    sum += (cpu + memory) / 2;
  }
  return sum / nodes.length;
}

/**
 * Levels in 0..1, most important first, as one score in 0..100 where a level only breaks the ties
 * of those before it: each is rounded to a percent and weighs 101 times the next.
 */
export function lexicographic(levels: readonly number[]): number {
  let score = 0;
  let scale = 1;
  for (const level of levels) {
    score = score * 101 + Math.round(Math.min(1, Math.max(0, level)) * 100);
    scale *= 101;
  }
  return (100 * score) / (scale - 1);
}
