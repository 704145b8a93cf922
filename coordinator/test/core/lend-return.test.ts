import { describe, expect, it } from "vitest";
import { shouldReturn } from "../../src/core/index.js";

describe("shouldReturn", () => {
  const grace = 30_000;
  const lend = {
    lentAt: 0,
    borrowerLive: true,
    groupPodsOnNode: 0,
    groupRanOnNode: false,
    promised: false,
    groupPlaced: false,
  };
  it("keeps a node its group runs on", () => {
    expect(shouldReturn({ ...lend, groupPodsOnNode: 2, groupRanOnNode: true }, 10 * grace, grace)).toBe(
      false,
    );
  });
  it("gives the borrower the grace period to place the group", () => {
    expect(shouldReturn(lend, grace - 1, grace)).toBe(false);
    expect(shouldReturn(lend, grace, grace)).toBe(true);
  });
  // Its group was placed on other nodes: it will not come, and the node, which takes no other
  // group's pods meanwhile, must not sit idle out the grace period.
  it("returns at once when the borrower says no member of the group waits any more", () => {
    expect(shouldReturn({ ...lend, groupPlaced: true }, 1, grace)).toBe(true);
    expect(shouldReturn({ ...lend, groupPlaced: true, promised: true }, 1, grace)).toBe(false);
  });
  it("returns at once when the group ran on it and left", () => {
    expect(shouldReturn({ ...lend, groupRanOnNode: true }, 1, grace)).toBe(true);
  });
  it("keeps a node while the borrower holds room a preemption won there", () => {
    expect(shouldReturn({ ...lend, groupRanOnNode: true, promised: true }, 10 * grace, grace)).toBe(false);
    expect(shouldReturn({ ...lend, borrowerLive: false, promised: true }, 1, grace)).toBe(true);
  });
  it("returns at once when the borrower left the ring", () => {
    expect(
      shouldReturn({ ...lend, borrowerLive: false, groupPodsOnNode: 3, groupRanOnNode: true }, 1, grace),
    ).toBe(true);
  });
});
