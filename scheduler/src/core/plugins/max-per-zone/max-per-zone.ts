/**
 * MaxPerZone (the reference plugin for constraints that look beyond one node; off unless
 * config turns it on): at most maxPerZone pods carrying a label may run in one zone.
 *
 * The pattern of kube-scheduler's InterPodAffinity and PodTopologySpread: PreFilter counts the
 * labelled pods per zone once for the pod into its CycleState; AddPod/RemovePod keep the counts
 * true while the Statement assumes gang members or evicts preemption victims; Filter only reads.
 */

import { invalid, type Parsed, parsed, quoted } from "../../../contracts/parsed.js";
import type { ClusterState } from "../../cluster-state.js";
import {
  type CycleState,
  type FilterPlugin,
  type PreFilterPlugin,
  type StateData,
  skip,
  unschedulable,
} from "../../framework.js";
import type { NodeInfo, PodInfo } from "../../model.js";

export interface MaxPerZoneArgs {
  /** The label the limit counts: pods with it (and labelValue, when given). */
  readonly labelKey: string;
  readonly labelValue?: string;
  readonly maxPerZone: number;
  /** The node label naming a node's zone; nodes without it are not limited. */
  readonly zoneKey?: string;
}

export const maxPerZoneName = "MaxPerZone";

/** MaxPerZone's arguments as a profile configuration gives them (pluginConfig args), checked. */
export function maxPerZoneArgs(value: unknown): Parsed<MaxPerZoneArgs> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return invalid("must be a map with labelKey and maxPerZone");
  const args = value as Record<string, unknown>;
  const known = ["labelKey", "labelValue", "maxPerZone", "zoneKey"];
  const unknown = Object.keys(args).find((key) => !known.includes(key));
  if (unknown !== undefined) return invalid(`unknown field ${quoted(unknown)} (known: ${known.join(", ")})`);
  const text = (key: string) => typeof args[key] === "string" && args[key] !== "";
  if (!text("labelKey")) return invalid("labelKey must be a non-empty string");
  if (args.labelValue !== undefined && typeof args.labelValue !== "string")
    return invalid("labelValue must be a string");
  if (args.zoneKey !== undefined && !text("zoneKey")) return invalid("zoneKey must be a non-empty string");
  const limit = args.maxPerZone;
  if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 1)
    return invalid(`maxPerZone must be an integer >= 1, got ${quoted(String(limit))}`);
  return parsed(args as unknown as MaxPerZoneArgs);
}

const defaultZoneKey = "topology.kubernetes.io/zone";

class ZoneCounts implements StateData {
  constructor(readonly counts: Map<string, number>) {}
  clone(): ZoneCounts {
    return new ZoneCounts(new Map(this.counts));
  }
}

export function maxPerZone(cluster: ClusterState, args: MaxPerZoneArgs): PreFilterPlugin & FilterPlugin {
  const zoneKey = args.zoneKey ?? defaultZoneKey;
  const labelled = (pod: PodInfo): boolean => {
    const value = pod.labels[args.labelKey];
    return value !== undefined && (args.labelValue === undefined || value === args.labelValue);
  };
  const count = (state: CycleState, pod: PodInfo, node: NodeInfo, by: number): void => {
    const zone = node.labels[zoneKey];
    const counts = state.read<ZoneCounts>(maxPerZoneName)?.counts;
    if (zone === undefined || counts === undefined || !labelled(pod)) return;
    counts.set(zone, (counts.get(zone) ?? 0) + by);
  };
  const full = unschedulable(
    `node(s) are in a zone that already runs ${args.maxPerZone} pod(s) labelled ${args.labelKey}`,
  );
  return {
    name: maxPerZoneName,
    // Room under the limit comes when labelled pods leave (or lose the label), or nodes join a
    // zone. Unlike PodTopologySpread's skew, a maximum never drops when a node goes: no Node/Delete.
    events: ["NodeAdd", "NodeUpdateLabel", "AssignedPodDelete", "AssignedPodUpdateLabel"],
    // A zone spans nodes of several shards: the check before bind counts their binds too.
    spansNodes: true,
    preFilter(state, pod) {
      if (!labelled(pod)) return skip;
      const counts = new Map<string, number>();
      for (const node of cluster.nodes) {
        const zone = node.labels[zoneKey];
        if (zone === undefined) continue;
        for (const other of node.pods.values())
          if (labelled(other)) counts.set(zone, (counts.get(zone) ?? 0) + 1);
      }
      state.write(maxPerZoneName, new ZoneCounts(counts));
      return undefined;
    },
    extensions: {
      addPod: (state, _pod, added, node) => count(state, added, node, 1),
      removePod: (state, _pod, removed, node) => count(state, removed, node, -1),
    },
    filter(_pod, node, state) {
      const counts = state?.read<ZoneCounts>(maxPerZoneName)?.counts;
      const zone = node.labels[zoneKey];
      if (counts === undefined || zone === undefined) return undefined;
      return (counts.get(zone) ?? 0) < args.maxPerZone ? undefined : full;
    },
  };
}
