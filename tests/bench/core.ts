/**
 * The "core" scenario: the pure scheduling core alone, in process, no API server. N nodes,
 * P pending pods (solo, or gangs of --gang-size), handed to SchedulingCore.cycle in batches
 * of --batch groups, as a shard does when pods arrive a few at a time. Measures the hot path
 * of a cycle (filter, score, gang placement, assume).
 */
import {
  ClusterSnapshot,
  groupKey,
  type Node,
  type PendingGroup,
  type Pod,
  pendingGroup,
  SchedulingCore,
  toPodInfo,
} from "../../scheduler/src/core/index.js";

export interface CoreBenchOptions {
  nodes: number;
  pods: number;
  gangSize: number;
  batch: number;
  /** Reuse the owned-node list between cycles (what the shard does). */
  cacheNodeList: boolean;
}

export interface CoreBenchResult {
  system: "core";
  nodes: number;
  pods: number;
  gangSize: number;
  batch: number;
  cacheNodeList: boolean;
  scheduled: number;
  podsPerSecond: number;
  cycleP50Us: number;
  cycleP99Us: number;
  durationSeconds: number;
}

function node(i: number): Node {
  const resources = { cpu: "32", memory: "256Gi", pods: "110", "ephemeral-storage": "1Ti" };
  return {
    metadata: { name: `node-${i}`, labels: { "kubernetes.io/hostname": `node-${i}` } },
    status: { allocatable: resources, capacity: resources, conditions: [{ type: "Ready", status: "True" }] },
  };
}

function pod(i: number, group: string | undefined): Pod {
  return {
    metadata: {
      name: `pod-${i}`,
      namespace: "bench",
      uid: `uid-${i}`,
      creationTimestamp: "2026-01-01T00:00:00Z",
      annotations: group ? { "sharded-scheduler.io/pod-group": group } : {},
    },
    spec: {
      schedulerName: "sharded-scheduler",
      containers: [{ name: "c", resources: { requests: { cpu: "100m", memory: "128Mi" } } }],
    },
  };
}

export function runCoreBench(options: CoreBenchOptions): CoreBenchResult {
  const snapshot = new ClusterSnapshot();
  for (let i = 0; i < options.nodes; i++) snapshot.upsertNode(node(i));
  const core = new SchedulingCore(snapshot);
  const groups: PendingGroup[] = [];
  for (let g = 0; g * options.gangSize < options.pods; g++) {
    const size = Math.min(options.gangSize, options.pods - g * options.gangSize);
    const solo = options.gangSize === 1;
    const name = solo ? `pod-${g}` : `gang-${g}`;
    const members = Array.from({ length: size }, (_, m) =>
      toPodInfo(pod(g * options.gangSize + m, solo ? undefined : name)),
    );
    groups.push(pendingGroup(groupKey("bench", name, solo), members, [], undefined));
  }
  const owns = () => true;
  const cycleMicros: number[] = [];
  let scheduled = 0;
  const started = performance.now();
  for (let i = 0; i < groups.length; i += options.batch) {
    const t0 = performance.now();
    const decisions = core.cycle(
      groups.slice(i, i + options.batch),
      owns,
      options.cacheNodeList ? 0 : undefined,
    );
    cycleMicros.push((performance.now() - t0) * 1000);
    for (const d of decisions) if (d.kind === "bind") scheduled += d.placements.length;
  }
  const seconds = (performance.now() - started) / 1000;
  cycleMicros.sort((a, b) => a - b);
  const at = (p: number) =>
    cycleMicros[Math.min(cycleMicros.length - 1, Math.floor((p / 100) * cycleMicros.length))] ?? 0;
  return {
    system: "core",
    ...options,
    scheduled,
    podsPerSecond: Math.round(scheduled / seconds),
    cycleP50Us: Math.round(at(50)),
    cycleP99Us: Math.round(at(99)),
    durationSeconds: Math.round(seconds * 1000) / 1000,
  };
}
