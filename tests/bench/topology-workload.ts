/**
 * The topology scenario's cluster layout and workload, generated from a seed. Nodes sit in racks
 * (consecutive nodes share one, label topology.kubernetes.io/rack) and racks in blocks (label
 * topology.kubernetes.io/block). The workload: gangs of 4–20 members that each need most of a
 * node and require one rack (a native PodGroup with schedulingConstraints.topology; the oracle
 * reads the same requirement from the sharded-scheduler.io/topology-required annotation), and
 * solo pods that fill the gaps, up to a share of the cluster's cpu, in a seeded arrival order.
 * Every group fits when one scheduler places them in arrival order on the empty cluster (the
 * topology oracle checks it; a group that does not is dropped and solo pods take its share), so
 * a gang left pending in a run is the scheduler's doing, not the workload's.
 * Pure: the same seed and nodes give the same pods.
 */
import {
  minMemberAnnotation,
  podGroupAnnotation,
  topologyRequiredAnnotation,
} from "../../scheduler/src/contracts/keys.js";
import { type Node, type Pod, toNodeInfo } from "../../scheduler/src/core/index.js";
import { topologySplit } from "../checker/topology-gangs.js";
import { mulberry32 } from "../support/random.js";
import { fillAndKeepPlaceable, type WorkloadGroup } from "./fragmentation-workload.js";
import { placePendingTopologyGroups } from "./topology-oracle.js";

export const rackLabel = "topology.kubernetes.io/rack";
export const blockLabel = "topology.kubernetes.io/block";

/** Node name → its rack and block: consecutive names share a rack, consecutive racks a block. */
export function rackLayout(
  nodeNames: readonly string[],
  racks: number,
  racksPerBlock: number,
): Map<string, { rack: string; block: string }> {
  const count = Math.max(1, Math.min(racks, nodeNames.length));
  const width = String(count - 1).length;
  const blockWidth = String(Math.floor((count - 1) / racksPerBlock)).length;
  const sorted = [...nodeNames].sort();
  return new Map(
    sorted.map((name, i) => {
      const rack = Math.floor((i * count) / sorted.length);
      return [
        name,
        {
          rack: `rack-${String(rack).padStart(width, "0")}`,
          block: `block-${String(Math.floor(rack / racksPerBlock)).padStart(blockWidth, "0")}`,
        },
      ];
    }),
  );
}

export interface TopologyWorkloadOptions {
  seed: number;
  /** The cluster's nodes, labelled in racks (allocatable is what counts). */
  nodes: readonly Node[];
  /** Share of the cluster's cpu the workload requests, e.g. 0.88. */
  fill: number;
  /** Gang members, as a share of the node count (each member takes most of a node), e.g. 0.7. */
  gangNodeShare: number;
  minGangSize: number;
  maxGangSize: number;
}

export const defaultTopologyShape = {
  fill: 0.88,
  gangNodeShare: 0.7,
  minGangSize: 4,
  maxGangSize: 20,
} as const;

/** One group in arrival order; a solo pod is a group of one. Gangs require one rack. */
/** A gang (its members require one rack) or a solo pod: the fragmentation workload's group. */
export type TopologyGroup = WorkloadGroup;

export interface TopologyWorkload {
  readonly seed: number;
  readonly groups: readonly TopologyGroup[];
  readonly pods: number;
  readonly gangs: number;
  readonly gangPods: number;
  readonly solos: number;
  readonly requestedMilliCpu: number;
  readonly capacityMilliCpu: number;
  /** Groups dropped because one scheduler could not place them after the others. */
  readonly dropped: number;
}

/** Gang members ask for this share of the smallest node: any two exceed it. */
const memberShares = [0.625, 0.75, 0.875] as const;
/** Solo pods, as a share of the smallest node: they fit the gaps gang members leave. */
const soloShares = [0.125, 0.25] as const;

export function generateTopologyWorkload(options: TopologyWorkloadOptions): TopologyWorkload {
  const infos = options.nodes.map((node) => toNodeInfo(node));
  if (infos.length === 0) throw new Error("the workload needs nodes");
  const capacityMilliCpu = infos.reduce((sum, node) => sum + node.allocatable.milliCpu, 0);
  const nodeMilliCpu = Math.min(...infos.map((node) => node.allocatable.milliCpu));
  const rackSizes = new Map<string, number>();
  for (const node of infos) {
    const rack = node.labels[rackLabel];
    if (rack !== undefined) rackSizes.set(rack, (rackSizes.get(rack) ?? 0) + 1);
  }
  if (rackSizes.size === 0) throw new Error(`the workload needs nodes labelled ${rackLabel}`);
  const smallestRack = Math.min(...rackSizes.values());
  const random = mulberry32(options.seed);
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)] as T;
  const share = (fraction: number) => Math.max(100, Math.round((fraction * nodeMilliCpu) / 100) * 100);

  let generated = 0;
  const name = (solo: boolean) => `${solo ? "solo" : "gang"}-${String(generated++).padStart(5, "0")}`;
  const gangs: Omit<TopologyGroup, "name">[] = [];
  const maxSize = Math.min(options.maxGangSize, smallestRack);
  const memberBudget = Math.floor(options.gangNodeShare * infos.length);
  for (let members = 0; members + options.minGangSize <= memberBudget; ) {
    const size = Math.min(between(options.minGangSize, maxSize), memberBudget - members);
    gangs.push({ solo: false, size, milliCpu: share(pick(memberShares)) });
    members += size;
  }
  const { groups, dropped } = fillAndKeepPlaceable({
    seed: options.seed,
    random,
    gangs,
    targetMilliCpu: options.fill * capacityMilliCpu,
    soloMilliCpu: () => share(pick(soloShares)),
    name,
    unfit: (groups) => placePendingTopologyGroups(options.nodes, topologyOraclePods(groups, "oracle")).unfit,
  });
  const gangList = groups.filter((group) => !group.solo);
  return {
    seed: options.seed,
    groups,
    pods: groups.reduce((sum, group) => sum + group.size, 0),
    gangs: gangList.length,
    gangPods: gangList.reduce((sum, group) => sum + group.size, 0),
    solos: groups.length - gangList.length,
    requestedMilliCpu: groups.reduce((sum, group) => sum + group.size * group.milliCpu, 0),
    capacityMilliCpu,
    dropped,
  };
}

/** Pod names of a group: a solo pod is the group's name, a gang's members `<gang>-<i>`. */
export const memberNames = (group: TopologyGroup): string[] =>
  group.solo ? [group.name] : Array.from({ length: group.size }, (_, i) => `${group.name}-${i}`);

const container = (milliCpu: number) => ({
  name: "c",
  image: "registry.k8s.io/pause:3.10",
  resources: { requests: { cpu: `${milliCpu}m`, memory: "256Mi" } },
});

/**
 * The pods as the oracle reads them: gangs as annotation gangs that require one rack (the
 * oracle's own reading; the systems get native PodGroups, podGroupManifest and systemPods).
 */
export function topologyOraclePods(groups: readonly TopologyGroup[], namespace: string): Pod[] {
  return groups.flatMap((group) =>
    memberNames(group).map((name) => ({
      metadata: {
        name,
        namespace,
        ...(group.solo
          ? {}
          : {
              annotations: {
                [podGroupAnnotation]: group.name,
                [minMemberAnnotation]: String(group.size),
                [topologyRequiredAnnotation]: rackLabel,
              },
            }),
      },
      spec: { schedulerName: "sharded-scheduler", containers: [container(group.milliCpu)] },
    })),
  );
}

/** A gang's native PodGroup: gang minCount its size, all of it in one rack. */
export function podGroupManifest(group: TopologyGroup, namespace: string): Record<string, unknown> {
  return {
    apiVersion: "scheduling.k8s.io/v1beta1",
    kind: "PodGroup",
    metadata: { name: group.name, namespace },
    spec: {
      schedulingPolicy: { gang: { minCount: group.size } },
      schedulingConstraints: { topology: [{ key: rackLabel }] },
    },
  };
}

/** The pods a system under test gets: a gang's members join its PodGroup (spec.schedulingGroup). */
export function systemPods(group: TopologyGroup, namespace: string, schedulerName: string): Pod[] {
  return memberNames(group).map((name) => ({
    metadata: { name, namespace },
    spec: {
      schedulerName,
      ...(group.solo ? {} : { schedulingGroup: { podGroupName: group.name } }),
      containers: [container(group.milliCpu)],
    } as Pod["spec"],
  }));
}

/**
 * The gangs whose bound members sit in more than one rack, or on a node without a rack, on a
 * final state (pods with their nodeName): the checker's rule (topologySplitGangs), with its reason.
 */
export function splitGangs(
  groups: readonly TopologyGroup[],
  pods: readonly Pod[],
  nodes: readonly Node[],
): { gang: string; split: string }[] {
  const nodeLabels = new Map(nodes.map((node) => [node.metadata.name, node.metadata.labels ?? {}]));
  const nodeOf = new Map(pods.map((pod) => [pod.metadata.name, pod.spec.nodeName]));
  const splits: { gang: string; split: string }[] = [];
  for (const group of groups) {
    if (group.solo) continue;
    const members = memberNames(group).flatMap((pod) => {
      const node = nodeOf.get(pod);
      return node ? [{ pod, node, nodeLabels: nodeLabels.get(node) }] : [];
    });
    const split = topologySplit(rackLabel, members);
    if (split !== undefined) splits.push({ gang: group.name, split });
  }
  return splits;
}
