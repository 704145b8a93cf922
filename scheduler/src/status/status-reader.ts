/**
 * Reads what the status report needs from the API server, read-only, in one round of parallel
 * GETs: the scheduler's Leases, the coordinator's leader Lease, nodes, the scheduler's unbound
 * pods and the coordinator's relief Events. Transport errors and KubeApiErrors are thrown as they come.
 */

import { coordinatorLeaseName, shardLeaseLabel } from "../contracts/keys.js";
import type { Lease } from "../contracts/leases.js";
import type { Node, Pod } from "../core/api-types.js";
import { apiError, type KubeClient } from "../kube/kube-client.js";
import { type KubeEvent, reliefEventReasons, type StatusSnapshot } from "./cluster-status.js";

export interface StatusTarget {
  readonly schedulerName: string;
  /** Namespace of the shard Leases and the coordinator's leader Lease. */
  readonly namespace: string;
}

interface List<T> {
  items: T[];
}

export async function readStatusSnapshot(client: KubeClient, target: StatusTarget): Promise<StatusSnapshot> {
  const { schedulerName, namespace } = target;
  const leases = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
  const query = (key: string, value: string) => `${key}=${encodeURIComponent(value)}`;
  const list = <T>(path: string) => client.must<List<T>>("GET", path).then((body) => body.items);
  const [shardLeases, coordinatorLease, nodes, pods, ...events] = await Promise.all([
    list<Lease>(`${leases}?${query("labelSelector", `${shardLeaseLabel}=${schedulerName}`)}`),
    readOptional<Lease>(client, `${leases}/${coordinatorLeaseName(schedulerName)}`),
    list<Node>("/api/v1/nodes"),
    list<Pod>(`/api/v1/pods?${query("fieldSelector", `spec.schedulerName=${schedulerName},spec.nodeName=`)}`),
    ...reliefEventReasons.map((reason) =>
      list<KubeEvent>(`/api/v1/events?${query("fieldSelector", `reason=${reason}`)}`),
    ),
  ]);
  return {
    schedulerName,
    namespace,
    leases: shardLeases,
    coordinatorLease,
    nodes,
    pods,
    events: events.flat(),
  };
}

async function readOptional<T>(client: KubeClient, path: string): Promise<T | undefined> {
  const res = await client.call<T>("GET", path);
  if (res.status === 404) return undefined;
  if (res.status < 200 || res.status > 299) throw apiError("GET", path, res);
  return res.body;
}
