/**
 * The simulated cluster and its pods, from a seed: nodes of one size, pods of one size, some
 * of them in gangs (all-or-nothing groups) of a given size. Built as the API objects a shard's
 * cache would hold, and turned into the core's PodInfo by the core's own parser.
 */
import {
  groupKey,
  type Node,
  type PendingGroup,
  type Pod,
  type PodInfo,
  pendingGroup,
  toPodInfo,
} from "../../scheduler/src/core/index.js";
import { mulberry32 } from "../support/random.js";

export interface WorkloadOptions {
  readonly nodes: number;
  readonly pods: number;
  readonly nodeMilliCpu: number;
  readonly podMilliCpu: number;
  /** Share of the pods that are members of gangs (0–1). */
  readonly gangFraction: number;
  readonly gangSize: number;
  readonly seed: number;
}

export function nodeObject(name: string, milliCpu: number): Node {
  const resources = { cpu: `${milliCpu}m`, memory: "64Gi", pods: "110", "ephemeral-storage": "1Ti" };
  return {
    metadata: { name, labels: { "kubernetes.io/hostname": name } },
    status: { allocatable: resources, capacity: resources, conditions: [{ type: "Ready", status: "True" }] },
  };
}

function podObject(name: string, milliCpu: number, group: { name: string; size: number } | undefined): Pod {
  return {
    metadata: {
      name,
      namespace: "sim",
      uid: `uid-${name}`,
      creationTimestamp: "2026-01-01T00:00:00Z",
      annotations: group
        ? {
            "sharded-scheduler.io/pod-group": group.name,
            "sharded-scheduler.io/min-member": String(group.size),
          }
        : {},
    },
    spec: {
      schedulerName: "sharded-scheduler",
      containers: [{ name: "c", resources: { requests: { cpu: `${milliCpu}m`, memory: "64Mi" } } }],
    },
  };
}

export function nodeNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `node-${i}`);
}

/**
 * The pending groups, in arrival order: solo pods and gangs mixed at random (seeded) so that
 * `gangFraction` of the pods are gang members.
 */
export function pendingGroups(options: WorkloadOptions): PendingGroup[] {
  const random = mulberry32(options.seed);
  const groups: PendingGroup[] = [];
  const gangSize = Math.max(2, options.gangSize);
  let made = 0;
  let gangs = 0;
  // A group is a gang with this chance, so that gangFraction of the pods are gang members.
  const f = Math.min(1, Math.max(0, options.gangFraction));
  const gangChance = f / (gangSize - f * (gangSize - 1));
  while (made < options.pods) {
    const asGang = f > 0 && random() < gangChance && made + gangSize <= options.pods;
    if (asGang) {
      const name = `gang-${gangs++}`;
      const members: PodInfo[] = [];
      for (let m = 0; m < gangSize; m++)
        members.push(toPodInfo(podObject(`${name}-${m}`, options.podMilliCpu, { name, size: gangSize })));
      groups.push(pendingGroup(groupKey("sim", name, false), members, [], gangSize));
      made += gangSize;
    } else {
      const name = `pod-${made}`;
      groups.push(
        pendingGroup(
          groupKey("sim", name, true),
          [toPodInfo(podObject(name, options.podMilliCpu, undefined))],
          [],
          undefined,
        ),
      );
      made += 1;
    }
  }
  return groups;
}
