/**
 * Which shard schedules a group: the live shard its pending members are pinned to, else the
 * ring's owner. Shards, the coordinator and the status command all ask groupOwner.
 */
import { describe, expect, it } from "vitest";
import { ownerCondition } from "../../../src/contracts/owner-condition.js";
import type { Pod } from "../../../src/core/api-types.js";
import { toPodInfo } from "../../../src/core/build-info.js";
import { groupOwner, groupPin } from "../../../src/core/gang/index.js";
import { pod } from "../fixtures.js";

const pinned = (p: Pod, shard: string): Pod => ({
  ...p,
  status: { ...p.status, conditions: [ownerCondition({ shard, reason: "HandedOff", epoch: 3 }, 0)] },
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
});
