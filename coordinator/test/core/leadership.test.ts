import { describe, expect, it } from "vitest";
import { LeadershipProof, Reachability } from "../../src/core/index.js";

/** A 10 s lease: margin 2 s, so leadership lasts 8 s from a renewal's send time. */
function proofAt(start = 0) {
  const clock = { now: start };
  const proof = new LeadershipProof(10_000, () => clock.now);
  return { clock, proof };
}

describe("LeadershipProof", () => {
  it("holds until the last counted renewal's send time plus the lease minus the margin", () => {
    const { clock, proof } = proofAt(1_000);
    expect(proof.holds()).toBe(false);
    clock.now = 1_300;
    expect(proof.renewed(1_000)).toBe("gained");
    expect(proof.deadline).toBe(9_000);
    clock.now = 8_999;
    expect(proof.holds()).toBe(true);
    clock.now = 9_000;
    expect(proof.holds()).toBe(false);
    expect(proof.ticket()).toBeUndefined();
  });

  it("does not count a renewal answered later than the margin", () => {
    const { clock, proof } = proofAt();
    clock.now = 2_001;
    expect(proof.renewed(0)).toBe("late");
    expect(proof.holds()).toBe(false);
  });

  it("voids a ticket at the deadline, and keeps it void once leadership is regained", () => {
    const { clock, proof } = proofAt();
    proof.renewed(0);
    const ticket = proof.ticket();
    expect(ticket?.valid()).toBe(true);
    clock.now = 5_000;
    expect(proof.renewed(5_000)).toBe("renewed");
    expect(ticket?.valid()).toBe(true);
    // Stalled past the deadline (13 s): whatever was decided before must not go out...
    clock.now = 13_000;
    expect(ticket?.valid()).toBe(false);
    // ...not even after a renewal succeeds again: another leader may have acted meanwhile.
    expect(proof.renewed(13_000)).toBe("gained");
    expect(proof.holds()).toBe(true);
    expect(ticket?.valid()).toBe(false);
    expect(proof.ticket()?.valid()).toBe(true);
  });

  it("stops at once when leadership is given up", () => {
    const { proof } = proofAt();
    proof.renewed(0);
    const ticket = proof.ticket();
    proof.revoke();
    expect(proof.holds()).toBe(false);
    expect(ticket?.valid()).toBe(false);
    expect(proof.renewed(0)).toBe("gained");
    expect(ticket?.valid()).toBe(false);
  });

  it("never moves the deadline back for a renewal sent earlier than the one that counted", () => {
    const { clock, proof } = proofAt();
    clock.now = 3_000;
    proof.renewed(3_000);
    proof.renewed(2_500);
    expect(proof.deadline).toBe(11_000);
  });
});

describe("Reachability", () => {
  it("is unreachable before a first success and after the bound passed without one", () => {
    const clock = { now: 0 };
    const redis = new Reachability(5_000, () => clock.now);
    expect(redis.reachable()).toBe(false);
    clock.now = 100;
    redis.succeeded(50);
    expect(redis.reachable()).toBe(true);
    clock.now = 5_049;
    expect(redis.reachable()).toBe(true);
    clock.now = 5_050;
    expect(redis.reachable()).toBe(false);
    expect(redis.silentForMs()).toBe(5_000);
  });
});
