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
 */

import type { RingEpoch } from "../contracts/leases.js";
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
  },
): RingEpoch | undefined {
  const kept = (current?.members ?? []).filter((member) => !desired.confirmedDead.has(member));
  const members = [...new Set([...kept, ...desired.live])].sort();
  if (members.length === 0) return undefined;
  const owners = new Map<string, string>();
  for (const [node, owner] of desired.nodeOverrides) if (members.includes(owner)) owners.set(node, owner);
  if (current) {
    const sameMembers = current.members.join("\u0000") === members.join("\u0000");
    // Rings are built only when the members change (and a node is promised): hashing is not free.
    let rings: { now: ShardRing; next: ShardRing } | undefined;
    for (const node of desired.promisedNodes ?? []) {
      if (owners.has(node)) continue;
      if (sameMembers) {
        // The ring gives the same owners as now: only a node kept earlier needs keeping still.
        const keptBy = Object.hasOwn(current.nodeOwners, node) ? current.nodeOwners[node] : undefined;
        if (keptBy !== undefined && members.includes(keptBy)) owners.set(node, keptBy);
        continue;
      }
      rings ??= { now: new ShardRing(current.members), next: new ShardRing(members) };
      const owner = nodeOwnerOf(rings.now, current.nodeOwners, node);
      if (owner !== undefined && members.includes(owner) && rings.next.ownerOf(node) !== owner)
        owners.set(node, owner);
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
    JSON.stringify(current.nodeOwners) === JSON.stringify(nodeOwners)
  )
    return undefined;
  return { epoch: Math.max(current?.epoch ?? 0, desired.highestAck) + 1, members, nodeOwners };
}
