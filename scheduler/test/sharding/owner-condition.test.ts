/**
 * The owner override is the pods' Owner condition (pods/status, which tenants cannot write), never
 * an annotation (which they can): its wire shape, its parser, and the shard reading it.
 */
import { describe, expect, it } from "vitest";
import { ownerConditionType } from "../../src/contracts/keys.js";
import { ownerCondition, ownerPinOf, parseOwnerCondition } from "../../src/contracts/owner-condition.js";
import { groupPin } from "../../src/core/gang/index.js";
import type { Pod } from "../../src/core/index.js";
import { ClusterCache } from "../../src/shard/cluster-cache.js";
import { pod } from "../core/fixtures.js";

const now = Date.parse("2026-12-04T12:00:00Z");
const schedulerName = "sharded-scheduler";

function withOwner(p: Pod, owner: { annotation?: string; condition?: Record<string, string> }): Pod {
  return {
    ...p,
    metadata: {
      ...p.metadata,
      annotations: {
        ...p.metadata.annotations,
        ...(owner.annotation ? { "sharded-scheduler.io/owner": owner.annotation } : {}),
      },
    },
    spec: { ...p.spec, schedulerName },
    status: {
      ...p.status,
      conditions: [
        { type: "PodScheduled", status: "False", reason: "Unschedulable", message: "no room" },
        ...(owner.condition ? [owner.condition as { type: string; status: string }] : []),
      ],
    },
  };
}

const pinnedTo = (shard: string, reason = "HandedOff") => ({
  type: "sharded-scheduler.io/Owner",
  status: "True",
  reason,
  message: `shard=${shard} epoch=3`,
});

describe("Owner condition", () => {
  it("is a True condition of its own type naming the shard and the ring epoch", () => {
    expect(ownerCondition({ shard: "sharded-scheduler-1", reason: "Preempting", epoch: 12 }, now)).toEqual({
      type: "sharded-scheduler.io/Owner",
      status: "True",
      reason: "Preempting",
      message: "shard=sharded-scheduler-1 epoch=12",
      lastTransitionTime: "2026-12-04T12:00:00.000Z",
    });
  });

  it("parses back what it writes, for every reason", () => {
    for (const reason of ["HandedOff", "NodesLent", "Preempting"] as const) {
      const pin = { shard: "s-0", reason, epoch: 4 };
      expect(parseOwnerCondition(ownerCondition(pin, now))).toEqual(pin);
    }
  });

  it("says why a malformed one names no shard", () => {
    const good = pinnedTo("s-0");
    for (const bad of [
      { ...good, status: "False" },
      { ...good, reason: "Tenant" },
      { ...good, message: "shard=s-0" },
      { ...good, message: "shard= epoch=1" },
      { ...good, message: "shard=s-0 epoch=1 extra" },
      { ...good, message: undefined },
    ]) {
      const parsed = parseOwnerCondition(bad);
      expect(parsed, JSON.stringify(bad)).toHaveProperty("invalid");
    }
  });

  it("a pod's owner annotation names nothing; its Owner condition does", () => {
    const base = pod("a", { cpu: 1 });
    expect(ownerPinOf(withOwner(base, { annotation: "s-1" }))).toBeUndefined();
    expect(ownerPinOf(withOwner(base, { condition: pinnedTo("s-2") }))).toEqual({
      shard: "s-2",
      reason: "HandedOff",
      epoch: 3,
    });
    expect(
      ownerPinOf(withOwner(base, { condition: { ...pinnedTo("s-2"), status: "False" } })),
    ).toBeUndefined();
    expect(ownerConditionType).toBe("sharded-scheduler.io/Owner");
  });
});

describe("the shard's owner override", () => {
  const membersOf = (...pods: Pod[]) => {
    const cache = new ClusterCache(schedulerName, () => undefined);
    for (const p of pods) cache.upsertPod(p);
    const members = cache.group("group:default/g");
    if (!members) throw new Error("no group");
    return members;
  };

  it("ignores a tenant's owner annotation on every member", () => {
    const members = membersOf(
      withOwner(pod("g-0", { group: "g" }), { annotation: "s-1" }),
      withOwner(pod("g-1", { group: "g" }), { annotation: "s-1" }),
    );
    expect(groupPin(members.pending.values())).toBeUndefined();
  });

  it("reads the shard from a member's Owner condition, whatever the annotation says", () => {
    const members = membersOf(
      withOwner(pod("g-0", { group: "g" }), { annotation: "s-1" }),
      withOwner(pod("g-1", { group: "g" }), { annotation: "s-1", condition: pinnedTo("s-2", "NodesLent") }),
    );
    expect(groupPin(members.pending.values())).toBe("s-2");
  });
});
