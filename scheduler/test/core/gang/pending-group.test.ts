/**
 * A pending group as the core sees it: how many members must start together (all-or-nothing on
 * the first start only, then as many as fit) and its one priority (members that disagree make
 * it invalid).
 */
import { describe, expect, it } from "vitest";
import { toPodInfo } from "../../../src/core/build-info.js";
import { SchedulingCore } from "../../../src/core/cycle.js";
import { groupKey, groupStarted, pendingGroup, priorityDisagreement } from "../../../src/core/gang/index.js";
import type { PodInfo } from "../../../src/core/model.js";
import { gang, node, onlyPendingGroup, ownsAll, pod, snapshotOf } from "../fixtures.js";

const web = groupKey("default", "web", false);
const infos = (pods: ReturnType<typeof pod>[]): PodInfo[] => pods.map((p) => toPodInfo(p));

/** Three running members of web, on n1, and `count` more pending. */
function growingWeb(count: number, minMember?: number) {
  const options = { group: "web", ...(minMember !== undefined ? { minMember } : {}) };
  const running = [0, 1, 2].map((i) => pod(`web-run-${i}`, { ...options, nodeName: "n1" }));
  const pending = gang("web", count, options);
  return { running, pending };
}

describe("pendingGroup: required members", () => {
  it("asks a group that never started for all its members at once (without min-member)", () => {
    const { pending } = growingWeb(20);
    expect(pendingGroup(web, infos(pending), [], undefined).required).toBe(20);
  });

  it("asks a started group for one member at a time: as many as fit are placed", () => {
    const { running, pending } = growingWeb(20);
    expect(pendingGroup(web, infos(pending), infos(running), undefined, 0, true).required).toBe(1);
  });

  it("asks a started group with min-member for one, even when fewer than min-member still run", () => {
    const { running, pending } = growingWeb(20, 10);
    const group = pendingGroup(web, infos(pending), infos(running.slice(0, 1)), 10, 0, true);
    expect(group.required).toBe(1);
    // Never started, the same members wait for the rest of min-member.
    expect(pendingGroup(web, infos(pending), infos(running.slice(0, 1)), 10).required).toBe(9);
  });

  it("places as many members of a started group as fit, none of a group that never started", () => {
    // n1 holds the 3 running members; n2 has room for 5 more.
    const nodes = [node("n1", { cpu: 3 }), node("n2", { cpu: 5 })];
    const { running, pending } = growingWeb(20);
    const cycle = (started: boolean) => {
      const cluster = snapshotOf(nodes, [...running, ...pending]);
      const group = pendingGroup(web, infos(pending), infos(running), undefined, 0, started);
      const [decision] = new SchedulingCore(cluster).cycle([group], ownsAll);
      return decision;
    };
    const grown = cycle(true);
    expect(grown?.kind).toBe("bind");
    if (grown?.kind === "bind") {
      expect(grown.placements).toHaveLength(5);
      expect(new Set(grown.placements.map((p) => p.nodeName))).toEqual(new Set(["n2"]));
    }
    expect(cycle(false)?.kind).toBe("unschedulable");
  });

  it("tells a started group's waiting members that they join as room allows, not that the group cannot start", () => {
    const full = [node("n1", { cpu: 3 })];
    const { running, pending } = growingWeb(4);
    const group = pendingGroup(web, infos(pending), infos(running), undefined, 0, true);
    const [decision] = new SchedulingCore(snapshotOf(full, [...running, ...pending])).cycle([group], ownsAll);
    expect(decision?.kind).toBe("unschedulable");
    if (decision?.kind === "unschedulable") {
      expect(decision.message).toMatch(/^pod group default\/web runs; its members join it as room allows/);
      expect(decision.message).not.toContain("as a whole");
    }
  });
});

describe("groupStarted", () => {
  it("with min-member: once that many members run or ran to completion", () => {
    expect(groupStarted(2, 0, 3)).toBe(false);
    expect(groupStarted(3, 0, 3)).toBe(true);
    expect(groupStarted(1, 2, 3)).toBe(true);
  });

  it("without min-member: once a member runs", () => {
    expect(groupStarted(0, 0, undefined)).toBe(false);
    expect(groupStarted(1, 0, undefined)).toBe(true);
  });
});

describe("pendingGroup: one priority per group", () => {
  it("takes the priority every member has", () => {
    const group = onlyPendingGroup(gang("g", 3, { priority: 7 }));
    expect(group.priority).toBe(7);
    expect(group.problem).toBeUndefined();
    expect(group.mayPreempt).toBe(true);
  });

  it("makes a group whose members disagree invalid; no member lends its priority to the rest", () => {
    const group = onlyPendingGroup([
      ...gang("g", 3, { priority: 100 }),
      pod("g-boost", { group: "g", priority: 1000 }),
    ]);
    expect(group.problem).toBe(
      "members of pod group default/g disagree on priority (100, 1000); a gang must have one priority",
    );
    expect(group.priority).toBe(100);
    expect(group.mayPreempt).toBe(false);
  });

  it("counts running members: a pending member may not outrank the ones that run", () => {
    const group = onlyPendingGroup([
      pod("g-0", { group: "g", priority: 100, nodeName: "n1" }),
      pod("g-1", { group: "g", priority: 1000 }),
    ]);
    expect(group.problem).toContain("disagree on priority (100, 1000)");
  });

  it("lists a few of many distinct priorities, lowest first", () => {
    const members = [5, 1, 4, 2, 3].map((priority, i) => toPodInfo(pod(`g-${i}`, { group: "g", priority })));
    expect(priorityDisagreement(groupKey("default", "g", false), members)).toContain("(1, 2, 3, 4, ...)");
  });

  it("lets no group preempt when any member, pending or running, says preemptionPolicy: Never", () => {
    const runningNever = onlyPendingGroup([
      pod("g-0", { group: "g", priority: 100, nodeName: "n1", preemptionPolicy: "Never" }),
      pod("g-1", { group: "g", priority: 100 }),
    ]);
    expect(runningNever.mayPreempt).toBe(false);
    const pendingNever = onlyPendingGroup([
      pod("g-0", { group: "g", priority: 100, nodeName: "n1" }),
      pod("g-1", { group: "g", priority: 100, preemptionPolicy: "Never" }),
    ]);
    expect(pendingNever.mayPreempt).toBe(false);
  });
});

describe("pendingGroup: rebuilt from an owner's stuck report", () => {
  it("takes required, priority and mayPreempt from the report, never more members than were read", () => {
    const pending = infos(gang("web", 2, { priority: 5 }));
    const told = { required: 3, priority: 5, mayPreempt: false };
    const group = pendingGroup(web, pending, [], undefined, 0, false, told);
    expect(group.required).toBe(2);
    expect(group.priority).toBe(5);
    expect(group.mayPreempt).toBe(false);
    expect(pendingGroup(web, pending, [], undefined, 0, false, { ...told, required: 1 }).required).toBe(1);
  });
});
