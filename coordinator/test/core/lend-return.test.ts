import { describe, expect, it } from "vitest";
import { shouldReturn } from "../../src/core/index.js";

describe("shouldReturn", () => {
  const grace = 30_000;
  it("keeps a node its group runs on", () => {
    expect(shouldReturn({ lentAt: 0, borrowerLive: true, groupPodsOnNode: 2 }, 10 * grace, grace)).toBe(
      false,
    );
  });
  it("gives the borrower the grace period to place the group", () => {
    expect(shouldReturn({ lentAt: 0, borrowerLive: true, groupPodsOnNode: 0 }, grace - 1, grace)).toBe(false);
    expect(shouldReturn({ lentAt: 0, borrowerLive: true, groupPodsOnNode: 0 }, grace, grace)).toBe(true);
  });
  it("returns at once when the borrower left the ring", () => {
    expect(shouldReturn({ lentAt: 0, borrowerLive: false, groupPodsOnNode: 3 }, 1, grace)).toBe(true);
  });
});
