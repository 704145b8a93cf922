/**
 * What a coordinator replica can prove about its leadership, on its own monotonic clock.
 *
 * The proof is the last renewal of the leader Lease that counted: one answered within the
 * margin, measured from when it was SENT. The standby takes over only after it has seen the
 * Lease unchanged for a whole lease duration on its clock, which starts no earlier than that
 * renewal reached the API server, so no earlier than it was sent. Leadership therefore holds
 * until sentAt + duration - margin (the deadline), with the margin left for clock drift and
 * for a request already on the wire: past the deadline nothing more may be sent.
 *
 * A write carries a LeaderTicket taken when it was decided. The ticket is valid while
 * leadership holds without a break: once the deadline passed, or leadership was given up, it
 * stays void even if leadership is regained, since another leader may have acted meanwhile on
 * what this one decided from (like a shard's BindTicket).
 */
import { leaseMarginMs } from "@sharded-scheduler/scheduler/contracts";

export interface LeaderTicket {
  /** The leadership term the ticket was taken in. */
  readonly term: number;
  /** False once leadership can no longer be proven, or was lost since the ticket was taken. */
  valid(): boolean;
}

export class LeadershipProof {
  private proofSentAt = Number.NEGATIVE_INFINITY;
  /** Increments whenever leadership is (re)gained after a break: a ticket belongs to one term. */
  private currentTerm = 0;

  constructor(
    private readonly leaseDurationMs: number,
    /** A monotonic clock in ms (performance.now): wall-clock steps must not stretch a lease. */
    private readonly now: () => number,
  ) {}

  get marginMs(): number {
    return leaseMarginMs(this.leaseDurationMs);
  }

  /** When leadership can no longer be proven (-Infinity before the first counted renewal). */
  get deadline(): number {
    return this.proofSentAt + this.leaseDurationMs - this.marginMs;
  }

  holds(): boolean {
    return this.now() < this.deadline;
  }

  /**
   * A renewal (or acquisition) sent at sentAt has just been answered with success. Returns
   * "late" when it came back too late to count, "gained" when it starts a new term.
   */
  renewed(sentAt: number): "late" | "gained" | "renewed" {
    if (this.now() - sentAt > this.marginMs) return "late";
    const gained = !this.holds();
    if (gained) this.currentTerm++;
    this.proofSentAt = Math.max(this.proofSentAt, sentAt);
    return gained ? "gained" : "renewed";
  }

  /** Leadership given up (Lease released, Redis unreachable): nothing more may be sent. */
  revoke(): void {
    this.proofSentAt = Number.NEGATIVE_INFINITY;
  }

  /** A ticket for writes decided now; undefined when leadership cannot be proven now. */
  ticket(): LeaderTicket | undefined {
    if (!this.holds()) return undefined;
    const term = this.currentTerm;
    return { term, valid: () => this.holds() && this.currentTerm === term };
  }
}

/**
 * Whether a dependency answered recently enough: reachable while the last successful probe
 * was sent less than boundMs ago (monotonic clock). Never reachable before a first success.
 */
export class Reachability {
  private okSentAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly boundMs: number,
    private readonly now: () => number,
  ) {}

  succeeded(sentAt: number): void {
    this.okSentAt = Math.max(this.okSentAt, sentAt);
  }

  reachable(): boolean {
    return this.now() - this.okSentAt < this.boundMs;
  }

  /** How long since the last successful probe was sent (Infinity before any). */
  silentForMs(): number {
    return this.now() - this.okSentAt;
  }
}
