/**
 * Groups with required inter-pod constraints are placed by their owner only
 * (core/relief-plan.ts): the capacity view holds no pods of other groups, so the coordinator never
 * hands such a group to another shard; it may lend the owner nodes, which the owner judges with
 * its full cache.
 */
import { type PendingGroup, type PodInfo, pendingGroup, toPodInfo } from "@sharded-scheduler/scheduler/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planRelief } from "../../src/core/index.js";
import { group, summary } from "./fixtures.js";

const term = { labelSelector: { matchLabels: { app: "web" } }, topologyKey: "topology.kubernetes.io/zone" };
const none = new Set<string>();

/** The group with required inter-pod constraints (the planner reads only PodInfo's flag). */
function constrained(g: PendingGroup): PendingGroup {
  const members: PodInfo[] = g.members.map((pod) => ({
    ...pod,
    interPodConstraints: { any: true, required: true, requiredAntiAffinity: true },
  }));
  return pendingGroup(g.key, members, [], g.required);
}

/** Shard a is full; b alone fits the whole group; a and b together fit it too. */
const roomOnB = () => [
  summary("a", [{ name: "a1", free: 1000 }]),
  summary("b", [
    { name: "b1", free: 4000 },
    { name: "b2", free: 4000 },
  ]),
];

describe("planRelief for groups with required inter-pod constraints", () => {
  it("lends the owner the room another shard has, where an unconstrained group is handed over", () => {
    const plain = planRelief({
      group: group("web", [3000, 3000]),
      owner: "a",
      summaries: roomOnB(),
      lentNodes: none,
    });
    expect(plain).toMatchObject({ kind: "handoff", to: "b" });
    const plan = planRelief({
      group: constrained(group("web", [3000, 3000])),
      owner: "a",
      summaries: roomOnB(),
      lentNodes: none,
    });
    expect(plan).toMatchObject({ kind: "lend", to: "a", preempting: false });
    expect(plan.kind === "lend" && plan.nodes.map((n) => n.from)).toEqual(["b", "b"]);
  });

  it("lends the nodes the owner named as fitting (feasibleElsewhere), where resources alone say the owner fits", () => {
    // The owner has room by resources; only its full cache knows the constraints rule its nodes out.
    const summaries = [
      summary("a", [{ name: "a1", free: 4000 }]),
      summary("b", [
        { name: "b1", free: 4000 },
        { name: "b2", free: 4000 },
      ]),
      summary("c", [{ name: "c1", free: 4000 }]),
    ];
    const g = constrained(group("web", [1000]));
    expect(planRelief({ group: g, owner: "a", summaries, lentNodes: none })).toMatchObject({
      kind: "none",
      reason: "owner-fits",
    });
    const plan = planRelief({
      group: g,
      owner: "a",
      summaries,
      lentNodes: new Set(["b1"]),
      feasibleElsewhere: ["a1", "b1", "unknown", "b2", "c1"],
    });
    // Its own node, a lent one and one no summary holds are skipped; one member, one node.
    expect(plan).toMatchObject({
      kind: "lend",
      to: "a",
      preempting: false,
      nodes: [{ node: "b2", from: "b" }],
    });
    // An unconstrained group's report never names such nodes; if it did, they are not read: it
    // is handed over as always.
    const plain = group("web", [1000]);
    expect(
      planRelief({ group: plain, owner: "a", summaries, lentNodes: none, feasibleElsewhere: ["b2"] }),
    ).toMatchObject({ kind: "handoff" });
  });

  it("hands over no member of a group that needs preemption either: it lends by preemption", () => {
    const summaries = [
      summary("a", [{ name: "a1", free: 0, used: { 0: 1000 } }]),
      summary("b", [{ name: "b1", free: 0, used: { 0: 4000 } }]),
    ];
    const g = group("web", [3000], { priority: 100 });
    expect(planRelief({ group: g, owner: "a", summaries, lentNodes: none })).toMatchObject({
      kind: "handoff",
      preempting: true,
    });
    expect(planRelief({ group: constrained(g), owner: "a", summaries, lentNodes: none })).toMatchObject({
      kind: "lend",
      to: "a",
      preempting: true,
    });
  });

  it("a pod whose spec carries required anti-affinity is never handed over", () => {
    const pod = toPodInfo({
      metadata: { namespace: "ns", name: "web-0", uid: "web-0" },
      spec: {
        containers: [{ name: "c", resources: { requests: { cpu: "1" } } }],
        affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } },
      },
    });
    const g = pendingGroup(pod.group, [pod], [], undefined);
    expect(planRelief({ group: g, owner: "a", summaries: roomOnB(), lentNodes: none }).kind).not.toBe(
      "handoff",
    );
  });

  it("never plans a handoff for such a group, whatever the room (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 4 }), { minLength: 2, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 4 }),
        fc.nat(3),
        (shards, sizes, ownerIndex) => {
          const summaries = shards.map((free, s) =>
            summary(
              `s${s}`,
              free.map((f, n) => ({ name: `s${s}-n${n}`, free: f * 500 })),
            ),
          );
          const owner = `s${ownerIndex % shards.length}`;
          const g = constrained(
            group(
              "g",
              sizes.map((n) => n * 500),
            ),
          );
          const plan = planRelief({ group: g, owner, summaries, lentNodes: none });
          expect(plan.kind).not.toBe("handoff");
          if (plan.kind === "lend") expect(plan.to).toBe(owner);
        },
      ),
      { numRuns: 200 },
    );
  });
});
