/**
 * The run's Redis (the coordinator's ledger): whether it answers, and crashing and restarting
 * it, which only a cluster this run started allows.
 */
import { inject } from "vitest";
import { readState, startComponent } from "../cluster/local/local-cluster.js";
import { isRunning, signalAndConfirm } from "../cluster/local/processes.js";
import { redisPing } from "./redis-ping.js";
import { waitFor } from "./wait.js";

/** The run's Redis URL; throws when the run has none (a KUBECONFIG cluster without REDIS_URL). */
export function redisUrl(): string {
  const url = inject("redisUrl");
  if (!url) throw new Error("this run has no Redis: set REDIS_URL along with KUBECONFIG");
  return url;
}

function ownClusterDir(): string {
  if (!inject("ownCluster"))
    throw new Error(
      "stopping Redis needs the cluster this run started; the cluster KUBECONFIG names is not ours to restart (unset KUBECONFIG)",
    );
  return inject("clusterDir");
}

/** Crashes the cluster's redis-server (SIGKILL) and waits until it is gone. */
export async function killRedis(): Promise<void> {
  const clusterDir = ownClusterDir();
  const redis = readState(clusterDir)?.processes.find((proc) => proc.name === "redis");
  if (!redis) throw new Error(`no redis in the cluster in ${clusterDir}`);
  if (isRunning(redis)) await signalAndConfirm(redis, "SIGKILL");
}

/** Starts it again on its port (empty: it keeps nothing on disk) and waits until it answers PING. */
export async function startRedis(): Promise<void> {
  startComponent(ownClusterDir(), "redis");
  const url = redisUrl();
  await waitFor("redis to answer PING", async () => ((await redisPing(url)).ok ? true : undefined), 30_000);
}
