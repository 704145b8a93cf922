/**
 * The demo's view of the shards and the coordinator: the operator's status report
 * (`sharded-scheduler status`), read once per tick.
 */
import type * as k8s from "@kubernetes/client-node";
import { KubeClient } from "../../scheduler/src/kube/kube-client.js";
import { statusReport } from "../../scheduler/src/status/cluster-status.js";
import { readStatusSnapshot } from "../../scheduler/src/status/status-reader.js";
import { schedulerKubeConfig } from "../support/scheduler-kube-config.js";
import type { ShardsView } from "./progress.js";

export interface ShardsReader {
  read(): Promise<ShardsView>;
  close(): void;
}

export async function shardsReader(
  kc: k8s.KubeConfig,
  schedulerName: string,
  namespace: string,
): Promise<ShardsReader> {
  const client = await KubeClient.create(schedulerKubeConfig(kc), {
    qps: 50,
    burst: 50,
    maxSockets: 4,
    timeoutMs: 10_000,
  });
  return {
    async read() {
      const report = statusReport(await readStatusSnapshot(client, { schedulerName, namespace }), Date.now());
      return {
        shards: report.shards
          .filter((shard) => shard.state === "live")
          .map((shard) => ({
            shard: shard.name,
            ownedNodes: shard.nodes ?? 0,
            pendingGroups: shard.pendingGroups,
          })),
        leader: report.coordinator?.expired === false ? (report.coordinator.holder ?? undefined) : undefined,
      };
    },
    close: () => client.close(),
  };
}
