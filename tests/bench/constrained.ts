/**
 * The "affinity" and "spread" scenarios: pods shaped like kube-scheduler's own scheduler_perf
 * workloads (test/integration/scheduler_perf/config: pod-with-pod-anti-affinity,
 * pod-with-pod-affinity, pod-with-topology-spreading), on nodes over three zones, scheduled in
 * turn by kube-scheduler, sharded-scheduler (once per shard count) and the no-op binder (which
 * reads no constraint: the checker's control, it must show violations). The independent checker
 * watches each run and counts what was broken; the run ends when every pod is bound or none was
 * for quietSeconds (a system that refuses the pods ends there).
 *
 *   affinity  half the pods as pod-with-pod-anti-affinity (color=green, required anti-affinity
 *             to color=green per hostname: one per node), half as pod-with-pod-affinity (foo,
 *             required affinity to foo per zone: all in the first one's zone)
 *   spread    pod-with-topology-spreading (color=blue, zone spread DoNotSchedule) with maxSkew 1
 *             instead of upstream's 5, so a misplaced pod shows at once
 */
import { setTimeout as sleep } from "node:timers/promises";
import * as k8s from "@kubernetes/client-node";
import { InvariantChecker } from "../checker/invariant-checker.js";
import type { ViolationKind } from "../checker/invariant-ledger.js";
import type { KubeRest } from "../cluster/local/kube-rest.js";
import { adminClient, type ClusterState } from "../cluster/local/local-cluster.js";
import { createNamespace, deleteNamespace, type SystemName, startSystem, watchBinds } from "./basic.js";
import { summarize } from "./stats.js";

export type ConstrainedScenario = "affinity" | "spread";

/** The placement rules a constrained run reports, and overcommit. */
export const reportedKinds = [
  "podAntiAffinity",
  "podAffinity",
  "spreadSkew",
  "hostPortConflicts",
  "volumeZone",
  "overcommit",
] as const satisfies readonly ViolationKind[];

export interface ConstrainedResult {
  system: SystemName;
  shards?: number;
  pods: number;
  bound: number;
  /** Binds per second from the first creation to the last bind. */
  podsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  violations: Record<(typeof reportedKinds)[number], number>;
  /** A few of the violations, for the reader. */
  examples: string[];
  /** What a pending pod's PodScheduled condition says (the first one found), if any pod is pending. */
  pendingSays?: string;
  error?: string;
}

export interface ConstrainedReport {
  scenario: ConstrainedScenario;
  nodes: number;
  pods: number;
  results: ConstrainedResult[];
}

export interface ConstrainedOptions {
  scenario: ConstrainedScenario;
  cluster: ClusterState;
  nodes: number;
  pods: number;
  shards: readonly number[];
  systems: readonly SystemName[];
  createConcurrency: number;
  quietMs: number;
  log: (line: string) => void;
}

const schedulerNameOf: Record<SystemName, string> = {
  "kube-scheduler": "default-scheduler",
  "sharded-scheduler": "sharded-scheduler",
  "noop-binder": "noop-binder",
};

/** Pod i of a scenario, as scheduler_perf's templates shape it. */
export function constrainedPod(
  scenario: ConstrainedScenario,
  i: number,
  pods: number,
  namespace: string,
  schedulerName: string,
): Record<string, unknown> {
  const name = `pod-${String(i).padStart(6, "0")}`;
  const container = {
    name: "pause",
    image: "registry.k8s.io/pause:3.10",
    resources: { requests: { cpu: "100m", memory: "500Mi" } },
  };
  if (scenario === "spread")
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace, labels: { color: "blue" } },
      spec: {
        schedulerName,
        containers: [container],
        topologySpreadConstraints: [
          {
            maxSkew: 1,
            topologyKey: "topology.kubernetes.io/zone",
            whenUnsatisfiable: "DoNotSchedule",
            labelSelector: { matchLabels: { color: "blue" } },
          },
        ],
      },
    };
  const anti = i < Math.ceil(pods / 2);
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: anti ? { color: "green" } : { foo: "" } },
    spec: {
      schedulerName,
      containers: [container],
      affinity: anti
        ? {
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                { labelSelector: { matchLabels: { color: "green" } }, topologyKey: "kubernetes.io/hostname" },
              ],
            },
          }
        : {
            podAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                { labelSelector: { matchLabels: { foo: "" } }, topologyKey: "topology.kubernetes.io/zone" },
              ],
            },
          },
    },
  };
}

export async function runConstrained(options: ConstrainedOptions): Promise<ConstrainedReport> {
  const results: ConstrainedResult[] = [];
  for (const system of options.systems)
    for (const shards of system === "sharded-scheduler" ? options.shards : [undefined]) {
      try {
        results.push(await runOne(system, shards, options));
      } catch (error) {
        options.log(`${system}: ${String(error)}`);
        results.push({
          system,
          ...(shards === undefined ? {} : { shards }),
          pods: options.pods,
          bound: 0,
          podsPerSecond: 0,
          p50Ms: 0,
          p99Ms: 0,
          violations: Object.fromEntries(
            reportedKinds.map((kind) => [kind, 0]),
          ) as ConstrainedResult["violations"],
          examples: [],
          error: String(error),
        });
      }
    }
  return { scenario: options.scenario, nodes: options.nodes, pods: options.pods, results };
}

async function runOne(
  system: SystemName,
  shards: number | undefined,
  options: ConstrainedOptions,
): Promise<ConstrainedResult> {
  const { cluster, log } = options;
  const label = shards === undefined ? system : `${system} (${shards} shards)`;
  const kube = adminClient(cluster);
  const namespace = `bench-${options.scenario}-${system}-${Date.now().toString(36)}`;
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const created = new Map<string, number>();
  const bound = new Map<string, number>();
  let running: { stop: () => Promise<void> } | undefined;
  let checker: InvariantChecker | undefined;
  try {
    await createNamespace(kube, namespace);
    checker = await InvariantChecker.start(kc, { namespace, nodeLabelSelector: "type=kwok" });
    running = await startSystem({ system, shards }, { cluster, log, coordinator: (shards ?? 1) > 1 });
    const stopWatch = await watchBinds(kube, namespace, bound);
    log(`${label}: creating ${options.pods} ${options.scenario} pods`);
    const firstCreateAt = performance.timeOrigin + performance.now();
    await createPods(kube, options, namespace, schedulerNameOf[system], created);
    // Until every pod is bound or none was for quietMs.
    let lastCount = -1;
    let quietSince = Date.now();
    while (bound.size < options.pods && Date.now() - quietSince < options.quietMs) {
      await sleep(500);
      if (bound.size !== lastCount) {
        lastCount = bound.size;
        quietSince = Date.now();
      }
    }
    stopWatch();
    // The checker's own watch may trail the bench's by a moment.
    await sleep(2_000);
    const ledger = checker.ledger;
    ledger.tick(Date.now());
    ledger.judgeSettled(Date.now());
    const counts = ledger.counts();
    const summary = summarize(system, created, bound, firstCreateAt);
    const pendingSays = bound.size < options.pods ? await pendingMessage(kube, namespace) : undefined;
    const result: ConstrainedResult = {
      system,
      ...(shards === undefined ? {} : { shards }),
      pods: options.pods,
      bound: bound.size,
      podsPerSecond: summary.podsPerSecond,
      p50Ms: summary.p50Ms,
      p99Ms: summary.p99Ms,
      violations: Object.fromEntries(
        reportedKinds.map((kind) => [kind, counts[kind]]),
      ) as ConstrainedResult["violations"],
      examples: ledger.violations.slice(0, 5).map((v) => `${v.kind}: ${v.detail}`),
      ...(pendingSays ? { pendingSays } : {}),
    };
    const broken = reportedKinds.filter((kind) => counts[kind] > 0).map((kind) => `${kind} ${counts[kind]}`);
    log(
      `${label}: ${bound.size}/${options.pods} bound, ${summary.podsPerSecond} pods/s; violations: ${broken.length === 0 ? "none" : broken.join(", ")}`,
    );
    return result;
  } finally {
    checker?.stop();
    await running?.stop();
    await deleteNamespace(kube, namespace, created.keys(), options.createConcurrency, log);
    kube.close();
  }
}

async function createPods(
  kube: KubeRest,
  options: ConstrainedOptions,
  namespace: string,
  schedulerName: string,
  created: Map<string, number>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < options.pods) {
      const i = next++;
      const body = constrainedPod(options.scenario, i, options.pods, namespace, schedulerName);
      const res = await kube.call("POST", `/api/v1/namespaces/${namespace}/pods`, body);
      if (res.status !== 201)
        throw new Error(`creating pod ${i}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      created.set((body.metadata as { name: string }).name, performance.timeOrigin + performance.now());
    }
  };
  await Promise.all(Array.from({ length: options.createConcurrency }, worker));
}

/** The first pending pod's PodScheduled=False message. */
async function pendingMessage(kube: KubeRest, namespace: string): Promise<string | undefined> {
  const list = await kube.get<{
    items: { spec: { nodeName?: string }; status?: { conditions?: { type: string; message?: string }[] } }[];
  }>(`/api/v1/namespaces/${namespace}/pods`);
  for (const pod of list.items) {
    if (pod.spec.nodeName) continue;
    const message = pod.status?.conditions?.find((c) => c.type === "PodScheduled")?.message;
    if (message) return message;
  }
  return undefined;
}
