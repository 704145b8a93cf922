/**
 * The "memory" scenario: the resident memory of one idle shard once it has synced a cluster of N
 * nodes running `podsPerNode` pods each (bound by name, as a scheduler leaves them), for growing
 * N. The cluster grows by extra fake nodes and the pods go into a namespace of their own; both
 * are deleted at the end. What a shard holds per node and per pod (its cache, its watches'
 * stores) shows here, with what its watches received and what decoding them cost; its memory
 * under load is measured by the basic runs.
 *
 * On 2 cores the cluster grows slowly (the API server creates tens to hundreds of pods a second
 * when the machine is busy) and KWOK cannot run thousands of nodes and tens of thousands of pods:
 * the added nodes are registered Ready without KWOK, creation is retried rather than timed out,
 * and the shard's sync is waited for in proportion to the pods, so a slow machine reaches 5000
 * nodes and 50 000 pods where the wait for KWOK's Ready nodes gave up.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  type FakeNodeSpec,
  fakeNodeAnnotation,
  fakeNodeLabel,
  fakeNodeManifest,
} from "../cluster/local/fake-nodes.js";
import type { KubeRest } from "../cluster/local/kube-rest.js";
import { adminClient, type ClusterState, fakeNodeSpecs } from "../cluster/local/local-cluster.js";
import { memberMetrics, stackDown, stackUp } from "../stack/stack.js";
import { metricValue } from "../support/metrics.js";
import { waitFor } from "../support/wait.js";
import { createNamespace } from "./basic.js";
import { type ProcessMemory, processMemory } from "./memory-usage.js";
import { type WatchCost, watchCostsOf } from "./shard-cost.js";

export interface ShardMemoryOptions {
  cluster: ClusterState;
  /** Node counts to measure at; counts below the cluster's own are measured at its size. */
  nodeCounts: readonly number[];
  /** Pods bound to each node (default 10). */
  podsPerNode?: number;
  /** How long the shard runs after it owns every node, before its memory is read. */
  settleMs: number;
  log: (line: string) => void;
}

export interface ShardMemoryResult {
  nodes: number;
  /** Pods running on them (bound by name). */
  pods?: number;
  memory?: ProcessMemory;
  /** The shard's JavaScript heap at the reading (its own metrics): what its resident memory holds live. */
  heap?: ShardHeap;
  /** The shard's watches of pods and nodes from its start to the reading: its initial lists, mostly. */
  watch?: { pods: WatchCost; nodes: WatchCost };
  error?: string;
}

/** A Node.js process's heap from its default metrics, in MiB. */
export interface ShardHeap {
  /** Live objects (and garbage not yet collected). */
  usedMiB: number;
  /** The heap V8 holds from the system. */
  totalMiB: number;
  /** Memory outside the heap owned by JavaScript objects (buffers). */
  externalMiB: number;
}

export interface ShardMemoryReport {
  scenario: "memory";
  results: ShardMemoryResult[];
}

const extraNodePrefix = "bench-memory-node-";
const podNamespacePrefix = "bench-memory-";

export async function runShardMemory(options: ShardMemoryOptions): Promise<ShardMemoryReport> {
  const { cluster, log } = options;
  const podsPerNode = options.podsPerNode ?? 10;
  const kube = adminClient(cluster);
  const results: ShardMemoryResult[] = [];
  const namespace = `${podNamespacePrefix}${Date.now().toString(36)}`;
  /** Nodes that have their pods, and how many pods there are. */
  const filled = new Set<string>();
  try {
    await createNamespace(kube, namespace);
    const own = (await fakeNodeNames(kube)).length;
    const counts = [...new Set(options.nodeCounts.map((count) => Math.max(count, own)))].sort(
      (a, b) => a - b,
    );
    for (const nodes of counts) {
      try {
        await growTo(kube, cluster, nodes, log);
        await fillPods(kube, namespace, filled, podsPerNode, log);
        const pods = filled.size * podsPerNode;
        results.push({ nodes, pods, ...(await idleShardMemory(cluster, nodes, pods, options)) });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log(`memory at ${nodes} nodes: failed: ${message}`);
        results.push({ nodes, error: message });
        await stackDown(cluster.stateDir, log);
      }
    }
    return { scenario: "memory", results };
  } finally {
    // The namespace controller deletes its pods in the background.
    try {
      await kube.call("DELETE", `/api/v1/namespaces/${namespace}`);
      await deleteExtraNodes(kube, log);
    } catch (error) {
      log(`memory: cleaning up failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    kube.close();
  }
}

async function idleShardMemory(
  cluster: ClusterState,
  nodes: number,
  pods: number,
  options: ShardMemoryOptions,
): Promise<{ memory: ProcessMemory; heap: ShardHeap; watch: ShardMemoryResult["watch"] }> {
  const { log } = options;
  const stack = await stackUp({ clusterDir: cluster.stateDir, shards: 1, coordinator: false, log });
  try {
    const shard = stack.shards[0];
    if (!shard) throw new Error("no shard started");
    // Synced: it owns every node and its cache holds every pod (a few extra are the cluster's own).
    await waitFor(
      `the shard to own ${nodes} nodes and cache ${pods} pods`,
      async () => {
        const text = await memberMetrics(shard);
        const owned = metricValue(text, "sharded_scheduler_owned_nodes");
        const cached = metricValue(text, "sharded_scheduler_cache_size", { type: "pods" });
        if (owned !== nodes || cached < pods) throw new Error(`owned nodes ${owned}, cached pods ${cached}`);
        return true;
      },
      // Its first list of every pod and node, on a busy machine.
      60_000 + pods * 5,
      1_000,
    );
    await sleep(options.settleMs);
    const memory = processMemory(shard.identity, shard.pid);
    if (!memory) throw new Error("the shard exited before its memory was read");
    const text = await memberMetrics(shard);
    const watch = watchCostsOf(text);
    const mib = (name: string) => Math.round((metricValue(text, name) / 2 ** 20) * 10) / 10;
    const heap = {
      usedMiB: mib("nodejs_heap_size_used_bytes"),
      totalMiB: mib("nodejs_heap_size_total_bytes"),
      externalMiB: mib("nodejs_external_memory_bytes"),
    };
    const perEvent = (c: WatchCost) =>
      c.events > 0
        ? `${Math.round(c.bytes / c.events)} B, ${((c.decodeSeconds / c.events) * 1e6).toFixed(1)} µs`
        : "-";
    log(
      `${nodes} nodes, ${pods} pods: idle shard ${memory.rssMiB} MiB resident (peak ${memory.peakRssMiB} MiB), ` +
        `heap ${heap.usedMiB} MiB used of ${heap.totalMiB}, ${heap.externalMiB} MiB external; ` +
        `per pod event ${perEvent(watch.pods)}, per node event ${perEvent(watch.nodes)}`,
    );
    return { memory, heap, watch };
  } finally {
    await stackDown(cluster.stateDir, log);
  }
}

/** A pod as a scheduler leaves it on a node: labels, one container with requests, a port and an env var. */
function boundPod(name: string, nodeName: string): { metadata: { name: string } } {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      labels: { app: "bench-memory", "pod-template-hash": "5d8f7c9b6" },
    },
    spec: {
      nodeName,
      containers: [
        {
          name: "app",
          image: "registry.k8s.io/pause:3.10",
          ports: [{ containerPort: 8080, name: "http" }],
          env: [{ name: "MODE", value: "bench" }],
          resources: { requests: { cpu: "10m", memory: "16Mi" } },
        },
      ],
      // Not evicted when the node controller finds a node without KWOK unreachable.
      tolerations: [
        { key: "kwok.x-k8s.io/node", operator: "Exists", effect: "NoSchedule" },
        { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" },
        { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
      ],
    },
  };
  return pod;
}

/** Gives every fake node not filled yet its pods; creation is retried on throttling and timeouts. */
async function fillPods(
  kube: KubeRest,
  namespace: string,
  filled: Set<string>,
  podsPerNode: number,
  log: (line: string) => void,
): Promise<void> {
  const nodes = (await fakeNodeNames(kube)).filter((name) => !filled.has(name));
  const pods = nodes.flatMap((node) =>
    Array.from({ length: podsPerNode }, (_, i) => ({ name: `${node}-${i}`, node })),
  );
  if (pods.length === 0) return;
  log(`creating ${pods.length} pods on ${nodes.length} nodes`);
  const started = Date.now();
  let next = 0;
  let created = 0;
  const worker = async () => {
    while (next < pods.length) {
      const pod = pods[next++] as { name: string; node: string };
      await createWithRetries(kube, `/api/v1/namespaces/${namespace}/pods`, boundPod(pod.name, pod.node));
      if (++created % 5000 === 0)
        log(`  ${created} pods created (${Math.round(created / ((Date.now() - started) / 1000))}/s)`);
    }
  };
  await Promise.all(Array.from({ length: 48 }, worker));
  for (const node of nodes) filled.add(node);
  log(`${pods.length} pods created in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** The fake nodes' names, listed in pages: one list of thousands of nodes can time out on a busy API server. */
async function fakeNodeNames(kube: KubeRest): Promise<string[]> {
  const selector = encodeURIComponent(`${fakeNodeLabel.key}=${fakeNodeLabel.value}`);
  const names: string[] = [];
  let token = "";
  do {
    const page = await kube.get<{ items: { metadata: { name: string } }[]; metadata: { continue?: string } }>(
      `/api/v1/nodes?labelSelector=${selector}&limit=500${token ? `&continue=${encodeURIComponent(token)}` : ""}`,
    );
    names.push(...page.items.map((node) => node.metadata.name));
    token = page.metadata.continue ?? "";
  } while (token);
  return names;
}

/**
 * Adds nodes shaped like the cluster's fake nodes until there are `nodes`. They are registered
 * Ready but no KWOK runs them: on 2 cores KWOK cannot keep thousands of nodes and tens of
 * thousands of pods alive (it stalled at about 1100 Ready of 2000), and what a shard holds of a
 * node does not depend on it. The node controller marks them unreachable after its grace period;
 * the pods on them tolerate that (see boundPod).
 */
async function growTo(kube: KubeRest, cluster: ClusterState, nodes: number, log: (line: string) => void) {
  const present = (await fakeNodeNames(kube)).length;
  if (present >= nodes) return;
  log(`adding ${nodes - present} nodes (to ${nodes})`);
  const specs = fakeNodeSpecs({ ...cluster.options, nodes: nodes - present });
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < specs.length) {
      const i = next++;
      const manifest = fakeNodeManifest(specs[i] as FakeNodeSpec) as {
        metadata: { name: string; annotations: Record<string, string> };
        status: Record<string, unknown>;
      };
      manifest.metadata.name = `${extraNodePrefix}${present + i}`;
      delete manifest.metadata.annotations[fakeNodeAnnotation.key];
      manifest.status.conditions = [{ type: "Ready", status: "True", reason: "KubeletReady" }];
      await createWithRetries(kube, "/api/v1/nodes", manifest);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  log(`${nodes - present} nodes added in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** POSTs an object; throttling, timeouts and server errors are retried, an existing one is taken as created. */
async function createWithRetries(kube: KubeRest, path: string, object: { metadata: { name: string } }) {
  for (let attempt = 1; ; attempt++) {
    const res = await kube
      .call("POST", path, object)
      .catch((error: unknown) => ({ status: 0, body: String(error) }));
    if (res.status === 201 || res.status === 409) return;
    if (attempt >= 10 || (res.status >= 400 && res.status < 500 && res.status !== 429))
      throw new Error(`creating ${object.metadata.name}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    await sleep(500 * attempt);
  }
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
