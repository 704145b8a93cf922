/** Capacity summaries and pending groups built by hand for the coordinator's core. */
import {
  type CapacitySummary,
  type NodeCapacity,
  topologyRequiredAnnotation,
} from "@sharded-scheduler/scheduler/contracts";
import {
  groupKey,
  type PendingGroup,
  type Pod,
  pendingGroup,
  toPodInfo,
} from "@sharded-scheduler/scheduler/core";

export interface NodeSpec {
  name: string;
  /** Free milli-cpu. */
  free: number;
  /** Milli-cpu held by pods of each priority. */
  used?: Record<number, number>;
  labels?: Record<string, string>;
  /** Groups with pods nominated to it. */
  nominatedFor?: string[];
  /** The group it is held for (lent for it; the group not on it yet). */
  lentFor?: string;
}

export function summary(
  shard: string,
  nodes: NodeSpec[],
  classes = [{ labels: {}, taints: [] }],
): CapacitySummary {
  return {
    shard,
    epoch: 1,
    publishedAt: 0,
    classes: nodes.some((n) => n.labels)
      ? nodes.map((n) => ({ labels: n.labels ?? {}, taints: [] }))
      : classes,
    nodes: nodes.map(
      (node, i): NodeCapacity => ({
        name: node.name,
        class: nodes.some((n) => n.labels) ? i : 0,
        free: { cpu: node.free, memory: 64 * 2 ** 30, pods: 110 },
        freeable: Object.entries(node.used ?? {})
          .map(([priority, cpu]) => ({ priority: Number(priority), amounts: { cpu, pods: 1 } }))
          .sort((a, b) => a.priority - b.priority),
        ...(node.nominatedFor ? { nominatedFor: node.nominatedFor } : {}),
        ...(node.lentFor ? { lentFor: node.lentFor } : {}),
      }),
    ),
    stuck: [],
  };
}

/** A group of `sizes.length` members asking for these milli-cpus, all of which must start together. */
export function group(
  name: string,
  sizes: number[],
  options: {
    priority?: number;
    preempt?: boolean;
    nodeSelector?: Record<string, string>;
    /** A node label key every member must share one value of (sharded-scheduler.io/topology-required). */
    topologyRequired?: string;
  } = {},
): PendingGroup {
  const pods = sizes.map((cpu, i) =>
    toPodInfo({
      metadata: {
        namespace: "ns",
        name: `${name}-${i}`,
        uid: `${name}-${i}`,
        annotations: {
          "sharded-scheduler.io/pod-group": name,
          ...(options.topologyRequired ? { [topologyRequiredAnnotation]: options.topologyRequired } : {}),
        },
      },
      spec: {
        containers: [{ name: "c", resources: { requests: { cpu: `${cpu}m` } } }],
        priority: options.priority ?? 0,
        ...(options.preempt === false ? { preemptionPolicy: "Never" } : {}),
        ...(options.nodeSelector ? { nodeSelector: options.nodeSelector } : {}),
      },
    } as Pod),
  );
  return pendingGroup(groupKey("ns", name, false), pods, [], undefined);
}
