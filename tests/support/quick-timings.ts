/**
 * Flags that make the shards' and the coordinator's leases, handovers and reports quick enough
 * for integration tests (seconds, not the production defaults' tens of seconds).
 */

/** A shard's: lease leaseMs renewed every second, handover settle 0.5 s, capacity summary every 0.25 s. */
export const quickShardArgs = (leaseMs: number): string[] => [
  `--lease-duration-ms=${leaseMs}`,
  "--lease-renew-ms=1000",
  "--handover-settle-ms=500",
  "--summary-interval-ms=250",
];

/** A coordinator's: lease leaseMs renewed every second, a group stuck after 1.5 s, a pass every 0.25 s. */
export const quickCoordinatorArgs = (leaseMs: number): string[] => [
  `--lease-duration-ms=${leaseMs}`,
  "--lease-renew-ms=1000",
  "--stuck-after-ms=1500",
  "--interval-ms=250",
];
