/**
 * The "fragmentation" scenario: a seeded workload of gangs (each member needs most of a node)
 * and small solo pods fills the cluster to about 90 % while the system runs, once per
 * configuration (1 shard; N shards without the coordinator; N shards with it). Sharding splits
 * the free room: a shard's gang may need more free nodes than the shard owns while other
 * shards hold the rest. At the end an offline single-scheduler oracle judges the final state:
 *   stuckGroups  – groups still pending that ONE scheduler owning every node could place now;
 *   drainSeconds – last pod creation to last bind.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError } from "../../scheduler/src/config/flags.js";
import { nodeOwnerAnnotation, shardLeaseLabel } from "../../scheduler/src/contracts/keys.js";
import { type Node, type Pod, toNodeInfo } from "../../scheduler/src/core/index.js";
import { fakeNodeLabel } from "../cluster/local/fake-nodes.js";
import type { KubeRest } from "../cluster/local/kube-rest.js";
import { adminClient, type ClusterState } from "../cluster/local/local-cluster.js";
import {
  memberMetrics,
  readStack,
  type StackOptions,
  type StackProcess,
  stackDown,
  stackUp,
} from "../stack/stack.js";
import { metricValue } from "../support/metrics.js";
import { waitFor } from "../support/wait.js";
import { createNamespace, deleteNamespace } from "./basic.js";
import { placePendingGroups } from "./fragmentation-oracle.js";
import {
  generateWorkload,
  type Workload,
  type WorkloadOptions,
  workloadPods,
} from "./fragmentation-workload.js";

/** One system under test: "1" (1 shard), "3" (3 shards, no coordinator), "3c" (3 shards and the coordinator). */
export interface FragmentationConfig {
  label: string;
  shards: number;
  coordinator: boolean;
}

export function parseConfigs(spec: string): FragmentationConfig[] {
  return spec.split(",").map((raw) => {
    const label = raw.trim();
    const match = /^([1-9][0-9]*)(c?)$/.exec(label);
    if (!match)
      throw new ConfigError(`--configs takes e.g. 1,3,3c (shards, c = with the coordinator), got "${label}"`);
    return { label, shards: Number(match[1]), coordinator: match[2] === "c" };
  });
}

/** Short timings so a run takes seconds: leases, handover and settle windows. */
export const shardArgs = [
  "--lease-duration-ms=4000",
  "--lease-renew-ms=1000",
  "--handover-settle-ms=500",
  "--settle-window-ms=500",
];
export const coordinatorArgs = ["--stuck-after-ms=2000"];

export interface FragmentationOptions {
  cluster: ClusterState;
  configs: readonly FragmentationConfig[];
  shape: Omit<WorkloadOptions, "seed" | "nodes">;
  seed: number;
  createConcurrency: number;
  /** The run ends when every pod is bound, or when nothing was bound or created for this long. */
  quietMs: number;
  log: (line: string) => void;
}

export interface FragmentationResult {
  config: string;
  shards: number;
  coordinator: boolean;
  pods: number;
  groups: number;
  boundPods: number;
  boundGroups: number;
  pendingGroups: number;
  /** Pending groups the oracle (one scheduler, every node) places on the final state. */
  stuckGroups: number;
  /** Last pod creation to last bind, in seconds (0 when the last bind came first). */
  drainSeconds: number;
  /** Nodes each shard owned when the pods started to arrive (its share of the ring). */
  ownedNodes?: number[];
  /** From the coordinators' /metrics (summed over replicas); only when the coordinator ran. */
  handoffs?: number;
  lends?: number;
  /** Set when the run failed; the other fields are then zero. */
  error?: string;
}

export interface FragmentationReport {
  scenario: "fragmentation";
  seed: number;
  nodes: number;
  workload: Omit<Workload, "groups"> & { fillPercent: number };
  results: FragmentationResult[];
}

export async function runFragmentation(options: FragmentationOptions): Promise<FragmentationReport> {
  const { cluster, log } = options;
  const kube = adminClient(cluster);
  try {
    const nodes = await waitFor(
      "every node Ready and untainted",
      async () => {
        const listed = await listNodes(kube);
        const blocked = listed.filter((node) => !usable(node)).map((node) => node.metadata.name);
        if (blocked.length > 0) throw new Error(`not yet: ${blocked.join(", ")}`);
        return listed;
      },
      60_000,
      500,
    );
    const workload = generateWorkload({ seed: options.seed, nodes, ...options.shape });
    const fillPercent = Math.round((workload.requestedMilliCpu / workload.capacityMilliCpu) * 1000) / 10;
    log(
      `seed ${workload.seed}: ${workload.pods} pods in ${workload.gangs} gangs and ${workload.solos} solo pods, ` +
        `${fillPercent}% of ${workload.capacityMilliCpu / 1000} cpu on ${nodes.length} nodes` +
        (workload.dropped > 0
          ? ` (${workload.dropped} groups dropped, as one scheduler could not place them; solo pods took their share)`
          : ""),
    );
    const results: FragmentationResult[] = [];
    for (const config of options.configs) {
      const result = await runConfig(kube, config, workload, nodes.length, options).catch(
        (error: unknown): FragmentationResult => {
          const message = error instanceof Error ? error.message : String(error);
          log(`${config.label}: failed: ${message}`);
          return { ...emptyResult(config, workload), error: message };
        },
      );
      results.push(result);
    }
    const { groups: _groups, ...summary } = workload;
    return {
      scenario: "fragmentation",
      seed: options.seed,
      nodes: nodes.length,
      workload: { ...summary, fillPercent },
      results,
    };
  } finally {
    kube.close();
  }
}

function emptyResult(config: FragmentationConfig, workload: Workload): FragmentationResult {
  return {
    config: config.label,
    shards: config.shards,
    coordinator: config.coordinator,
    pods: workload.pods,
    groups: workload.groups.length,
    boundPods: 0,
    boundGroups: 0,
    pendingGroups: 0,
    stuckGroups: 0,
    drainSeconds: 0,
  };
}

const now = () => performance.timeOrigin + performance.now();

async function runConfig(
  kube: KubeRest,
  config: FragmentationConfig,
  workload: Workload,
  nodeCount: number,
  options: FragmentationOptions,
): Promise<FragmentationResult> {
  const { cluster, log } = options;
  const label = `${config.shards} shard(s) ${config.coordinator ? "with" : "without"} the coordinator`;
  // The same namespace for every configuration: groups hash to the same shards in each, so the
  // coordinator faces the fragmentation the run without it showed.
  const namespace = `frag-s${workload.seed}`;
  const pods = workloadPods(workload.groups, namespace);
  const order = new Map(pods.map((pod, i) => [pod.metadata.name, i]));
  if ((await kube.call("GET", `/api/v1/namespaces/${namespace}`)).status === 200) {
    log(`${namespace} is left from an earlier run; deleting it`);
    await deleteNamespace(kube, namespace, [], options.createConcurrency, log);
  }
  const created: string[] = [];
  try {
    await createNamespace(kube, namespace);
    await removeShardLeases(kube);
    const stackOptions: StackOptions = {
      clusterDir: cluster.stateDir,
      shards: config.shards,
      coordinator: config.coordinator,
      shardArgs,
      coordinatorArgs,
      log,
    };
    const stack = await stackUp(stackOptions);
    if (config.coordinator && stack.coordinators.length === 0)
      throw new Error("the stack started no coordinator");
    const ownedNodes = await waitForRing(stack.shards, nodeCount, log);

    const boundAt = new Map<string, number>();
    const stopWatch = await kube.watch<Pod>(`/api/v1/namespaces/${namespace}/pods`, (type, pod) => {
      if (type === "ERROR" || !pod.spec?.nodeName || boundAt.has(pod.metadata.name)) return;
      boundAt.set(pod.metadata.name, now());
    });
    try {
      log(`${label}: creating ${pods.length} pods`);
      let lastCreatedAt = now();
      let next = 0;
      const worker = async () => {
        while (next < pods.length) {
          const pod = pods[next++] as Pod;
          const res = await kube.call("POST", `/api/v1/namespaces/${namespace}/pods`, {
            apiVersion: "v1",
            kind: "Pod",
            ...pod,
          });
          if (res.status !== 201)
            throw new Error(`creating ${pod.metadata.name}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
          created.push(pod.metadata.name);
          lastCreatedAt = now();
        }
      };
      await Promise.all(Array.from({ length: options.createConcurrency }, worker));
      log(`${label}: created; waiting for binds (ends after ${options.quietMs / 1000}s without one)`);
      let reported = 0;
      for (;;) {
        if (boundAt.size >= pods.length) break;
        const lastActivity = Math.max(lastCreatedAt, ...boundAt.values());
        if (now() - lastActivity >= options.quietMs) break;
        if (boundAt.size - reported >= pods.length / 10) {
          reported = boundAt.size;
          log(`${label}: ${boundAt.size}/${pods.length} bound`);
        }
        await sleep(250);
      }
      const lastBoundAt = Math.max(0, ...boundAt.values());
      const drainSeconds = Math.round((Math.max(0, lastBoundAt - lastCreatedAt) / 1000) * 100) / 100;

      const counters = config.coordinator ? await coordinatorCounters(cluster.stateDir) : {};
      // The final state, as the API server has it (not as the watch saw it).
      const [nodes, allPods] = await Promise.all([
        listNodes(kube),
        kube.get<{ items: Pod[] }>("/api/v1/pods"),
      ]);
      const ours = allPods.items
        .filter((pod) => pod.metadata.namespace === namespace && order.has(pod.metadata.name))
        .sort((a, b) => (order.get(a.metadata.name) ?? 0) - (order.get(b.metadata.name) ?? 0));
      const occupants = allPods.items.filter((pod) => pod.spec.nodeName);
      const pending = ours.filter((pod) => !pod.spec.nodeName);
      const verdict = placePendingGroups(nodes, [...occupants, ...pending]);
      const pendingGroupNames = new Set([...verdict.fits, ...verdict.unfit].map((key) => key.name));
      const result: FragmentationResult = {
        config: config.label,
        shards: config.shards,
        coordinator: config.coordinator,
        pods: pods.length,
        groups: workload.groups.length,
        boundPods: ours.length - pending.length,
        boundGroups: workload.groups.length - pendingGroupNames.size,
        pendingGroups: pendingGroupNames.size,
        stuckGroups: verdict.fits.length,
        drainSeconds,
        ownedNodes,
        ...counters,
      };
      log(
        `${label}: ${result.boundPods}/${result.pods} pods bound, ${result.pendingGroups} groups pending, ` +
          `${result.stuckGroups} of them stuck (one scheduler would place them); drain ${drainSeconds}s` +
          (config.coordinator
            ? `; ${counters.handoffs ?? "?"} handoffs, ${counters.lends ?? "?"} lends`
            : ""),
      );
      if (verdict.fits.length > 0) log(`${label}: stuck: ${verdict.fits.map((key) => key.name).join(", ")}`);
      if (verdict.unfit.length > 0)
        log(
          `${label}: pending, and one scheduler could not place them on this state either: ` +
            verdict.unfit.map((key) => key.name).join(", "),
        );
      return result;
    } finally {
      stopWatch();
    }
  } finally {
    await keepStackDiagnostics(cluster.stateDir, config.label);
    await stackDown(cluster.stateDir, log);
    await returnLentNodes(kube, log);
    await deleteNamespace(kube, namespace, created, options.createConcurrency, log);
  }
}

/**
 * Each configuration starts from a fresh ring, as a new install does: the previous
 * configuration's shard and ring Leases would make its shards a restart of the earlier ones.
 */
export async function removeShardLeases(kube: KubeRest): Promise<void> {
  const selector = encodeURIComponent(`${shardLeaseLabel}=sharded-scheduler`);
  const res = await kube.call(
    "DELETE",
    `/apis/coordination.k8s.io/v1/namespaces/default/leases?labelSelector=${selector}`,
  );
  if (res.status !== 200)
    throw new Error(`removing the shard Leases: HTTP ${res.status} ${JSON.stringify(res.body)}`);
}

/**
 * A measurement of N shards needs a ring of N: waits until every shard has adopted the same
 * epoch and owns nodes, and their shares add up to the cluster. Returns the shares.
 */
export async function waitForRing(
  shards: readonly StackProcess[],
  nodeCount: number,
  log: (line: string) => void,
): Promise<number[]> {
  const owned = await waitFor(
    `a ring of ${shards.length} shard(s)`,
    async () => {
      const metrics = await Promise.all(
        shards.map(async (shard) => {
          const text = await memberMetrics(shard);
          return {
            epoch: metricValue(text, "sharded_scheduler_ring_epoch"),
            owned: metricValue(text, "sharded_scheduler_owned_nodes"),
          };
        }),
      );
      const epochs = new Set(metrics.map((m) => m.epoch));
      const shares = metrics.map((m) => m.owned);
      const state = `epochs ${[...epochs].join("/")}, owned nodes ${shares.join("/")}`;
      const total = shares.reduce((sum, share) => sum + share, 0);
      if (epochs.size !== 1 || shares.some((share) => share === 0) || total !== nodeCount)
        throw new Error(state);
      return shares;
    },
    30_000,
    250,
  );
  log(`ring of ${shards.length} shard(s) formed; owned nodes ${owned.join("/")}`);
  return owned;
}

/**
 * stackDown removes the stack's folder: keep its logs, and each process's last /metrics, with
 * the cluster's logs (for --keep-cluster), in logs/<scenario>-<config>/.
 */
export async function keepStackDiagnostics(
  clusterDir: string,
  label: string,
  scenario = "fragmentation",
): Promise<void> {
  const from = join(clusterDir, "stack");
  const stack = readStack(clusterDir);
  if (!stack || !existsSync(from)) return;
  const to = join(clusterDir, "logs", `${scenario}-${label}`);
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  for (const file of readdirSync(from))
    if (file.endsWith(".log")) copyFileSync(join(from, file), join(to, file));
  for (const member of [...stack.shards, ...stack.coordinators]) {
    try {
      writeFileSync(join(to, `${member.identity}.metrics`), await memberMetrics(member));
    } catch {
      // Exited or frozen: its log says why.
    }
  }
}

/**
 * The workload is sized on the nodes as one scheduler would see them; a node just created
 * carries the node lifecycle controller's not-ready taint for a moment after it turns Ready.
 */
export function usable(node: Node): boolean {
  const info = toNodeInfo(node);
  return info.ready && !info.unschedulable && info.taints.length === 0;
}

export async function listNodes(kube: KubeRest): Promise<Node[]> {
  const selector = encodeURIComponent(`${fakeNodeLabel.key}=${fakeNodeLabel.value}`);
  return (await kube.get<{ items: Node[] }>(`/api/v1/nodes?labelSelector=${selector}`)).items;
}

/** Handoffs and lends the coordinator replicas counted, summed (a standby counts none). */
export async function coordinatorCounters(
  clusterDir: string,
): Promise<{ handoffs?: number; lends?: number }> {
  let handoffs = 0;
  let lends = 0;
  let answered = 0;
  for (const coordinator of readStack(clusterDir)?.coordinators ?? []) {
    try {
      const text = await memberMetrics(coordinator);
      handoffs += metricValue(text, "sharded_scheduler_coordinator_handoffs_total");
      lends += metricValue(text, "sharded_scheduler_coordinator_lends_total");
      answered++;
    } catch {
      // An exited replica's counters are gone with it; the others still count.
    }
  }
  return answered > 0 ? { handoffs, lends } : {};
}

/**
 * Lends outlive the coordinator as node annotations: remove them, so that the next
 * configuration starts from the ring's own split.
 */
export async function returnLentNodes(kube: KubeRest, log: (line: string) => void): Promise<void> {
  for (const node of await listNodes(kube)) {
    if (node.metadata.annotations?.[nodeOwnerAnnotation] === undefined) continue;
    for (let attempt = 0; ; attempt++) {
      const current = await kube.get<Node>(`/api/v1/nodes/${node.metadata.name}`);
      delete current.metadata.annotations?.[nodeOwnerAnnotation];
      const res = await kube.call("PUT", `/api/v1/nodes/${node.metadata.name}`, current);
      if (res.status === 200) break;
      if (res.status !== 409 || attempt === 5)
        throw new Error(`returning ${node.metadata.name}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    }
    log(`removed the lend annotation from ${node.metadata.name}`);
  }
}
