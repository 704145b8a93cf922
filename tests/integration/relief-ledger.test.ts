/**
 * The coordinator's Redis ledger (claim-relief.lua) against the run's real Redis: attempts and
 * cooldown per group, the maximum, lent nodes claimed once, one winner among concurrent
 * claims, and a ledger rebuilt from what the pods record after Redis lost it.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ReliefClaim, ReliefLedger } from "../../coordinator/src/ledger/relief-ledger.js";
import { redisUrl } from "../support/redis.js";

let redis: Redis;
let ledger: ReliefLedger;
const cooldownMs = 10_000;

beforeAll(() => {
  redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  ledger = new ReliefLedger(redis, {
    schedulerName: `ledger-${randomBytes(3).toString("hex")}`,
    cooldownMs,
    maxAttempts: 2,
    maxCooldownMs: 3 * cooldownMs,
    recordTtlMs: 60_000,
  });
});

afterAll(() => redis?.disconnect());

const claim = (group: string, overrides: Partial<ReliefClaim> = {}): ReliefClaim => ({
  group,
  kind: "handoff",
  to: "shard-1",
  from: "shard-0",
  nodes: [],
  knownAttempts: 0,
  knownAt: 0,
  ...overrides,
});

describe("relief ledger", () => {
  it("counts attempts, refuses during the cooldown, and past the maximum waits ever longer", async () => {
    expect(await ledger.claim(claim("group:ns/a"), 1_000)).toEqual({ claimed: true, attempts: 1 });
    expect(await ledger.claim(claim("group:ns/a", { to: "shard-2" }), 1_000 + cooldownMs - 1)).toEqual({
      claimed: false,
      reason: "cooldown",
      attempts: 1,
      current: { kind: "handoff", to: "shard-1" },
    });
    expect(await ledger.claim(claim("group:ns/a"), 1_000 + cooldownMs)).toEqual({
      claimed: true,
      attempts: 2,
    });
    // Past the maximum the group is not given up: each wait doubles (2, then 4 cooldowns),
    // up to maxCooldownMs (3 cooldowns).
    const second = 1_000 + cooldownMs;
    const third = await ledger.claim(claim("group:ns/a"), second + 2 * cooldownMs - 1);
    expect(third).toMatchObject({ claimed: false, reason: "exhausted", attempts: 2 });
    expect(await ledger.claim(claim("group:ns/a"), second + 2 * cooldownMs)).toEqual({
      claimed: true,
      attempts: 3,
    });
    const thirdAt = second + 2 * cooldownMs;
    expect(await ledger.claim(claim("group:ns/a"), thirdAt + 3 * cooldownMs - 1)).toMatchObject({
      claimed: false,
      reason: "exhausted",
    });
    expect(await ledger.claim(claim("group:ns/a"), thirdAt + 3 * cooldownMs)).toEqual({
      claimed: true,
      attempts: 4,
    });
    const ttl = await redis.pttl(ledger.groupKey("group:ns/a"));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it("lends a node to one group at a time, and again once it is released", async () => {
    const lend = (group: string) =>
      claim(group, { kind: "lend", to: "shard-0", nodes: ["node-x", "node-y"] });
    expect(await ledger.claim(lend("group:ns/b"), 1_000)).toMatchObject({ claimed: true });
    expect(await ledger.claim(claim("group:ns/c", { kind: "lend", nodes: ["node-y"] }), 1_000)).toMatchObject(
      {
        claimed: false,
        reason: "node-taken",
      },
    );
    // A refused claim leaves nothing behind: no record for the group, no node taken.
    expect(await redis.exists(ledger.groupKey("group:ns/c"))).toBe(0);
    await ledger.releaseLend("node-y");
    expect(await ledger.claim(claim("group:ns/c", { kind: "lend", nodes: ["node-y"] }), 1_000)).toMatchObject(
      {
        claimed: true,
      },
    );
    expect(await redis.get(ledger.lendKey("node-y"))).toBe("group:ns/c");
  });

  it("gives exactly one of many concurrent claims for a group", async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => ledger.claim(claim("group:ns/d", { to: `shard-${i}` }), 5_000)),
    );
    expect(outcomes.filter((o) => o.claimed)).toHaveLength(1);
  });

  it("rebuilds from the pods' record after Redis lost the ledger: no second relief within the cooldown", async () => {
    await redis.del(ledger.groupKey("group:ns/e"));
    const known = { knownAttempts: 1, knownAt: 50_000 };
    expect(await ledger.claim(claim("group:ns/e", known), 50_000 + cooldownMs / 2)).toMatchObject({
      claimed: false,
      reason: "cooldown",
    });
    expect(await ledger.claim(claim("group:ns/e", known), 50_000 + cooldownMs)).toEqual({
      claimed: true,
      attempts: 2,
    });
  });
});
