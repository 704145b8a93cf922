import type * as k8s from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { InvariantLedger, violationKinds } from "./invariant-ledger.js";

const zone = "topology.kubernetes.io/zone";
const limits = {
  partialGangMs: 5_000,
  wholeGroupEvictionMs: 5_000,
  preemptorBoundMs: 20_000,
  gatedPartialGangMs: 3_000,
  staleViewMs: 2_000,
};

function node(name: string, zoneName: string): k8s.V1Node {
  return {
    metadata: { name, labels: { type: "kwok", "kubernetes.io/hostname": name, [zone]: zoneName } },
    status: {
      allocatable: { cpu: "8", memory: "8Gi", pods: "110" },
      conditions: [{ type: "Ready", status: "True" }],
    },
  };
}

interface Shape {
  node?: string;
  labels?: Record<string, string>;
  spec?: Partial<k8s.V1PodSpec>;
  phase?: string;
}

function pod(name: string, shape: Shape = {}): k8s.V1Pod {
  return {
    metadata: { name, namespace: "ns", uid: `uid-${name}`, labels: shape.labels ?? {} },
    spec: {
      containers: [{ name: "main", resources: { requests: { cpu: "100m" } } }],
      ...(shape.node ? { nodeName: shape.node } : {}),
      ...shape.spec,
    },
    status: { phase: shape.phase ?? (shape.node ? "Running" : "Pending") },
  };
}

const antiAffineWeb: Partial<k8s.V1PodSpec> = {
  affinity: {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { app: "web" } } },
      ],
    },
  },
};
const zoneSpread: Partial<k8s.V1PodSpec> = {
  topologySpreadConstraints: [
    {
      topologyKey: zone,
      maxSkew: 1,
      whenUnsatisfiable: "DoNotSchedule",
      labelSelector: { matchLabels: { app: "web" } },
    },
  ],
};

/** A ledger with nodes a0, b0, c0, a1 (zones a, b, c, a). */
function ledger(): InvariantLedger {
  const books = new InvariantLedger(limits);
  for (const [name, z] of [
    ["a0", "zone-a"],
    ["b0", "zone-b"],
    ["c0", "zone-c"],
    ["a1", "zone-a"],
  ] as const)
    books.node(node(name, z), false);
  return books;
}

/** A pod created pending, then bound at `at`. */
function bind(books: InvariantLedger, name: string, nodeName: string, shape: Shape, at: number): void {
  books.pod(pod(name, shape), false, at - 1);
  books.pod(pod(name, { ...shape, node: nodeName }), false, at);
}

describe("placement rules in the ledger", () => {
  it("counts each new kind, and a pod once per rule", () => {
    expect(violationKinds).toEqual(
      expect.arrayContaining([
        "podAntiAffinity",
        "podAffinity",
        "spreadSkew",
        "hostPortConflicts",
        "volumeZone",
      ]),
    );
    const books = ledger();
    const web = { labels: { app: "web" }, spec: antiAffineWeb };
    bind(books, "web-1", "a0", web, 1_000);
    bind(books, "web-2", "a0", web, 2_000);
    expect(books.counts().podAntiAffinity).toBe(1);
    // The same pod seen again (a status update) is not judged again.
    books.pod(pod("web-2", { ...web, node: "a0", phase: "Running" }), false, 3_000);
    expect(books.counts().podAntiAffinity).toBe(1);
  });

  it("does not hold a pod that finished before the bind against it, nor one that finished within staleViewMs for spread", () => {
    const books = ledger();
    const web = { labels: { app: "web" }, spec: { ...antiAffineWeb } };
    bind(books, "web-1", "a0", web, 1_000);
    books.pod(pod("web-1", { ...web, node: "a0", phase: "Succeeded" }), false, 2_000);
    bind(books, "web-2", "a0", web, 10_000);
    expect(books.counts().podAntiAffinity).toBe(0);
    const spreadWeb = { labels: { app: "spread" }, spec: zoneSpreadFor("spread") };
    bind(books, "s-b", "b0", spreadWeb, 20_000);
    bind(books, "s-c", "c0", spreadWeb, 21_000);
    bind(books, "s-a", "a0", spreadWeb, 22_000);
    // s-b finishes; a moment later zone a gets a second pod: the scheduler may still have seen s-b.
    books.pod(pod("s-b", { ...spreadWeb, node: "b0", phase: "Succeeded" }), false, 30_000);
    bind(books, "s-a2", "a1", spreadWeb, 30_500);
    expect(books.counts().spreadSkew).toBe(0);
    // Long after, zone a gets a third one while zone b is empty: skew 3 - 0, once no bind of the
    // same moment came to excuse it.
    bind(books, "s-a3", "a0", spreadWeb, 40_000);
    books.tick(40_000 + limits.staleViewMs);
    expect(books.counts().spreadSkew).toBe(1);
  });

  it("forgives spread binds that arrive out of decision order, and judgeSettled judges the end state", () => {
    const books = ledger();
    const web = { labels: { app: "web" }, spec: zoneSpread };
    // Decided a, b, c, a but bound a, a, b, c within a moment: not blamed at the bind.
    bind(books, "w1", "a0", web, 1_000);
    bind(books, "w4", "a1", web, 1_010);
    bind(books, "w2", "b0", web, 1_020);
    bind(books, "w3", "c0", web, 1_030);
    expect(books.counts().spreadSkew).toBe(0);
    expect(books.judgeSettled(5_000)).toBe(0);
    // A fifth in zone a: 3 there, 1 in b and c.
    bind(books, "w5", "a0", web, 1_040);
    expect(books.judgeSettled(6_000)).toBe(3);
    expect(books.counts().spreadSkew).toBe(3);
    // Judged again, nothing new.
    books.judgeSettled(7_000);
    expect(books.counts().spreadSkew).toBe(3);
  });

  // One cycle places w-b (zone b, the emptiest) and then w-c (zone c, within the skew once w-b is
  // there); the binds go out side by side and w-c's is seen first. Judged at once, w-c would
  // look two over the empty zone b.
  it("judges a spread bind again a moment later: a bind of the same cycle seen after it excuses it", () => {
    const books = ledger();
    const web = { labels: { app: "web" }, spec: zoneSpread };
    bind(books, "w-a", "a0", web, 1_000);
    bind(books, "w-c", "c0", web, 1_100);
    bind(books, "w-c2", "c0", web, 20_000);
    bind(books, "w-b", "b0", web, 20_050);
    books.tick(20_000 + limits.staleViewMs);
    expect(books.counts().spreadSkew).toBe(0);
    // A third in zone c, and nothing coming to zone a or b: blamed once judged.
    bind(books, "w-c3", "c0", web, 40_000);
    books.tick(40_000 + limits.staleViewMs - 1);
    expect(books.counts().spreadSkew).toBe(0);
    books.tick(40_000 + limits.staleViewMs);
    expect(books.counts().spreadSkew).toBe(1);
    // A bind long after (past staleViewMs) does not excuse: it was decided after.
    bind(books, "w-c4", "c0", web, 60_000);
    bind(books, "w-a2", "a1", web, 60_000 + limits.staleViewMs + 1);
    books.tick(60_000 + limits.staleViewMs + 1);
    expect(books.counts().spreadSkew).toBe(2);
  });

  it("judges binds seen during a relist against the state after it", () => {
    const books = ledger();
    const web = { labels: { app: "web" }, spec: antiAffineWeb };
    bind(books, "web-1", "a0", web, 1_000);
    books.relisting();
    // In name order: web-0 (bound during the outage) before web-1's finish.
    books.pod(pod("web-0", { ...web, node: "a0" }), false, 20_000);
    books.pod(pod("web-1", { ...web, node: "a0", phase: "Succeeded" }), false, 20_000);
    books.relisted(20_001);
    expect(books.counts().podAntiAffinity).toBe(0);
  });

  it("blames a host port taken on the node", () => {
    const books = ledger();
    const port = { spec: { containers: [{ name: "c", ports: [{ containerPort: 80, hostPort: 8080 }] }] } };
    bind(books, "p1", "a0", port, 1_000);
    bind(books, "p2", "a1", port, 2_000);
    expect(books.counts().hostPortConflicts).toBe(0);
    bind(books, "p3", "a0", port, 3_000);
    expect(books.counts().hostPortConflicts).toBe(1);
  });

  it("judges a pod's volumes once its claims are bound to volumes it has seen", () => {
    const books = ledger();
    const withClaim = {
      spec: { volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data-1" } }] },
    };
    bind(books, "v1", "a0", withClaim, 1_000);
    books.persistentVolumeClaim({ metadata: { namespace: "ns", name: "data-1" }, spec: {} }, false, 1_100);
    expect(books.counts().volumeZone).toBe(0);
    books.persistentVolumeClaim(
      { metadata: { namespace: "ns", name: "data-1" }, spec: { volumeName: "pv-1" } },
      false,
      1_200,
    );
    books.persistentVolume(
      {
        metadata: { name: "pv-1" },
        spec: {
          nodeAffinity: {
            required: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: zone, operator: "In", values: ["zone-b"] }] }],
            },
          },
        },
      },
      false,
      1_300,
    );
    expect(books.counts().volumeZone).toBe(1);
  });

  it("does not claim a pod with spread, ports or claims as lost (the free-room packing does not read them)", () => {
    const books = ledger();
    books.pod(pod("s", { labels: { app: "web" }, spec: zoneSpread }), false, 1_000);
    books.pod(pod("plain"), false, 1_000);
    expect([...books.pendingGroupsThatFit().keys()]).toEqual(["pod:ns/plain"]);
  });
});

function zoneSpreadFor(app: string): Partial<k8s.V1PodSpec> {
  return {
    topologySpreadConstraints: [
      {
        topologyKey: zone,
        maxSkew: 1,
        whenUnsatisfiable: "DoNotSchedule",
        labelSelector: { matchLabels: { app } },
      },
    ],
  };
}
