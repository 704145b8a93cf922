/**
 * Vitest global setup for integration runs: starts one local cluster for the whole run
 * (state in .cluster-test/), or reuses the cluster KUBECONFIG points at when it is set.
 */
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { repoRoot } from "../cluster/local/layout.js";
import { defaultClusterOptions, down, up } from "../cluster/local/local-cluster.js";
import { buildScheduler } from "../stack/stack.js";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfig: string;
    redisUrl: string;
    /** True when this run started the cluster (and may restart its parts). */
    ownCluster: boolean;
    clusterDir: string;
  }
}

export const testNodeCount = 5;

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  // Tests run the shard process from scheduler/dist: compile the current sources (turbo caches it).
  buildScheduler();
  const given = process.env.KUBECONFIG;
  if (given) {
    process.stdout.write(`integration tests use the cluster in KUBECONFIG=${given}\n`);
    project.provide("kubeconfig", given);
    project.provide("redisUrl", process.env.REDIS_URL ?? "");
    project.provide("ownCluster", false);
    project.provide("clusterDir", "");
    return undefined;
  }
  const stateDir = join(repoRoot, ".cluster-test");
  const log = (line: string) => process.stdout.write(`[cluster] ${line}\n`);
  const state = await up({ ...defaultClusterOptions, stateDir, nodes: testNodeCount }, log);
  project.provide("kubeconfig", state.kubeconfig);
  project.provide("redisUrl", state.redisUrl);
  project.provide("ownCluster", true);
  project.provide("clusterDir", stateDir);
  return async () => {
    if (process.env.SHARDED_SCHEDULER_KEEP_CLUSTER) {
      log(`kept running (SHARDED_SCHEDULER_KEEP_CLUSTER): source ${join(stateDir, "env")}`);
      return;
    }
    await down(stateDir, log);
  };
}
