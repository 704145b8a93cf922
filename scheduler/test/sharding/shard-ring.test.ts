/**
 * The shard ring: balanced shares of node names and group keys, the same owners in any process
 * and for any member order, minimal movement when a member joins or leaves, owner overrides.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nodeOwnerAnnotation } from "../../src/contracts/keys.js";
import { groupKey } from "../../src/core/gang/index.js";
import { ShardRing } from "../../src/sharding/shard-ring.js";

const shards = (count: number): string[] => Array.from({ length: count }, (_, i) => `sharded-scheduler-${i}`);

const nodeNames = Array.from({ length: 5000 }, (_, i) => `kwok-node-${String(i).padStart(4, "0")}`);
const groupHashKeys = Array.from({ length: 50 }, (_, i) =>
  Array.from({ length: 100 }, (_, j) => groupKey(`ns-${i}`, `job-${j}`, false).hashKey),
).flat();

/** Largest relative distance of a member's key count from the mean. */
function worstDeviation(ring: ShardRing, keys: readonly string[]): number {
  const counts = new Map(ring.members.map((member) => [member, 0]));
  for (const key of keys) {
    const owner = ring.ownerOf(key);
    if (owner === undefined) throw new Error(`no owner for ${key}`);
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  const mean = keys.length / ring.members.length;
  return Math.max(...[...counts.values()].map((count) => Math.abs(count / mean - 1)));
}

/** DNS-label-like identities, as StatefulSet pod names are. */
const identityArb = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,14}[a-z0-9])?$/);
const keysArb = fc.array(fc.string({ maxLength: 30 }), { minLength: 100, maxLength: 200 });

describe("ShardRing balance", () => {
  for (const count of [2, 3, 5, 8]) {
    const ring = new ShardRing(shards(count));
    it(`${count} members: each owns ${nodeNames.length / count} ± 10 % node names`, () => {
      expect(worstDeviation(ring, nodeNames)).toBeLessThanOrEqual(0.1);
    });
    it(`${count} members: each owns ${groupHashKeys.length / count} ± 10 % group keys`, () => {
      expect(worstDeviation(ring, groupHashKeys)).toBeLessThanOrEqual(0.1);
    });
  }
});

// The property tests take about 0.5 s alone and 5x that on a machine busy with other suites.
describe("ShardRing determinism", { timeout: 30_000 }, () => {
  it("maps keys as ketama md5 does in any process (pinned owners)", () => {
    const ring = new ShardRing(shards(3));
    const owners = Object.fromEntries(
      [
        "kwok-node-0000",
        "kwok-node-0002",
        "kwok-node-0003",
        "team-a/llm-pretrain",
        "constructor",
        "ml/训练-ü",
      ].map((key) => [key, ring.ownerOf(key)]),
    );
    expect(owners).toEqual({
      "kwok-node-0000": "sharded-scheduler-1",
      "kwok-node-0002": "sharded-scheduler-0",
      "kwok-node-0003": "sharded-scheduler-2",
      "team-a/llm-pretrain": "sharded-scheduler-2",
      constructor: "sharded-scheduler-1",
      "ml/训练-ü": "sharded-scheduler-2",
    });
  });

  it("gives the same members, version and owners for any order and duplicates of the members", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(identityArb, { minLength: 1, maxLength: 6 }),
        fc.func(fc.integer()),
        keysArb,
        (members, rank, keys) => {
          const shuffled = [...members, ...members.slice(0, 2)].sort((a, b) => rank(a) - rank(b));
          const ring = new ShardRing(members);
          const other = new ShardRing(shuffled);
          expect(other.members).toEqual(ring.members);
          expect(other.version).toBe(ring.version);
          for (const key of keys) expect(other.ownerOf(key)).toBe(ring.ownerOf(key));
        },
      ),
      { numRuns: 25 },
    );
  });

  it("answers keys named like Object.prototype members from its own members only", () => {
    const first = new ShardRing(["a-0", "a-1"]);
    const second = new ShardRing(["b-0", "b-1"]);
    for (const key of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      expect(first.members).toContain(first.ownerOf(key));
      expect(second.members).toContain(second.ownerOf(key));
    }
  });
});

describe("ShardRing minimal movement", { timeout: 30_000 }, () => {
  it("a member joining takes keys only from others, and leaving gives back only its own", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(identityArb, { minLength: 2, maxLength: 7 }),
        keysArb,
        ([member, ...others], keys) => {
          if (member === undefined) throw new Error("uniqueArray gave fewer members than asked");
          const without = new ShardRing(others);
          const withMember = new ShardRing([...others, member]);
          let taken = 0;
          for (const key of keys) {
            const owner = withMember.ownerOf(key);
            // Joining (without → with) and leaving (with → without) are the same pair of rings.
            if (owner === member) taken++;
            else expect(owner).toBe(without.ownerOf(key));
          }
          expect(taken).toBeGreaterThan(0);
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe("ShardRing remembered owners", () => {
  it("answers a key asked again as a fresh ring of the same members does", () => {
    const members = ["sharded-scheduler-0", "sharded-scheduler-1", "sharded-scheduler-2"];
    const asked = new ShardRing(members);
    const keys = Array.from({ length: 3000 }, (_, i) => `ns/group-${i}`);
    const first = keys.map((key) => asked.ownerOf(key));
    const again = [...keys]
      .reverse()
      .map((key) => asked.ownerOf(key))
      .reverse();
    const fresh = new ShardRing(members);
    const freshOwners = keys.map((key) => fresh.ownerOf(key));
    expect(again).toEqual(first);
    expect(first).toEqual(freshOwners);
    expect(new Set(first).size).toBe(3);
  });
});

describe("ShardRing members and version", () => {
  it("an empty ring owns nothing", () => {
    const ring = new ShardRing([]);
    expect(ring.members).toEqual([]);
    expect(ring.ownerOf("kwok-node-0000")).toBeUndefined();
    expect(ring.version).toBe(new ShardRing([]).version);
  });

  it("a single member owns every key", () => {
    const ring = new ShardRing(["sharded-scheduler-0"]);
    for (const key of nodeNames.slice(0, 100)) expect(ring.ownerOf(key)).toBe("sharded-scheduler-0");
  });

  it("versions are equal exactly when the member sets are", () => {
    const version = new ShardRing(["s-1", "s-0", "s-2"]).version;
    expect(version).toMatch(/^[0-9a-f]{16}$/);
    expect(new ShardRing(["s-2", "s-1", "s-0", "s-1"]).version).toBe(version);
    expect(new ShardRing(["s-0", "s-1"]).version).not.toBe(version);
    expect(new ShardRing(["s-0", "s-1", "s-3"]).version).not.toBe(version);
  });

  it("refuses what no StatefulSet pod can be named (callers check identities where they read them)", () => {
    for (const bad of ["", "__proto__", "a,b", "S-0", "-s", "s.", "s_0", "x".repeat(254)])
      expect(() => new ShardRing(["s-0", bad])).toThrow(TypeError);
  });

  it("holds identities named like Object.prototype members", () => {
    const ring = new ShardRing(["constructor", "hasownproperty", "tostring"]);
    const owners = new Set(Array.from({ length: 300 }, (_, i) => ring.ownerOf(`node-${i}`)));
    expect([...owners].sort()).toEqual(["constructor", "hasownproperty", "tostring"]);
  });
});

describe("node owner overrides", () => {
  it("names a lent node's shard in the node's owner annotation (tenants cannot patch nodes)", () => {
    expect(nodeOwnerAnnotation).toBe("sharded-scheduler.io/owner");
  });
});
