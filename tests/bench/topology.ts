/**
 * The "topology" scenario: nodes in racks (topology.kubernetes.io/rack) grouped in blocks
 * (topology.kubernetes.io/block), and a seeded workload of gangs of 4–20 that each require one
 * rack (native PodGroups with spec.schedulingConstraints.topology, for every system) plus solo
 * pods, about 88 % of the cluster's cpu, created in arrival order while the system runs. Once
 * per configuration:
 *   kube-scheduler  kube-scheduler 1.37 with TopologyAwareWorkloadScheduling (the cluster runs
 *                   the alpha workload gates), on the same PodGroups;
 *   1               1 shard and the coordinator;
 *   3               3 shards hashed by node and the coordinator: every shard owns a slice of every rack;
 *   3-rack          3 shards with --shard-by-label topology.kubernetes.io/rack and the coordinator:
 *                   every shard owns whole racks.
 * At the end, on the final state: gangs placed, groups left pending that an offline oracle (one
 * scheduler, every node, a rack gang inside one rack) could place now, time to drain (last pod
 * created to last bind), and gangs split across racks (must be 0). Goal: 3-rack leaves 0
 * placeable gangs pending and binds within 5 % of 1 shard's cpu.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError } from "../../scheduler/src/config/flags.js";
import { type Node, type Pod, toPodInfo } from "../../scheduler/src/core/index.js";
import type { KubeRest } from "../cluster/local/kube-rest.js";
import {
  adminClient,
  type ClusterOptions,
  type ClusterState,
  defaultClusterOptions,
  startComponent,
  stopComponent,
} from "../cluster/local/local-cluster.js";
import { type StackOptions, stackDown, stackUp } from "../stack/stack.js";
import { waitFor } from "../support/wait.js";
import { createNamespace, deleteNamespace } from "./basic.js";
import {
  coordinatorArgs,
  coordinatorCounters,
  keepStackDiagnostics,
  listNodes,
  removeShardLeases,
  returnLentNodes,
  shardArgs,
  usable,
  waitForRing,
} from "./fragmentation.js";
import { placePendingTopologyGroups } from "./topology-oracle.js";
import {
  blockLabel,
  defaultTopologyShape,
  generateTopologyWorkload,
  memberNames,
  podGroupManifest,
  rackLabel,
  rackLayout,
  splitGangs,
  systemPods,
  type TopologyGroup,
  type TopologyWorkload,
  topologyOraclePods,
} from "./topology-workload.js";

export const topologyConfigLabels = ["kube-scheduler", "1", "3", "3-rack"] as const;
export type TopologyConfigLabel = (typeof topologyConfigLabels)[number];

/** One system under test: kube-scheduler, or shards (hashed by node or aligned by rack) with the coordinator. */
export interface TopologyConfig {
  label: TopologyConfigLabel;
  system: "kube-scheduler" | "sharded-scheduler";
  shards?: number;
  /** --shard-by-label for the shards. */
  shardByLabel?: string;
}

export function parseTopologyConfigs(spec: string): TopologyConfig[] {
  return spec.split(",").map((raw) => {
    const label = raw.trim();
    switch (label) {
      case "kube-scheduler":
        return { label, system: "kube-scheduler" };
      case "1":
      case "3":
        return { label, system: "sharded-scheduler", shards: Number(label) };
      case "3-rack":
        return { label, system: "sharded-scheduler", shards: 3, shardByLabel: rackLabel };
      default:
        throw new ConfigError(
          `--configs takes some of ${topologyConfigLabels.join(",")} for --scenario topology, got "${label}"`,
        );
    }
  });
}

/** Racks per block (the block label groups consecutive racks). */
export const racksPerBlock = 5;

/** Small nodes that gang members nearly fill; kube-scheduler with the alpha workload gates (topology). */
export function topologyCluster(stateDir: string, nodes: number, nodeCpu: string): ClusterOptions {
  return {
    ...defaultClusterOptions,
    stateDir,
    nodes,
    nodeCpu,
    nodeMemory: "64Gi",
    kubeScheduler: true,
    workloadGates: "alpha",
    // 1000 nodes renewing a Lease every 10 s would cost more API writes than the schedulers.
    nodeLeaseSeconds: 240,
  };
}

export interface TopologyOptions {
  cluster: ClusterState;
  configs: readonly TopologyConfig[];
  racks: number;
  fill: number;
  seed: number;
  createConcurrency: number;
  /** The run ends when every pod is bound, or when nothing was bound or created for this long. */
  quietMs: number;
  log: (line: string) => void;
}

export interface TopologyResult {
  config: TopologyConfigLabel;
  system: TopologyConfig["system"];
  shards?: number;
  shardByLabel?: string;
  pods: number;
  boundPods: number;
  gangs: number;
  /** Gangs with every member bound. */
  gangsPlaced: number;
  /** Groups (gangs and solo pods) with a member unbound. */
  pendingGroups: number;
  /** Of those, the ones the oracle places on the final state (one scheduler would have). */
  placeablePending: number;
  /** Of those, gangs. */
  placeablePendingGangs: number;
  /** Gangs whose bound members sit in more than one rack or on a node without one (must be 0). */
  splitGangs: number;
  /** Cpu of the bound pods, over the cluster's (%). */
  boundCpuPercent: number;
  /** Last pod creation to last bind, in seconds (0 when the last bind came first). */
  drainSeconds: number;
  ownedNodes?: number[];
  handoffs?: number;
  lends?: number;
  /** A few split gangs, with their racks. */
  splitExamples?: string[];
  /** Set when the run failed; the other fields are then zero. */
  error?: string;
}

export interface TopologyReport {
  scenario: "topology";
  seed: number;
  nodes: number;
  racks: number;
  racksPerBlock: number;
  workload: Omit<TopologyWorkload, "groups"> & { fillPercent: number };
  results: TopologyResult[];
  /** Each configuration's bound cpu over 1 shard's (the goal for 3-rack: ≥ 0.95). */
  packingVsOneShard?: Record<string, number>;
}

export async function runTopology(options: TopologyOptions): Promise<TopologyReport> {
  const { cluster, log } = options;
  const kube = adminClient(cluster);
  try {
    const nodes = await labelNodes(kube, options.racks, log);
    const workload = generateTopologyWorkload({
      seed: options.seed,
      nodes,
      ...defaultTopologyShape,
      fill: options.fill,
    });
    const fillPercent = percent(workload.requestedMilliCpu, workload.capacityMilliCpu);
    log(
      `seed ${workload.seed}: ${workload.pods} pods in ${workload.gangs} rack gangs (${workload.gangPods} pods) and ` +
        `${workload.solos} solo pods, ${fillPercent}% of ${workload.capacityMilliCpu / 1000} cpu on ${nodes.length} nodes ` +
        `in ${options.racks} racks` +
        (workload.dropped > 0
          ? ` (${workload.dropped} groups dropped: one scheduler could not place them)`
          : ""),
    );
    const results: TopologyResult[] = [];
    try {
      for (const config of options.configs) {
        const result = await runConfig(kube, config, workload, nodes, options).catch(
          (error: unknown): TopologyResult => {
            const message = error instanceof Error ? error.message : String(error);
            log(`${config.label}: failed: ${message}`);
            return { ...emptyResult(config, workload), error: message };
          },
        );
        results.push(result);
      }
    } finally {
      // The cluster's default scheduler runs again afterwards, as the cluster had it.
      startComponent(cluster.stateDir, "kube-scheduler");
    }
    const { groups: _groups, ...summary } = workload;
    const oneShard = results.find((r) => r.config === "1" && !r.error);
    return {
      scenario: "topology",
      seed: options.seed,
      nodes: nodes.length,
      racks: options.racks,
      racksPerBlock,
      workload: { ...summary, fillPercent },
      results,
      ...(oneShard && oneShard.boundCpuPercent > 0
        ? {
            packingVsOneShard: Object.fromEntries(
              results
                .filter((r) => !r.error)
                .map((r) => [
                  r.config,
                  Math.round((r.boundCpuPercent / oneShard.boundCpuPercent) * 1000) / 1000,
                ]),
            ),
          }
        : {}),
    };
  } finally {
    kube.close();
  }
}

const percent = (part: number, whole: number) => Math.round((part / whole) * 1000) / 10;

function emptyResult(config: TopologyConfig, workload: TopologyWorkload): TopologyResult {
  return {
    config: config.label,
    system: config.system,
    ...(config.shards === undefined ? {} : { shards: config.shards }),
    ...(config.shardByLabel === undefined ? {} : { shardByLabel: config.shardByLabel }),
    pods: workload.pods,
    boundPods: 0,
    gangs: workload.gangs,
    gangsPlaced: 0,
    pendingGroups: 0,
    placeablePending: 0,
    placeablePendingGangs: 0,
    splitGangs: 0,
    boundCpuPercent: 0,
    drainSeconds: 0,
  };
}

/**
 * Labels every fake node with its rack and block (rackLayout over the names) where it does not
 * carry them yet, once every node is Ready and untainted; returns the nodes as labelled.
 */
async function labelNodes(kube: KubeRest, racks: number, log: (line: string) => void): Promise<Node[]> {
  const listed = await waitFor(
    "every node Ready and untainted",
    async () => {
      const nodes = await listNodes(kube);
      const blocked = nodes.filter((node) => !usable(node)).map((node) => node.metadata.name);
      if (blocked.length > 0) throw new Error(`not yet: ${blocked.length} nodes`);
      return nodes;
    },
    120_000,
    500,
  );
  const layout = rackLayout(
    listed.map((node) => node.metadata.name),
    racks,
    racksPerBlock,
  );
  const stale = listed.filter((node) => {
    const place = layout.get(node.metadata.name);
    const labels = node.metadata.labels ?? {};
    return labels[rackLabel] !== place?.rack || labels[blockLabel] !== place?.block;
  });
  let next = 0;
  const worker = async () => {
    while (next < stale.length) {
      const name = (stale[next++] as Node).metadata.name;
      const place = layout.get(name) as { rack: string; block: string };
      for (let attempt = 0; ; attempt++) {
        const current = await kube.get<Node>(`/api/v1/nodes/${name}`);
        current.metadata.labels = {
          ...current.metadata.labels,
          [rackLabel]: place.rack,
          [blockLabel]: place.block,
        };
        const res = await kube.call("PUT", `/api/v1/nodes/${name}`, current);
        if (res.status === 200) break;
        if (res.status !== 409 || attempt === 5)
          throw new Error(`labelling ${name}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  if (stale.length > 0) log(`labelled ${stale.length} nodes with their rack and block`);
  return listNodes(kube);
}

const now = () => performance.timeOrigin + performance.now();

async function runConfig(
  kube: KubeRest,
  config: TopologyConfig,
  workload: TopologyWorkload,
  nodes: readonly Node[],
  options: TopologyOptions,
): Promise<TopologyResult> {
  const { cluster, log } = options;
  const label =
    config.system === "kube-scheduler"
      ? "kube-scheduler"
      : `${config.shards} shard(s)${config.shardByLabel ? ` by ${config.shardByLabel}` : " hashed by node"} with the coordinator`;
  // One namespace for every configuration: groups hash to the same shards in each.
  const namespace = `topo-s${workload.seed}`;
  const schedulerName = config.system === "kube-scheduler" ? "default-scheduler" : "sharded-scheduler";
  const podCount = workload.pods;
  if ((await kube.call("GET", `/api/v1/namespaces/${namespace}`)).status === 200) {
    log(`${namespace} is left from an earlier run; deleting it`);
    await deleteNamespace(kube, namespace, [], options.createConcurrency, log);
  }
  const created: string[] = [];
  let ownedNodes: number[] | undefined;
  try {
    await createNamespace(kube, namespace);
    if (config.system === "kube-scheduler") startComponent(cluster.stateDir, "kube-scheduler");
    else {
      // Idle, it would still decode every pod of the run: CPU the shards would pay for.
      await stopComponent(cluster.stateDir, "kube-scheduler");
      await removeShardLeases(kube);
      const stackOptions: StackOptions = {
        clusterDir: cluster.stateDir,
        shards: config.shards ?? 1,
        coordinator: true,
        shardArgs: [
          ...shardArgs,
          ...(config.shardByLabel ? [`--shard-by-label=${config.shardByLabel}`] : []),
        ],
        coordinatorArgs,
        log,
      };
      const stack = await stackUp(stackOptions);
      if (stack.coordinators.length === 0) throw new Error("the stack started no coordinator");
      ownedNodes = await waitForRing(stack.shards, nodes.length, log);
    }

    const boundAt = new Map<string, number>();
    const stopWatch = await kube.watch<Pod>(`/api/v1/namespaces/${namespace}/pods`, (type, pod) => {
      if (type === "ERROR" || !pod.spec?.nodeName || boundAt.has(pod.metadata.name)) return;
      boundAt.set(pod.metadata.name, now());
    });
    try {
      log(`${label}: creating ${workload.groups.length} groups (${podCount} pods) in arrival order`);
      let lastCreatedAt = now();
      let next = 0;
      const create = async (path: string, body: Record<string, unknown>, what: string) => {
        const res = await kube.call("POST", path, body);
        if (res.status !== 201)
          throw new Error(`creating ${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      };
      // Each worker creates one group at a time: a gang's PodGroup, then its members.
      const worker = async () => {
        while (next < workload.groups.length) {
          const group = workload.groups[next++] as TopologyGroup;
          if (!group.solo)
            await create(
              `/apis/scheduling.k8s.io/v1beta1/namespaces/${namespace}/podgroups`,
              podGroupManifest(group, namespace),
              `PodGroup ${group.name}`,
            );
          for (const pod of systemPods(group, namespace, schedulerName)) {
            await create(
              `/api/v1/namespaces/${namespace}/pods`,
              { apiVersion: "v1", kind: "Pod", ...pod },
              pod.metadata.name,
            );
            created.push(pod.metadata.name);
          }
          lastCreatedAt = now();
        }
      };
      await Promise.all(Array.from({ length: options.createConcurrency }, worker));
      log(`${label}: created; waiting for binds (ends after ${options.quietMs / 1000}s without one)`);
      let reported = 0;
      for (;;) {
        if (boundAt.size >= podCount) break;
        const lastActivity = Math.max(lastCreatedAt, ...boundAt.values());
        if (now() - lastActivity >= options.quietMs) break;
        if (boundAt.size - reported >= podCount / 10) {
          reported = boundAt.size;
          log(`${label}: ${boundAt.size}/${podCount} bound`);
        }
        await sleep(250);
      }
      const lastBoundAt = Math.max(0, ...boundAt.values());
      const drainSeconds = Math.round((Math.max(0, lastBoundAt - lastCreatedAt) / 1000) * 100) / 100;
      const counters =
        config.system === "sharded-scheduler" ? await coordinatorCounters(cluster.stateDir) : {};
      return judge(kube, config, workload, namespace, { drainSeconds, ownedNodes, ...counters }, label, log);
    } finally {
      stopWatch();
    }
  } finally {
    if (config.system === "sharded-scheduler") {
      await keepStackDiagnostics(cluster.stateDir, config.label, "topology");
      await stackDown(cluster.stateDir, log);
      await returnLentNodes(kube, log);
    }
    await deleteNamespace(kube, namespace, created, options.createConcurrency, log);
  }
}

/** The final state, as the API server has it: what was placed, what is pending and placeable, what split. */
async function judge(
  kube: KubeRest,
  config: TopologyConfig,
  workload: TopologyWorkload,
  namespace: string,
  measured: Pick<TopologyResult, "drainSeconds" | "ownedNodes" | "handoffs" | "lends">,
  label: string,
  log: (line: string) => void,
): Promise<TopologyResult> {
  const [nodes, allPods] = await Promise.all([listNodes(kube), kube.get<{ items: Pod[] }>("/api/v1/pods")]);
  const ours = new Map(
    allPods.items
      .filter((pod) => pod.metadata.namespace === namespace)
      .map((pod) => [pod.metadata.name, pod]),
  );
  const bound = (name: string) => Boolean(ours.get(name)?.spec.nodeName);
  const pendingGroups = workload.groups.filter((group) => !memberNames(group).every(bound));
  const pendingNames = new Set(pendingGroups.map((group) => group.name));
  // The oracle reads rack gangs in its own form, the pods still pending in arrival order.
  const pendingPods = topologyOraclePods(pendingGroups, namespace).filter((pod) => !bound(pod.metadata.name));
  const occupants = allPods.items.filter((pod) => pod.spec.nodeName);
  const verdict = placePendingTopologyGroups(nodes, [...occupants, ...pendingPods]);
  const placeable = verdict.fits.map((key) => key.name).filter((name) => pendingNames.has(name));
  const gangNames = new Set(workload.groups.filter((group) => !group.solo).map((group) => group.name));
  const splits = splitGangs(workload.groups, [...ours.values()], nodes);
  const capacity = workload.capacityMilliCpu;
  const boundMilliCpu = [...ours.values()]
    .filter((pod) => pod.spec.nodeName)
    .reduce((sum, pod) => sum + toPodInfo(pod).requests.milliCpu, 0);
  const result: TopologyResult = {
    config: config.label,
    system: config.system,
    ...(config.shards === undefined ? {} : { shards: config.shards }),
    ...(config.shardByLabel === undefined ? {} : { shardByLabel: config.shardByLabel }),
    pods: workload.pods,
    boundPods: [...ours.keys()].filter(bound).length,
    gangs: workload.gangs,
    gangsPlaced: workload.gangs - pendingGroups.filter((group) => !group.solo).length,
    pendingGroups: pendingGroups.length,
    placeablePending: placeable.length,
    placeablePendingGangs: placeable.filter((name) => gangNames.has(name)).length,
    splitGangs: splits.length,
    boundCpuPercent: percent(boundMilliCpu, capacity),
    ...measured,
    ...(splits.length > 0 ? { splitExamples: splits.slice(0, 5).map((s) => `${s.gang}: ${s.split}`) } : {}),
  };
  log(
    `${label}: ${result.gangsPlaced}/${result.gangs} gangs placed, ${result.boundPods}/${result.pods} pods bound ` +
      `(${result.boundCpuPercent}% cpu), ${result.pendingGroups} groups pending of which ${result.placeablePending} ` +
      `placeable (${result.placeablePendingGangs} gangs), ${result.splitGangs} gangs split across racks; drain ${result.drainSeconds}s` +
      (result.handoffs !== undefined ? `; ${result.handoffs} handoffs, ${result.lends} lends` : ""),
  );
  if (placeable.length > 0) log(`${label}: placeable but pending: ${placeable.slice(0, 20).join(", ")}`);
  for (const example of result.splitExamples ?? []) log(`${label}: SPLIT ${example}`);
  return result;
}
