/**
 * Whether pending groups fit the cluster's free room, by the checker's own simple packing:
 * groups in priority order, each member (largest cpu first) onto the fullest node that still
 * holds it, and a group's room reserved once it fits. A fit found this way is a real
 * placement, so "fits" is never claimed wrongly; a group it cannot pack is not claimed at all.
 * Pods with affinity rules, topology spread, host ports or volume claims are never claimed (this
 * packing does not read them). A node held
 * for a pod group (lent for it) holds only that group. A group that requires topology keys is
 * packed into one domain (nodes sharing one value of every key; nodes without a key excluded),
 * trying the domains one after another.
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
  /** Node label keys whose one value all members must share (a required topology); none: any nodes. */
  topologyKeys?: readonly string[];
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
    const open = nodes.filter((node) => (node.lentFor ?? group.id) === group.id);
    if (domainsOf(open, group.topologyKeys ?? []).some((domain) => packInto(domain, group, free)))
      fitting.push(group.id);
  }
  return fitting;
}

/** The nodes by domain of the keys (every key's value), nodes lacking a key left out; no keys: all nodes. */
function domainsOf(nodes: readonly RoomNode[], keys: readonly string[]): RoomNode[][] {
  if (keys.length === 0) return [[...nodes]];
  const domains = new Map<string, RoomNode[]>();
  for (const node of nodes) {
    if (!keys.every((key) => Object.hasOwn(node.labels, key))) continue;
    const domain = keys.map((key) => node.labels[key]).join("\u0000");
    domains.set(domain, [...(domains.get(domain) ?? []), node]);
  }
  return [...domains.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([, members]) => members);
}

/** Packs every member of the group onto these nodes, taking the room; nothing taken if one does not fit. */
function packInto(nodes: readonly RoomNode[], group: RoomGroup, free: Map<string, Amounts>): boolean {
  const taken: { node: string; pod: RoomPod }[] = [];
  const members = [...group.pods].sort((a, b) => cpuOf(b.requests) - cpuOf(a.requests));
  for (const pod of members) {
    const target = nodes
      .filter((node) => holds(node, free.get(node.name) as Amounts, pod))
      .sort((a, b) => cpuOf(free.get(a.name) as Amounts) - cpuOf(free.get(b.name) as Amounts))[0];
    if (!target) {
      for (const { node, pod: placed } of taken) {
        const room = free.get(node) as Amounts;
        for (const [resource, amount] of placed.requests)
          room.set(resource, (room.get(resource) ?? 0) + amount);
      }
      return false;
    }
    const room = free.get(target.name) as Amounts;
    for (const [resource, amount] of pod.requests) room.set(resource, (room.get(resource) ?? 0) - amount);
    taken.push({ node: target.name, pod });
  }
  return true;
}
