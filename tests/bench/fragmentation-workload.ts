/**
 * The fragmentation scenario's workload, generated from a seed: gangs whose members each need
 * most of a node (so a gang needs as many nodes as it has members) and small solo pods that
 * fill the gaps, up to a share of the cluster's cpu. Every group fits when one scheduler places
 * them in arrival order on the empty cluster (the oracle checks it; a group that does not is
 * dropped and solo pods take its share), so whatever stays pending in a run is due to the
 * scheduler, not to the workload.
 * Pure: the same seed and nodes give the same pods.
 */
import { minMemberAnnotation, podGroupAnnotation } from "../../scheduler/src/contracts/keys.js";
import { type Node, type Pod, toNodeInfo } from "../../scheduler/src/core/index.js";
import { mulberry32, shuffle } from "../support/random.js";
import { placePendingGroups } from "./fragmentation-oracle.js";

export interface WorkloadOptions {
  seed: number;
  /** The cluster's nodes (allocatable is what counts). */
  nodes: readonly Node[];
  /** Share of the cluster's cpu the workload requests, e.g. 0.9. */
  fill: number;
  /** Gang members, as a share of the node count (each member takes most of a node), e.g. 0.85. */
  gangNodeShare: number;
  minGangSize: number;
  maxGangSize: number;
}

export const defaultWorkloadShape = {
  fill: 0.9,
  gangNodeShare: 0.85,
  minGangSize: 2,
  maxGangSize: 8,
} as const;

/** One group in arrival order; a solo pod is a group of one. */
export interface WorkloadGroup {
  readonly name: string;
  readonly solo: boolean;
  readonly size: number;
  /** Each member's cpu request. */
  readonly milliCpu: number;
}

export interface Workload {
  readonly seed: number;
  readonly groups: readonly WorkloadGroup[];
  readonly pods: number;
  readonly gangs: number;
  readonly solos: number;
  readonly requestedMilliCpu: number;
  readonly capacityMilliCpu: number;
  /** Groups dropped because one scheduler could not place them after the others (solo pods took their share). */
  readonly dropped: number;
}

/** Gang members ask for this share of the smallest node: any two exceed it. */
const memberShares = [0.625, 0.75, 0.875] as const;
/** Solo pods, in milli-cpu: they fit the gaps gang members leave. */
const soloMilliCpu = [250, 500, 1000] as const;

export function generateWorkload(options: WorkloadOptions): Workload {
  const infos = options.nodes.map((node) => toNodeInfo(node));
  if (infos.length === 0) throw new Error("the workload needs nodes");
  const capacityMilliCpu = infos.reduce((sum, node) => sum + node.allocatable.milliCpu, 0);
  const nodeMilliCpu = Math.min(...infos.map((node) => node.allocatable.milliCpu));
  const random = mulberry32(options.seed);
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)] as T;

  let generated = 0;
  const name = (solo: boolean) => `${solo ? "solo" : "gang"}-${String(generated++).padStart(4, "0")}`;
  const gangs: Omit<WorkloadGroup, "name">[] = [];
  const memberBudget = Math.floor(options.gangNodeShare * infos.length);
  for (let members = 0; members + options.minGangSize <= memberBudget; ) {
    const size = Math.min(between(options.minGangSize, options.maxGangSize), memberBudget - members);
    const milliCpu = Math.round((pick(memberShares) * nodeMilliCpu) / 100) * 100;
    gangs.push({ solo: false, size, milliCpu });
    members += size;
  }
  const { groups, dropped } = fillAndKeepPlaceable({
    seed: options.seed,
    random,
    gangs,
    targetMilliCpu: options.fill * capacityMilliCpu,
    soloMilliCpu: () => pick(soloMilliCpu),
    name,
    unfit: (groups) => placePendingGroups(options.nodes, workloadPods(groups, "oracle")).unfit,
  });
  const gangCount = groups.filter((group) => !group.solo).length;
  return {
    seed: options.seed,
    groups,
    pods: groups.reduce((sum, group) => sum + group.size, 0),
    gangs: gangCount,
    solos: groups.length - gangCount,
    requestedMilliCpu: requestedMilliCpu(groups),
    capacityMilliCpu,
    dropped,
  };
}

const requestedMilliCpu = (groups: readonly Pick<WorkloadGroup, "size" | "milliCpu">[]) =>
  groups.reduce((sum, group) => sum + group.size * group.milliCpu, 0);

/**
 * The gangs, then solo pods until the next would pass the target, in one seeded arrival order;
 * then what one scheduler cannot place after the groups before it (`unfit`) is dropped, solo pods
 * arriving last top the fill up, and it is checked again (a drop may also change tie-breaks
 * between equal nodes). Every group left can be placed in that order on the empty cluster.
 */
export function fillAndKeepPlaceable(spec: {
  readonly seed: number;
  readonly random: () => number;
  readonly gangs: readonly Omit<WorkloadGroup, "name">[];
  readonly targetMilliCpu: number;
  /** The next solo pod's cpu request. */
  readonly soloMilliCpu: () => number;
  readonly name: (solo: boolean) => string;
  readonly unfit: (groups: readonly WorkloadGroup[]) => readonly { readonly name: string }[];
}): { groups: WorkloadGroup[]; dropped: number } {
  const soloPods = (from: number): Omit<WorkloadGroup, "name">[] => {
    const solos: Omit<WorkloadGroup, "name">[] = [];
    for (let total = from; ; ) {
      const milliCpu = spec.soloMilliCpu();
      if (total + milliCpu > spec.targetMilliCpu) return solos;
      solos.push({ solo: true, size: 1, milliCpu });
      total += milliCpu;
    }
  };
  const drafts = [...spec.gangs, ...soloPods(requestedMilliCpu(spec.gangs))];
  shuffle(drafts, spec.random);
  let groups: WorkloadGroup[] = drafts.map((draft) => ({ ...draft, name: spec.name(draft.solo) }));
  let dropped = 0;
  for (let pass = 0; ; pass++) {
    const unfit = spec.unfit(groups);
    if (unfit.length === 0) return { groups, dropped };
    if (pass === 10) throw new Error(`seed ${spec.seed}: no feasible workload after ${pass} passes`);
    const names = new Set(unfit.map((key) => key.name));
    groups = groups.filter((group) => !names.has(group.name));
    dropped += names.size;
    groups.push(...soloPods(requestedMilliCpu(groups)).map((solo) => ({ ...solo, name: spec.name(true) })));
  }
}

/** The pods of the groups, in arrival order; members of a gang are `<gang>-<i>`. */
export function workloadPods(groups: readonly WorkloadGroup[], namespace: string): Pod[] {
  return groups.flatMap((group) =>
    Array.from({ length: group.size }, (_, i) => ({
      metadata: {
        name: group.solo ? group.name : `${group.name}-${i}`,
        namespace,
        ...(group.solo
          ? {}
          : {
              annotations: {
                [podGroupAnnotation]: group.name,
                [minMemberAnnotation]: String(group.size),
              },
            }),
      },
      spec: {
        schedulerName: "sharded-scheduler",
        containers: [
          {
            name: "c",
            image: "registry.k8s.io/pause:3.10",
            resources: { requests: { cpu: `${group.milliCpu}m`, memory: "256Mi" } },
          },
        ],
      },
    })),
  );
}
