/**
 * Which shard schedules a group: the live shard its pending members are pinned to, else the
 * ring's owner. Shards, the coordinator and the status command all ask groupOwner.
 */
import { describe, expect, it } from "vitest";
import { type OwnerReason, ownerCondition } from "../../../src/contracts/owner-condition.js";
import type { Pod } from "../../../src/core/api-types.js";
import { toPodInfo } from "../../../src/core/build-info.js";
import { groupOwner, groupPin } from "../../../src/core/gang/index.js";
import { pod } from "../fixtures.js";

const pinned = (p: Pod, shard: string, reason: OwnerReason = "HandedOff", epoch = 3): Pod => ({
  ...p,
  status: { ...p.status, conditions: [ownerCondition({ shard, reason, epoch }, 0)] },
});

describe("groupOwner", () => {
  const live = new Set(["s-0", "s-1"]);

  it("prefers a live pin", () => {
    expect(groupOwner("s-0", "s-1", live)).toBe("s-1");
    expect(groupOwner(undefined, "s-1", live)).toBe("s-1");
  });

  it("falls back to the ring owner when the pin is absent or names a shard that is gone", () => {
    expect(groupOwner("s-0", undefined, live)).toBe("s-0");
    expect(groupOwner("s-0", "s-7", live)).toBe("s-0");
    expect(groupOwner("s-0", "", live)).toBe("s-0");
    expect(groupOwner(undefined, "s-7", live)).toBeUndefined();
  });
});

describe("groupPin", () => {
  it("is the first valid pin among the pending members, none without one", () => {
    const members = [pod("g-0", { group: "g" }), pinned(pod("g-1", { group: "g" }), "s-2")];
    expect(groupPin(members.map((p) => toPodInfo(p)))).toBe("s-2");
    expect(groupPin([toPodInfo(pod("g-0", { group: "g" }))])).toBeUndefined();
  });

  // A shard pinning the group as it preempts and the coordinator handing it off race: the
  // members end up pinned to different shards. Every reader must still name the same owner
  // whatever order it holds the members in, or each shard drops the group as another's.
  it("names the same shard whatever order members that disagree come in", () => {
    const orders = (members: Pod[]) =>
      [members, [...members].reverse()].map((m) => groupPin(m.map((p) => toPodInfo(p))));
    const a = pinned(pod("g-0", { group: "g" }), "s-1", "Preempting", 25);
    const b = pinned(pod("g-1", { group: "g" }), "s-2", "HandedOff", 25);
    // At one epoch the preemptor keeps it: its victims are leaving for it.
    expect(orders([a, b])).toEqual(["s-1", "s-1"]);
    // A newer epoch's pin wins.
    const newer = pinned(pod("g-2", { group: "g" }), "s-2", "HandedOff", 26);
    expect(orders([a, b, newer])).toEqual(["s-2", "s-2"]);
    // Same epoch and reason: the smallest name.
    const c = pinned(pod("g-3", { group: "g" }), "s-0", "NodesLent", 3);
    const d = pinned(pod("g-4", { group: "g" }), "s-3", "HandedOff", 3);
    expect(orders([d, c])).toEqual(["s-0", "s-0"]);
  });
});
