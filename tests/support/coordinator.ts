/**
 * Runs the real coordinator (node coordinator/dist/cli.js) against the cluster under test.
 * Build it first (the global setup does).
 */
import { inject } from "vitest";
import { coordinatorEntry, saysLeader } from "../stack/stack.js";
import { type MetricsAuthOption, type RunningProcess, startServedProcess } from "./shard.js";

export interface CoordinatorOptions {
  /** The shards' scheduler name. */
  schedulerName: string;
  identity: string;
  /** Where its leader Lease lives and where it reads the shards' ring Lease (default "default"). */
  namespace?: string;
  /** Its ledger (default: the run's Redis, inject("redisUrl")). */
  redisUrl?: string;
  /** Extra flags; a flag given here overrides the defaults above (the last one wins). */
  args?: string[];
  /** How it serves /metrics (default: plain HTTP, no auth; see shard.ts). */
  metricsAuth?: MetricsAuthOption;
  /** The program node runs (default: the repository's coordinator/dist/cli.js). */
  entry?: string;
}

export interface RunningCoordinator extends RunningProcess {
  /** Whether its leader gauge says it leads (a standby says 0). */
  isLeader(): Promise<boolean>;
}

/** Starts a coordinator replica and waits until /healthz answers 200 (leader or not). */
export async function startCoordinator({
  schedulerName,
  identity,
  namespace = "default",
  redisUrl = inject("redisUrl"),
  args = [],
  metricsAuth,
  entry = coordinatorEntry,
}: CoordinatorOptions): Promise<RunningCoordinator> {
  const coordinator = await startServedProcess({
    kind: "coordinator",
    entry,
    schedulerName,
    identity,
    args: [`--namespace=${namespace}`, ...(redisUrl ? [`--redis-url=${redisUrl}`] : []), ...args],
    readyPath: "/healthz",
    ...(metricsAuth ? { metricsAuth } : {}),
  });
  return { ...coordinator, isLeader: async () => saysLeader(await coordinator.metrics()) };
}
