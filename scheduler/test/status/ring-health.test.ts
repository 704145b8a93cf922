/**
 * `status --check` (ring-health.ts) from hand-made snapshots: healthy when every ring member holds
 * a live Lease at the ring's epoch and a coordinator leads; each way of being unhealthy named.
 */
import { describe, expect, it } from "vitest";
import { type Lease, leaseTimestamp } from "../../src/contracts/leases.js";
import { type StatusSnapshot, statusReport } from "../../src/status/cluster-status.js";
import { ringProblems } from "../../src/status/ring-health.js";

const now = Date.parse("2026-12-05T01:00:00Z");
const A = "sharded-scheduler-0";
const B = "sharded-scheduler-1";

function memberLease(
  name: string,
  options: { renewedAgo?: number; acked?: number; released?: boolean } = {},
): Lease {
  return {
    metadata: {
      name,
      labels: { "sharded-scheduler.io/shard": "sharded-scheduler", "sharded-scheduler.io/role": "member" },
      annotations: {
        "sharded-scheduler.io/acked-epoch": String(options.acked ?? 7),
        ...(options.released ? { "sharded-scheduler.io/released": "true" } : {}),
      },
    },
    spec: {
      holderIdentity: name,
      leaseDurationSeconds: 10,
      renewTime: leaseTimestamp(now - (options.renewedAgo ?? 1_000)),
    },
  };
}

function ringLease(epoch: number, members: string[]): Lease {
  return {
    metadata: {
      name: "sharded-scheduler-ring",
      annotations: {
        "sharded-scheduler.io/ring-epoch": String(epoch),
        "sharded-scheduler.io/ring-members": members.join(","),
        "sharded-scheduler.io/ring-node-owners": "{}",
      },
    },
  };
}

const leader = (holder: string, renewedAgo = 1_000): Lease => ({
  metadata: { name: "sharded-scheduler-coordinator" },
  spec: { holderIdentity: holder, leaseDurationSeconds: 10, renewTime: leaseTimestamp(now - renewedAgo) },
});

function problems(overrides: Partial<StatusSnapshot>, expectCoordinator = true): string[] {
  const snapshot: StatusSnapshot = {
    schedulerName: "sharded-scheduler",
    namespace: "default",
    leases: [memberLease(A), memberLease(B), ringLease(7, [A, B])],
    coordinatorLease: leader("coordinator-0"),
    nodes: [],
    pods: [],
    events: [],
    ...overrides,
  };
  return ringProblems(statusReport(snapshot, now), { expectCoordinator });
}

describe("status --check", () => {
  it("is healthy when every member holds a live Lease at the ring's epoch and a coordinator leads", () => {
    expect(problems({})).toEqual([]);
    // A shard outside the ring (joining, or dropped) keeps no one waiting.
    expect(
      problems({
        leases: [memberLease(A), memberLease(B), memberLease("x", { acked: 3 }), ringLease(7, [A, B])],
      }),
    ).toEqual([]);
  });

  it("names a member that has not acknowledged the ring's epoch", () => {
    expect(
      problems({ leases: [memberLease(A), memberLease(B, { acked: 6 }), ringLease(7, [A, B])] }),
    ).toEqual([`ring member ${B} acknowledged epoch 6, not the ring's 7`]);
  });

  it("names members whose Lease expired or is missing, and a ring with no live shard", () => {
    expect(
      problems({ leases: [memberLease(A), memberLease(B, { renewedAgo: 30_000 }), ringLease(7, [A, B])] }),
    ).toEqual([`ring member ${B} has an expired Lease`]);
    expect(problems({ leases: [memberLease(A), ringLease(7, [A, B])] })).toEqual([
      `ring member ${B} has no Lease`,
    ]);
    expect(
      problems({
        leases: [
          memberLease(A, { renewedAgo: 60_000 }),
          memberLease(B, { renewedAgo: 60_000 }),
          ringLease(7, [A, B]),
        ],
      }),
    ).toEqual([
      `ring member ${A} has an expired Lease`,
      `ring member ${B} has an expired Lease`,
      "no live shard in ring epoch 7",
    ]);
  });

  it("is unhealthy without a ring", () => {
    expect(problems({ leases: [memberLease(A), memberLease(B)] })).toEqual([
      "no ring: no shard has proposed one (or its Lease is malformed)",
    ]);
  });

  it("requires a coordinator leader unless told there is no coordinator", () => {
    expect(problems({ coordinatorLease: undefined })).toEqual([
      "no coordinator leader: no Lease sharded-scheduler-coordinator",
    ]);
    expect(problems({ coordinatorLease: leader("") })).toEqual([
      "no coordinator leader: Lease sharded-scheduler-coordinator is released",
    ]);
    expect(problems({ coordinatorLease: leader("coordinator-1", 20_000) })).toEqual([
      "no coordinator leader: coordinator-1's Lease sharded-scheduler-coordinator expired",
    ]);
    expect(problems({ coordinatorLease: undefined }, false)).toEqual([]);
  });
});
