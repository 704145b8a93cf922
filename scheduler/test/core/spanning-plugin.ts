/**
 * A small test-only plugin that spans nodes (the check before bind's tests, independent of the
 * real plugins' details): pods
 * labelled with the same `app` may not share a zone when either carries required pod
 * anti-affinity (its terms are not read: the flag on PodInfo is). PreFilter counts per zone,
 * AddPod/RemovePod keep the counts true, Filter reads them; it counts its Filter calls.
 */
import type { ClusterState } from "../../src/core/cluster-state.js";
import {
  type CycleState,
  type FilterPlugin,
  type PreFilterPlugin,
  type StateData,
  skip,
  unschedulable,
} from "../../src/core/framework.js";
import type { NodeInfo, PodInfo } from "../../src/core/model.js";

export const zoneKey = "topology.kubernetes.io/zone";
export const testZoneAntiAffinityName = "TestZoneAntiAffinity";

class Counts implements StateData {
  /** Per zone: pods of the same app, and those of them carrying required anti-affinity. */
  constructor(readonly byZone: Map<string, { same: number; antiAffine: number }>) {}
  clone(): Counts {
    return new Counts(new Map([...this.byZone].map(([zone, c]) => [zone, { ...c }])));
  }
}

export interface CountingPlugin extends PreFilterPlugin, FilterPlugin {
  filterCalls: number;
}

/**
 * Named "InterPodAffinity" it stands in for kube's plugin, which says for which pods its verdicts
 * depend on nothing but the pod and the node (podOnlyFor: bind-check.ts skips those); under its
 * own name it is any other plugin that spans nodes.
 */
export function testZoneAntiAffinity(cluster: ClusterState, name = testZoneAntiAffinityName): CountingPlugin {
  const count = (state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, by: number) => {
    const counts = state.read<Counts>(name)?.byZone;
    const zone = node.labels[zoneKey];
    if (counts === undefined || zone === undefined || other.labels.app !== pod.labels.app) return;
    const c = counts.get(zone) ?? { same: 0, antiAffine: 0 };
    c.same += by;
    if (other.interPodConstraints.requiredAntiAffinity) c.antiAffine += by;
    counts.set(zone, c);
  };
  const own = unschedulable("node(s) didn't match pod anti-affinity rules");
  const existing = unschedulable("node(s) didn't satisfy existing pods anti-affinity rules");
  const plugin: CountingPlugin = {
    name,
    spansNodes: true,
    // Standing in for kube's plugin: a pod without required anti-affinity, while no pod has any,
    // is judged the same on every node.
    ...(name === testZoneAntiAffinityName
      ? {}
      : {
          podOnlyFor: (pod: PodInfo) =>
            !pod.interPodConstraints.requiredAntiAffinity &&
            cluster.nodesWithRequiredAntiAffinityPods().size === 0,
        }),
    events: ["AssignedPodDelete"],
    filterCalls: 0,
    preFilter(state, pod) {
      if (pod.labels.app === undefined) return skip;
      state.write(name, new Counts(new Map()));
      for (const node of cluster.nodes)
        for (const other of node.pods.values()) count(state, pod, other, node, 1);
      return undefined;
    },
    extensions: {
      addPod: (state, pod, added, node) => count(state, pod, added, node, 1),
      removePod: (state, pod, removed, node) => count(state, pod, removed, node, -1),
    },
    filter(pod, node, state) {
      plugin.filterCalls++;
      const c = state?.read<Counts>(name)?.byZone.get(node.labels[zoneKey] ?? "");
      if (c === undefined) return undefined;
      if (pod.interPodConstraints.requiredAntiAffinity && c.same > 0) return own;
      return c.antiAffine > 0 ? existing : undefined;
    },
  };
  return plugin;
}
