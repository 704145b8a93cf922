/** When a lent node goes back to the shard the ring gives it to (pure). */

export interface LendState {
  /** When the coordinator lent it (ms since the epoch). */
  readonly lentAt: number;
  /** The shard it is lent to is still a ring member. */
  readonly borrowerLive: boolean;
  /** Pods of the group it was lent for that occupy it now. */
  readonly groupPodsOnNode: number;
}

/**
 * Returned when the group it was lent for no longer runs on it — the group finished, left, or
 * was placed elsewhere — once the borrower has had `graceMs` to place the group there; at once
 * when the borrower is gone (its lends no longer count anyway).
 */
export function shouldReturn(lend: LendState, now: number, graceMs: number): boolean {
  if (!lend.borrowerLive) return true;
  return lend.groupPodsOnNode === 0 && now - lend.lentAt >= graceMs;
}
