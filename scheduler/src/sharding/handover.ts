/**
 * Fenced node handover between shards, decided from what one shard knows (pure, no I/O).
 *
 * A ring object holds {epoch, members, node lends}; epochs only grow (changed by compare-and-swap). A shard
 * that sees a new epoch stops starting binds under its old one, lets in-flight binds finish,
 * then publishes the epoch as acknowledged in its own Lease; acknowledgments only grow.
 * A shard may bind (bindGate) only when
 *   - it holds its own lease, and has re-read the ring and its peers with fresh (quorum) reads
 *     since the last time it did not (a replica stalled past its lease must look again);
 *   - it has acknowledged the ring's epoch and is one of its members;
 *   - every other member has acknowledged that same epoch, or is confirmed dead (it released
 *     its Lease, or fresh reads found it unchanged for a whole lease duration: peer-liveness.ts).
 * Then every binding shard binds under the same ring, which gives each node one owner. Stale
 * reads cannot break this: if A and B both bind, A saw B at A's epoch and B saw A at B's, and
 * since acknowledgments only grow, the epochs are equal. A member is removed from the ring only
 * once confirmed dead, by which time its own lease check already fails.
 *
 * One owner at a time is not yet enough: the new owner of a node must also see the previous
 * owner's binds there before it places on it, or it overcommits the node. Those binds precede
 * every other member's acknowledgment, so they precede a quorum read made once the gate opened;
 * sharded-ownership.ts uses a gained node only once the pod watch delivered every pod that read
 * shows on it.
 *
 * With --shard-by-label the ring object also lists whole domains of a node label per member
 * (domain-assignment.ts). A node's owner remains a function of the ring object and its name
 * alone (lend, else the member listing it, else the hash), never of a label as some shard's
 * watch sees it, so the argument above holds unchanged: two shards binding under one epoch
 * compute the same owner for every node. A domain that moves, grows or shrinks changes owners
 * only through a new epoch, as one set of nodes.
 */

import type { RingDomainListing, RingEpoch } from "../contracts/leases.js";
import { assignDomains, domainNodeOwners } from "./domain-assignment.js";
import { nodeOwnerOf, ShardRing } from "./shard-ring.js";

export interface PeerView {
  readonly identity: string;
  /** The epoch its Lease says it acknowledged (as last seen; never ahead of the truth). */
  readonly ackedEpoch: number;
  /** Fresh reads saw its Lease unchanged for a whole lease duration. */
  readonly confirmedDead: boolean;
}

/** Everything a shard knows when it is about to bind. */
export interface HandoverView {
  readonly self: string;
  /** Own lease renewed recently enough (see ShardLeases.holdsLease). */
  readonly holdsLease: boolean;
  /** Ring and peers re-read with fresh reads since the own lease was last not held. */
  readonly revalidated: boolean;
  /** The epoch this shard has acknowledged (and published). */
  readonly ackedEpoch: number;
  /** The newest ring object this shard has seen. */
  readonly ring: RingEpoch | undefined;
  readonly peers: readonly PeerView[];
}

export type BindGate =
  | { readonly open: true; readonly ring: RingEpoch }
  | {
      readonly open: false;
      readonly reason: "lease" | "revalidating" | "no-ring" | "adopting" | "not-a-member" | "peers-behind";
    };

export function bindGate(view: HandoverView): BindGate {
  if (!view.holdsLease) return { open: false, reason: "lease" };
  if (!view.revalidated) return { open: false, reason: "revalidating" };
  if (!view.ring) return { open: false, reason: "no-ring" };
  if (view.ring.epoch !== view.ackedEpoch) return { open: false, reason: "adopting" };
  if (!view.ring.members.includes(view.self)) return { open: false, reason: "not-a-member" };
  for (const member of view.ring.members) {
    if (member === view.self) continue;
    const peer = view.peers.find((p) => p.identity === member);
    // A member we know nothing of may be binding under another epoch.
    if (!peer) return { open: false, reason: "peers-behind" };
    if (!peer.confirmedDead && peer.ackedEpoch !== view.ackedEpoch)
      return { open: false, reason: "peers-behind" };
  }
  return { open: true, ring: view.ring };
}

/**
 * The next ring object, or undefined when the current one is still right. Members: the live
 * replicas, and every current member not confirmed dead (one whose lease merely looks expired
 * stays until fresh reads confirm it, so it cannot be binding under an older epoch unseen).
 * Node owners: the lends (node owner overrides) that name a member; and every promised node
 * (pending pods are nominated to it: a preemption there evicted victims for them) stays with
 * the member that owns it now while that member remains, so a change of members does not take
 * the room from the shard that is about to place its preemptor there. The epoch exceeds both
 * the current one and every acknowledgment seen, so a ring object deleted and recreated, or
 * replaced because it could not be read, cannot fall behind the replicas.
 * Domains (--shard-by-label): the `listed` domains assigned to the members (assignDomains: each
 * stays with its current owner while it remains); without `domains` the ring lists none.
 */
export function nextRingEpoch(
  current: RingEpoch | undefined,
  desired: {
    readonly live: readonly string[];
    readonly confirmedDead: ReadonlySet<string>;
    readonly nodeOverrides: ReadonlyMap<string, string>;
    readonly highestAck: number;
    readonly promisedNodes?: Iterable<string>;
    /** The ring object as stored cannot be read (`current` is the last one read): replace it. */
    readonly replace?: boolean;
    /** The label key and the domains (value → node names) the next ring object lists. */
    readonly domains?: { readonly key: string; readonly listed: ReadonlyMap<string, readonly string[]> };
  },
): RingEpoch | undefined {
  const kept = (current?.members ?? []).filter((member) => !desired.confirmedDead.has(member));
  const members = [...new Set([...kept, ...desired.live])].sort();
  if (members.length === 0) return undefined;
  const owners = new Map<string, string>();
  for (const [node, owner] of desired.nodeOverrides) if (members.includes(owner)) owners.set(node, owner);
  const domains: RingDomainListing | undefined =
    desired.domains && assignDomains(members, current?.domains, desired.domains.key, desired.domains.listed);
  const sameDomains = JSON.stringify(current?.domains) === JSON.stringify(domains);
  if (current) {
    const sameOwners = current.members.join("\u0000") === members.join("\u0000") && sameDomains;
    // Domain owners are indexed only when the domains change and a node is promised.
    let listed: { now: Map<string, string>; next: Map<string, string> } | undefined;
    // Rings are built only when the members change (and a node is promised): hashing is not free.
    let rings: { now: ShardRing; next: ShardRing } | undefined;
    for (const node of desired.promisedNodes ?? []) {
      if (owners.has(node)) continue;
      if (sameOwners) {
        // The ring gives the same owners as now: only a node kept earlier needs keeping still.
        const keptBy = Object.hasOwn(current.nodeOwners, node) ? current.nodeOwners[node] : undefined;
        if (keptBy !== undefined && members.includes(keptBy)) owners.set(node, keptBy);
        continue;
      }
      rings ??= { now: new ShardRing(current.members), next: new ShardRing(members) };
      listed ??= { now: domainNodeOwners(current.domains), next: domainNodeOwners(domains) };
      const owner = nodeOwnerOf(rings.now, current.nodeOwners, node, listed.now);
      const nextOwner = listed.next.get(node) ?? rings.next.ownerOf(node);
      if (owner !== undefined && members.includes(owner) && nextOwner !== owner) owners.set(node, owner);
    }
  }
  // Keyed by node names: no prototype, so a node may be named like one of its members.
  const nodeOwners: Record<string, string> = Object.create(null);
  for (const node of [...owners.keys()].sort()) nodeOwners[node] = owners.get(node) as string;
  if (
    current &&
    !desired.replace &&
    current.epoch >= desired.highestAck &&
    current.members.join("\u0000") === members.join("\u0000") &&
    JSON.stringify(current.nodeOwners) === JSON.stringify(nodeOwners) &&
    sameDomains
  )
    return undefined;
  return {
    epoch: Math.max(current?.epoch ?? 0, desired.highestAck) + 1,
    members,
    nodeOwners,
    ...(domains ? { domains } : {}),
  };
}
