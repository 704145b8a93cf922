/**
 * A gang's lifecycle as the pure rules in core/gang/lifecycle.ts decide it: members arrive and
 * settle, min-member is reached (gated members not counted, succeeded ones counted), the group
 * starts and then takes members one by one; a partial gang times out and is rolled back
 * (controller-owned members deleted, bare pods only reported); members that disagree make the
 * group invalid.
 */
import { describe, expect, it } from "vitest";
import type { Pod } from "../../../src/core/api-types.js";
import { toPodInfo } from "../../../src/core/build-info.js";
import {
  agreedMinMember,
  type GangState,
  gangTimeout,
  groupKey,
  groupProblem,
  groupReadiness,
  groupStarted,
  partialGang,
  pendingGroup,
  rollbackPlan,
} from "../../../src/core/gang/index.js";
import type { PodInfo } from "../../../src/core/model.js";
import { gang, type PodOptions, pod } from "../fixtures.js";

const web = groupKey("default", "web", false);
const settleWindowMs = 2_000;
const gangTimeoutMs = 30_000;

const gated = (p: Pod): Pod => ({ ...p, spec: { ...p.spec, schedulingGates: [{ name: "wait" }] } });
const succeeded = (p: Pod): Pod => ({ ...p, status: { ...p.status, phase: "Succeeded" } });
const owned = (p: Pod): Pod => ({
  ...p,
  metadata: {
    ...p.metadata,
    ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "web", uid: "job-uid", controller: true }],
  },
});

/**
 * The state the shard's cache keeps of a group, from its pods: pending members without gates,
 * members bound and running, members that succeeded. Gated members are in no count.
 */
function stateOf(
  pods: readonly Pod[],
  options: { started?: boolean; lastArrivalAt?: number; key?: typeof web } = {},
): GangState {
  const infos = pods.map((p) => toPodInfo(p));
  const pending = infos.filter((info) => !info.nodeName && !info.gated && !info.finished);
  const running = infos.filter((info) => info.nodeName && !info.finished);
  return {
    key: options.key ?? web,
    minMember: agreedMinMember(pending, running),
    pending: pending.length,
    running: running.length,
    succeeded: infos.filter((info) => info.pod.status?.phase === "Succeeded").length,
    started: options.started ?? false,
    lastArrivalAt: options.lastArrivalAt ?? 0,
  };
}

const webPods = (count: number, options: PodOptions = {}) => gang("web", count, options);

describe("readiness without min-member: the settle window", () => {
  it("waits until no member arrived for the settle window; each arrival starts it again", () => {
    const first = stateOf(webPods(1), { lastArrivalAt: 1_000 });
    expect(groupReadiness(first, 1_500, settleWindowMs)).toEqual({ ready: false, until: 3_000 });
    // A second member arrives at 2.5s: the window now ends at 4.5s.
    const second = stateOf(webPods(2), { lastArrivalAt: 2_500 });
    expect(groupReadiness(second, 3_000, settleWindowMs)).toEqual({ ready: false, until: 4_500 });
    expect(groupReadiness(second, 4_500, settleWindowMs).ready).toBe(true);
  });

  it("tells the members nothing while they settle (no write per arrival)", () => {
    const readiness = groupReadiness(stateOf(webPods(3), { lastArrivalAt: 0 }), 1, settleWindowMs);
    expect(readiness.ready === false && readiness.why).toBeUndefined();
  });

  it("never makes a pod without a group wait", () => {
    const solo = stateOf([pod("alone")], { key: groupKey("default", "alone", true), lastArrivalAt: 1_000 });
    expect(groupReadiness(solo, 1_000, settleWindowMs).ready).toBe(true);
  });
});

describe("readiness with min-member", () => {
  it("waits for min-member present members, whatever the time, and says so", () => {
    const readiness = groupReadiness(stateOf(webPods(3, { minMember: 4 })), 1e12, settleWindowMs);
    expect(readiness).toEqual({
      ready: false,
      until: Number.POSITIVE_INFINITY,
      why:
        "waiting for pod group default/web to have 4 members (sharded-scheduler.io/min-member); " +
        "members with scheduling gates do not count",
    });
  });

  it("is ready once min-member are present, without waiting for the settle window", () => {
    const state = stateOf(webPods(4, { minMember: 4 }), { lastArrivalAt: 1_000 });
    expect(groupReadiness(state, 1_000, settleWindowMs).ready).toBe(true);
  });

  it("does not count members with scheduling gates", () => {
    const pods = webPods(4, { minMember: 4 });
    const state = stateOf([...pods.slice(0, 3), gated(pods[3] as Pod)]);
    expect(state.pending).toBe(3);
    expect(groupReadiness(state, 0, settleWindowMs).ready).toBe(false);
  });

  it("counts running members and members that ran to completion", () => {
    const pods = webPods(4, { minMember: 4 });
    const state = stateOf([
      pod("web-run", { group: "web", minMember: 4, nodeName: "n1" }),
      succeeded(pod("web-done", { group: "web", minMember: 4, nodeName: "n1" })),
      ...pods.slice(0, 2),
    ]);
    expect(state).toMatchObject({ pending: 2, running: 1, succeeded: 1 });
    expect(groupReadiness(state, 0, settleWindowMs).ready).toBe(true);
    // The pending members are asked for what min-member still lacks, all at once.
    expect(groupRequired(state, pods.slice(0, 2))).toBe(2);
  });
});

describe("a started group", () => {
  it("starts once min-member run or ran to completion (without min-member: once one runs)", () => {
    expect(groupStarted(3, 0, 4)).toBe(false);
    expect(groupStarted(3, 1, 4)).toBe(true);
    expect(groupStarted(1, 0, undefined)).toBe(true);
  });

  it("takes later members one by one, at once, without settling or min-member", () => {
    const state = stateOf([pod("web-new", { group: "web", minMember: 10 })], {
      started: true,
      lastArrivalAt: 1_000,
    });
    expect(groupReadiness(state, 1_000, settleWindowMs).ready).toBe(true);
    expect(groupRequired(state, [pod("web-new", { group: "web", minMember: 10 })])).toBe(1);
  });

  it("is never partial, so never rolled back", () => {
    const state = { ...partialState(), started: true };
    expect(partialGang(state)).toBe(false);
    expect(gangTimeout(state, 0, gangTimeoutMs, gangTimeoutMs).kind).toBe("whole");
  });
});

/** Two of four members of web (min-member 4) bound, two pending. */
function partialState(): GangState {
  return stateOf([
    owned(pod("web-0", { group: "web", minMember: 4, nodeName: "n1" })),
    pod("web-1", { group: "web", minMember: 4, nodeName: "n1" }),
    pod("web-2", { group: "web", minMember: 4 }),
    pod("web-3", { group: "web", minMember: 4 }),
  ]);
}

describe("a partial gang", () => {
  it("is a gang with min-member that never started, some members bound and others pending", () => {
    const state = partialState();
    expect(partialGang(state)).toBe(true);
    expect(partialGang({ ...state, minMember: undefined })).toBe(false);
    expect(partialGang({ ...state, running: 0 })).toBe(false);
    expect(partialGang({ ...state, pending: 0 })).toBe(false);
    expect(partialGang({ ...state, succeeded: 2 })).toBe(false);
    expect(partialGang({ ...state, key: groupKey("default", "web-0", true) })).toBe(false);
  });

  it("waits out the gang timeout from when it was first seen partial, then is rolled back", () => {
    const state = partialState();
    const first = gangTimeout(state, undefined, 10_000, gangTimeoutMs);
    expect(first).toEqual({ kind: "waiting", since: 10_000 });
    expect(gangTimeout(state, 10_000, 39_999, gangTimeoutMs)).toEqual({ kind: "waiting", since: 10_000 });
    expect(gangTimeout(state, 10_000, 40_000, gangTimeoutMs)).toEqual({ kind: "rollback", since: 10_000 });
  });

  it("is no longer timed once whole (the rest placed, or the bound ones gone)", () => {
    expect(gangTimeout({ ...partialState(), pending: 0 }, 10_000, 50_000, gangTimeoutMs)).toEqual({
      kind: "whole",
    });
  });

  it("deletes its controller-owned members on rollback, and only reports bare pods", () => {
    const running = [
      owned(pod("web-0", { group: "web", minMember: 4, nodeName: "n1" })),
      pod("web-1", { group: "web", minMember: 4, nodeName: "n1" }),
    ].map((p) => toPodInfo(p));
    const plan = rollbackPlan(web, running, 10_000, 41_000);
    expect(plan.deleted.map((p) => p.name)).toEqual(["web-0"]);
    expect(plan.reported.map((p) => p.name)).toEqual(["web-1"]);
    expect(plan.message).toBe("pod group default/web stayed partially bound for 31s");
  });
});

describe("members that disagree", () => {
  const infos = (pods: Pod[]): PodInfo[] => pods.map((p) => toPodInfo(p));

  it("on min-member: no agreed min-member, and the group is invalid", () => {
    const pending = infos([
      pod("web-0", { group: "web", minMember: 2 }),
      pod("web-1", { group: "web", minMember: 3 }),
    ]);
    expect(agreedMinMember(pending)).toBeUndefined();
    expect(groupProblem(web, pending, [])).toBe(
      "members of pod group default/web disagree on sharded-scheduler.io/min-member (2, 3)",
    );
  });

  it("members without min-member leave the others' value standing", () => {
    const pending = infos([pod("web-0", { group: "web" }), pod("web-1", { group: "web", minMember: 3 })]);
    expect(agreedMinMember(pending)).toBe(3);
    expect(groupProblem(web, pending, [])).toBeUndefined();
  });

  it("on priority, running members included", () => {
    const pending = infos([pod("web-0", { group: "web", priority: 10 })]);
    const running = infos([pod("web-1", { group: "web", priority: 5, nodeName: "n1" })]);
    expect(groupProblem(web, pending, running)).toBe(
      "members of pod group default/web disagree on priority (5, 10); a gang must have one priority",
    );
  });

  it("on the scheduler: a gang must use one", () => {
    expect(groupProblem(web, infos(webPods(2)), [], ["default-scheduler", "default-scheduler"])).toBe(
      "members of pod group default/web name different schedulers (default-scheduler); a gang must use one scheduler",
    );
  });
});

/** How many of the pending pods the core must place at once, per the one builder. */
function groupRequired(state: GangState, pending: readonly Pod[]): number {
  return pendingGroup(
    state.key,
    pending.map((p) => toPodInfo(p)),
    Array.from({ length: state.running }, (_, i) =>
      toPodInfo(pod(`web-r${i}`, { group: "web", nodeName: "n1" })),
    ),
    state.minMember,
    state.succeeded,
    state.started,
  ).required;
}
