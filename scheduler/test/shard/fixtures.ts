/** Builders for shard tests: a Shard driven with stub writers instead of an API server. */
import { pino } from "pino";
import type { KubeClient } from "../../src/kube/kube-client.js";
import { loadShardConfig, type ShardConfig } from "../../src/shard/config.js";
import { ShardMetrics } from "../../src/shard/metrics.js";
import { Shard, type ShardWriters } from "../../src/shard/shard.js";
import type { Ownership } from "../../src/sharding/ownership.js";

/** A single shard that owns every node and group and may always bind. */
export const ownsEverything: Ownership = {
  version: 1,
  epoch: 1,
  canPlace: () => true,
  ownsNode: () => true,
  gainedNodesSettling: () => false,
  ownsGroup: () => true,
  acquireBind: () => ({ valid: () => true, release: () => undefined }),
  observeNodeOwner: () => undefined,
};

/**
 * A shard that talks to no API server: its writes go to `writers`, and it is ready as if every
 * informer had listed (the test fills its cache itself).
 */
export function readyShard(
  writers: ShardWriters,
  options: { ownership?: Ownership; config?: Partial<ShardConfig>; client?: KubeClient } = {},
): Shard {
  const config = { ...loadShardConfig([], { POD_NAME: "shard-0" }), ...options.config };
  const shard = new Shard(
    config,
    options.client ?? ({} as KubeClient),
    pino({ level: "silent" }),
    options.ownership ?? ownsEverything,
    new ShardMetrics(),
    writers,
  );
  (shard as unknown as { ready: boolean }).ready = true;
  return shard;
}

/** Writers that succeed at everything, recording the names of the pods they bind. */
export function succeedingWriters(bound: string[] = []): ShardWriters {
  return {
    statusWriter: {
      unschedulable: async () => undefined,
      nominate: async () => true,
      pinOwner: async () => true,
    },
    binder: {
      bind: async (_namespace: string, name: string) => {
        bound.push(name);
        return { outcome: "bound", detail: "" };
      },
      evict: async () => ({ outcome: "evicted", detail: "" }),
      delete: async () => true,
    },
    events: { record: () => undefined },
    podGroupStatus: { initiallyScheduled: async () => true },
  };
}

/**
 * Writers that succeed at everything and record it: binds, evictions and deletions by pod name,
 * Events as "<reason> <pod>", PodScheduled messages as "<pod>: <message>", and PodGroup
 * conditions as "<PodGroup> True" or "<PodGroup> False: <message>".
 */
export function recordingWriters() {
  const record = {
    bound: [] as string[],
    deleted: [] as string[],
    evicted: [] as string[],
    events: [] as string[],
    conditions: [] as string[],
    podGroupConditions: [] as string[],
  };
  const succeeding = succeedingWriters(record.bound);
  const writers: ShardWriters = {
    statusWriter: {
      ...succeeding.statusWriter,
      unschedulable: async (target, message) => {
        record.conditions.push(`${target.metadata.name}: ${message}`);
      },
    },
    binder: {
      ...succeeding.binder,
      evict: async (_namespace, name) => {
        record.evicted.push(name);
        return { outcome: "evicted", detail: "" };
      },
      delete: async (_namespace, name) => {
        record.deleted.push(name);
        return true;
      },
    },
    events: {
      record: (target, _type, reason) => {
        record.events.push(`${reason} ${target.metadata.name}`);
      },
    },
    podGroupStatus: {
      initiallyScheduled: async (podGroup, scheduled, message) => {
        record.podGroupConditions.push(
          `${podGroup.metadata.name} ${scheduled ? "True" : `False: ${message}`}`,
        );
        return true;
      },
    },
  };
  return { writers, ...record };
}
