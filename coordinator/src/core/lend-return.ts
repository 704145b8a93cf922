/** When a lent node goes back to the shard the ring gives it to (pure). */

export interface LendState {
  /** When the coordinator lent it (ms since the epoch). */
  readonly lentAt: number;
  /** The shard it is lent to is still a ring member. */
  readonly borrowerLive: boolean;
  /** Pods of the group it was lent for that occupy it now. */
  readonly groupPodsOnNode: number;
  /** The group was seen running on it since the lend. */
  readonly groupRanOnNode: boolean;
  /** The borrower reports pending pods nominated to it: room a preemption there won for them. */
  readonly promised: boolean;
  /** The borrower reports the group has no member waiting for a node (placed elsewhere, gone). */
  readonly groupPlaced: boolean;
}

/**
 * Returned when the group it was lent for no longer runs on it: at once when the group ran on
 * it and left (finished, evicted); at once when the borrower says no member of the group waits
 * for a node any more (placed elsewhere, or deleted: it will not come); else once the borrower
 * has had `graceMs` to place the group there; at once when the borrower is gone
 * (its lends no longer count anyway). A lent node takes only its group's pods until the group
 * comes, so it must not sit idle longer than that. (A group handed to another shard gives its
 * lends back at the handoff.) Never while the borrower has evicted pods there for a pending
 * group and holds the room for it: returning it would give the room the victims paid for to the
 * node's ring owner, whose own pending groups would take it.
 */
export function shouldReturn(lend: LendState, now: number, graceMs: number): boolean {
  if (!lend.borrowerLive) return true;
  if (lend.groupPodsOnNode > 0 || lend.promised) return false;
  return lend.groupRanOnNode || lend.groupPlaced || now - lend.lentAt >= graceMs;
}
