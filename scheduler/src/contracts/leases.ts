/**
 * The coordination.k8s.io Lease as shards (their member and ring Leases, sharding/shard-leases.ts),
 * the coordinator (its leader election) and the status command read and write it, and the timing
 * rule both lease holders follow.
 */

export interface Lease {
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    renewTime?: string;
    acquireTime?: string;
    leaseTransitions?: number;
  };
}

/**
 * A renewal counts only if its answer came back within this margin, and the lease is held
 * until the last counted renewal is older than the lease duration minus this margin.
 */
export const leaseMarginMs = (leaseDurationMs: number): number => Math.min(2_000, leaseDurationMs / 5);

/** A Lease's MicroTime (renewTime, acquireTime): RFC 3339 with microseconds. */
export const leaseTimestamp = (ms: number): string => new Date(ms).toISOString().replace("Z", "000Z");
