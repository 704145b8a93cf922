/**
 * The demo's view of the shards and the coordinator: the operator's status report
 * (`sharded-scheduler status`), read once per tick; and, on nodes labelled in racks, each rack's
 * owners under the ring the ring Lease records (read by the checker's own ring reading).
 */
import * as k8s from "@kubernetes/client-node";
import { KubeClient } from "../../scheduler/src/kube/kube-client.js";
import { statusReport } from "../../scheduler/src/status/cluster-status.js";
import { readStatusSnapshot } from "../../scheduler/src/status/status-reader.js";
import { readRingLease } from "../checker/ring-owners.js";
import { fakeNodeLabel } from "../cluster/local/fake-nodes.js";
import { schedulerKubeConfig } from "../support/scheduler-kube-config.js";
import { rackRows, type ShardsView } from "./progress.js";
import { rackLabel } from "./scenes.js";

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
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  const readRacks = async () => {
    const nodes = (
      await core.listNode({ labelSelector: `${fakeNodeLabel.key}=${fakeNodeLabel.value}` })
    ).items.map((node) => ({ name: node.metadata?.name ?? "", rack: node.metadata?.labels?.[rackLabel] }));
    if (!nodes.some((node) => node.rack !== undefined)) return undefined;
    const lease = await coordination.readNamespacedLease({ name: `${schedulerName}-ring`, namespace });
    const ring = readRingLease(lease.metadata?.annotations ?? {});
    return rackRows(nodes, (node) => ring?.owners.ownerOf(node));
  };
  return {
    async read() {
      const report = statusReport(await readStatusSnapshot(client, { schedulerName, namespace }), Date.now());
      const racks = await readRacks().catch(() => undefined);
      return {
        ...(racks ? { racks } : {}),
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
