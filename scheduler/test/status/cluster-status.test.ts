/**
 * The status report from a hand-made snapshot: Lease ages and expiry, lagging acknowledgments,
 * nodes per shard with lends, pending groups attributed to their owner, the coordinator leader,
 * and the recent handoffs and lends (newest first, one row per group, limited).
 */
import { describe, expect, it } from "vitest";
import { nodeOwnerAnnotation } from "../../src/contracts/keys.js";
import { type Lease, leaseTimestamp } from "../../src/contracts/leases.js";
import type { Pod } from "../../src/core/api-types.js";
import { groupKey } from "../../src/core/gang/index.js";
import { ShardRing } from "../../src/sharding/shard-ring.js";
import { type KubeEvent, type StatusSnapshot, statusReport } from "../../src/status/cluster-status.js";

const now = Date.parse("2026-11-23T12:00:00Z");
const A = "sharded-scheduler-0";
const B = "sharded-scheduler-1";
const ring = new ShardRing([A, B]);
const nodeNames = Array.from({ length: 20 }, (_, i) => `node-${i}`);

function memberLease(
  name: string,
  options: { renewedAgo?: number; acked?: number; released?: boolean; durationS?: number } = {},
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
      leaseDurationSeconds: options.durationS ?? 10,
      renewTime: leaseTimestamp(now - (options.renewedAgo ?? 1_000)),
    },
  };
}

function ringLease(epoch: number, members: string[], nodeOwners: Record<string, string> = {}): Lease {
  return {
    metadata: {
      name: "sharded-scheduler-ring",
      annotations: {
        "sharded-scheduler.io/ring-epoch": String(epoch),
        "sharded-scheduler.io/ring-members": members.join(","),
        "sharded-scheduler.io/ring-node-owners": JSON.stringify(nodeOwners),
      },
    },
  };
}

function pod(
  name: string,
  options: {
    group?: string;
    nodeName?: string;
    /** The shard an Owner condition names (the coordinator's or a shard's pin). */
    owner?: string;
    /** The shard a tenant names in the old owner annotation (ignored). */
    annotatedOwner?: string;
    createdAgo?: number;
    schedulerName?: string;
    deleting?: boolean;
  } = {},
): Pod {
  const annotations: Record<string, string> = {};
  if (options.group) {
    annotations["sharded-scheduler.io/pod-group"] = options.group;
    annotations["sharded-scheduler.io/min-member"] = "3";
  }
  if (options.annotatedOwner) annotations["sharded-scheduler.io/owner"] = options.annotatedOwner;
  const pinned = options.owner
    ? [
        {
          type: "sharded-scheduler.io/Owner",
          status: "True",
          reason: "HandedOff",
          message: `shard=${options.owner} epoch=7`,
        },
      ]
    : [];
  return {
    metadata: {
      name,
      namespace: "ml",
      uid: `uid-${name}`,
      annotations,
      creationTimestamp: new Date(now - (options.createdAgo ?? 60_000)).toISOString(),
      ...(options.deleting ? { deletionTimestamp: new Date(now).toISOString() } : {}),
    },
    spec: {
      schedulerName: options.schedulerName ?? "sharded-scheduler",
      nodeName: options.nodeName,
      containers: [{ name: "main", resources: { requests: { cpu: "1" } } }],
    },
    status: {
      phase: "Pending",
      conditions: [
        { type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/20 nodes fit" },
        ...pinned,
      ],
    },
  };
}

function snapshot(overrides: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return {
    schedulerName: "sharded-scheduler",
    namespace: "default",
    leases: [memberLease(A), memberLease(B), ringLease(7, [A, B])],
    coordinatorLease: undefined,
    nodes: nodeNames.map((name) => ({ metadata: { name } })),
    pods: [],
    events: [],
    ...overrides,
  };
}

/** A group name whose ring owner is `owner`. */
function groupOwnedBy(owner: string, prefix: string): string {
  for (let i = 0; ; i++)
    if (ring.ownerOf(groupKey("ml", `${prefix}-${i}`, false).hashKey) === owner) return `${prefix}-${i}`;
}

const shard = (report: ReturnType<typeof statusReport>, name: string) => {
  const row = report.shards.find((s) => s.name === name);
  if (!row) throw new Error(`no row for ${name}`);
  return row;
};

describe("shard Leases", () => {
  it("a Lease renewed within its duration is live, with its age; an older one expired; a released one released", () => {
    const report = statusReport(
      snapshot({
        leases: [
          memberLease(A, { renewedAgo: 2_000 }),
          memberLease(B, { renewedAgo: 15_000 }),
          memberLease("sharded-scheduler-2", { released: true }),
          ringLease(7, [A, B]),
        ],
      }),
      now,
    );
    expect(report.shards.map((s) => [s.name, s.state, s.leaseAgeMs, s.leaseDurationMs])).toEqual([
      [A, "live", 2_000, 10_000],
      [B, "expired", 15_000, 10_000],
      ["sharded-scheduler-2", "released", 1_000, 10_000],
    ]);
    expect(shard(report, "sharded-scheduler-2").ringMember).toBe(false);
  });

  it("orders shards by ordinal and shows a ring member without a Lease", () => {
    const names = ["sharded-scheduler-10", "sharded-scheduler-2"];
    const report = statusReport(
      snapshot({
        leases: [memberLease(names[0] as string), ringLease(3, [...names, "sharded-scheduler-3"])],
      }),
      now,
    );
    expect(report.shards.map((s) => [s.name, s.state])).toEqual([
      ["sharded-scheduler-2", "no-lease"],
      ["sharded-scheduler-3", "no-lease"],
      ["sharded-scheduler-10", "live"],
    ]);
    expect(report.warnings).toContain("sharded-scheduler-2 is a ring member without a Lease");
  });

  it("marks a shard whose acknowledged epoch lags the ring's, and warns", () => {
    const report = statusReport(
      snapshot({
        leases: [memberLease(A, { acked: 7 }), memberLease(B, { acked: 6 }), ringLease(7, [A, B])],
      }),
      now,
    );
    expect(shard(report, A).lagging).toBe(false);
    expect(shard(report, B)).toMatchObject({ ackedEpoch: 6, lagging: true });
    expect(report.ring).toEqual({ epoch: 7, members: [A, B], lentNodes: 0 });
    expect(report.warnings.some((w) => w.startsWith(`${B} (live) adopted ring epoch 6 of 7`))).toBe(true);
  });

  it("a shard the ring dropped does not lag: no one waits for it", () => {
    const report = statusReport(
      snapshot({
        leases: [
          memberLease(A, { acked: 8 }),
          memberLease(B, { acked: 6, renewedAgo: 30_000 }),
          ringLease(8, [A]),
        ],
      }),
      now,
    );
    expect(shard(report, B)).toMatchObject({ state: "expired", ringMember: false, lagging: false, nodes: 0 });
    expect(shard(report, A).nodes).toBe(nodeNames.length);
    expect(report.warnings).toEqual([]);
  });

  it("without a ring Lease: no node counts, and a warning", () => {
    const report = statusReport(snapshot({ leases: [memberLease(A)] }), now);
    expect(report.ring).toBeNull();
    expect(shard(report, A)).toMatchObject({ nodes: null, lagging: false });
    expect(report.warnings).toContain("no ring Lease sharded-scheduler-ring: no shard has proposed one");
  });
});

describe("nodes per shard", () => {
  const ringOwned = (owner: string) => nodeNames.filter((n) => ring.ownerOf(n) === owner);
  /** Every node, one of them with the coordinator's lend annotation. */
  const nodesLending = (lent: string, to: string): StatusSnapshot["nodes"] =>
    nodeNames.map((name) => {
      const annotations: Record<string, string> = name === lent ? { [nodeOwnerAnnotation]: to } : {};
      return { metadata: { name, annotations } };
    });

  it("counts each node once, for its owner under the ring", () => {
    const report = statusReport(snapshot(), now);
    expect(shard(report, A).nodes).toBe(ringOwned(A).length);
    expect(shard(report, B).nodes).toBe(ringOwned(B).length);
    expect((shard(report, A).nodes ?? 0) + (shard(report, B).nodes ?? 0)).toBe(nodeNames.length);
  });

  it("a node lent under the ring epoch counts for the borrower", () => {
    const lent = ringOwned(B)[0] as string;
    const report = statusReport(
      snapshot({
        leases: [memberLease(A), memberLease(B), ringLease(7, [A, B], { [lent]: A })],
        nodes: nodesLending(lent, A),
      }),
      now,
    );
    expect(shard(report, A)).toMatchObject({
      nodes: ringOwned(A).length + 1,
      borrowedNodes: 1,
      lentNodes: 0,
    });
    expect(shard(report, B)).toMatchObject({
      nodes: ringOwned(B).length - 1,
      borrowedNodes: 0,
      lentNodes: 1,
    });
    expect(report.ring?.lentNodes).toBe(1);
    expect(report.warnings).toEqual([]);
  });

  it("a lend written on the node but not yet in the ring counts for the ring owner, with a warning", () => {
    const lent = ringOwned(B)[0] as string;
    const report = statusReport(
      snapshot({
        nodes: nodesLending(lent, A),
      }),
      now,
    );
    expect(shard(report, B).nodes).toBe(ringOwned(B).length);
    expect(report.warnings).toContain(
      "1 node lend(s) or return(s) wait for the next ring epoch (after epoch 7)",
    );
  });
});

describe("pending groups", () => {
  it("groups the scheduler's pending pods by pod group and attributes them to the owning shard", () => {
    const gang = groupOwnedBy(A, "train");
    const report = statusReport(
      snapshot({
        pods: [
          pod("g-0", { group: gang, createdAgo: 90_000 }),
          pod("g-1", { group: gang, createdAgo: 30_000 }),
          pod("g-2", { group: gang, nodeName: "node-1" }),
          pod("other", { schedulerName: "default-scheduler" }),
          pod("going", { deleting: true }),
        ],
      }),
      now,
    );
    expect(report.pendingGroups).toEqual([
      {
        group: `ml/${gang}`,
        solo: false,
        hashedBy: null,
        owner: A,
        handedTo: null,
        pendingPods: 2,
        minMember: 3,
        waitingMs: 90_000,
        why: "0/20 nodes fit",
      },
    ]);
    expect(shard(report, A)).toMatchObject({ pendingGroups: 1, pendingPods: 2 });
    expect(shard(report, B)).toMatchObject({ pendingGroups: 0, pendingPods: 0 });
  });

  it("a pod without a group is a group of one, owned by the ring owner of namespace/pod", () => {
    const report = statusReport(snapshot({ pods: [pod("solo")] }), now);
    expect(report.pendingGroups[0]).toMatchObject({
      group: "ml/solo",
      solo: true,
      owner: ring.ownerOf("ml/solo"),
      minMember: null,
    });
  });

  it("a pod with inter-pod constraints and a controller is owned by the ring owner of its controller", () => {
    const base = pod("web-1");
    const web: Pod = {
      ...base,
      metadata: {
        ...base.metadata,
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web", uid: "rs", controller: true },
        ],
      },
      spec: {
        ...base.spec,
        topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "ScheduleAnyway" }],
      },
    };
    const report = statusReport(snapshot({ pods: [web] }), now);
    expect(report.pendingGroups[0]).toMatchObject({
      group: "ml/web-1",
      solo: true,
      hashedBy: "ReplicaSet/web",
      owner: ring.ownerOf("ml/ReplicaSet/web"),
    });
  });

  it("a group handed to a live shard belongs to it; handed to a dead one, to its ring owner", () => {
    const gang = groupOwnedBy(A, "handed");
    const handed = snapshot({ pods: [pod("h-0", { group: gang, owner: B })] });
    expect(statusReport(handed, now).pendingGroups[0]).toMatchObject({ owner: B, handedTo: B });
    const deadTarget = {
      ...handed,
      leases: [memberLease(A), memberLease(B, { renewedAgo: 60_000 }), ringLease(7, [A, B])],
    };
    expect(statusReport(deadTarget, now).pendingGroups[0]).toMatchObject({ owner: A, handedTo: B });
  });

  it("a tenant's owner annotation pins nothing: only the Owner condition does", () => {
    const gang = groupOwnedBy(A, "forged");
    const forged = snapshot({ pods: [pod("f-0", { group: gang, annotatedOwner: B })] });
    expect(statusReport(forged, now).pendingGroups[0]).toMatchObject({ owner: A, handedTo: null });
  });

  it("lists the oldest group first, and warns of groups no live shard owns", () => {
    const report = statusReport(
      snapshot({
        leases: [memberLease(A, { released: true })],
        pods: [pod("young", { createdAgo: 1_000 }), pod("old", { createdAgo: 100_000 })],
      }),
      now,
    );
    expect(report.pendingGroups.map((g) => [g.group, g.owner])).toEqual([
      ["ml/old", null],
      ["ml/young", null],
    ]);
    expect(report.warnings).toContain("2 pending group(s) are owned by no live shard");
  });
});

describe("coordinator leader", () => {
  const leaderLease = (holder: string): Lease => ({
    metadata: { name: "sharded-scheduler-coordinator" },
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: 10,
      acquireTime: leaseTimestamp(now - 300_000),
      renewTime: leaseTimestamp(now - 1_500),
      leaseTransitions: 2,
    },
  });

  it("names the holder, how long ago it renewed and how long it has led", () => {
    const report = statusReport(snapshot({ coordinatorLease: leaderLease("coordinator-0") }), now);
    expect(report.coordinator).toEqual({
      holder: "coordinator-0",
      renewAgeMs: 1_500,
      leadingForMs: 300_000,
      leaseDurationMs: 10_000,
      expired: false,
      transitions: 2,
    });
  });

  it("a released Lease has no holder; no Lease, no coordinator", () => {
    const released = statusReport(snapshot({ coordinatorLease: leaderLease("") }), now).coordinator;
    expect(released).toMatchObject({ holder: null, expired: true, leadingForMs: null });
    expect(statusReport(snapshot(), now).coordinator).toBeNull();
  });
});

describe("recent handoffs and lends", () => {
  const event = (name: string, reason: string, message: string, agoMs: number, uid = "uid-x"): KubeEvent => ({
    metadata: { name, namespace: "ml" },
    involvedObject: { kind: "Pod", namespace: "ml", name, uid },
    reason,
    message,
    lastTimestamp: new Date(now - agoMs).toISOString(),
  });

  it("newest first, at most the limit, one row per group with its pods counted", () => {
    const events = Array.from({ length: 12 }, (_, i) =>
      event(
        `e${i}`,
        "HandedOff",
        `pod group ml/job-${i} handed from shard ${A} to shard ${B} (attempt 1 of 3)`,
        i * 1_000,
      ),
    );
    events.push(event("e0-copy", "HandedOff", events[0]?.message as string, 500));
    const report = statusReport(snapshot({ events }), now, { recentEvents: 10 });
    expect(report.recentEvents).toHaveLength(10);
    expect(report.recentEvents.map((e) => e.ageMs)).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => i * 1_000),
    );
    expect(report.recentEvents[0]).toMatchObject({ reason: "HandedOff", pods: 2 });
    expect(report.recentEvents[0]?.at).toBe(new Date(now).toISOString());
  });

  it("dates an events.k8s.io/v1 Event by its series' last occurrence, else its eventTime", () => {
    const written = (name: string, eventAgoMs: number, seriesAgoMs?: number): KubeEvent => ({
      metadata: { name, namespace: "ml" },
      involvedObject: { kind: "Pod", namespace: "ml", name, uid: "uid-x" },
      reason: "HandedOff",
      message: `pod group ml/${name} handed from shard ${A} to shard ${B} (attempt 1 of 3)`,
      // As core/v1 shows them: no lastTimestamp, a MicroTime eventTime, a series once repeated.
      lastTimestamp: null,
      eventTime: new Date(now - eventAgoMs).toISOString().replace("Z", "000Z"),
      ...(seriesAgoMs === undefined
        ? {}
        : { series: { count: 3, lastObservedTime: new Date(now - seriesAgoMs).toISOString() } }),
    });
    const report = statusReport(
      snapshot({ events: [written("once", 5_000), written("repeated", 60_000, 1_000)] }),
      now,
    );
    expect(report.recentEvents.map((e) => [e.message.split(" ")[2], e.ageMs])).toEqual([
      ["ml/repeated", 1_000],
      ["ml/once", 5_000],
    ]);
  });

  it("keeps only this scheduler's: naming one of its shards, or about one of its pending pods", () => {
    const events = [
      event(
        "lend",
        "NodesLent",
        `no single shard can place all 3 members of pod group ml/a; lent node-7 (from ${B}) to shard ${A}, which schedules it`,
        3_000,
      ),
      event(
        "foreign",
        "HandedOff",
        "pod group x/b handed from shard other-0 to shard other-1 (attempt 1 of 3)",
        1_000,
      ),
      event(
        "exhausted",
        "ReliefExhausted",
        "the coordinator moved this pod group 3 time(s)",
        2_000,
        "uid-stuck",
      ),
      event(
        "exhausted-foreign",
        "ReliefExhausted",
        "the coordinator moved this pod group 3 time(s)",
        2_000,
        "uid-y",
      ),
      event("scheduled", "Scheduled", `Successfully assigned ml/a-0 to node-1 (shard ${A})`, 500),
    ];
    const report = statusReport(snapshot({ events, pods: [pod("stuck")] }), now);
    expect(report.recentEvents.map((e) => [e.reason, e.pods])).toEqual([
      ["ReliefExhausted", 1],
      ["NodesLent", 1],
    ]);
  });

  it("with a domain listing: whole racks per shard, node counts by the listing, lends still first", () => {
    const rackA = ["node-0", "node-1", "node-2"];
    const rackB = ["node-3", "node-4"];
    const lease = ringLease(9, [A, B], { "node-0": B });
    (lease.metadata.annotations as Record<string, string>)["sharded-scheduler.io/ring-domains"] =
      JSON.stringify({
        key: "topology.kubernetes.io/rack",
        owners: { [A]: { r1: rackA }, [B]: { r2: rackB } },
      });
    const report = statusReport(
      snapshot({ leases: [memberLease(A, { acked: 9 }), memberLease(B, { acked: 9 }), lease] }),
      now,
    );
    expect(report.ring?.domains).toEqual({ key: "topology.kubernetes.io/rack", count: 2, nodes: 5 });
    expect(shard(report, A).domains).toEqual(["r1"]);
    expect(shard(report, B).domains).toEqual(["r2"]);
    const hashed = nodeNames.filter((name) => !rackA.includes(name) && !rackB.includes(name));
    const hashedTo = (owner: string) => hashed.filter((name) => ring.ownerOf(name) === owner).length;
    // node-0 is listed under A but lent to B.
    expect(shard(report, A)).toMatchObject({ nodes: 2 + hashedTo(A), lentNodes: 1, borrowedNodes: 0 });
    expect(shard(report, B)).toMatchObject({ nodes: 3 + hashedTo(B), lentNodes: 0, borrowedNodes: 1 });
  });
});
