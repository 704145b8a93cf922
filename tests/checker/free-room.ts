/**
 * Whether pending groups fit the cluster's free room, by the checker's own simple packing:
 * groups in priority order, each member (largest cpu first) onto the fullest node that still
 * holds it, and a group's room reserved once it fits. A fit found this way is a real
 * placement, so "fits" is never claimed wrongly; a group it cannot pack is not claimed at all.
 * Pods with affinity rules, topology spread, host ports or volume claims are never claimed (this
 * packing does not read them). A node held
 * for a pod group (lent for it) holds only that group.
 */
import { type Amounts, tolerance } from "./quantities.js";

export interface RoomNode {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** NoSchedule and NoExecute taints. */
  taints: readonly { key: string; value?: string; effect: string }[];
  /** Ready, and not cordoned. */
  usable: boolean;
  allocatable: Amounts;
  /** What bound, unfinished pods request now. */
  used: Amounts;
  /** The pod group the node is held for (lent for it, the group not there yet): it takes no other group's pods. */
  lentFor?: string;
}

export interface RoomPod {
  requests: Amounts;
  nodeSelector: Readonly<Record<string, string>>;
  tolerations: readonly { key?: string; operator?: string; value?: string; effect?: string }[];
  /** Affinity, topology spread, host ports or claims: rules this packing does not read. */
  hasAffinity: boolean;
}

export interface RoomGroup {
  id: string;
  priority: number;
  pods: readonly RoomPod[];
}

const tolerates = (pod: RoomPod, taint: RoomNode["taints"][number]) =>
  pod.tolerations.some(
    (toleration) =>
      (toleration.effect === undefined || toleration.effect === "" || toleration.effect === taint.effect) &&
      (toleration.operator === "Exists"
        ? toleration.key === undefined || toleration.key === "" || toleration.key === taint.key
        : toleration.key === taint.key && (toleration.value ?? "") === (taint.value ?? "")),
  );

function holds(node: RoomNode, free: Amounts, pod: RoomPod): boolean {
  if (!node.usable) return false;
  for (const [key, value] of Object.entries(pod.nodeSelector)) if (node.labels[key] !== value) return false;
  if (!node.taints.every((taint) => tolerates(pod, taint))) return false;
  for (const [resource, amount] of pod.requests)
    if (amount > (free.get(resource) ?? 0) + tolerance && amount > 0) return false;
  return true;
}

const cpuOf = (amounts: Amounts) => amounts.get("cpu") ?? 0;

/** The ids of the groups that fit the free room together, in the order they were packed. */
export function groupsThatFit(nodes: readonly RoomNode[], groups: readonly RoomGroup[]): string[] {
  const free = new Map<string, Amounts>();
  for (const node of nodes) {
    const room: Amounts = new Map(node.allocatable);
    for (const [resource, amount] of node.used) room.set(resource, (room.get(resource) ?? 0) - amount);
    free.set(node.name, room);
  }
  const fitting: string[] = [];
  const ordered = [...groups].sort((a, b) => b.priority - a.priority || a.id.localeCompare(b.id));
  for (const group of ordered) {
    if (group.pods.some((pod) => pod.hasAffinity)) continue;
    const taken: { node: string; pod: RoomPod }[] = [];
    const members = [...group.pods].sort((a, b) => cpuOf(b.requests) - cpuOf(a.requests));
    let placedAll = true;
    for (const pod of members) {
      const candidates = nodes
        .filter((node) => (node.lentFor ?? group.id) === group.id)
        .filter((node) => holds(node, free.get(node.name) as Amounts, pod))
        .sort((a, b) => cpuOf(free.get(a.name) as Amounts) - cpuOf(free.get(b.name) as Amounts));
      const target = candidates[0];
      if (!target) {
        placedAll = false;
        break;
      }
      const room = free.get(target.name) as Amounts;
      for (const [resource, amount] of pod.requests) room.set(resource, (room.get(resource) ?? 0) - amount);
      taken.push({ node: target.name, pod });
    }
    if (placedAll) {
      fitting.push(group.id);
      continue;
    }
    for (const { node, pod } of taken) {
      const room = free.get(node) as Amounts;
      for (const [resource, amount] of pod.requests) room.set(resource, (room.get(resource) ?? 0) + amount);
    }
  }
  return fitting;
}
