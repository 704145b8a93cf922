import type * as k8s from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { ShardRing } from "../../scheduler/src/sharding/shard-ring.js";
import { groupsThatFit, type RoomNode } from "./free-room.js";
import { InvariantLedger, minMemberAnnotation, podGroupAnnotation } from "./invariant-ledger.js";
import { RingOwners } from "./ring-owners.js";

const limits = {
  partialGangMs: 5_000,
  wholeGroupEvictionMs: 5_000,
  preemptorBoundMs: 20_000,
  gatedPartialGangMs: 3_000,
};

function node(name: string, cpu = "4", extra: Partial<k8s.V1Node> = {}): k8s.V1Node {
  return {
    metadata: { name, labels: { type: "kwok" } },
    status: {
      allocatable: { cpu, memory: "8Gi", pods: "110" },
      conditions: [{ type: "Ready", status: "True" }],
    },
    ...extra,
  };
}

interface PodShape {
  cpu?: string;
  node?: string;
  group?: string;
  min?: number;
  priority?: number;
  phase?: string;
  deleting?: boolean;
  evicted?: boolean;
  /** A DisruptionTarget condition with another reason (the taint manager, pod GC). */
  disruption?: string;
  nodeSelector?: Record<string, string>;
  nominated?: string;
  gated?: boolean;
  preemptionPolicy?: string;
  /** A native PodGroup the pod names (spec.schedulingGroup.podGroupName). */
  podGroup?: string;
  /** The eviction condition's lastTransitionTime. */
  evictedTime?: string;
  /** A scheduler-plugins PodGroup the pod names (label scheduling.x-k8s.io/pod-group). */
  coscheduling?: string;
  /** A Volcano PodGroup the pod names (annotation scheduling.k8s.io/group-name). */
  volcano?: string;
}

function pod(name: string, shape: PodShape = {}): k8s.V1Pod {
  const annotations: Record<string, string> = {};
  if (shape.group) annotations[podGroupAnnotation] = shape.group;
  if (shape.min) annotations[minMemberAnnotation] = String(shape.min);
  if (shape.volcano) annotations["scheduling.k8s.io/group-name"] = shape.volcano;
  return {
    metadata: {
      name,
      namespace: "ns",
      uid: `uid-${name}`,
      annotations,
      ...(shape.coscheduling ? { labels: { "scheduling.x-k8s.io/pod-group": shape.coscheduling } } : {}),
      ...(shape.deleting ? { deletionTimestamp: new Date() } : {}),
    },
    spec: {
      containers: [{ name: "main", resources: { requests: { cpu: shape.cpu ?? "1" } } }],
      priority: shape.priority ?? 0,
      ...(shape.node ? { nodeName: shape.node } : {}),
      ...(shape.nodeSelector ? { nodeSelector: shape.nodeSelector } : {}),
      ...(shape.gated ? { schedulingGates: [{ name: "example.com/admission" }] } : {}),
      ...(shape.preemptionPolicy ? { preemptionPolicy: shape.preemptionPolicy } : {}),
      ...(shape.podGroup ? { schedulingGroup: { podGroupName: shape.podGroup } } : {}),
    } as k8s.V1PodSpec,
    status: {
      phase: shape.phase ?? (shape.node ? "Running" : "Pending"),
      ...(shape.nominated ? { nominatedNodeName: shape.nominated } : {}),
      conditions:
        shape.evicted || shape.disruption
          ? [
              {
                type: "DisruptionTarget",
                status: "True",
                reason: shape.disruption ?? "EvictionByEvictionAPI",
                ...(shape.evictedTime ? { lastTransitionTime: new Date(shape.evictedTime) } : {}),
              },
            ]
          : [],
    },
  };
}

function event(reason: string, podName: string, message: string, by = "shard-0"): k8s.CoreV1Event {
  return {
    metadata: { name: `${podName}.${reason}` },
    involvedObject: { namespace: "ns", name: podName },
    reason,
    message,
    reportingInstance: by,
  };
}

describe("overcommit", () => {
  it("counts a node going over its allocatable once per episode, for any resource", () => {
    const ledger = new InvariantLedger(limits);
    ledger.node(node("n1", "4"), false);
    ledger.pod(pod("a", { cpu: "3", node: "n1" }), false, 0);
    expect(ledger.counts().overcommit).toBe(0);
    ledger.pod(pod("b", { cpu: "2", node: "n1" }), false, 1);
    ledger.pod(pod("b", { cpu: "2", node: "n1" }), false, 2);
    expect(ledger.counts().overcommit).toBe(1);
    // Who holds the room is named, to tell which bind went over.
    expect(ledger.violations[0]?.detail).toMatch(
      /^n1: cpu 5 requested of 4 by \S+\/a 3 bound [0-9:.]+, \S+\/b 2 bound/,
    );
    // b finishes: room is back; a new pod going over is a second episode.
    ledger.pod(pod("b", { cpu: "2", node: "n1", phase: "Succeeded" }), false, 3);
    ledger.pod(pod("c", { cpu: "1", node: "n1" }), false, 4);
    expect(ledger.counts().overcommit).toBe(1);
    ledger.pod(pod("d", { cpu: "500m", node: "n1" }), false, 5);
    expect(ledger.counts().overcommit).toBe(2);
  });
});

describe("doubleBinds", () => {
  it("counts a pod seen on one node and then another", () => {
    const ledger = new InvariantLedger(limits);
    ledger.pod(pod("a", { node: "n1" }), false, 0);
    ledger.pod(pod("a", { node: "n1" }), false, 1);
    expect(ledger.counts().doubleBinds).toBe(0);
    ledger.pod(pod("a", { node: "n2" }), false, 2);
    expect(ledger.counts().doubleBinds).toBe(1);
  });
});

describe("partialGangs", () => {
  it("counts a gang partly bound for longer than the limit, once", () => {
    const ledger = new InvariantLedger(limits);
    ledger.pod(pod("g-0", { group: "g", min: 2, node: "n1" }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 2 }), false, 0);
    ledger.tick(4_000);
    expect(ledger.counts().partialGangs).toBe(0);
    ledger.tick(6_000);
    ledger.tick(9_000);
    expect(ledger.counts().partialGangs).toBe(1);
  });

  it("does not count a gang completed, or rolled back, within the limit", () => {
    const ledger = new InvariantLedger(limits);
    ledger.pod(pod("g-0", { group: "g", min: 2, node: "n1" }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 2 }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 2, node: "n2" }), false, 3_000);
    ledger.pod(pod("h-0", { group: "h", min: 2, node: "n1" }), false, 0);
    ledger.pod(pod("h-1", { group: "h", min: 2 }), false, 0);
    ledger.pod(pod("h-0", { group: "h", min: 2, node: "n1", deleting: true }), false, 4_000);
    ledger.tick(20_000);
    expect(ledger.counts().partialGangs).toBe(0);
  });
});

describe("foreignBinds", () => {
  const lease = (epoch: number, members: string[], lends: Record<string, string> = {}): k8s.V1Lease => ({
    metadata: {
      name: "ring",
      annotations: {
        "sharded-scheduler.io/ring-epoch": String(epoch),
        "sharded-scheduler.io/ring-members": members.join(","),
        "sharded-scheduler.io/ring-node-owners": JSON.stringify(lends),
      },
    },
  });

  it("judges each bind by the owner under the epoch it names; unknown epochs apart", () => {
    const ledger = new InvariantLedger(limits);
    ledger.ringLease(lease(1, ["shard-a", "shard-b"]));
    const owners = new RingOwners(["shard-a", "shard-b"]);
    const owner = owners.ownerOf("n1") as string;
    const other = owner === "shard-a" ? "shard-b" : "shard-a";
    ledger.event(event("Scheduled", "p", `Successfully assigned ns/p to n1 (ring epoch 1)`, owner), 0);
    ledger.event(event("Scheduled", "q", `Successfully assigned ns/q to n1 (ring epoch 1)`, other), 0);
    ledger.event(event("Scheduled", "r", `Successfully assigned ns/r to n1 (ring epoch 7)`, other), 0);
    const { foreign, unverifiable } = ledger.foreignBinds();
    expect(foreign.map((bind) => bind.pod)).toEqual(["q"]);
    expect(unverifiable.map((bind) => bind.pod)).toEqual(["r"]);
    expect(ledger.counts().foreignBinds).toBe(1);
  });

  it("takes a lent node's borrower as its owner while the borrower is a member", () => {
    const ledger = new InvariantLedger(limits);
    const owner = new RingOwners(["shard-a", "shard-b"]).ownerOf("n1") as string;
    const borrower = owner === "shard-a" ? "shard-b" : "shard-a";
    ledger.ringLease(lease(2, ["shard-a", "shard-b"], { n1: borrower }));
    ledger.event(event("Scheduled", "p", `Successfully assigned ns/p to n1 (ring epoch 2)`, borrower), 0);
    expect(ledger.counts().foreignBinds).toBe(0);
  });
});

describe("RingOwners", () => {
  it("names the same owner as the shards' ring for every key (the documented scheme)", () => {
    for (const members of [["s-0"], ["s-0", "s-1", "s-2"], ["b", "a", "c", "d", "e"]]) {
      const ours = new RingOwners(members);
      const theirs = new ShardRing(members);
      for (let i = 0; i < 2000; i++) expect(ours.ownerOf(`node-${i}`)).toBe(theirs.ownerOf(`node-${i}`));
    }
  });
});

describe("badPreemptions", () => {
  /** A running low gang v (2 members) and a pending high solo preemptor. */
  function setUp(victimPriority: number): InvariantLedger {
    const ledger = new InvariantLedger(limits);
    ledger.pod(pod("v-0", { group: "v", min: 2, node: "n1", priority: victimPriority }), false, 0);
    ledger.pod(pod("v-1", { group: "v", min: 2, node: "n2", priority: victimPriority }), false, 0);
    ledger.pod(pod("hi", { priority: 100 }), false, 0);
    return ledger;
  }
  const evict = (ledger: InvariantLedger, name: string, node: string, at: number, priority = 10) => {
    ledger.event(
      event("Preempted", name, "Preempted by pod:ns/hi (whole group evicted) to make room on n1"),
      at,
    );
    ledger.pod(pod(name, { group: "v", min: 2, node, priority, evicted: true, deleting: true }), false, at);
  };

  it("accepts a whole lower-priority group evicted, then the preemptor bound", () => {
    const ledger = setUp(10);
    evict(ledger, "v-0", "n1", 1_000);
    evict(ledger, "v-1", "n2", 1_100);
    ledger.pod(pod("hi", { priority: 100, node: "n1" }), false, 3_000);
    ledger.tick(30_000);
    expect(ledger.counts().badPreemptions).toBe(0);
    expect(ledger.stats().evictions).toBe(2);
  });

  it("counts a group evicted in part", () => {
    const ledger = setUp(10);
    evict(ledger, "v-0", "n1", 1_000);
    ledger.pod(pod("hi", { priority: 100, node: "n1" }), false, 3_000);
    ledger.tick(30_000);
    expect(ledger.violations.filter((v) => v.kind === "badPreemptions").map((v) => v.detail)).toEqual([
      "group:ns/v: partly evicted below min-member 2; ns/v-1 still bound",
    ]);
    // What stayed is also a partial gang.
    expect(ledger.counts().partialGangs).toBe(1);
  });

  it("counts a victim of equal priority", () => {
    const ledger = setUp(100);
    evict(ledger, "v-0", "n1", 1_000, 100);
    evict(ledger, "v-1", "n2", 1_000, 100);
    ledger.pod(pod("hi", { priority: 100, node: "n1" }), false, 3_000);
    ledger.tick(30_000);
    expect(ledger.counts().badPreemptions).toBe(1);
  });

  it("counts a preemptor still not fully bound after the limit", () => {
    const ledger = setUp(10);
    evict(ledger, "v-0", "n1", 1_000);
    evict(ledger, "v-1", "n2", 1_000);
    ledger.tick(15_000);
    expect(ledger.counts().badPreemptions).toBe(0);
    ledger.tick(30_000);
    expect(ledger.counts().badPreemptions).toBe(1);
  });

  it("excuses a preemptor whose nominated node a higher-priority pod claimed after the eviction", () => {
    const ledger = setUp(10);
    ledger.pod(pod("hi", { priority: 100, nominated: "n1" }), false, 500);
    evict(ledger, "v-0", "n1", 1_000);
    evict(ledger, "v-1", "n2", 1_000);
    ledger.pod(pod("higher", { priority: 500, node: "n1" }), false, 2_000);
    ledger.tick(30_000);
    expect(ledger.counts().badPreemptions).toBe(0);
    expect(ledger.stats().displacedPreemptors).toBe(1);
  });
});

describe("lostPods", () => {
  it("counts pending groups the free room held in every sample, with the same pods", () => {
    const ledger = new InvariantLedger(limits);
    ledger.node(node("n1", "4"), false);
    ledger.node(node("n2", "4"), false);
    ledger.pod(pod("busy", { cpu: "3", node: "n1" }), false, 0);
    // Fits: n1 has 1 cpu free and n2 has 4, which holds both 2-cpu members.
    ledger.pod(pod("g-0", { group: "g", min: 2, cpu: "2" }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 2, cpu: "2" }), false, 0);
    // Does not fit: 5 cpu on no node.
    ledger.pod(pod("big", { cpu: "5" }), false, 0);
    const earlier = ledger.pendingGroupsThatFit();
    expect([...earlier.keys()]).toEqual(["group:ns/g"]);
    const later = ledger.pendingGroupsThatFit();
    expect(ledger.lostPods([earlier, later], 1)).toBe(2);
    expect(ledger.counts().lostPods).toBe(1);
  });

  // Room freed (a pod finished), taken by another group, freed again: the group lost a race in
  // between, the scheduler did not lose it.
  it("does not count a group the room held at the first and last look but not at one between", () => {
    const ledger = new InvariantLedger(limits);
    ledger.node(node("n1", "4"), false);
    ledger.pod(pod("g-0", { group: "g", min: 2, cpu: "2" }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 2, cpu: "2" }), false, 0);
    const first = ledger.pendingGroupsThatFit();
    ledger.pod(pod("other", { cpu: "3", node: "n1" }), false, 1_000);
    const between = ledger.pendingGroupsThatFit();
    expect(between.size).toBe(0);
    ledger.pod(pod("other", { cpu: "3", node: "n1", phase: "Succeeded" }), false, 2_000);
    const last = ledger.pendingGroupsThatFit();
    expect([...first.keys(), ...last.keys()]).toEqual(["group:ns/g", "group:ns/g"]);
    expect(ledger.lostPods([first, between, last], 3_000)).toBe(0);
    // The same looks without the one between: lost.
    expect(ledger.lostPods([first, last], 3_000)).toBe(2);
  });

  it("does not count a group whose pending pods were not pending at an earlier look", () => {
    const ledger = new InvariantLedger(limits);
    ledger.node(node("n1", "4"), false);
    ledger.pod(pod("g-0", { group: "g", min: 1, cpu: "1" }), false, 0);
    const first = ledger.pendingGroupsThatFit();
    ledger.pod(pod("g-1", { group: "g", min: 1, cpu: "1" }), false, 1_000);
    expect(ledger.lostPods([first, ledger.pendingGroupsThatFit()], 2_000)).toBe(0);
  });

  it("says in the violation what the lost group's pods show and which other pods hold nominations", () => {
    const ledger = new InvariantLedger(limits);
    ledger.node(node("n1", "4"), false);
    ledger.node(node("n2", "4"), false);
    ledger.pod(pod("g-0", { group: "g", min: 1, cpu: "1" }), false, 0);
    // Pending and nominated to n2 (a preemptor), but too big for the free room: not lost itself.
    ledger.pod(pod("wide", { cpu: "5", priority: 10, nominated: "n2" }), false, 0);
    const earlier = ledger.pendingGroupsThatFit();
    ledger.lostPods([earlier, ledger.pendingGroupsThatFit()], 1);
    expect(ledger.violations.map((v) => v.detail)).toEqual([
      expect.stringContaining("other pending pods' nominations: ns/wide@n2(p10)"),
    ]);
  });

  it("names the shard and relief count a lost group's Owner and Relief conditions show, not its annotations", () => {
    const ledger = new InvariantLedger(limits);
    ledger.node(node("n1", "4"), false);
    const forged = pod("f-0", { group: "f", min: 1, cpu: "1" });
    forged.metadata = {
      ...forged.metadata,
      annotations: {
        ...forged.metadata?.annotations,
        "sharded-scheduler.io/owner": "shard-tenant",
        "sharded-scheduler.io/relief-attempts": "9",
      },
    };
    const pinned = pod("p-0", { group: "p", min: 1, cpu: "1" });
    pinned.status = {
      ...pinned.status,
      conditions: [
        { type: "PodScheduled", status: "False", reason: "Unschedulable", message: "no room" },
        {
          type: "sharded-scheduler.io/Owner",
          status: "True",
          reason: "HandedOff",
          message: "shard=shard-b epoch=4",
        },
        {
          type: "sharded-scheduler.io/Relief",
          status: "True",
          reason: "HandedOff",
          message: "attempts=2 at=1000",
        },
      ],
    };
    ledger.pod(forged, false, 0);
    ledger.pod(pinned, false, 0);
    const earlier = ledger.pendingGroupsThatFit();
    ledger.lostPods([earlier, ledger.pendingGroupsThatFit()], 1);
    const details = ledger.violations.map((v) => v.detail);
    expect(details).toEqual([
      expect.stringMatching(/group:ns\/f.*owner \(ring: .*relief attempts 0,/),
      expect.stringMatching(/group:ns\/p.*owner shard-b, relief attempts 2,/),
    ]);
    expect(details.join("\n")).not.toContain("shard-tenant");
  });

  it("lists each member's pin when a lost group's members are pinned to different shards", () => {
    const ledger = new InvariantLedger(limits);
    ledger.node(node("n1", "4"), false);
    const pinnedTo = (name: string, shard: string) => {
      const member = pod(name, { group: "m", min: 2, cpu: "1" });
      member.status = {
        ...member.status,
        conditions: [
          {
            type: "sharded-scheduler.io/Owner",
            status: "True",
            reason: "HandedOff",
            message: `shard=${shard} epoch=4`,
          },
        ],
      };
      return member;
    };
    ledger.pod(pinnedTo("m-0", "shard-a"), false, 0);
    ledger.pod(pinnedTo("m-1", "shard-b"), false, 0);
    const earlier = ledger.pendingGroupsThatFit();
    ledger.lostPods([earlier, ledger.pendingGroupsThatFit()], 1);
    expect(ledger.violations.map((v) => v.detail)).toEqual([
      expect.stringContaining("owner pins differ: shard-a,shard-b, relief attempts 0,"),
    ]);
  });

  it("counts a gang's members that succeeded toward its min-member, members that failed not", () => {
    const ledger = new InvariantLedger(limits);
    ledger.node(node("n1", "4"), false);
    ledger.pod(pod("g-0", { group: "g", min: 3, cpu: "1", node: "n1", phase: "Succeeded" }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 3, cpu: "1" }), false, 0);
    ledger.pod(pod("g-2", { group: "g", min: 3, cpu: "1" }), false, 0);
    ledger.pod(pod("h-0", { group: "h", min: 3, cpu: "1", node: "n1", phase: "Failed" }), false, 0);
    ledger.pod(pod("h-1", { group: "h", min: 3, cpu: "1" }), false, 0);
    ledger.pod(pod("h-2", { group: "h", min: 3, cpu: "1" }), false, 0);
    expect([...ledger.pendingGroupsThatFit().keys()]).toEqual(["group:ns/g"]);
  });

  it("does not count a group that fits only in the later sample", () => {
    const ledger = new InvariantLedger(limits);
    ledger.node(node("n1", "4"), false);
    ledger.pod(pod("busy", { cpu: "3", node: "n1" }), false, 0);
    ledger.pod(pod("p", { cpu: "2" }), false, 0);
    const earlier = ledger.pendingGroupsThatFit();
    ledger.pod(pod("busy", { cpu: "3", node: "n1", phase: "Succeeded" }), false, 1);
    const later = ledger.pendingGroupsThatFit();
    expect(ledger.lostPods([earlier, later], 2)).toBe(0);
  });
});

describe("groupsThatFit", () => {
  const room = (name: string, cpu: number, extra: Partial<RoomNode> = {}): RoomNode => ({
    name,
    labels: {},
    taints: [],
    usable: true,
    allocatable: new Map([
      ["cpu", cpu],
      ["pods", 110],
    ]),
    used: new Map(),
    ...extra,
  });
  const member = (cpu: number, extra = {}) => ({
    requests: new Map([
      ["cpu", cpu],
      ["pods", 1],
    ]),
    nodeSelector: {},
    tolerations: [],
    hasAffinity: false,
    ...extra,
  });

  it("respects taints, node selectors, readiness, and reserves room across groups", () => {
    const nodes = [
      room("tainted", 8, { taints: [{ key: "dedicated", value: "x", effect: "NoSchedule" }] }),
      room("cordoned", 8, { usable: false }),
      room("gpu", 8, { labels: { kind: "gpu" } }),
      room("plain", 4),
    ];
    expect(groupsThatFit(nodes, [{ id: "a", priority: 0, pods: [member(6)] }])).toEqual(["a"]);
    expect(
      groupsThatFit(nodes, [{ id: "a", priority: 0, pods: [member(6, { nodeSelector: { kind: "cpu" } })] }]),
    ).toEqual([]);
    const tolerant = member(6, { tolerations: [{ key: "dedicated", operator: "Exists" }] });
    expect(groupsThatFit(nodes, [{ id: "t", priority: 0, pods: [tolerant, tolerant] }])).toEqual(["t"]);
    // High first takes gpu's room; the low one no longer fits anywhere.
    expect(
      groupsThatFit(nodes, [
        { id: "low", priority: 1, pods: [member(7)] },
        { id: "high", priority: 9, pods: [member(7)] },
      ]),
    ).toEqual(["high"]);
    expect(
      groupsThatFit(nodes, [{ id: "aff", priority: 0, pods: [member(1, { hasAffinity: true })] }]),
    ).toEqual([]);
  });

  it("places on a lent node only the group it was lent for", () => {
    const nodes = [room("lent", 8, { lentFor: "group:ns/owner" }), room("small", 2)];
    expect(groupsThatFit(nodes, [{ id: "group:ns/other", priority: 0, pods: [member(6)] }])).toEqual([]);
    expect(groupsThatFit(nodes, [{ id: "group:ns/owner", priority: 0, pods: [member(6)] }])).toEqual([
      "group:ns/owner",
    ]);
  });
});

describe("gatedPartialGangs", () => {
  it("counts a never-started gang bound in part while a gated member keeps it below min-member, once", () => {
    const ledger = new InvariantLedger(limits);
    ledger.pod(pod("g-0", { group: "g", min: 3, gated: true }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 3 }), false, 0);
    ledger.pod(pod("g-2", { group: "g", min: 3, gated: true }), false, 0);
    // g-1's gate-free neighbour: the scheduler binds what it could, though g-0 and g-2 are gated.
    ledger.pod(pod("g-1", { group: "g", min: 3, node: "n1" }), false, 1_000);
    ledger.tick(3_500);
    expect(ledger.counts().gatedPartialGangs).toBe(0);
    ledger.tick(4_500);
    ledger.tick(9_000);
    expect(ledger.violations.filter((v) => v.kind === "gatedPartialGangs").map((v) => v.detail)).toEqual([
      "group:ns/g: 1 of 3 bound while 2 gated member(s) kept it from min-member (1 could count) for 4s",
    ]);
    // The gates go and the gang completes: a later episode would be counted anew, this one is over.
    ledger.pod(pod("g-0", { group: "g", min: 3, node: "n2" }), false, 10_000);
    ledger.pod(pod("g-2", { group: "g", min: 3, node: "n2" }), false, 10_000);
    ledger.tick(20_000);
    expect(ledger.counts().gatedPartialGangs).toBe(1);
  });

  it("accepts a gang held whole until its gates go, briefly partial gated, or gated beyond min-member", () => {
    const ledger = new InvariantLedger(limits);
    // Held: nothing bound while g-2 is gated; bound once the gate went.
    ledger.pod(pod("g-0", { group: "g", min: 3 }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 3 }), false, 0);
    ledger.pod(pod("g-2", { group: "g", min: 3, gated: true }), false, 0);
    ledger.tick(8_000);
    ledger.pod(pod("g-2", { group: "g", min: 3 }), false, 8_000);
    for (const name of ["g-0", "g-1", "g-2"])
      ledger.pod(pod(name, { group: "g", min: 3, node: "n1" }), false, 8_100);
    // Within the grace: h-1's gate went 2 s after h-0 was bound.
    ledger.pod(pod("h-0", { group: "h", min: 2, node: "n1" }), false, 10_000);
    ledger.pod(pod("h-1", { group: "h", min: 2, gated: true }), false, 10_000);
    ledger.pod(pod("h-1", { group: "h", min: 2, node: "n1" }), false, 12_000);
    // min-member 2 of 3 members: two bound and ungated, the third gated does not count.
    ledger.pod(pod("e-0", { group: "e", min: 2, node: "n1" }), false, 0);
    ledger.pod(pod("e-1", { group: "e", min: 2, node: "n1" }), false, 0);
    ledger.pod(pod("e-2", { group: "e", min: 2, gated: true }), false, 0);
    ledger.tick(30_000);
    expect(ledger.counts().gatedPartialGangs).toBe(0);
  });

  it("leaves a gang being evicted, its evicted members replaced gated, to badPreemptions", () => {
    const ledger = new InvariantLedger(limits);
    ledger.pod(pod("g-0", { group: "g", min: 2, node: "n1" }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 2 }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 2, node: "n1", evicted: true, deleting: true }), false, 100);
    ledger.pod(pod("g-2", { group: "g", min: 2, gated: true }), false, 200);
    ledger.tick(4_000);
    expect(ledger.counts().gatedPartialGangs).toBe(0);
  });

  it("accepts a started gang whose replacement member is gated (all-or-nothing is for the first start)", () => {
    const ledger = new InvariantLedger(limits);
    ledger.pod(pod("g-0", { group: "g", min: 2, node: "n1" }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 2, node: "n1" }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 2, node: "n1", phase: "Failed" }), false, 1_000);
    ledger.pod(pod("g-2", { group: "g", min: 2, gated: true }), false, 1_000);
    ledger.tick(30_000);
    expect(ledger.counts().gatedPartialGangs).toBe(0);
  });
});

describe("rolledBackRunningGangs", () => {
  const deleting = { deleting: true };
  /** What a shard writes on a member it deletes in a rollback. */
  const rollback = (ledger: InvariantLedger, name: string, at: number) =>
    ledger.event(event("GangRollback", name, "pod group ns/x stayed partially bound for 60s; deleting"), at);

  it("counts a group without min-member whose running member was deleted while more were pending", () => {
    const ledger = new InvariantLedger(limits);
    ledger.pod(pod("w-0", { group: "w", node: "n1" }), false, 0);
    ledger.pod(pod("w-1", { group: "w", node: "n2" }), false, 0);
    ledger.pod(pod("w-2", { group: "w" }), false, 5_000);
    rollback(ledger, "w-0", 65_000);
    ledger.pod(pod("w-0", { group: "w", node: "n1", ...deleting }), false, 65_000);
    rollback(ledger, "w-1", 65_000);
    ledger.pod(pod("w-1", { group: "w", node: "n2", ...deleting }), false, 65_000);
    expect(ledger.violations.filter((v) => v.kind === "rolledBackRunningGangs").map((v) => v.detail)).toEqual(
      [
        "group:ns/w: ns/w-0 deleted while bound, 65s after the group started (min-member 1; 1 still bound, 1 pending)",
      ],
    );
  });

  it("counts a started gang rolled back, once per run, and again in a later run", () => {
    const ledger = new InvariantLedger(limits);
    ledger.pod(pod("g-0", { group: "g", min: 2, node: "n1" }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 2, node: "n1" }), false, 0);
    ledger.pod(pod("g-0", { group: "g", min: 2, node: "n1", ...deleting }), false, 1_000);
    ledger.pod(pod("g-1", { group: "g", min: 2, node: "n1", ...deleting }), false, 1_000);
    // The Events come on their own watch, here after the deletions.
    rollback(ledger, "g-0", 1_050);
    rollback(ledger, "g-1", 1_050);
    ledger.pod(pod("g-0", { group: "g", min: 2, node: "n1", ...deleting }), true, 1_100);
    ledger.pod(pod("g-1", { group: "g", min: 2, node: "n1", ...deleting }), true, 1_100);
    expect(ledger.counts().rolledBackRunningGangs).toBe(1);
    ledger.pod(pod("g-2", { group: "g", min: 2, node: "n2" }), false, 2_000);
    ledger.pod(pod("g-3", { group: "g", min: 2, node: "n2" }), false, 2_000);
    rollback(ledger, "g-3", 3_000);
    ledger.pod(pod("g-3", { group: "g", min: 2, node: "n2", ...deleting }), false, 3_000);
    expect(ledger.counts().rolledBackRunningGangs).toBe(2);
  });

  it("leaves a running member deleted by someone else than the scheduler (a test, an operator) alone", () => {
    const ledger = new InvariantLedger(limits);
    ledger.pod(pod("g-0", { group: "g", min: 2, node: "n1" }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 2, node: "n1" }), false, 0);
    ledger.pod(pod("g-0", { group: "g", min: 2, node: "n1", ...deleting }), false, 1_000);
    ledger.pod(pod("g-1", { group: "g", min: 2, node: "n1", ...deleting }), false, 1_000);
    ledger.tick(60_000);
    expect(ledger.counts().rolledBackRunningGangs).toBe(0);
  });

  it("accepts a never-started gang rolled back, evictions, disruptions, finished members and solo pods", () => {
    const ledger = new InvariantLedger(limits);
    // Never started: 1 of 2 bound, rolled back.
    ledger.pod(pod("g-0", { group: "g", min: 2, node: "n1" }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 2 }), false, 0);
    rollback(ledger, "g-0", 60_000);
    ledger.pod(pod("g-0", { group: "g", min: 2, node: "n1", ...deleting }), false, 60_000);
    // Evicted whole.
    ledger.pod(pod("v-0", { group: "v", node: "n1" }), false, 0);
    ledger.pod(pod("v-0", { group: "v", node: "n1", evicted: true, ...deleting }), false, 1_000);
    // Its nodes gone: the taint manager's deletion.
    ledger.pod(pod("t-0", { group: "t", node: "n1" }), false, 0);
    ledger.pod(
      pod("t-0", { group: "t", node: "n1", disruption: "DeletionByTaintManager", ...deleting }),
      false,
      1_000,
    );
    // Finished, then removed with its Job.
    ledger.pod(pod("f-0", { group: "f", node: "n1" }), false, 0);
    ledger.pod(pod("f-0", { group: "f", node: "n1", phase: "Succeeded" }), false, 1_000);
    ledger.pod(pod("f-0", { group: "f", node: "n1", phase: "Succeeded", ...deleting }), false, 2_000);
    // A pod of its own.
    ledger.pod(pod("solo", { node: "n1" }), false, 0);
    ledger.pod(pod("solo", { node: "n1", ...deleting }), false, 1_000);
    expect(ledger.counts().rolledBackRunningGangs).toBe(0);
  });

  it("leaves a victim's members deleted after part of it was evicted to badPreemptions", () => {
    const ledger = new InvariantLedger(limits);
    ledger.pod(pod("v-0", { group: "v", min: 2, node: "n1" }), false, 0);
    ledger.pod(pod("v-1", { group: "v", min: 2, node: "n2" }), false, 0);
    ledger.pod(pod("v-0", { group: "v", min: 2, node: "n1", evicted: true, ...deleting }), false, 1_000);
    ledger.pod(pod("v-1", { group: "v", min: 2, node: "n2", ...deleting }), false, 60_000);
    expect(ledger.counts().rolledBackRunningGangs).toBe(0);
  });
});

describe("priorityEscalations", () => {
  /** A running gang v at priority 2000 and a pending preemptor m whose members have these shapes. */
  function setUp(preemptor: PodShape[]): InvariantLedger {
    const ledger = new InvariantLedger(limits);
    ledger.pod(pod("v-0", { group: "v", min: 2, node: "n1", priority: 2000 }), false, 0);
    ledger.pod(pod("v-1", { group: "v", min: 2, node: "n2", priority: 2000 }), false, 0);
    preemptor.forEach((shape, i) => {
      ledger.pod(pod(`m-${i}`, { group: "m", min: preemptor.length, ...shape }), false, 0);
    });
    return ledger;
  }
  const evictV = (ledger: InvariantLedger, at: number) => {
    for (const [name, node] of [
      ["v-0", "n1"],
      ["v-1", "n2"],
    ] as const) {
      ledger.event(
        event("Preempted", name, "Preempted by group:ns/m (whole group evicted) to make room on n1"),
        at,
      );
      ledger.pod(
        pod(name, { group: "v", min: 2, node, priority: 2000, evicted: true, deleting: true }),
        false,
        at,
      );
    }
  };

  it("counts a preemption by a group whose members disagree on priority, once per victim group", () => {
    const ledger = setUp([{ priority: 1000 }, { priority: 3000 }]);
    evictV(ledger, 1_000);
    ledger.tick(2_000);
    ledger.tick(40_000);
    expect(ledger.violations.map((v) => `${v.kind}: ${v.detail}`)).toEqual([
      "priorityEscalations: group:ns/m evicted group:ns/v (priority 2000, not below its member at 1000) " +
        "though its members disagree on priority (1000, 3000)",
    ]);
  });

  it("counts a preemption by a group one of whose members has preemptionPolicy Never", () => {
    const ledger = setUp([{ priority: 3000 }, { priority: 3000, preemptionPolicy: "Never" }]);
    evictV(ledger, 1_000);
    ledger.tick(2_000);
    expect(ledger.violations.map((v) => v.detail)).toEqual([
      "group:ns/m evicted group:ns/v (priority 2000) though its member ns/m-1 has preemptionPolicy Never",
    ]);
  });

  it("accepts a preemption by a group that agrees on a higher priority; an equal victim stays badPreemptions", () => {
    const ledger = setUp([{ priority: 3000 }, { priority: 3000 }]);
    evictV(ledger, 1_000);
    ledger.pod(pod("m-0", { group: "m", min: 2, priority: 3000, node: "n1" }), false, 2_000);
    ledger.pod(pod("m-1", { group: "m", min: 2, priority: 3000, node: "n2" }), false, 2_000);
    ledger.tick(40_000);
    expect(ledger.counts().priorityEscalations).toBe(0);
    expect(ledger.counts().badPreemptions).toBe(0);

    const equal = setUp([{ priority: 2000 }, { priority: 2000 }]);
    evictV(equal, 1_000);
    equal.tick(2_000);
    expect(equal.counts().priorityEscalations).toBe(0);
    expect(equal.counts().badPreemptions).toBe(1);
  });

  it("reports binds of a group whose members disagree as a detail, and never counts its pods as lost", () => {
    const ledger = new InvariantLedger(limits);
    ledger.node(node("n1", "4"), false);
    ledger.pod(pod("m-0", { group: "m", min: 2, priority: 1000 }), false, 0);
    ledger.pod(pod("m-1", { group: "m", min: 2, priority: 3000 }), false, 0);
    expect(ledger.pendingPods()).toBe(0);
    expect([...ledger.pendingGroupsThatFit().keys()]).toEqual([]);
    ledger.pod(pod("m-1", { group: "m", min: 2, priority: 3000, node: "n1" }), false, 1_000);
    expect(ledger.stats()).toMatchObject({ mixedPriorityGroups: 1, mixedPriorityBinds: 1 });
    expect(ledger.violations).toEqual([]);
  });
});

describe("gated pods", () => {
  it("are neither pending nor lost, and are counted as seen", () => {
    const ledger = new InvariantLedger(limits);
    ledger.node(node("n1", "4"), false);
    ledger.pod(pod("g-0", { group: "g", min: 2 }), false, 0);
    ledger.pod(pod("g-1", { group: "g", min: 2, gated: true }), false, 0);
    ledger.pod(pod("s", { gated: true }), false, 0);
    expect(ledger.pendingPods()).toBe(1);
    expect([...ledger.pendingGroupsThatFit().keys()]).toEqual([]);
    ledger.pod(pod("g-1", { group: "g", min: 2 }), false, 1_000);
    expect([...ledger.pendingGroupsThatFit().keys()]).toEqual(["group:ns/g"]);
    expect(ledger.stats().gatedPods).toBe(2);
  });
});

describe("victims by disruption mode", () => {
  /** A native PodGroup as the API server shows it, with a DisruptionTarget mark written at `markedAt`. */
  function podGroup(name: string, minCount: number, mode: "single" | "all", markedAt?: string) {
    return {
      apiVersion: "scheduling.k8s.io/v1beta1",
      kind: "PodGroup",
      metadata: { name, namespace: "ns" },
      spec: { schedulingPolicy: { gang: { minCount } }, disruptionMode: { [mode]: {} }, priority: 1 },
      status: {
        conditions: markedAt
          ? [
              {
                type: "DisruptionTarget",
                status: "True",
                reason: "PreemptionByScheduler",
                message: "sharded-scheduler: preempting to accommodate a higher priority group pod:ns/hi",
                lastTransitionTime: markedAt,
              },
            ]
          : [],
      },
    };
  }
  const preempted = (ledger: InvariantLedger, name: string, at: number) =>
    ledger.event(event("Preempted", name, "Preempted by pod:ns/hi (member evicted) to make room on n1"), at);

  /** Members v-0…v-(size-1) of PodGroup v on n1…, running; and the preemptor. */
  function nativeGang(ledger: InvariantLedger, size: number) {
    for (let i = 0; i < size; i++)
      ledger.pod(pod(`v-${i}`, { podGroup: "v", node: `n${i + 1}`, priority: 0 }), false, 0);
    ledger.pod(pod("hi", { priority: 100 }), false, 0);
  }
  const evictNative = (ledger: InvariantLedger, name: string, node: string, at: number, time: string) => {
    preempted(ledger, name, at);
    ledger.pod(
      pod(name, { podGroup: "v", node, evicted: true, deleting: true, evictedTime: time }),
      false,
      at,
    );
  };
  const details = (ledger: InvariantLedger, kind: string) =>
    ledger.violations.filter((v) => v.kind === kind).map((v) => v.detail);

  it("lets an annotation gang lose members above its min-member, not below it", () => {
    for (const [min, expected] of [
      [2, 0],
      [3, 1],
    ] as const) {
      const ledger = new InvariantLedger(limits);
      for (const i of [0, 1, 2])
        ledger.pod(pod(`v-${i}`, { group: "v", min, node: `n${i + 1}`, priority: 10 }), false, 0);
      ledger.pod(pod("hi", { priority: 100 }), false, 0);
      preempted(ledger, "v-2", 1_000);
      ledger.pod(
        pod("v-2", { group: "v", min, node: "n3", priority: 10, evicted: true, deleting: true }),
        false,
        1_000,
      );
      ledger.pod(pod("hi", { priority: 100, node: "n3" }), false, 2_000);
      ledger.tick(30_000);
      expect(ledger.counts().badPreemptions, `min-member ${min}`).toBe(expected);
    }
  });

  it("counts a PodGroup with disruptionMode all evicted in part, not one with single", () => {
    for (const [mode, expected] of [
      ["all", ["podgroup:ns/v: partly evicted (disruptionMode all); ns/v-0 still bound"]],
      ["single", []],
    ] as const) {
      const ledger = new InvariantLedger(limits);
      ledger.podGroup(podGroup("v", 1, mode, "2026-01-01T00:00:00Z"), false, 0);
      nativeGang(ledger, 2);
      evictNative(ledger, "v-1", "n2", 1_000, "2026-01-01T00:00:01Z");
      ledger.pod(pod("hi", { priority: 100, node: "n2" }), false, 2_000);
      ledger.tick(30_000);
      expect(details(ledger, "badPreemptions"), mode).toEqual(expected);
      expect(ledger.counts().partialGangs).toBe(0);
      expect(ledger.counts().unmarkedVictimPodGroups).toBe(0);
    }
  });

  it("reads a native gang's priority from its PodGroup, not from its members", () => {
    const ledger = new InvariantLedger(limits);
    ledger.podGroup(
      { ...podGroup("v", 1, "single"), spec: { ...podGroup("v", 1, "single").spec, priority: 500 } },
      false,
      0,
    );
    nativeGang(ledger, 2);
    evictNative(ledger, "v-1", "n2", 1_000, "2026-01-01T00:00:01Z");
    ledger.tick(2_000);
    // The members say priority 0, their PodGroup 500: the preemptor at 100 may not evict it.
    expect(details(ledger, "badPreemptions")).toEqual([
      "pod:ns/hi (priority 100) evicted podgroup:ns/v (priority 500)",
    ]);
  });

  it("counts a native victim PodGroup never marked DisruptionTarget, or marked after its eviction", () => {
    const cases = [
      { mark: "2026-01-01T00:00:05Z", evicted: "2026-01-01T00:00:05Z", expected: 0 },
      { mark: "2026-01-01T00:00:04Z", evicted: "2026-01-01T00:00:05Z", expected: 0 },
      { mark: "2026-01-01T00:00:07Z", evicted: "2026-01-01T00:00:05Z", expected: 1 },
      { mark: undefined, evicted: "2026-01-01T00:00:05Z", expected: 1 },
    ];
    for (const { mark, evicted, expected } of cases) {
      const ledger = new InvariantLedger(limits);
      ledger.podGroup(podGroup("v", 1, "single"), false, 0);
      nativeGang(ledger, 2);
      evictNative(ledger, "v-1", "n2", 1_000, evicted);
      // The PodGroup watch brings the mark after the pod's eviction: its time decides, not arrival.
      if (mark) ledger.podGroup(podGroup("v", 1, "single", mark), false, 1_500);
      ledger.tick(2_000);
      ledger.tick(30_000);
      expect(ledger.counts().unmarkedVictimPodGroups, `mark ${mark}`).toBe(expected);
    }
  });

  it("does not ask a mark of a PodGroup whose member nobody preempted (an eviction by hand)", () => {
    const ledger = new InvariantLedger(limits);
    ledger.podGroup(podGroup("v", 1, "single"), false, 0);
    nativeGang(ledger, 2);
    ledger.pod(pod("v-1", { podGroup: "v", node: "n2", evicted: true, deleting: true }), false, 1_000);
    ledger.tick(30_000);
    expect(ledger.counts().unmarkedVictimPodGroups).toBe(0);
  });
});

describe("PodGroup CRDs (scheduler-plugins, Volcano)", () => {
  const coschedulingGroup = (name: string, minMember?: number) => ({
    apiVersion: "scheduling.x-k8s.io/v1alpha1",
    kind: "PodGroup",
    metadata: { name, namespace: "ns" },
    spec: minMember === undefined ? {} : { minMember },
  });
  const volcanoGroup = (name: string, minMember: number, priorityClassName?: string) => ({
    apiVersion: "scheduling.volcano.sh/v1beta1",
    kind: "PodGroup",
    metadata: { name, namespace: "ns" },
    spec: { minMember, ...(priorityClassName ? { priorityClassName } : {}) },
  });
  const priorityClass = (name: string, value: number, globalDefault = false): k8s.V1PriorityClass => ({
    metadata: { name },
    value,
    globalDefault,
  });
  const served = () => {
    const ledger = new InvariantLedger(limits);
    ledger.serveCrd("scheduling.x-k8s.io");
    ledger.serveCrd("scheduling.volcano.sh");
    return ledger;
  };
  const details = (ledger: InvariantLedger, kind: string) =>
    ledger.violations.filter((v) => v.kind === kind).map((v) => v.detail);
  /** Volcano group v's member v-0 (saying priority 0) on n1, evicted for pod hi (100), then hi bound there. */
  function preemptVolcanoMember(ledger: InvariantLedger): void {
    ledger.pod(pod("v-0", { volcano: "v", node: "n1", priority: 0 }), false, 0);
    ledger.pod(pod("hi", { priority: 100 }), false, 0);
    ledger.event(
      event("Preempted", "v-0", "Preempted by pod:ns/hi (whole group evicted) to make room on n1"),
      1_000,
    );
    ledger.pod(pod("v-0", { volcano: "v", node: "n1", evicted: true, deleting: true }), false, 1_000);
    ledger.pod(pod("hi", { priority: 100, node: "n1" }), false, 2_000);
  }

  it("holds a scheduler-plugins gang to spec.minMember: partly bound past the limit is partial", () => {
    for (const [minMember, expected] of [
      [3, ["podgroup.scheduling.x-k8s.io:ns/x: 2 of 3 bound for 6s"]],
      [2, []],
      // 0 or unset: one pod at a time, as coscheduling treats it.
      [undefined, []],
    ] as const) {
      const ledger = served();
      ledger.crdPodGroup("scheduling.x-k8s.io", coschedulingGroup("x", minMember), false, 0);
      ledger.pod(pod("x-0", { coscheduling: "x", node: "n1" }), false, 0);
      ledger.pod(pod("x-1", { coscheduling: "x", node: "n2" }), false, 0);
      ledger.pod(pod("x-2", { coscheduling: "x" }), false, 0);
      ledger.tick(6_000);
      expect(details(ledger, "partialGangs"), `minMember ${minMember}`).toEqual(expected);
    }
  });

  it("reads a minMember raised after the members were seen, and the label as a plain group name without the CRD", () => {
    const ledger = served();
    ledger.pod(pod("x-0", { coscheduling: "x", node: "n1" }), false, 0);
    ledger.pod(pod("x-1", { coscheduling: "x" }), false, 0);
    // Not seen yet: 1, nothing partial.
    ledger.tick(6_000);
    expect(ledger.counts().partialGangs).toBe(0);
    ledger.crdPodGroup("scheduling.x-k8s.io", coschedulingGroup("x", 2), false, 7_000);
    ledger.tick(13_000);
    expect(details(ledger, "partialGangs")).toEqual([
      "podgroup.scheduling.x-k8s.io:ns/x: 1 of 2 bound for 6s",
    ]);

    // Where the CRD is not served, the label names an annotation-style group without min-member.
    const plain = new InvariantLedger(limits);
    plain.crdPodGroup("scheduling.x-k8s.io", coschedulingGroup("x", 2), false, 0);
    plain.pod(pod("x-0", { coscheduling: "x", node: "n1" }), false, 0);
    plain.pod(pod("x-1", { coscheduling: "x" }), false, 0);
    plain.tick(20_000);
    expect(plain.counts().partialGangs).toBe(0);
    plain.event(
      event("Preempted", "x-0", "Preempted by group:ns/x (whole group evicted) to make room on n1"),
      1,
    );
    expect(plain.stats().preemptors).toBe(1);
  });

  it("takes a Volcano group's priority from its PriorityClass, never from its members", () => {
    const cases = [
      // The class named; one that does not exist falls back to the globalDefault class; none at all to 0.
      { className: "big", classes: [priorityClass("big", 500)], expected: 1 },
      { className: "gone", classes: [priorityClass("default", 400, true)], expected: 1 },
      { className: "gone", classes: [priorityClass("big", 500)], expected: 0 },
      { className: undefined, classes: [], expected: 0 },
    ];
    for (const { className, classes, expected } of cases) {
      const ledger = served();
      for (const c of classes) ledger.priorityClass(c, false);
      ledger.crdPodGroup("scheduling.volcano.sh", volcanoGroup("v", 1, className), false, 0);
      preemptVolcanoMember(ledger);
      ledger.tick(3_000);
      expect(ledger.counts().badPreemptions, `class ${className}`).toBe(expected);
    }
  });

  it("re-reads a Volcano group's priority when its PriorityClass comes after the members", () => {
    const ledger = served();
    ledger.crdPodGroup("scheduling.volcano.sh", volcanoGroup("v", 1, "big"), false, 0);
    preemptVolcanoMember(ledger);
    // The class arrives last (another watch): the group is at 500, above its preemptor.
    ledger.priorityClass(priorityClass("big", 500), false);
    ledger.tick(3_000);
    expect(details(ledger, "badPreemptions")).toEqual([
      "pod:ns/hi (priority 100) evicted podgroup.scheduling.volcano.sh:ns/v (priority 500)",
    ]);
  });

  it("lets a CRD gang lose members above its minMember, not below it", () => {
    for (const [minMember, expected] of [
      [2, []],
      [
        3,
        [
          "podgroup.scheduling.volcano.sh:ns/v: partly evicted below min-member 3; ns/v-0, ns/v-1 still bound",
        ],
      ],
    ] as const) {
      const ledger = served();
      ledger.crdPodGroup("scheduling.volcano.sh", volcanoGroup("v", minMember), false, 0);
      for (const i of [0, 1, 2]) ledger.pod(pod(`v-${i}`, { volcano: "v", node: `n${i + 1}` }), false, 0);
      ledger.pod(pod("hi", { priority: 100 }), false, 0);
      ledger.event(
        event("Preempted", "v-2", "Preempted by pod:ns/hi (member evicted) to make room on n3"),
        1_000,
      );
      ledger.pod(pod("v-2", { volcano: "v", node: "n3", evicted: true, deleting: true }), false, 1_000);
      ledger.pod(pod("hi", { priority: 100, node: "n3" }), false, 2_000);
      ledger.tick(30_000);
      expect(details(ledger, "badPreemptions"), `minMember ${minMember}`).toEqual(expected);
      // A CRD PodGroup is not marked DisruptionTarget: only native ones are asked to be.
      expect(ledger.counts().unmarkedVictimPodGroups).toBe(0);
    }
  });

  it("judges a CRD preemptor by the group id the scheduler's Events name", () => {
    const ledger = served();
    ledger.crdPodGroup("scheduling.x-k8s.io", coschedulingGroup("p", 2), false, 0);
    ledger.pod(pod("p-0", { coscheduling: "p", priority: 100 }), false, 0);
    ledger.pod(pod("p-1", { coscheduling: "p", priority: 100 }), false, 0);
    ledger.pod(pod("low", { node: "n1", priority: 1 }), false, 0);
    ledger.event(
      event(
        "Preempted",
        "low",
        "Preempted by podgroup.scheduling.x-k8s.io:ns/p (whole group evicted) to make room on n1",
      ),
      1_000,
    );
    ledger.pod(pod("low", { node: "n1", priority: 1, evicted: true, deleting: true }), false, 1_000);
    // One of its two members bound: it did not fit (min-member 2 from the PodGroup).
    ledger.pod(pod("p-0", { coscheduling: "p", priority: 100, node: "n1" }), false, 2_000);
    ledger.tick(30_000);
    expect(details(ledger, "badPreemptions")).toEqual([
      expect.stringMatching(
        /^podgroup\.scheduling\.x-k8s\.io:ns\/p evicted victims but did not fit: 1 of 2 bound/,
      ),
    ]);
  });

  it("does not count a CRD group whose PodGroup does not exist as lost; once it exists, it is", () => {
    const ledger = served();
    ledger.node(node("n1", "4"), false);
    ledger.pod(pod("x-0", { coscheduling: "x", cpu: "1" }), false, 0);
    ledger.pod(pod("x-1", { coscheduling: "x", cpu: "1" }), false, 0);
    expect([...ledger.pendingGroupsThatFit().keys()]).toEqual([]);
    expect(ledger.pendingPods()).toBe(0);
    ledger.crdPodGroup("scheduling.x-k8s.io", coschedulingGroup("x", 2), false, 1);
    const earlier = ledger.pendingGroupsThatFit();
    expect([...earlier.keys()]).toEqual(["podgroup.scheduling.x-k8s.io:ns/x"]);
    expect(ledger.lostPods([earlier, ledger.pendingGroupsThatFit()], 2)).toBe(2);
    // Deleted again: held again.
    ledger.crdPodGroup("scheduling.x-k8s.io", coschedulingGroup("x", 2), true, 3);
    expect(ledger.pendingPods()).toBe(0);
    // Read once, whatever became of it since (the chaos report shows it).
    expect(ledger.stats().podGroupsRead).toEqual({ native: 0, crd: 1 });
  });

  it("counts a running CRD gang rolled back", () => {
    const ledger = served();
    ledger.crdPodGroup("scheduling.x-k8s.io", coschedulingGroup("x", 2), false, 0);
    ledger.pod(pod("x-0", { coscheduling: "x", node: "n1" }), false, 0);
    ledger.pod(pod("x-1", { coscheduling: "x", node: "n2" }), false, 0);
    ledger.event(
      event("GangRollback", "x-0", "pod group ns/x stayed partially bound for 60s; deleting"),
      1_000,
    );
    ledger.pod(pod("x-0", { coscheduling: "x", node: "n1", deleting: true }), false, 1_000);
    expect(details(ledger, "rolledBackRunningGangs")).toEqual([
      expect.stringMatching(/^podgroup\.scheduling\.x-k8s\.io:ns\/x: ns\/x-0 deleted while bound/),
    ]);
  });

  it("leaves a pod naming PodGroups of both served CRDs out of either group", () => {
    const ledger = served();
    ledger.crdPodGroup("scheduling.x-k8s.io", coschedulingGroup("x", 2), false, 0);
    ledger.crdPodGroup("scheduling.volcano.sh", volcanoGroup("x", 2), false, 0);
    ledger.pod(pod("x-0", { coscheduling: "x", volcano: "x", node: "n1" }), false, 0);
    ledger.pod(pod("x-1", { coscheduling: "x", volcano: "x" }), false, 0);
    ledger.tick(20_000);
    // Refused by the scheduler as a CRD member: an annotation-style group "x" without min-member.
    expect(ledger.counts().partialGangs).toBe(0);
  });
});

describe("unscheduledBoundPods", () => {
  const unschedulable = {
    type: "PodScheduled",
    status: "False",
    reason: "Unschedulable",
    message: "waiting",
  };
  const withCondition = (p: k8s.V1Pod, condition: k8s.V1PodCondition): k8s.V1Pod => ({
    ...p,
    status: { ...p.status, conditions: [...(p.status?.conditions ?? []), condition] },
  });

  it("counts a bound pod whose PodScheduled condition says False, once per pod", () => {
    const ledger = new InvariantLedger(limits);
    ledger.node(node("n1"), false);
    ledger.pod(withCondition(pod("a"), unschedulable), false, 0);
    expect(ledger.counts().unscheduledBoundPods).toBe(0);
    ledger.pod(pod("a", { node: "n1" }), false, 1);
    expect(ledger.counts().unscheduledBoundPods).toBe(0);
    ledger.pod(withCondition(pod("a", { node: "n1" }), unschedulable), false, 2);
    ledger.pod(withCondition(pod("a", { node: "n1" }), unschedulable), false, 3);
    expect(ledger.counts().unscheduledBoundPods).toBe(1);
    expect(ledger.violations[0]?.detail).toContain("ns/a is bound to n1");
  });

  it("does not count a bound pod whose condition says True", () => {
    const ledger = new InvariantLedger(limits);
    ledger.node(node("n1"), false);
    ledger.pod(withCondition(pod("a", { node: "n1" }), { type: "PodScheduled", status: "True" }), false, 0);
    expect(ledger.counts().unscheduledBoundPods).toBe(0);
  });
});
