/**
 * The "memory" scenario: the resident memory of one idle shard (no pods) once it has synced a
 * cluster of N nodes, for growing N. The cluster grows by extra fake nodes, which are deleted
 * at the end. What a shard holds per node (its node cache, and its watch's buffers) shows here;
 * its memory under load is measured by the basic runs.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createFakeNodes, fakeNodeLabel, readyFakeNodes } from "../cluster/local/fake-nodes.js";
import type { KubeRest } from "../cluster/local/kube-rest.js";
import { adminClient, type ClusterState, fakeNodeSpecs } from "../cluster/local/local-cluster.js";
import { stackDown, stackUp } from "../stack/stack.js";
import { waitFor } from "../support/wait.js";
import { waitForRing } from "./fragmentation.js";
import { type ProcessMemory, processMemory } from "./memory-usage.js";

export interface ShardMemoryOptions {
  cluster: ClusterState;
  /** Node counts to measure at; counts below the cluster's own are measured at its size. */
  nodeCounts: readonly number[];
  /** How long the shard runs after it owns every node, before its memory is read. */
  settleMs: number;
  log: (line: string) => void;
}

export interface ShardMemoryResult {
  nodes: number;
  memory?: ProcessMemory;
  error?: string;
}

export interface ShardMemoryReport {
  scenario: "memory";
  results: ShardMemoryResult[];
}

const extraNodePrefix = "bench-memory-node-";

export async function runShardMemory(options: ShardMemoryOptions): Promise<ShardMemoryReport> {
  const { cluster, log } = options;
  const kube = adminClient(cluster);
  const results: ShardMemoryResult[] = [];
  try {
    const own = (await fakeNodeNames(kube)).length;
    const counts = [...new Set(options.nodeCounts.map((count) => Math.max(count, own)))].sort(
      (a, b) => a - b,
    );
    for (const nodes of counts) {
      try {
        await growTo(kube, cluster, nodes, log);
        results.push({ nodes, memory: await idleShardMemory(cluster, nodes, options) });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log(`memory at ${nodes} nodes: failed: ${message}`);
        results.push({ nodes, error: message });
        await stackDown(cluster.stateDir, log);
      }
    }
    return { scenario: "memory", results };
  } finally {
    await deleteExtraNodes(kube, log);
    kube.close();
  }
}

async function idleShardMemory(
  cluster: ClusterState,
  nodes: number,
  options: ShardMemoryOptions,
): Promise<ProcessMemory> {
  const { log } = options;
  const stack = await stackUp({ clusterDir: cluster.stateDir, shards: 1, coordinator: false, log });
  try {
    await waitForRing(stack.shards, nodes, log);
    await sleep(options.settleMs);
    const shard = stack.shards[0];
    const memory = shard && processMemory(shard.identity, shard.pid);
    if (!memory) throw new Error("the shard exited before its memory was read");
    log(`${nodes} nodes: idle shard ${memory.rssMiB} MiB resident (peak ${memory.peakRssMiB} MiB)`);
    return memory;
  } finally {
    await stackDown(cluster.stateDir, log);
  }
}

async function fakeNodeNames(kube: KubeRest): Promise<string[]> {
  const selector = encodeURIComponent(`${fakeNodeLabel.key}=${fakeNodeLabel.value}`);
  const list = await kube.get<{ items: { metadata: { name: string } }[] }>(
    `/api/v1/nodes?labelSelector=${selector}`,
  );
  return list.items.map((node) => node.metadata.name);
}

/** Adds fake nodes, shaped like the cluster's own, until there are `nodes`; waits until they are Ready. */
async function growTo(kube: KubeRest, cluster: ClusterState, nodes: number, log: (line: string) => void) {
  const present = (await fakeNodeNames(kube)).length;
  if (present >= nodes) return;
  log(`adding ${nodes - present} fake nodes (to ${nodes})`);
  const specs = fakeNodeSpecs({ ...cluster.options, nodes: nodes - present }).map((spec, i) => ({
    ...spec,
    name: `${extraNodePrefix}${present + i}`,
  }));
  await createFakeNodes(kube, specs);
  await waitFor(
    `${nodes} Ready nodes`,
    async () => {
      const ready = (await readyFakeNodes(kube)).length;
      if (ready < nodes) throw new Error(`${ready} Ready`);
      return true;
    },
    // KWOK readies a few fake nodes a second on 2 cores: allow for as many as are added.
    Math.max(60_000, nodes * 60, (nodes - present) * 200),
    1_000,
  );
}

async function deleteExtraNodes(kube: KubeRest, log: (line: string) => void): Promise<void> {
  const extra = (await fakeNodeNames(kube)).filter((name) => name.startsWith(extraNodePrefix));
  if (extra.length === 0) return;
  log(`deleting the ${extra.length} added nodes`);
  let next = 0;
  const worker = async () => {
    while (next < extra.length) {
      const name = extra[next++] as string;
      await kube.call("DELETE", `/api/v1/nodes/${name}`);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}
