/**
 * NodePorts (always on, as kube-scheduler's): a pod's host ports must be free on the node. A port
 * is taken by every pod occupying the node (bound, assumed — a gang's members assumed earlier in
 * the same cycle included — or terminating) and by the pods nominated to it that this pod must
 * leave room for, as kube-scheduler runs its filters with nominated pods added.
 *
 * The ports are parsed once per pod version (hostPortsOf, into PodInfo.hostPorts), so a pod
 * without host ports costs one length check per node, and Filter never allocates.
 */

import type { PodSpec } from "../../api-types.js";
import type { ClusterState } from "../../cluster-state.js";
import { type FilterPlugin, unschedulable } from "../../framework.js";
import type { HostPort, NodeInfo, PodInfo } from "../../model.js";

export const nodePortsName = "NodePorts";

export const nodePortsReason = "node(s) didn't have free ports for the requested pod ports";

/** kube-scheduler's DefaultBindAllHostIP: a port on it conflicts with the port on any address. */
const anyAddress = "0.0.0.0";

const noHostPorts: readonly HostPort[] = Object.freeze([]);

/**
 * The host ports (> 0) of the pod's containers and of its sidecars (init containers with
 * restartPolicy Always, which run as long as the pod), as kube-scheduler's GetHostPorts reads
 * them, with protocol and address defaulted as its HostPortInfo does.
 */
export function hostPortsOf(spec: PodSpec): readonly HostPort[] {
  let ports: HostPort[] | undefined;
  const collect = (container: PodSpec["containers"][number]): void => {
    for (const p of container.ports ?? []) {
      if (p.hostPort === undefined || !(p.hostPort > 0)) continue;
      ports ??= [];
      ports.push({ port: p.hostPort, protocol: p.protocol || "TCP", ip: p.hostIP || anyAddress });
    }
  };
  for (const init of spec.initContainers ?? []) if (init.restartPolicy === "Always") collect(init);
  for (const container of spec.containers) collect(container);
  return ports === undefined ? noHostPorts : Object.freeze(ports);
}

/** Whether two host ports cannot both be bound on one node (kube-scheduler's CheckConflict). */
export function hostPortsConflict(a: HostPort, b: HostPort): boolean {
  return (
    a.port === b.port &&
    a.protocol === b.protocol &&
    (a.ip === b.ip || a.ip === anyAddress || b.ip === anyAddress)
  );
}

function conflictsWith(wanted: readonly HostPort[], other: PodInfo): boolean {
  const taken = other.hostPorts;
  for (let i = 0; i < taken.length; i++)
    for (let j = 0; j < wanted.length; j++)
      if (hostPortsConflict(taken[i] as HostPort, wanted[j] as HostPort)) return true;
  return false;
}

const rejected = unschedulable(nodePortsReason);

export function nodePorts(cluster: ClusterState): FilterPlugin {
  return {
    name: nodePortsName,
    // A port is freed when the pod holding it leaves; a new node has every port free. As
    // kube-scheduler's NodePorts (Pod/Delete, Node/Add).
    events: ["AssignedPodDelete", "NodeAdd"],
    filter(pod: PodInfo, node: NodeInfo) {
      const wanted = pod.hostPorts;
      if (wanted.length === 0) return undefined;
      for (const other of node.pods.values())
        if (other.key !== pod.key && conflictsWith(wanted, other)) return rejected;
      // Nominated pods of at least this priority (not of the pod's own group) keep their ports,
      // as NodeResourcesFit keeps their room.
      if (!cluster.hasNominations(node.name)) return undefined;
      for (const other of cluster.nominatedFor(node.name, pod))
        if (conflictsWith(wanted, other)) return rejected;
      return undefined;
    },
  };
}
