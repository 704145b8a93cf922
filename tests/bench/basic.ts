/**
 * The "basic" scenario: P small pods created as fast as one client can, on a cluster of N
 * nodes, scheduled in turn by kube-scheduler, sharded-scheduler and the no-op binder (which
 * binds round-robin with no logic: the API server's ceiling on this machine).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeRest } from "../cluster/local/kube-rest.js";
import { toolPaths } from "../cluster/local/layout.js";
import { adminClient, type ClusterState } from "../cluster/local/local-cluster.js";
import { isRunning, startProcess, stopProcess } from "../cluster/local/processes.js";
import { stackDown, stackUp } from "../stack/stack.js";
import { waitFor } from "../support/wait.js";
import { type SystemResult, summarize } from "./stats.js";

export type SystemName = "kube-scheduler" | "sharded-scheduler" | "noop-binder";
export const allSystems: readonly SystemName[] = ["kube-scheduler", "sharded-scheduler", "noop-binder"];

export interface BasicOptions {
  cluster: ClusterState;
  pods: number;
  shards: number;
  systems: readonly SystemName[];
  createConcurrency: number;
  log: (line: string) => void;
}

const schedulerNameOf: Record<SystemName, string> = {
  "kube-scheduler": "default-scheduler",
  "sharded-scheduler": "sharded-scheduler",
  "noop-binder": "noop-binder",
};

export async function runBasic(options: BasicOptions): Promise<SystemResult[]> {
  const results: SystemResult[] = [];
  for (const system of options.systems) {
    results.push(await runSystem(system, options));
  }
  return results;
}

async function runSystem(system: SystemName, options: BasicOptions): Promise<SystemResult> {
  const { cluster, log } = options;
  const kube = adminClient(cluster);
  const namespace = `bench-${system}`;
  const stopSystem = await startSystem(system, options);
  try {
    await kube.call("POST", "/api/v1/namespaces", { metadata: { name: namespace } });
    await waitFor(
      `${namespace} default ServiceAccount`,
      async () =>
        (await kube.call("GET", `/api/v1/namespaces/${namespace}/serviceaccounts/default`)).status === 200
          ? true
          : undefined,
      60_000,
    );
    const created = new Map<string, number>();
    const bound = new Map<string, number>();
    const stopWatch = await kube.watch<{
      metadata: { name: string; resourceVersion?: string };
      spec: { nodeName?: string };
    }>(`/api/v1/namespaces/${namespace}/pods`, (type, pod) => {
      if (type === "ERROR" || !pod.spec?.nodeName || bound.has(pod.metadata.name)) return;
      bound.set(pod.metadata.name, performance.timeOrigin + performance.now());
    });
    log(`${system}: creating ${options.pods} pods`);
    const firstCreateAt = performance.timeOrigin + performance.now();
    await createPods(
      kube,
      namespace,
      schedulerNameOf[system],
      options.pods,
      options.createConcurrency,
      created,
    );
    const createdIn = (performance.timeOrigin + performance.now() - firstCreateAt) / 1000;
    log(`${system}: created in ${createdIn.toFixed(1)}s; waiting for binds`);
    const timeoutMs = Math.max(120_000, options.pods * 20);
    let reported = 0;
    await waitFor(
      `${system} to bind ${options.pods} pods`,
      async () => {
        if (bound.size - reported >= options.pods / 10) {
          reported = bound.size;
          log(`${system}: ${bound.size}/${options.pods} bound`);
        }
        return bound.size >= options.pods ? true : undefined;
      },
      timeoutMs,
      100,
    ).catch((error: unknown) => log(`${system}: ${String(error)}`));
    stopWatch();
    const result = summarize(
      system,
      created,
      bound,
      firstCreateAt,
      system === "sharded-scheduler" ? { shards: options.shards } : {},
    );
    log(`${system}: ${result.podsPerSecond} pods/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms`);
    return result;
  } finally {
    await stopSystem();
    await deleteNamespace(kube, namespace, log);
    kube.close();
  }
}

async function startSystem(system: SystemName, options: BasicOptions): Promise<() => Promise<void>> {
  const { cluster, log } = options;
  if (system === "kube-scheduler") {
    if (!cluster.options.kubeScheduler) throw new Error("the cluster runs without kube-scheduler");
    return async () => undefined;
  }
  if (system === "sharded-scheduler") {
    await stackUp({ clusterDir: cluster.stateDir, shards: options.shards, log });
    return () => stackDown(cluster.stateDir, log);
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
  return () => stopProcess(proc);
}

async function createPods(
  kube: KubeRest,
  namespace: string,
  schedulerName: string,
  count: number,
  concurrency: number,
  created: Map<string, number>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const name = `pod-${String(next++).padStart(6, "0")}`;
      const res = await kube.call("POST", `/api/v1/namespaces/${namespace}/pods`, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace },
        spec: {
          schedulerName,
          containers: [
            {
              name: "c",
              image: "registry.k8s.io/pause:3.10",
              resources: { requests: { cpu: "100m", memory: "128Mi" } },
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

async function deleteNamespace(
  kube: KubeRest,
  namespace: string,
  log: (line: string) => void,
): Promise<void> {
  await kube.call("DELETE", `/api/v1/namespaces/${namespace}`);
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    if ((await kube.call("GET", `/api/v1/namespaces/${namespace}`)).status === 404) return;
    await sleep(500);
  }
  log(`${namespace} still terminating after 5 minutes; continuing`);
}
