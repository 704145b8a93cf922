import { pendingGroup } from "@sharded-scheduler/scheduler/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planRelief, type ReliefPlan } from "../../src/core/index.js";
import { group, type NodeSpec, summary } from "./fixtures.js";

const none = new Set<string>();

describe("planRelief", () => {
  it("hands a group to the shard whose free room fits all of it", () => {
    const plan = planRelief({
      group: group("job", [3000, 3000]),
      owner: "a",
      summaries: [
        summary("a", [{ name: "a1", free: 2000 }]),
        summary("b", [{ name: "b1", free: 4000 }]),
        summary("c", [
          { name: "c1", free: 4000 },
          { name: "c2", free: 4000 },
        ]),
      ],
      lentNodes: none,
    });
    expect(plan).toMatchObject({ kind: "handoff", to: "c", preempting: false });
  });

  it("prefers the shard with the most free room among those that fit", () => {
    const plan = planRelief({
      group: group("job", [1000]),
      owner: "a",
      summaries: [
        summary("a", [{ name: "a1", free: 0 }]),
        summary("b", [{ name: "b1", free: 2000 }]),
        summary("c", [{ name: "c1", free: 8000 }]),
      ],
      lentNodes: none,
    });
    expect(plan).toMatchObject({ kind: "handoff", to: "c" });
  });

  it("lends the owner free nodes of other shards when no single shard fits the group", () => {
    const plan = planRelief({
      group: group("job", [4000, 4000, 4000, 4000]),
      owner: "a",
      summaries: [
        summary("a", [
          { name: "a1", free: 4000 },
          { name: "a2", free: 4000 },
          { name: "a3", free: 1000 },
        ]),
        summary("b", [
          { name: "b1", free: 4000 },
          { name: "b2", free: 0 },
        ]),
        summary("c", [
          { name: "c1", free: 4000 },
          { name: "c2", free: 4000 },
        ]),
      ],
      lentNodes: none,
    });
    expect(plan.kind).toBe("lend");
    if (plan.kind !== "lend") return;
    expect(plan.to).toBe("a");
    // The owner's two free nodes are used first: only two nodes are borrowed.
    expect(plan.nodes).toHaveLength(2);
    for (const { node, from } of plan.nodes) expect(node.startsWith(from)).toBe(true);
  });

  it("never lends a node whose room a preemption promised to another group, but may lend one promised to this group", () => {
    const summaries = (promisedTo: string) => [
      summary("a", [{ name: "a1", free: 4000 }]),
      summary("b", [
        { name: "b1", free: 4000 },
        { name: "b2", free: 4000, nominatedFor: [promisedTo] },
      ]),
      summary("c", [{ name: "c1", free: 0, used: { 0: 8000 } }]),
    ];
    const job = group("job", [4000, 4000, 4000]);
    const elsewhere = planRelief({
      group: job,
      owner: "a",
      summaries: summaries("group:ns/other"),
      lentNodes: none,
    });
    // b2 is never lent away: the group goes to b instead, which places it beside the promise.
    expect(elsewhere).toMatchObject({ kind: "lend", to: "b", nodes: [{ node: "a1", from: "a" }] });
    const own = planRelief({ group: job, owner: "a", summaries: summaries(job.key.id), lentNodes: none });
    expect(own).toMatchObject({
      kind: "lend",
      to: "a",
      nodes: [
        { node: "b1", from: "b" },
        { node: "b2", from: "b" },
      ],
    });
  });

  it("never lends a node that is lent already", () => {
    const summaries = [
      summary("a", [{ name: "a1", free: 4000 }]),
      summary("b", [{ name: "b1", free: 4000 }]),
      summary("c", [{ name: "c1", free: 4000 }]),
    ];
    const plan = planRelief({
      group: group("job", [4000, 4000, 4000]),
      owner: "a",
      summaries,
      lentNodes: new Set(["b1"]),
    });
    // b1 stays with b, which takes the group and borrows the others.
    expect(plan).toMatchObject({
      kind: "lend",
      to: "b",
      nodes: [
        { node: "a1", from: "a" },
        { node: "c1", from: "c" },
      ],
    });
    // With b1 lent to a (a's summary holds it), a borrows c1 and keeps the group.
    const toOwner = planRelief({
      group: group("job", [4000, 4000, 4000]),
      owner: "a",
      summaries: [
        summary("a", [
          { name: "a1", free: 4000 },
          { name: "b1", free: 4000 },
        ]),
        summary("b", []),
        summary("c", [{ name: "c1", free: 4000 }]),
      ],
      lentNodes: new Set(["b1"]),
    });
    expect(toOwner).toMatchObject({ kind: "lend", to: "a", nodes: [{ node: "c1", from: "c" }] });
  });

  // Seen in a chaos run: the room was on nodes lent to shard b (their groups running there, so
  // they could be lent no further) and on one free node of c; no shard alone fit the group, and
  // the owner with what it could borrow did not either. Each answered "impossible".
  it("hands the group to the shard whose room, with nodes lent to it, fits once it borrows what it lacks", () => {
    const summaries = [
      summary("a", [{ name: "a1", free: 1000 }]),
      summary("b", [
        { name: "x1", free: 4000 },
        { name: "x2", free: 4000 },
        { name: "b1", free: 0 },
      ]),
      summary("c", [{ name: "c1", free: 4000 }]),
    ];
    const job = group("job", [4000, 4000, 4000]);
    // x1 and x2 are lent to b: they stay b's.
    const plan = planRelief({ group: job, owner: "a", summaries, lentNodes: new Set(["x1", "x2"]) });
    expect(plan).toMatchObject({
      kind: "lend",
      to: "b",
      preempting: false,
      nodes: [{ node: "c1", from: "c" }],
    });
    if (plan.kind !== "lend") return;
    expect(plan.placements.map((p) => p.nodeName).sort()).toEqual(["c1", "x1", "x2"]);
    // Free room is not there: nothing moves (and no preemption is planned by this step).
    const full = summaries.map((s) => (s.shard === "c" ? summary("c", [{ name: "c1", free: 3000 }]) : s));
    expect(planRelief({ group: job, owner: "a", summaries: full, lentNodes: new Set(["x1", "x2"]) })).toEqual(
      {
        kind: "none",
        reason: "impossible",
      },
    );
  });

  it("prefers lending free nodes to preempting anyone", () => {
    const plan = planRelief({
      group: group("job", [4000, 4000], { priority: 100 }),
      owner: "a",
      summaries: [
        summary("a", [{ name: "a1", free: 4000 }]),
        summary("b", [
          { name: "b1", free: 0, used: { 0: 4000 } },
          { name: "b2", free: 0, used: { 0: 4000 } },
        ]),
        summary("c", [{ name: "c1", free: 4000 }]),
      ],
      lentNodes: none,
    });
    expect(plan).toMatchObject({ kind: "lend", preempting: false, nodes: [{ node: "c1", from: "c" }] });
  });

  it("hands off by preemption only to room held by strictly lower priorities", () => {
    const summaries = (usedPriority: number) => [
      summary("a", [{ name: "a1", free: 0, used: { 500: 4000 } }]),
      summary("b", [
        { name: "b1", free: 1000, used: { [usedPriority]: 3000 } },
        { name: "b2", free: 1000, used: { [usedPriority]: 3000 } },
      ]),
    ];
    const lower = planRelief({
      group: group("job", [4000, 4000], { priority: 100 }),
      owner: "a",
      summaries: summaries(10),
      lentNodes: none,
    });
    expect(lower).toMatchObject({ kind: "handoff", to: "b", preempting: true });
    const equal = planRelief({
      group: group("job", [4000, 4000], { priority: 100 }),
      owner: "a",
      summaries: summaries(100),
      lentNodes: none,
    });
    expect(equal).toEqual({ kind: "none", reason: "impossible" });
  });

  it("does not plan preemption for a group that may not preempt", () => {
    const plan = planRelief({
      group: group("job", [4000], { priority: 100, preempt: false }),
      owner: "a",
      summaries: [
        summary("a", [{ name: "a1", free: 0 }]),
        summary("b", [{ name: "b1", free: 0, used: { 0: 4000 } }]),
      ],
      lentNodes: none,
    });
    expect(plan).toEqual({ kind: "none", reason: "impossible" });
  });

  it("lends by preemption when only the union of shards, with lower-priority room, fits", () => {
    const plan = planRelief({
      group: group("job", [4000, 4000, 4000], { priority: 100 }),
      owner: "a",
      summaries: [
        summary("a", [{ name: "a1", free: 4000 }]),
        summary("b", [{ name: "b1", free: 0, used: { 1: 4000 } }]),
        summary("c", [{ name: "c1", free: 2000, used: { 1: 2000 } }]),
      ],
      lentNodes: none,
    });
    expect(plan).toMatchObject({ kind: "lend", preempting: true });
    if (plan.kind === "lend") expect(plan.nodes.map((n) => n.node)).toEqual(["b1", "c1"]);
  });

  // The owner reports a group stuck after its own search for victims on its nodes found none:
  // the view's preemptible room (every lower-priority pod) is only an upper bound there.
  it("does not take the owner's own preemptible room for a fit: the owner searched it already", () => {
    const owners = summary("a", [{ name: "a1", free: 0, used: { 1: 4000 } }]);
    const plan = planRelief({
      group: group("job", [4000], { priority: 100 }),
      owner: "a",
      summaries: [owners, summary("b", [{ name: "b1", free: 0, used: { 200: 4000 } }])],
      lentNodes: none,
    });
    expect(plan).toEqual({ kind: "none", reason: "impossible" });
    // A pair: one member in the owner's free room, the other in another shard's lower-priority
    // room (lent to the owner), not in the owner's own, which it found no victims in.
    const lend = planRelief({
      group: group("pair", [4000, 4000], { priority: 100 }),
      owner: "a",
      summaries: [
        summary("a", [
          { name: "a1", free: 4000 },
          { name: "a2", free: 0, used: { 1: 4000 } },
        ]),
        summary("c", [{ name: "c1", free: 0, used: { 1: 4000 } }]),
      ],
      lentNodes: none,
    });
    expect(lend).toMatchObject({ kind: "lend", preempting: true, nodes: [{ node: "c1", from: "c" }] });
  });

  it("leaves a group nothing can place alone: too big even with preemption", () => {
    const plan = planRelief({
      group: group("huge", [16000]),
      owner: "a",
      summaries: [summary("a", [{ name: "a1", free: 8000 }]), summary("b", [{ name: "b1", free: 8000 }])],
      lentNodes: none,
    });
    expect(plan).toEqual({ kind: "none", reason: "impossible" });
  });

  it("respects node selectors through the node classes", () => {
    const plan = planRelief({
      group: group("gpu-job", [1000], { nodeSelector: { pool: "gpu" } }),
      owner: "a",
      summaries: [
        summary("a", [{ name: "a1", free: 0, labels: { pool: "gpu" } }]),
        summary("b", [{ name: "b1", free: 8000, labels: { pool: "cpu" } }]),
        summary("c", [{ name: "c1", free: 2000, labels: { pool: "gpu" } }]),
      ],
      lentNodes: none,
    });
    expect(plan).toMatchObject({ kind: "handoff", to: "c" });
  });

  it("does nothing when the owner's own summary fits the group (its report is stale)", () => {
    const plan = planRelief({
      group: group("job", [1000]),
      owner: "a",
      summaries: [summary("a", [{ name: "a1", free: 4000 }]), summary("b", [{ name: "b1", free: 0 }])],
      lentNodes: none,
    });
    expect(plan).toMatchObject({ kind: "none", reason: "owner-fits" });
    expect(
      plan.kind === "none" && plan.reason === "owner-fits" && plan.placements.map((p) => p.nodeName),
    ).toEqual(["a1"]);
  });

  it("ignores a node two summaries claim (one is stale mid-handover)", () => {
    const plan = planRelief({
      group: group("job", [4000]),
      owner: "a",
      summaries: [summary("a", [{ name: "x", free: 4000 }]), summary("b", [{ name: "x", free: 4000 }])],
      lentNodes: none,
    });
    expect(plan).toEqual({ kind: "none", reason: "impossible" });
  });
});

/** Random clusters of 2-4 shards with up to 4 nodes each, and a group of 1-5 members. */
const clusterArb = fc
  .record({
    shards: fc.array(
      fc.array(
        fc.record({
          free: fc.integer({ min: 0, max: 8 }).map((n) => n * 500),
          used: fc.dictionary(
            fc.constantFrom("0", "50", "100"),
            fc.integer({ min: 1, max: 8 }).map((n) => n * 500),
            { maxKeys: 2 },
          ),
        }),
        { minLength: 0, maxLength: 4 },
      ),
      { minLength: 2, maxLength: 4 },
    ),
    sizes: fc.array(
      fc.integer({ min: 1, max: 8 }).map((n) => n * 500),
      { minLength: 1, maxLength: 5 },
    ),
    priority: fc.constantFrom(0, 50, 100, 200),
    owner: fc.nat(3),
    lent: fc.array(fc.nat(15), { maxLength: 3 }),
  })
  .map(({ shards, sizes, priority, owner, lent }) => {
    const names = shards.map((_, s) => `s${s}`);
    const specs: NodeSpec[][] = shards.map((nodes, s) =>
      nodes.map((node, n) => ({
        name: `s${s}-n${n}`,
        free: node.free,
        used: Object.fromEntries(Object.entries(node.used).map(([p, cpu]) => [Number(p), cpu])),
      })),
    );
    const allNodes = specs.flat().map((n) => n.name);
    return {
      specs,
      summaries: specs.map((nodes, s) => summary(names[s] as string, nodes)),
      group: group("g", sizes, { priority }),
      owner: names[owner % names.length] as string,
      lentNodes: new Set(
        lent.flatMap((i) => (allNodes.length > 0 ? [allNodes[i % allNodes.length] as string] : [])),
      ),
    };
  });

/** Checks a plan's witness with plain arithmetic, independent of the scheduling core. */
function witnessHolds(
  plan: Exclude<ReliefPlan, { kind: "none" }>,
  specs: NodeSpec[][],
  owner: string,
  lentNodes: ReadonlySet<string>,
  priority: number,
  required: number,
): void {
  const byName = new Map(specs.flat().map((n) => [n.name, n]));
  const shardOf = (node: string) => node.slice(0, node.indexOf("-"));
  const load = new Map<string, number>();
  for (const { pod, nodeName } of plan.placements)
    load.set(nodeName, (load.get(nodeName) ?? 0) + pod.requests.milliCpu);
  expect(plan.placements.length).toBe(required);
  for (const [nodeName, cpu] of load) {
    const node = byName.get(nodeName);
    expect(node).toBeDefined();
    let room = node?.free ?? 0;
    if (plan.preempting)
      for (const [p, used] of Object.entries(node?.used ?? {})) if (Number(p) < priority) room += used;
    expect(cpu).toBeLessThanOrEqual(room);
    if (plan.kind === "handoff") expect(shardOf(nodeName)).toBe(plan.to);
    else if (shardOf(nodeName) !== plan.to) {
      expect(plan.nodes.map((n) => n.node)).toContain(nodeName);
      expect(lentNodes.has(nodeName)).toBe(false);
    }
  }
  if (plan.kind === "handoff") expect(plan.to).not.toBe(owner);
  if (plan.kind === "lend") {
    // To the owner, or (free room only) to another shard that takes the group with the nodes.
    if (plan.to !== owner) expect(plan.preempting).toBe(false);
    expect(plan.nodes.length).toBeGreaterThan(0);
    // Only nodes the group uses are borrowed.
    for (const { node, from } of plan.nodes) {
      expect(load.has(node)).toBe(true);
      expect(from).toBe(shardOf(node));
      expect(from).not.toBe(plan.to);
    }
  }
}

// About 0.5 s each alone; a machine busy with other suites needs several times that.
describe("planRelief properties", { timeout: 30_000 }, () => {
  it("never hands a group to a shard that cannot fit it, and never lends a node a second time", () => {
    fc.assert(
      fc.property(clusterArb, ({ specs, summaries, group: g, owner, lentNodes }) => {
        const plan = planRelief({ group: g, owner, summaries, lentNodes });
        if (plan.kind === "none") return;
        witnessHolds(plan, specs, owner, lentNodes, g.priority, g.required);
      }),
      { numRuns: 300 },
    );
  });

  it("plans no preemption when free room anywhere fits the group", () => {
    fc.assert(
      fc.property(clusterArb, ({ specs, summaries, group: g, owner, lentNodes }) => {
        const plan = planRelief({ group: g, owner, summaries, lentNodes });
        if (plan.kind === "none" || !plan.preempting) return;
        // A single member larger than every free node of the usable set means free room alone could not fit.
        const usableFree = specs
          .flat()
          .filter((n) => !lentNodes.has(n.name) || n.name.startsWith(`${owner}-`))
          .map((n) => n.free);
        const freeTotal = usableFree.reduce((a, b) => a + b, 0);
        const largest = Math.max(...g.members.map((m) => m.requests.milliCpu));
        const need = g.members.reduce((sum, m) => sum + m.requests.milliCpu, 0);
        const freeCouldFit = freeTotal >= need && usableFree.some((f) => f >= largest);
        // When the free room is plainly enough for a one-member group, preemption must not be planned.
        if (g.members.length === 1) expect(freeCouldFit).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe("planRelief with the shards' profile", () => {
  const zoned = (shard: string, zones: string[]) =>
    summary(
      shard,
      zones.map((zone, i) => ({
        name: `${shard}${i + 1}`,
        free: 4000,
        labels: { "topology.kubernetes.io/zone": zone },
      })),
    );
  const dbGang = () => {
    const members = group("db", [1000, 1000, 1000]).members.map((pod) => ({
      ...pod,
      labels: { app: "db" },
    }));
    return { ...group("db", [1000, 1000, 1000]), members };
  };

  it("runs the plugins the shards run: a gang MaxPerZone keeps out of one zone goes to a shard with two", () => {
    const request = {
      group: dbGang(),
      owner: "a",
      summaries: [
        summary("a", [{ name: "a1", free: 0 }]),
        zoned("b", ["z1", "z1"]),
        zoned("c", ["z1", "z2"]),
      ],
      lentNodes: none,
    };
    // Without the plugin the roomiest shard that fits takes it (b and c tie on room; b sorts first).
    expect(planRelief(request)).toMatchObject({ kind: "handoff", to: "b" });
    const limited = planRelief({
      ...request,
      profile: {
        scoringStrategy: "MostAllocated",
        plugins: { MaxPerZone: { labelKey: "app", maxPerZone: 2 } },
      },
    });
    expect(limited).toMatchObject({ kind: "handoff", to: "c" });
  });
});

describe("planRelief in domain units", () => {
  const rack = "topology.kubernetes.io/rack";
  const node = (name: string, free: number, value: string) => ({ name, free, labels: { [rack]: value } });

  it("lends a topology gang the whole rack its witness borrows from, no node of other racks", () => {
    const summaries = [
      summary("a", [node("a1", 0, "r1")]),
      summary("b", [
        node("b1", 4000, "r2"),
        node("b2", 4000, "r2"),
        node("b3", 0, "r2"),
        node("b4", 0, "r3"),
      ]),
      summary("c", [node("c1", 0, "r4"), node("c2", 0, "r4")]),
    ];
    // "b" has room for the whole gang in one rack: a hand-off comes first, as for any group.
    const plan = planRelief({
      group: group("train", [4000, 4000], { topologyRequired: rack }),
      owner: "a",
      summaries,
      lentNodes: none,
    });
    expect(plan.kind).toBe("handoff");
    const lend = planRelief({
      group: group("train", [4000, 4000, 4000], { topologyRequired: rack }),
      owner: "a",
      summaries: [
        summary("a", [node("a1", 4000, "r2")]),
        summary("b", [
          node("b1", 4000, "r2"),
          node("b2", 4000, "r2"),
          node("b3", 0, "r2"),
          node("b4", 0, "r3"),
        ]),
        summary("c", [node("c1", 0, "r4")]),
      ],
      lentNodes: none,
    });
    expect(lend.kind).toBe("lend");
    if (lend.kind !== "lend") return;
    // The witness needs b1 and b2; b3 (full) comes with them: rack r2 whole. r3 stays.
    expect(lend.nodes.map((n) => n.node)).toEqual(["b1", "b2", "b3"]);
    expect(lend.domains).toEqual({ key: rack, values: ["r2"] });
    const scattered = planRelief({
      group: group("train", [4000, 4000, 4000]),
      owner: "a",
      summaries: [
        summary("a", [node("a1", 4000, "r2")]),
        summary("b", [
          node("b1", 4000, "r2"),
          node("b2", 4000, "r2"),
          node("b3", 0, "r2"),
          node("b4", 0, "r3"),
        ]),
        summary("c", [node("c1", 0, "r4")]),
      ],
      lentNodes: none,
    });
    expect(scattered.kind === "lend" && scattered.nodes.map((n) => n.node)).toEqual(["b1", "b2"]);
    expect(scattered.kind === "lend" && scattered.domains).toBeUndefined();
  });

  // b has the most free room, one node a rack; c has less, but two nodes in one rack.
  const splitOrWhole = () => [
    summary("a", [node("a1", 0, "r1")]),
    summary("b", [node("b1", 4000, "r2"), node("b2", 4000, "r3"), node("b3", 4000, "r5")]),
    summary("c", [node("c1", 4000, "r4"), node("c2", 4000, "r4")]),
  ];

  it("hands a topology gang only to a shard that can place it in one rack", () => {
    const request = { owner: "a", summaries: splitOrWhole(), lentNodes: none };
    // Without the constraint the roomiest shard takes it, over two racks.
    expect(planRelief({ ...request, group: group("train", [4000, 4000]) })).toMatchObject({
      kind: "handoff",
      to: "b",
    });
    const plan = planRelief({ ...request, group: group("train", [4000, 4000], { topologyRequired: rack }) });
    expect(plan).toMatchObject({ kind: "handoff", to: "c" });
    expect(plan.kind === "handoff" && plan.placements.map((p) => p.nodeName).sort()).toEqual(["c1", "c2"]);
  });

  it("takes the constraint its owner reported for members that do not carry it (a native PodGroup's)", () => {
    const plain = group("train", [4000, 4000]);
    const told = {
      required: 2,
      priority: 0,
      mayPreempt: true,
      topology: { required: rack, preferred: [] },
    };
    const reported = pendingGroup(plain.key, plain.members, [], undefined, 0, false, told);
    expect(reported.topology?.required).toBe(rack);
    const plan = planRelief({ group: reported, owner: "a", summaries: splitOrWhole(), lentNodes: none });
    expect(plan).toMatchObject({ kind: "handoff", to: "c" });
  });

  it("lends nothing when no rack can hold the gang, however much room is scattered", () => {
    const summaries = [summary("a", [node("a1", 4000, "r1")]), summary("b", [node("b1", 4000, "r2")])];
    const request = { owner: "a", summaries, lentNodes: none };
    expect(planRelief({ ...request, group: group("train", [4000, 4000]) })).toMatchObject({ kind: "lend" });
    expect(
      planRelief({ ...request, group: group("train", [4000, 4000], { topologyRequired: rack }) }),
    ).toEqual({ kind: "none", reason: "impossible" });
  });

  it("never adds a node of the rack that is lent already or promised to another group", () => {
    const plan = planRelief({
      group: group("train", [4000, 4000, 4000], { topologyRequired: rack }),
      owner: "a",
      summaries: [
        summary("a", [node("a1", 4000, "r2")]),
        summary("b", [
          node("b1", 4000, "r2"),
          node("b2", 4000, "r2"),
          node("b3", 0, "r2"),
          { ...node("b4", 0, "r2"), nominatedFor: ["ns/other"] },
        ]),
        summary("c", [node("c1", 0, "r2")]),
      ],
      lentNodes: new Set(["c1"]),
    });
    expect(plan.kind === "lend" && plan.nodes.map((n) => n.node)).toEqual(["b1", "b2", "b3"]);
  });
});
