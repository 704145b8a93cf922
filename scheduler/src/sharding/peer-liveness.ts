/**
 * What one shard can conclude about a peer from the peer's Lease, with its own clock (pure).
 *
 * A peer is live while its Lease changed less than a lease duration ago, as seen here. It is
 * confirmed dead — it cannot be binding any more — when
 *   - its Lease says it released it (a replica drains its binds before it releases), or
 *   - a fresh (quorum) read still finds the very Lease version (or absence) that was first seen
 *     a whole lease duration before that read was sent.
 * The second rule holds because a shard counts a renewal only if the answer came back within
 * its safety margin, and stops binding once its last counted renewal is older than the lease
 * duration minus that margin (see ShardLeases.holdsLease): any renewal it still relies on was
 * written before the fresh read, which would have seen it.
 */
import type { LeaseObservation } from "../contracts/leases.js";

/** What is known of a peer's Lease over time. */
export interface LeaseSighting extends LeaseObservation {
  /** When this version (or the absence) was first seen here, by a watch or a read. */
  readonly since: number;
  /** Send time of the latest fresh read that found this same version (or absence). */
  readonly freshAt: number | undefined;
}

/**
 * The sighting after observing a Lease at `now`; `freshReadSentAt` is given when the
 * observation came from a fresh read sent at that time.
 */
export function nextSighting(
  previous: LeaseSighting | undefined,
  observed: LeaseObservation,
  now: number,
  freshReadSentAt?: number,
): LeaseSighting {
  const same =
    previous !== undefined && previous.version === observed.version && previous.absent === observed.absent;
  return {
    ...observed,
    // An absence keeps the duration of the last Lease seen: it is the peer's own setting.
    durationMs: observed.absent && previous ? previous.durationMs : observed.durationMs,
    holder: observed.holder || previous?.holder || "",
    ackedEpoch: Math.max(observed.ackedEpoch, same ? previous.ackedEpoch : 0),
    since: same ? previous.since : now,
    freshAt: freshReadSentAt ?? (same ? previous.freshAt : undefined),
  };
}

export function isLive(sighting: LeaseSighting, now: number): boolean {
  return !sighting.released && !sighting.absent && now - sighting.since < sighting.durationMs;
}

export function isConfirmedDead(sighting: LeaseSighting): boolean {
  if (sighting.released) return true;
  return sighting.freshAt !== undefined && sighting.freshAt - sighting.since >= sighting.durationMs;
}

/** When a fresh read could confirm the peer dead: its current sighting is a lease duration old. */
export function deathConfirmableAt(sighting: LeaseSighting): number {
  return sighting.since + sighting.durationMs;
}
