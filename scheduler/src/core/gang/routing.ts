/**
 * Feasibility-aware routing: which shard schedules a group that only some shards' nodes could
 * ever take (pure, no I/O).
 *
 * The ring gives a group to the owner of its hash key, but a pod fits only the nodes its
 * node-only constraints allow: a DaemonSet's pod names one node (matchFields metadata.name), a
 * pod may need an extended resource few nodes have, or select a handful of nodes by label. When
 * the ring's owner owns none of those nodes it cannot place the group, and before this it
 * waited to be reported stuck and for the coordinator's paced relief. Now ownership follows the
 * feasible nodes, computed by every shard alike:
 *   - a node is *statically feasible* for a pod when its nodeSelector and required node affinity
 *     match the node, it carries the label of the pod's required topology (if any), the node has no NoSchedule/NoExecute taint the pod does not tolerate
 *     (leaving out the node.kubernetes.io/ taints the node lifecycle controller and cordons put on
 *     and take off), no resource the pod requests exceeds the node's allocatable, and the node
 *     affinity of every PersistentVolume the pod's claims are bound to matches it (a local
 *     volume names its node: without this its pod would wait with a shard that owns none). It
 *     reads nothing pods change: not the room left, not readiness, not cordons;
 *   - a group's *feasible owners* are the shards that own (under the newest ring seen, its lends
 *     included) a node statically feasible for one of its pending members;
 *   - a gang that requires one domain of a node label K (all members on nodes sharing a value of
 *     K) counts only the owners of domains that could ever hold it whole: the nodes carrying K
 *     grouped by value, keeping a domain when its nodes statically feasible for a member have,
 *     summed, the allocatable for the members' summed requests and a pod slot for each, and
 *     every member has a feasible node there. With --shard-by-label K a domain has one owner
 *     (lends aside), so a gang whose hash owner owns no rack big enough goes straight to one that
 *     does; with per-node hashing every shard owns part of every rack and nothing changes. When
 *     no domain could ever hold it the gang is routed as any group (its owner says why: "no rack
 *     has room for all 16 pods"). Which rack has room *now* is not an input (it changes with
 *     scheduling): a routed owner that cannot place the gang reports it stuck, and the
 *     coordinator hands it to a shard owning a rack with room;
 *   - if the ring's owner is one of them, or there are none, the ring's owner keeps the group;
 *     otherwise the group goes to the only feasible owner, or among several to the one its hash
 *     key picks (highest-random-weight, so members of one workload spread over them);
 *   - a pin (the Owner condition: a handoff, a lend, a preemption) still comes first
 *     (groupOwner), so the coordinator's and a preemptor's decisions stand.
 *
 * Why this is safe. Group ownership decides only who *tries*; who may *bind where* is node
 * ownership, fenced by the handover protocol (sharding/handover.ts), and routing does not touch
 * it. Whatever shards believe about a group, a bind goes out only onto a node its shard owns
 * under the epoch every binding shard has acknowledged, and the API server binds a pod once. So
 * two shards that disagree for a moment (one saw a node's new labels or the next ring first)
 * can at worst both try: only the owner of a feasible node can bind, and for a group whose
 * feasible nodes one shard owns that is one shard. This is the same window the ring itself has
 * while a new epoch propagates (group ownership follows the newest ring seen, not the adopted
 * one) and that pins have while their condition propagates; no new kind of conflict appears.
 *
 * Why nothing ping-pongs. The answer is a function of the node objects' labels, taints and
 * allocatable, the ring (members and lends) and the members' specs (their topology constraint
 * included; a domain's size is summed allocatable, never the room left) — nothing that scheduling
 * changes: binding, evicting or nominating pods, the room left and the groups' queue states are
 * not inputs, and no shard writes anything to route a group. Every shard watches every node and
 * reads the same ring Lease, so all converge on one owner per group once they have seen the
 * same objects, and the owner moves again only when an operator or the coordinator changes a
 * node or the ring. A lend moves the lent node's narrow groups to the borrower with it; they
 * return when it returns (lends are paced by the coordinator's cooldowns).
 *
 * Liveness. A group whose routed owner cannot place it (its nodes are full) is reported stuck by
 * that owner, marked routed, and the coordinator plans relief for it as for any other. A shard
 * that drops a group because routing sends it elsewhere looks at it again when a node's
 * labels, taints or allocatable change, a node comes or goes, or the ring changes.
 */
import type { NodeSelectorTerm, Taint } from "../api-types.js";
import type { ClusterState } from "../cluster-state.js";
import type { NodeInfo, PodInfo } from "../model.js";
import { matchesNodeSelector, matchesRequiredNodeAffinity } from "../plugins/node-affinity/node-affinity.js";
import { repelsPods, tolerates } from "../plugins/taint-toleration/taint-toleration.js";
import { Resources } from "../resources/resources.js";
import { fnv1a } from "./group-key.js";

/**
 * Taints the node lifecycle controller and cordons put on and take off (not-ready, unreachable,
 * pressure, unschedulable): routing ignores them, so a node that flaps keeps its narrow groups
 * with its owner, which tells their pods why they wait.
 */
const transientTaintPrefix = "node.kubernetes.io/";

function repelsForGood(taint: Taint): boolean {
  return repelsPods(taint) && !taint.key.startsWith(transientTaintPrefix);
}

/**
 * Whether the node could ever take the pod, by what pods coming and going does not change. With
 * the cluster's claims and volumes, a bound claim's volume must allow the node too.
 */
export function staticallyFeasible(pod: PodInfo, node: NodeInfo, volumes?: ClusterState): boolean {
  if (!matchesNodeSelector(pod.nodeSelector, node.labels)) return false;
  if (!matchesRequiredNodeAffinity(pod.requiredNodeAffinity, node)) return false;
  const required = pod.topology?.required;
  if (required !== undefined && node.labels[required] === undefined) return false;
  for (const taint of node.taints)
    if (repelsForGood(taint) && !tolerates(pod.tolerations, taint)) return false;
  const requests = pod.requests;
  const allocatable = node.allocatable;
  if (requests.milliCpu > allocatable.milliCpu) return false;
  if (requests.memory > allocatable.memory) return false;
  if (requests.ephemeralStorage > allocatable.ephemeralStorage) return false;
  for (const [name, amount] of requests.scalar) if (amount > allocatable.get(name)) return false;
  if (volumes !== undefined && pod.volumeClaims.length > 0) return volumesAllow(pod, node, volumes);
  return true;
}

/** Every volume the pod's bound claims use allows the node (its required node affinity). */
function volumesAllow(pod: PodInfo, node: NodeInfo, cluster: ClusterState): boolean {
  for (const { claim } of pod.volumeClaims) {
    const volumeName = cluster.persistentVolumeClaim(pod.namespace, claim)?.spec?.volumeName;
    if (!volumeName) continue;
    const terms = cluster.persistentVolume(volumeName)?.spec?.nodeAffinity?.required?.nodeSelectorTerms;
    if (terms !== undefined && !matchesRequiredNodeAffinity(terms, node)) return false;
  }
  return true;
}

/**
 * The node names a pod's required node affinity confines it to, when every term names nodes
 * with matchFields metadata.name In (as a DaemonSet's pods do); undefined otherwise. Only a
 * shortcut: each node named is still checked in full.
 */
export function namedNodes(terms: readonly NodeSelectorTerm[] | undefined): readonly string[] | undefined {
  if (terms === undefined || terms.length === 0) return undefined;
  const names: string[] = [];
  for (const term of terms) {
    const named = term.matchFields?.find(
      (field) => field.key === "metadata.name" && field.operator === "In" && field.values?.length === 1,
    );
    if (named === undefined) return undefined;
    names.push(named.values?.[0] as string);
  }
  return names;
}

/** What routing reads of the ring: the live members and who owns each node and hash key. */
export interface RoutingRing {
  /** Changes whenever nodeOwnerOf or ringOwnerOf may answer differently (the ring's epoch). */
  readonly version: number;
  readonly members: readonly string[];
  readonly live: ReadonlySet<string>;
  ringOwnerOf(hashKey: string): string | undefined;
  nodeOwnerOf(nodeName: string): string | undefined;
}

/**
 * The shard a group is routed to, or undefined when the ring's owner keeps it: see the header.
 * `feasibleOwners` are the live shards owning a node statically feasible for a member.
 */
export function routeGroup(
  hashKey: string,
  ringOwner: string | undefined,
  feasibleOwners: ReadonlySet<string>,
): string | undefined {
  if (ringOwner === undefined || feasibleOwners.size === 0 || feasibleOwners.has(ringOwner)) return undefined;
  let best: string | undefined;
  let bestWeight = -1;
  for (const shard of feasibleOwners) {
    const weight = fnv1a(`${hashKey}\u0000${shard}`);
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && shard < best)) {
      best = shard;
      bestWeight = weight;
    }
  }
  return best;
}

/** Whether a domain's summed allocatable holds the summed requests and pod slots of `pods` members. */
function covers(room: Resources, needed: Resources, pods: number): boolean {
  if (room.pods < pods) return false;
  if (room.milliCpu < needed.milliCpu || room.memory < needed.memory) return false;
  if (room.ephemeralStorage < needed.ephemeralStorage) return false;
  for (const [name, amount] of needed.scalar) if (room.get(name) < amount) return false;
  return true;
}

/** Caches bounded by entries: a version change or this many signatures starts afresh. */
const maxCachedSignatures = 4096;

/**
 * Feasible owners per pod, cached by what decides them (the pod's node-only constraints and
 * requests) while the nodes' routing-relevant fields and the ring stay the same.
 */
export class GroupRouter {
  private readonly bySignature = new Map<string, ReadonlySet<string>>();
  /** Owners of domains that could hold a topology gang, by the required key and the members' signatures. */
  private readonly byGangSignature = new Map<string, ReadonlySet<string>>();
  private readonly signatures = new WeakMap<PodInfo, string>();
  private cachedFor = "";

  constructor(
    private readonly cluster: ClusterState,
    /** Changes whenever a node's labels, taints or allocatable change, or a node comes or goes. */
    private readonly nodesVersion: () => number,
  ) {}

  /** The shard the group is routed to (routeGroup), or undefined when the ring's owner keeps it. */
  route(hashKey: string, pending: Iterable<PodInfo>, ring: RoutingRing): string | undefined {
    if (ring.members.length < 2) return undefined;
    const version = `${this.nodesVersion()}/${ring.version}/${this.cluster.volumeTopologyVersion}`;
    if (version !== this.cachedFor) {
      this.bySignature.clear();
      this.byGangSignature.clear();
      this.cachedFor = version;
    }
    const members = [...pending];
    // Members agree on the constraint (else the group is invalid and placed by no one).
    const domainKey = members[0]?.topology?.required;
    if (
      domainKey !== undefined &&
      members.every((pod) => namedNodes(pod.requiredNodeAffinity) === undefined)
    ) {
      const owners = this.domainOwners(domainKey, members, ring);
      // No domain could ever hold the gang: routed as any group, so a shard owning feasible nodes says why.
      if (owners.size > 0) return routeGroup(hashKey, ring.ringOwnerOf(hashKey), owners);
    }
    let union: Set<string> | undefined;
    for (const pod of members) {
      const owners = this.feasibleOwners(pod, ring);
      // A member fits every live shard's nodes (the usual pod): whoever owns the group has some.
      if (owners.size === ring.live.size) return undefined;
      union ??= new Set();
      for (const owner of owners) union.add(owner);
    }
    if (union === undefined || union.size === 0) return undefined;
    // Hashing the key costs more than the rest: only groups that fit few shards get here.
    return routeGroup(hashKey, ring.ringOwnerOf(hashKey), union);
  }

  /** The live shards owning a node statically feasible for the pod. */
  feasibleOwners(pod: PodInfo, ring: RoutingRing): ReadonlySet<string> {
    const named = namedNodes(pod.requiredNodeAffinity);
    if (named !== undefined) {
      const owners = new Set<string>();
      for (const name of named) {
        const node = this.cluster.node(name);
        const owner =
          node && staticallyFeasible(pod, node, this.cluster) ? ring.nodeOwnerOf(name) : undefined;
        if (owner !== undefined && ring.live.has(owner)) owners.add(owner);
      }
      return owners;
    }
    const signature = this.signatureOf(pod);
    let owners = this.bySignature.get(signature);
    if (owners === undefined) {
      owners = this.scan(pod, ring);
      if (this.bySignature.size >= maxCachedSignatures) this.bySignature.clear();
      this.bySignature.set(signature, owners);
    }
    return owners;
  }

  /**
   * The live shards owning a node of a domain of `domainKey` that could ever hold the whole gang:
   * the domain's nodes statically feasible for some member, together, have the allocatable for
   * the members' summed requests and the pod slots for all of them, and each member has a
   * feasible node there. Read from node labels and allocatable only, as staticallyFeasible.
   */
  domainOwners(domainKey: string, members: readonly PodInfo[], ring: RoutingRing): ReadonlySet<string> {
    // Members alike (the usual gang) make one entry with their count: the key stays short.
    const counts = new Map<string, number>();
    for (const pod of members) {
      const kind = this.signatureOf(pod);
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    }
    const signature = JSON.stringify([
      domainKey,
      [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    ]);
    let owners = this.byGangSignature.get(signature);
    if (owners === undefined) {
      owners = this.scanDomains(domainKey, members, ring);
      if (this.byGangSignature.size >= maxCachedSignatures) this.byGangSignature.clear();
      this.byGangSignature.set(signature, owners);
    }
    return owners;
  }

  private scanDomains(
    domainKey: string,
    members: readonly PodInfo[],
    ring: RoutingRing,
  ): ReadonlySet<string> {
    // Members with one signature are alike for feasibility: check one of each kind.
    const kinds = new Map<string, PodInfo>();
    for (const pod of members) kinds.set(this.signatureOf(pod), pod);
    const needed = new Resources();
    for (const pod of members) needed.add(pod.requests);
    const domains = new Map<string, { nodes: NodeInfo[]; room: Resources; kindsSeen: Set<string> }>();
    for (const node of this.cluster.nodes) {
      const value = node.labels[domainKey];
      if (value === undefined) continue;
      let feasible = false;
      let domain = domains.get(value);
      for (const [kind, pod] of kinds) {
        if (!staticallyFeasible(pod, node, this.cluster)) continue;
        feasible = true;
        if (domain === undefined) {
          domain = { nodes: [], room: new Resources(), kindsSeen: new Set() };
          domains.set(value, domain);
        }
        domain.kindsSeen.add(kind);
      }
      if (!feasible || domain === undefined) continue;
      domain.nodes.push(node);
      domain.room.add(node.allocatable);
    }
    const owners = new Set<string>();
    for (const { nodes, room, kindsSeen } of domains.values()) {
      if (kindsSeen.size < kinds.size || !covers(room, needed, members.length)) continue;
      for (const node of nodes) {
        const owner = ring.nodeOwnerOf(node.name);
        if (owner !== undefined && ring.live.has(owner)) owners.add(owner);
      }
    }
    return owners;
  }

  /** Every node in turn, until every live member owns a feasible one (the usual, unconstrained pod). */
  private scan(pod: PodInfo, ring: RoutingRing): ReadonlySet<string> {
    const owners = new Set<string>();
    const all = ring.live.size;
    for (const node of this.cluster.nodes) {
      const owner = ring.nodeOwnerOf(node.name);
      if (owner === undefined || owners.has(owner) || !ring.live.has(owner)) continue;
      if (!staticallyFeasible(pod, node, this.cluster)) continue;
      owners.add(owner);
      if (owners.size === all) break;
    }
    return owners;
  }

  private signatureOf(pod: PodInfo): string {
    let signature = this.signatures.get(pod);
    if (signature === undefined) {
      const requests = pod.requests;
      signature = JSON.stringify([
        pod.nodeSelector ?? null,
        pod.requiredNodeAffinity ?? null,
        pod.tolerations,
        requests.milliCpu,
        requests.memory,
        requests.ephemeralStorage,
        [...requests.scalar].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        // Claims are per namespace: pods with the same claim names elsewhere are other claims.
        pod.volumeClaims.length > 0 ? [pod.namespace, pod.volumeClaims.map((c) => c.claim)] : null,
        pod.topology?.required ?? null,
      ]);
      this.signatures.set(pod, signature);
    }
    return signature;
  }
}
