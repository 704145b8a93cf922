/**
 * The "basic" scenario: P small pods on a cluster of N nodes, scheduled in turn by
 * kube-scheduler, sharded-scheduler and the no-op binder (which binds round-robin with no
 * logic: the API server's ceiling on this machine). Two modes:
 *   backlog   – the P pods are created while the system is stopped; then it starts and the
 *               clock runs from its start to the last bind. Measures scheduling capacity
 *               (startup and cache sync included), independent of how fast pods are created.
 *               Latency = bind − system start.
 *   streaming – the system runs while P pods are created as fast as one client can.
 *               Latency = bind − creation; throughput is capped by the creation rate.
 * With runs > 1 every system runs that many times, interleaved (run 1 of every system, then
 * run 2 of every system, …) so that drift on the machine hits all systems alike; each system's
 * result is the median of its runs with their range (stats.ts medianOfRuns).
 * With gangSize > 1 the pods come in gangs, whose latency is to their last member's bind. The
 * gang API says how a pod joins its gang: `annotation` (pod-group and min-member annotations,
 * which only sharded-scheduler reads) or `podgroup` (a native scheduling.k8s.io/v1beta1 PodGroup
 * per gang, minCount its size, created before its pods; kube-scheduler 1.37 with GenericWorkload
 * gang-schedules these too).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError } from "../../scheduler/src/config/flags.js";
import { minMemberAnnotation, podGroupAnnotation } from "../../scheduler/src/contracts/keys.js";
import type { KubeRest } from "../cluster/local/kube-rest.js";
import { toolPaths } from "../cluster/local/layout.js";
import {
  adminClient,
  type ClusterState,
  readState,
  startComponent,
  stopComponent,
} from "../cluster/local/local-cluster.js";
import { isRunning, startProcess, stopProcess } from "../cluster/local/processes.js";
import { readStack, stackDown, stackUp } from "../stack/stack.js";
import { GiveUp, waitFor } from "../support/wait.js";
import { readApiWrites, requestsPerPod, writesPerPod } from "./api-writes.js";
import { measureCpu, type Quiet, waitUntilQuiet } from "./cpu-usage.js";
import { type GangSizes, gangLayout } from "./gang-layout.js";
import { processesMemory } from "./memory-usage.js";
import { readShardCosts, type ShardCost } from "./shard-cost.js";
import { medianOfRuns, type SystemResult, summarize } from "./stats.js";

export type SystemName = "kube-scheduler" | "sharded-scheduler" | "noop-binder";
export const allSystems: readonly SystemName[] = ["kube-scheduler", "sharded-scheduler", "noop-binder"];

export type BenchMode = "backlog" | "streaming";

/** sharded-scheduler's Scheduled Events: one per pod (its default), one per bound group, or none. */
export type ScheduledEvents = "pod" | "group" | "off";
export const scheduledEventsModes: readonly ScheduledEvents[] = ["pod", "group", "off"];

/** --scheduled-events: a comma-separated list of pod, group and off; absent: undefined. */
export function parseScheduledEvents(text: string | undefined): ScheduledEvents[] | undefined {
  if (text === undefined) return undefined;
  const modes = text.split(",").map((mode) => mode.trim());
  const unknown = modes.filter((mode) => !(scheduledEventsModes as readonly string[]).includes(mode));
  if (unknown.length > 0 || new Set(modes).size !== modes.length)
    throw new ConfigError(
      `--scheduled-events must be distinct modes of ${scheduledEventsModes.join(", ")} separated by commas, got "${text}"`,
    );
  return modes as ScheduledEvents[];
}

/** How the gangs scenario's pods join their gang. */
export type GangApi = "annotation" | "podgroup";
export const gangApis: readonly GangApi[] = ["annotation", "podgroup"];

/** The JSON of a basic (or gangs) run. */
export interface BasicReport {
  scenario: "basic" | "gangs";
  mode: BenchMode;
  nodes: number;
  pods: number;
  /** Pods per gang (gangs scenario). */
  gangSize?: number;
  /** When the gang sizes cycle through a range (gangs scenario, e.g. "3-8"). */
  gangSizes?: string;
  /** How pods join their gang (gangs scenario; absent: annotation). */
  api?: GangApi;
  /** Runs per system (absent: 1); each result is then the median of its runs. */
  runs?: number;
  results: SystemResult[];
}

export interface BasicOptions {
  cluster: ClusterState;
  mode: BenchMode;
  pods: number;
  /** sharded-scheduler runs once per shard count. */
  shards: readonly number[];
  systems: readonly SystemName[];
  createConcurrency: number;
  /** Pods per gang; 1 (or absent): solo pods. */
  gangSize?: number;
  /** Gang sizes cycling through a range; overrides gangSize. */
  gangSizes?: GangSizes;
  /** How pods join their gang (default annotation). */
  api?: GangApi;
  /** What pod i asks for beyond the basic one (daemonset scenario); absent: the basic pod. */
  podShape?: (i: number) => PodShape;
  /** Run sharded-scheduler with its coordinator (default: without). */
  coordinator?: boolean;
  /** sharded-scheduler once per mode, its shards given --scheduled-events (absent: the flag is not passed). */
  scheduledEvents?: readonly ScheduledEvents[];
  /** Runs of every system, interleaved (default 1). */
  runs?: number;
  log: (line: string) => void;
}

/** Fields of a pod's spec a scenario sets beside schedulerName, and its container's requests. */
export interface PodShape {
  readonly spec?: Readonly<Record<string, unknown>>;
  readonly requests?: Readonly<Record<string, string>>;
}

const schedulerNameOf: Record<SystemName, string> = {
  "kube-scheduler": "default-scheduler",
  "sharded-scheduler": "sharded-scheduler",
  "noop-binder": "noop-binder",
};

export async function runBasic(options: BasicOptions): Promise<SystemResult[]> {
  const runs = options.runs ?? 1;
  try {
    return await runInterleaved(systemsUnderTest(options), runs, (run, index) =>
      runSystem(run, options, runs > 1 ? ` run ${index + 1}/${runs}` : ""),
    );
  } finally {
    // The cluster's default scheduler, stopped for the runs, runs again afterwards.
    if (options.cluster.options.kubeScheduler) startComponent(options.cluster.stateDir, "kube-scheduler");
  }
}

/**
 * Runs every system `runs` times, run 1 of each system before run 2 of any, and gives one
 * result per system: the median of its runs.
 */
export async function runInterleaved(
  systems: readonly Run[],
  runs: number,
  runOne: (run: Run, index: number) => Promise<SystemResult>,
): Promise<SystemResult[]> {
  const perSystem: SystemResult[][] = systems.map(() => []);
  for (let index = 0; index < runs; index++)
    for (const [i, run] of systems.entries()) perSystem[i]?.push(await runOne(run, index));
  return perSystem.map(medianOfRuns);
}

/** One system under test; shards (and scheduledEvents, when asked for) only for sharded-scheduler. */
export interface Run {
  system: SystemName;
  shards: number | undefined;
  scheduledEvents?: ScheduledEvents;
}

/** The systems in the order they run: sharded-scheduler once per shard count and Scheduled Events mode. */
export function systemsUnderTest(
  options: Pick<BasicOptions, "systems" | "shards" | "scheduledEvents">,
): Run[] {
  return options.systems.flatMap((system): Run[] => {
    if (system !== "sharded-scheduler") return [{ system, shards: undefined }];
    return options.shards.flatMap((shards) =>
      options.scheduledEvents === undefined
        ? [{ system, shards }]
        : options.scheduledEvents.map((scheduledEvents) => ({ system, shards, scheduledEvents })),
    );
  });
}

/** The flags every shard of a run gets beyond the stack's own. */
export function shardArgsOf(run: Run): string[] {
  return run.scheduledEvents === undefined ? [] : [`--scheduled-events=${run.scheduledEvents}`];
}

/** "sharded-scheduler (3 shards, group Events)", in progress lines. */
function labelOf({ system, shards, scheduledEvents }: Run): string {
  const details = [
    ...(shards === undefined ? [] : [`${shards} shards`]),
    ...(scheduledEvents === undefined ? [] : [`${scheduledEvents} Events`]),
  ];
  return details.length === 0 ? system : `${system} (${details.join(", ")})`;
}

/** A started system: how to stop it, and its processes (for their memory). */
interface RunningSystem {
  stop: () => Promise<void>;
  processes: () => { name: string; pid: number }[];
  /** Each shard's own cost so far (sharded-scheduler only). */
  shardCosts?: () => Promise<ShardCost[]>;
}

const notStarted: RunningSystem = { stop: async () => undefined, processes: () => [] };

/** Pod i is pod-<i>; with gangs it belongs to gang-<g> of the run's gang layout. */
const podName = (i: number) => `pod-${String(i).padStart(6, "0")}`;
const gangName = (g: number) => `gang-${String(g).padStart(6, "0")}`;
const podIndex = (name: string) => Number(name.slice("pod-".length));

function gangSizesOf(options: Pick<BasicOptions, "gangSize" | "gangSizes">): GangSizes {
  const size = options.gangSize ?? 1;
  return options.gangSizes ?? { min: size, max: size };
}

/**
 * Before a backlog run's clock starts, the machine is quiet: under a fifth of its cores busy for
 * 2 s in a row (at most 30 s). The controller-manager and KWOK read the previous run's deletions
 * and this run's creations from their watches; that work must not fall inside the window of one
 * run and not another's. (Measured: 2–3 s after the creations on 1000 nodes.)
 */
const quietBeforeRun: Quiet = { busyBelowPercent: 20, forSeconds: 2, boundSeconds: 30 };

async function runSystem(run: Run, options: BasicOptions, runWords: string): Promise<SystemResult> {
  const { cluster, log } = options;
  const { system, shards, scheduledEvents } = run;
  const kube = adminClient(cluster);
  const label = `${labelOf(run)}${runWords}`;
  // A fresh name per run: a namespace from an earlier run may still be terminating.
  const namespace = `bench-${system}-${Date.now().toString(36)}`;
  const sizes = gangSizesOf(options);
  const gangs = sizes.max > 1 ? gangLayout(options.pods, sizes) : undefined;
  let running = notStarted;
  const created = new Map<string, number>();
  // kube-scheduler (the cluster's default scheduler) is stopped for every system's run, not only
  // its own: idle, it still decodes every pod of the run, CPU the other systems would pay for.
  // runBasic starts it again once all runs are done.
  if (cluster.options.kubeScheduler) await stopComponent(cluster.stateDir, "kube-scheduler");
  if (options.mode === "streaming") running = await startSystem(run, options);
  try {
    await createNamespace(kube, namespace);
    const bound = new Map<string, number>();
    const stopWatch = await watchBinds(kube, namespace, bound);
    const gangWords = sizes.min === sizes.max ? String(sizes.min) : `${sizes.min}–${sizes.max}`;
    log(
      `${label}: creating ${options.pods} pods${gangs ? ` in ${gangs.gangs} gangs of ${gangWords} (${options.api ?? "annotation"})` : ""}`,
    );
    // Requests from here on are the system's (and KWOK's, on a cluster with the pod lifecycle);
    // in backlog mode counting starts when the system does, so the pod creates are not counted.
    let writesBefore = await readApiWrites(kube);
    let cpuSpan = measureCpu(cluster.stateDir);
    const firstCreateAt = performance.timeOrigin + performance.now();
    if (gangs && options.api === "podgroup")
      await createPodGroups(kube, namespace, gangs, options.createConcurrency);
    await createPods(
      kube,
      namespace,
      schedulerNameOf[system],
      options.pods,
      gangs && { layout: gangs, api: options.api ?? "annotation" },
      options.createConcurrency,
      created,
      options.podShape,
    );
    const createdIn = (performance.timeOrigin + performance.now() - firstCreateAt) / 1000;
    log(
      `${label}: created in ${createdIn.toFixed(1)}s (${Math.round(options.pods / createdIn)}/s); waiting for binds`,
    );
    let clockStart = firstCreateAt;
    let startedAt = created;
    if (options.mode === "backlog") {
      const settled = await waitUntilQuiet(quietBeforeRun);
      log(
        settled.quiet
          ? `${label}: machine quiet after ${settled.waitedSeconds}s`
          : `${label}: machine still busy after ${settled.waitedSeconds}s; measuring anyway`,
      );
      clockStart = performance.timeOrigin + performance.now();
      writesBefore = await readApiWrites(kube);
      cpuSpan = measureCpu(cluster.stateDir);
      startedAt = new Map([...created.keys()].map((name) => [name, clockStart]));
      running = await startSystem(run, options);
    }
    // A slow system is waited for as long as it makes progress; one that binds nothing for
    // stallMs is given up on (its result counts what it bound).
    const timeoutMs = Math.max(120_000, options.pods * 200);
    const stallMs = 60_000;
    let reported = 0;
    let progress = { bound: 0, at: Date.now() };
    await waitFor(
      `${label} to bind ${options.pods} pods`,
      async () => {
        if (bound.size - reported >= options.pods / 10) {
          reported = bound.size;
          log(`${label}: ${bound.size}/${options.pods} bound`);
        }
        if (bound.size > progress.bound) progress = { bound: bound.size, at: Date.now() };
        else if (Date.now() - progress.at > stallMs)
          throw new GiveUp(`no pod bound for ${stallMs / 1000}s (${bound.size}/${options.pods} bound)`);
        return bound.size >= options.pods ? true : undefined;
      },
      timeoutMs,
      100,
    ).catch((error: unknown) => log(`${label}: ${String(error)}`));
    stopWatch();
    const cpu = cpuSpan();
    // Writes that trail the last bind (its Event; KWOK's status patches, when it patches) belong to the run.
    await sleep(2_000);
    const writesAfter = await readApiWrites(kube);
    const apiWritesPerPod =
      writesBefore && writesAfter
        ? writesPerPod(writesBefore.writes, writesAfter.writes, bound.size)
        : undefined;
    const apiRequestsPerPod =
      writesBefore && writesAfter
        ? requestsPerPod(writesBefore.requests, writesAfter.requests, bound.size)
        : undefined;
    const etcdRequestsPerPod =
      writesBefore && writesAfter
        ? requestsPerPod(writesBefore.etcd, writesAfter.etcd, bound.size)
        : undefined;
    const memory = processesMemory(running.processes());
    const shardCosts = await running.shardCosts?.();
    const result = summarize(
      system,
      startedAt,
      bound,
      clockStart,
      {
        ...(shards === undefined ? {} : { shards }),
        ...(scheduledEvents === undefined ? {} : { scheduledEvents }),
        cpu,
        memory,
        ...(shardCosts?.length ? { shardCosts } : {}),
        ...(apiWritesPerPod ? { apiWritesPerPod } : {}),
        ...(apiRequestsPerPod ? { apiRequestsPerPod } : {}),
        ...(etcdRequestsPerPod ? { etcdRequestsPerPod } : {}),
      },
      gangs ? (name) => gangName(gangs.gangOf(podIndex(name))) : undefined,
    );
    log(`${label}: ${result.podsPerSecond} pods/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms`);
    if (result.gangs)
      log(
        `${label}: ${result.gangs.bound}/${result.gangs.gangs} gangs bound, ${result.gangs.gangsPerSecond} gangs/s, ` +
          `gang p50 ${result.gangs.p50Ms} ms, p99 ${result.gangs.p99Ms} ms`,
      );
    if (apiWritesPerPod) log(`${label}: API writes per pod ${JSON.stringify(apiWritesPerPod)}`);
    if (apiRequestsPerPod) log(`${label}: API requests per pod ${JSON.stringify(apiRequestsPerPod)}`);
    if (etcdRequestsPerPod) log(`${label}: etcd requests per pod ${JSON.stringify(etcdRequestsPerPod)}`);
    log(`${label}: peak memory ${memory.map((m) => `${m.process} ${m.peakRssMiB} MiB`).join(", ")}`);
    for (const c of shardCosts ?? [])
      log(
        `${label}: ${c.process} cpu ${c.cpuSeconds.toFixed(2)} s, gc ${c.gcSeconds.toFixed(2)} s, ` +
          `pod watch ${c.watch.pods.events} events ${(c.watch.pods.bytes / 2 ** 20).toFixed(1)} MiB ` +
          `decoded in ${c.watch.pods.decodeSeconds.toFixed(2)} s, ` +
          `lease renewals late ${c.lease?.lateRenewals ?? "?"}, lapses ${c.lease?.lapses ?? "?"}`,
      );
    log(
      `${label}: machine ${cpu.machineBusyPercent}% busy on ${cpu.cores} cores; cpu s ${JSON.stringify(cpu.cpuSeconds)}`,
    );
    return result;
  } finally {
    await running.stop();
    await deleteNamespace(kube, namespace, created.keys(), options.createConcurrency, log);
    kube.close();
  }
}

export async function startSystem(
  run: Run,
  options: Pick<BasicOptions, "cluster" | "log" | "coordinator">,
): Promise<RunningSystem> {
  const { cluster, log } = options;
  const { system, shards } = run;
  if (system === "kube-scheduler") {
    if (!cluster.options.kubeScheduler) throw new Error("the cluster runs without kube-scheduler");
    // It is the cluster's default scheduler: leave it running afterwards.
    startComponent(cluster.stateDir, "kube-scheduler");
    return {
      stop: async () => undefined,
      processes: () =>
        readState(cluster.stateDir)?.processes.filter((p) => p.name === "kube-scheduler") ?? [],
    };
  }
  if (system === "sharded-scheduler") {
    // Small pods in a roomy cluster never get stuck: the coordinator would have nothing to do
    // but cost CPU. Pods that fit few nodes may be (daemonset scenario): it runs there.
    const coordinator = options.coordinator ?? false;
    await stackUp({
      clusterDir: cluster.stateDir,
      shards: shards ?? 1,
      shardArgs: shardArgsOf(run),
      coordinator,
      log,
    });
    return {
      stop: () => stackDown(cluster.stateDir, log),
      processes: () =>
        (readStack(cluster.stateDir)?.shards ?? []).map((shard) => ({
          name: shard.identity,
          pid: shard.pid,
        })),
      shardCosts: () => readShardCosts(readStack(cluster.stateDir)?.shards ?? [], log),
    };
  }
  const logFile = join(cluster.stateDir, "logs", "noop-binder.log");
  const proc = startProcess(
    "noop-binder",
    toolPaths().noopBinder,
    [
      `--kubeconfig=${cluster.kubeconfig}`,
      "--scheduler-name=noop-binder",
      "--node-label-selector=type=kwok",
      "--workers=128",
    ],
    logFile,
  );
  await waitFor(
    "noop-binder ready",
    async () => {
      if (!isRunning(proc)) throw new Error(`noop-binder exited: ${readFileSync(logFile, "utf8")}`);
      return readFileSync(logFile, "utf8").includes("ready") ? true : undefined;
    },
    120_000,
  );
  return { stop: () => stopProcess(proc), processes: () => [proc] };
}

/** One gang PodGroup (scheduling.k8s.io/v1beta1) per gang of the layout, minCount its size. */
async function createPodGroups(
  kube: KubeRest,
  namespace: string,
  layout: ReturnType<typeof gangLayout>,
  concurrency: number,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < layout.gangs) {
      const gang = next++;
      const res = await kube.call(
        "POST",
        `/apis/scheduling.k8s.io/v1beta1/namespaces/${namespace}/podgroups`,
        {
          apiVersion: "scheduling.k8s.io/v1beta1",
          kind: "PodGroup",
          metadata: { name: gangName(gang), namespace },
          spec: { schedulingPolicy: { gang: { minCount: layout.membersOf(gang) } } },
        },
      );
      if (res.status !== 201)
        throw new Error(
          `creating PodGroup ${gangName(gang)}: HTTP ${res.status} ${JSON.stringify(res.body)}`,
        );
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function createPods(
  kube: KubeRest,
  namespace: string,
  schedulerName: string,
  count: number,
  gangs: { layout: ReturnType<typeof gangLayout>; api: GangApi } | undefined,
  concurrency: number,
  created: Map<string, number>,
  podShape?: (i: number) => PodShape,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const name = podName(i);
      const gang = gangs?.layout.gangOf(i);
      const annotations =
        gangs?.api === "annotation" && gang !== undefined
          ? {
              [podGroupAnnotation]: gangName(gang),
              [minMemberAnnotation]: String(gangs.layout.membersOf(gang)),
            }
          : undefined;
      const schedulingGroup =
        gangs?.api === "podgroup" && gang !== undefined
          ? { schedulingGroup: { podGroupName: gangName(gang) } }
          : {};
      const shape = podShape?.(i) ?? {};
      const res = await kube.call("POST", `/api/v1/namespaces/${namespace}/pods`, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
        spec: {
          ...shape.spec,
          ...schedulingGroup,
          schedulerName,
          containers: [
            {
              name: "c",
              image: "registry.k8s.io/pause:3.10",
              resources: {
                requests: { cpu: "100m", memory: "128Mi", ...shape.requests },
                ...(shape.requests ? { limits: { ...shape.requests } } : {}),
              },
            },
          ],
        },
      });
      if (res.status !== 201)
        throw new Error(`creating ${name}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      created.set(name, performance.timeOrigin + performance.now());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Records in `bound` when each pod of the namespace was first seen bound; returns the watch's stop. */
export function watchBinds(
  kube: KubeRest,
  namespace: string,
  bound: Map<string, number>,
): Promise<() => void> {
  return kube.watch<{
    metadata: { name: string; resourceVersion?: string };
    spec: { nodeName?: string };
  }>(`/api/v1/namespaces/${namespace}/pods`, (type, pod) => {
    if (type === "ERROR" || !pod.spec?.nodeName || bound.has(pod.metadata.name)) return;
    bound.set(pod.metadata.name, performance.timeOrigin + performance.now());
  });
}

/** Creates a namespace and waits for its default ServiceAccount, without which pods are refused. */
export async function createNamespace(kube: KubeRest, namespace: string): Promise<void> {
  const res = await kube.call("POST", "/api/v1/namespaces", { metadata: { name: namespace } });
  if (res.status !== 201)
    throw new Error(`creating namespace ${namespace}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  await waitFor(
    `${namespace} default ServiceAccount`,
    async () =>
      (await kube.call("GET", `/api/v1/namespaces/${namespace}/serviceaccounts/default`)).status === 200
        ? true
        : undefined,
    60_000,
  );
}

export async function deleteNamespace(
  kube: KubeRest,
  namespace: string,
  pods: Iterable<string>,
  concurrency: number,
  log: (line: string) => void,
): Promise<void> {
  // Pods one by one with no grace period, in parallel: fake pods have no kubelet to wait for,
  // and a collection delete runs on a single API server worker.
  const names = [...pods];
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++] as string;
      await kube.call("DELETE", `/api/v1/namespaces/${namespace}/pods/${name}`, {
        apiVersion: "v1",
        kind: "DeleteOptions",
        gracePeriodSeconds: 0,
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await kube.call("DELETE", `/api/v1/namespaces/${namespace}`);
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    if ((await kube.call("GET", `/api/v1/namespaces/${namespace}`)).status === 404) return;
    await sleep(500);
  }
  log(`${namespace} still terminating after 5 minutes; continuing`);
}
