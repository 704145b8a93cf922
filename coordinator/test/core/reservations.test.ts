import { describe, expect, it } from "vitest";
import { planRelief, withReservations } from "../../src/core/index.js";
import { group, summary } from "./fixtures.js";

describe("withReservations", () => {
  const summaries = [
    summary("a", [{ name: "a1", free: 0 }]),
    summary("b", [{ name: "b1", free: 4000 }]),
    summary("c", [{ name: "c1", free: 2000 }]),
  ];

  it("keeps two groups from being sent to the same free room in one round", () => {
    const first = planRelief({ group: group("one", [3000]), owner: "a", summaries, lentNodes: new Set() });
    expect(first).toMatchObject({ kind: "handoff", to: "b" });
    if (first.kind !== "handoff") return;
    const reserved = withReservations(summaries, [{ until: 10, placements: first.placements }], 5);
    expect(reserved[1]?.nodes[0]?.free.cpu).toBe(1000);
    const second = planRelief({
      group: group("two", [3000]),
      owner: "a",
      summaries: reserved,
      lentNodes: new Set(),
    });
    expect(second).toEqual({ kind: "none", reason: "impossible" });
  });

  it("forgets a reservation once it expires, and leaves the summaries it was given untouched", () => {
    const plan = planRelief({ group: group("one", [3000]), owner: "a", summaries, lentNodes: new Set() });
    if (plan.kind !== "handoff") throw new Error("expected a handoff");
    expect(withReservations(summaries, [{ until: 10, placements: plan.placements }], 10)).toEqual(summaries);
    withReservations(summaries, [{ until: 10, placements: plan.placements }], 5);
    expect(summaries[1]?.nodes[0]?.free.cpu).toBe(4000);
  });
});
