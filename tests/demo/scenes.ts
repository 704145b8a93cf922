/**
 * The demo's sample workload, in five scenes that each show one thing the scheduler does
 * (pure: cluster facts in, pods out). Every pod is a bare pod, so an evicted one is gone for
 * good and the demo can account for every pod it submitted.
 *   1. solo pods       – pods without a group: gangs of one, bin-packed onto few nodes;
 *   2. gangs           – groups of 3–5 placed all-or-nothing;
 *   3. wide gang       – one more member than the largest shard has nodes, each member needing
 *                        most of a node: no shard can place it alone, so the coordinator lends
 *                        it nodes of other shards (or hands it to a shard with room);
 *   4. fill-up         – low-priority gangs beyond the free room: some wait, Unschedulable;
 *   5. urgent gang     – a high-priority gang that only fits by preempting whole low-priority
 *                        gangs.
 * On nodes labelled in racks (topology.kubernetes.io/rack) a rack scene comes second:
 *   rack gang          – a gang with as many members as the smallest rack has nodes, each half a
 *                        node, that requires one rack (sharded-scheduler.io/topology-required):
 *                        it lands inside one rack, bound by one shard (the shards own whole
 *                        racks with --shard-by-label).
 */
import type * as k8s from "@kubernetes/client-node";
import {
  minMemberAnnotation,
  podGroupAnnotation,
  topologyRequiredAnnotation,
} from "../../scheduler/src/contracts/keys.js";
import { fakeNodeLabel } from "../cluster/local/fake-nodes.js";

export const demoPriorityClasses = [
  { name: "demo-batch", value: 1000, description: "sharded-scheduler demo: preemptible batch work" },
  { name: "demo-urgent", value: 5000, description: "sharded-scheduler demo: urgent work that preempts" },
] as const;
type DemoPriorityClass = (typeof demoPriorityClasses)[number]["name"];

/** The node label racks are read from, and the one a rack gang requires one value of. */
export const rackLabel = "topology.kubernetes.io/rack";

/** What the scenes are sized from. */
export interface ClusterFacts {
  /** Allocatable milli-cpu of each Ready fake node. */
  nodeMilliCpu: readonly number[];
  /** How many nodes the shard with the most owns. */
  largestShardNodes: number;
  /** Ready fake nodes per rack (rackLabel); absent or empty: no rack scene. */
  rackNodes?: ReadonlyMap<string, number>;
}

/** One pod of a scene. */
export interface DemoPod {
  name: string;
  /** Its pod group; undefined for a solo pod. */
  group?: string;
  minMember?: number;
  milliCpu: number;
  priorityClass?: DemoPriorityClass;
  /** The node label whose one value every member of its group must share. */
  topologyRequired?: string;
}

export type SceneName = "solo" | "rack" | "gangs" | "wide" | "fill" | "urgent";

export interface Scene {
  name: SceneName;
  /** A line saying what to watch for. */
  title: string;
  pods: DemoPod[];
  /**
   * The scene is over when its pods are bound ("bound"), or when each of them is bound or has
   * been told why it waits ("settled": the fill-up expects some to wait).
   */
  until: "bound" | "settled";
  /**
   * What else must have happened by then: the coordinator moved room, a preemption, or the
   * scene's gang bound inside one rack by one shard.
   */
  shows?: "relief" | "preemption" | "one-rack";
}

const gang = (name: string, size: number, milliCpu: number, priorityClass: DemoPriorityClass): DemoPod[] =>
  Array.from({ length: size }, (_, i) => ({
    name: `${name}-${i}`,
    group: name,
    minMember: size,
    milliCpu,
    priorityClass,
  }));

export function demoScenes(facts: ClusterFacts): Scene[] {
  if (facts.nodeMilliCpu.length < 2) throw new Error("the demo needs at least two fake nodes");
  const nodeCpu = Math.min(...facts.nodeMilliCpu);
  const totalCpu = facts.nodeMilliCpu.reduce((sum, cpu) => sum + cpu, 0);
  const step = (share: number) => Math.max(50, Math.floor((nodeCpu * share) / 50) * 50);

  const soloSizes = [1 / 32, 1 / 16, 1 / 8];
  const solo: DemoPod[] = Array.from({ length: 12 }, (_, i) => ({
    name: `solo-${i}`,
    milliCpu: step(soloSizes[i % soloSizes.length] as number),
    priorityClass: "demo-batch",
  }));
  const gangs = [3, 4, 5, 4].flatMap((size, i) => gang(`gang-${i}`, size, step(1 / 8), "demo-batch"));

  // Wider than any shard, but never wider than the cluster.
  const wideSize = Math.min(facts.largestShardNodes + 1, facts.nodeMilliCpu.length);
  const wide = gang("wide", wideSize, step(3 / 4), "demo-batch");

  const requested = (pods: readonly DemoPod[]) => pods.reduce((sum, pod) => sum + pod.milliCpu, 0);
  // Enough 4 × 1/4-node gangs to ask for the free room plus two more gangs: some have to wait.
  const fillMember = step(1 / 4);
  const free = totalCpu - requested([...solo, ...gangs, ...wide]);
  const fillGangs = Math.max(2, Math.ceil(free / (4 * fillMember)) + 2);
  const fill = Array.from({ length: fillGangs }, (_, i) =>
    gang(`batch-${i}`, 4, fillMember, "demo-batch"),
  ).flat();

  const urgent = gang("urgent", 3, step(1 / 2), "demo-urgent");

  const rackSizes = [...(facts.rackNodes?.values() ?? [])];
  const rackSize = rackSizes.length > 0 ? Math.min(...rackSizes) : 0;
  const rackScenes: Scene[] =
    rackSize > 0
      ? [
          {
            name: "rack",
            title: `a gang of ${rackSize} (half a node each) that requires one rack: one of ${rackSizes.length} racks, one shard`,
            pods: gang("rack-gang", rackSize, step(1 / 2), "demo-batch").map((pod) => ({
              ...pod,
              topologyRequired: rackLabel,
            })),
            until: "bound",
            shows: "one-rack",
          },
        ]
      : [];

  return [
    { name: "solo", title: "12 solo pods (gangs of one), bin-packed", pods: solo, until: "bound" },
    ...rackScenes,
    {
      name: "gangs",
      title: `${new Set(gangs.map((p) => p.group)).size} gangs of 3–5, placed all-or-nothing`,
      pods: gangs,
      until: "bound",
    },
    {
      name: "wide",
      title: `a gang of ${wideSize} wider than any shard (${facts.largestShardNodes} nodes at most): the coordinator lends nodes`,
      pods: wide,
      until: "bound",
      shows: "relief",
    },
    {
      name: "fill",
      title: `${fillGangs} low-priority gangs, more than the free room: some wait`,
      pods: fill,
      until: "settled",
    },
    {
      name: "urgent",
      title: "an urgent gang that fits only by preempting whole low-priority gangs",
      pods: urgent,
      until: "bound",
      shows: "preemption",
    },
  ];
}

/** Labels every demo pod carries: the scene it belongs to. */
export const sceneLabel = "sharded-scheduler.io/demo-scene";

export function podManifest(
  pod: DemoPod,
  scene: SceneName,
  namespace: string,
  schedulerName: string,
): k8s.V1Pod {
  const annotations: Record<string, string> = {};
  if (pod.group) {
    annotations[podGroupAnnotation] = pod.group;
    annotations[minMemberAnnotation] = String(pod.minMember);
  }
  if (pod.topologyRequired) annotations[topologyRequiredAnnotation] = pod.topologyRequired;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: pod.name, namespace, labels: { [sceneLabel]: scene }, annotations },
    spec: {
      schedulerName,
      priorityClassName: pod.priorityClass,
      nodeSelector: { [fakeNodeLabel.key]: fakeNodeLabel.value },
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: "main",
          image: "registry.k8s.io/pause:3.10",
          resources: { requests: { cpu: `${pod.milliCpu}m`, memory: `${pod.milliCpu / 4}Mi` } },
        },
      ],
    },
  };
}
