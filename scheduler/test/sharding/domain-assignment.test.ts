/**
 * Topology-aligned shards: whole domains per member, the same assignment in any process and for
 * any input order, balance by node count within the largest domain, minimal movement when a
 * member joins or leaves, and a node's owner read from the ring object only.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ringDomainsAnnotation } from "../../src/contracts/keys.js";
import { parseRingDomains, parseRingLease, type RingDomainListing } from "../../src/contracts/leases.js";
import {
  assignDomains,
  domainListingBudgetBytes,
  domainLoads,
  domainNodeOwners,
  domainsOfListing,
  listedDomains,
  observeDomains,
} from "../../src/sharding/domain-assignment.js";
import { nextRingEpoch } from "../../src/sharding/handover.js";
import { nodeOwnerOf, ShardRing } from "../../src/sharding/shard-ring.js";

const key = "topology.kubernetes.io/rack";
const shards = (count: number): string[] => Array.from({ length: count }, (_, i) => `sharded-scheduler-${i}`);

/** Racks of the given sizes, nodes named after their rack. */
function racks(sizes: readonly number[]): Map<string, string[]> {
  return new Map(
    sizes.map((size, r) => [`r${r}`, Array.from({ length: size }, (_, n) => `rack-${r}-node-${n}`).sort()]),
  );
}

function ownerOfDomain(domains: RingDomainListing): Map<string, string> {
  const owners = new Map<string, string>();
  for (const [member, owned] of Object.entries(domains.owners))
    for (const value of Object.keys(owned)) {
      if (owners.has(value)) throw new Error(`${value} owned twice`);
      owners.set(value, member);
    }
  return owners;
}

function spread(domains: RingDomainListing, members: readonly string[]): number {
  const loads = domainLoads(domains);
  const all = members.map((member) => loads.get(member) ?? 0);
  return Math.max(...all) - Math.min(...all);
}

const sizesArb = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 60 });
const countArb = fc.integer({ min: 1, max: 8 });

describe("assignDomains", { timeout: 30_000 }, () => {
  it("gives every domain exactly one member, and every node of a domain that member", () => {
    fc.assert(
      fc.property(sizesArb, countArb, (sizes, count) => {
        const members = shards(count);
        const listed = racks(sizes);
        const domains = assignDomains(members, undefined, key, listed);
        const owners = ownerOfDomain(domains);
        expect([...owners.keys()].sort()).toEqual([...listed.keys()].sort());
        for (const owner of owners.values()) expect(members).toContain(owner);
        const nodeOwners = domainNodeOwners(domains);
        for (const [value, nodes] of listed)
          for (const node of nodes) expect(nodeOwners.get(node)).toBe(owners.get(value));
      }),
    );
  });

  it("balances by node count: two members' loads differ by at most the largest domain", () => {
    fc.assert(
      fc.property(sizesArb, countArb, (sizes, count) => {
        const members = shards(count);
        const domains = assignDomains(members, undefined, key, racks(sizes));
        expect(spread(domains, members)).toBeLessThanOrEqual(Math.max(...sizes));
      }),
    );
  });

  it("50 racks of 20 over 3 members: 17, 17 and 16 racks", () => {
    const domains = assignDomains(shards(3), undefined, key, racks(Array(50).fill(20)));
    expect([...domainLoads(domains).values()].sort()).toEqual([320, 340, 340]);
  });

  it("is the same in every process: any order of members, domains and nodes", () => {
    fc.assert(
      fc.property(sizesArb, countArb, fc.integer(), (sizes, count, seed) => {
        const members = shards(count);
        const listed = racks(sizes);
        const shuffled = <T>(items: T[]): T[] =>
          items
            .map((item, i) => [item, Math.sin(seed + i)] as const)
            .sort((a, b) => a[1] - b[1])
            .map(([item]) => item);
        const reordered = new Map(shuffled([...listed.entries()]));
        const first = assignDomains(members, undefined, key, listed);
        const second = assignDomains(shuffled([...members]), undefined, key, reordered);
        expect(JSON.stringify(second)).toBe(JSON.stringify(first));
      }),
    );
  });

  it("moves nothing when members and domains stay", () => {
    fc.assert(
      fc.property(sizesArb, countArb, (sizes, count) => {
        const members = shards(count);
        const listed = racks(sizes);
        const first = assignDomains(members, undefined, key, listed);
        expect(JSON.stringify(assignDomains(members, first, key, listed))).toBe(JSON.stringify(first));
      }),
    );
  });

  it("a member joining takes domains; the others only give (none moves between them), balance kept", () => {
    fc.assert(
      fc.property(sizesArb, fc.integer({ min: 1, max: 7 }), (sizes, count) => {
        const before = shards(count);
        const after = shards(count + 1);
        const joiner = after[count] as string;
        const listed = racks(sizes);
        const first = assignDomains(before, undefined, key, listed);
        const second = assignDomains(after, first, key, listed);
        const was = ownerOfDomain(first);
        for (const [value, owner] of ownerOfDomain(second))
          if (owner !== was.get(value)) expect(owner).toBe(joiner);
        expect(spread(second, after)).toBeLessThanOrEqual(Math.max(...sizes));
      }),
    );
  });

  it("a member leaving gives its domains; the others keep all of theirs, balance kept", () => {
    fc.assert(
      fc.property(sizesArb, fc.integer({ min: 2, max: 8 }), fc.nat(), (sizes, count, pick) => {
        const before = shards(count);
        const leaver = before[pick % count] as string;
        const after = before.filter((member) => member !== leaver);
        const listed = racks(sizes);
        // Balanced for these domains before (as the previous epoch of the same listing is).
        const first = assignDomains(before, undefined, key, listed);
        const second = assignDomains(after, first, key, listed);
        const now = ownerOfDomain(second);
        for (const [value, owner] of ownerOfDomain(first))
          if (owner !== leaver) expect(now.get(value)).toBe(owner);
        expect(spread(second, after)).toBeLessThanOrEqual(Math.max(...sizes));
      }),
    );
  });
});

describe("a node's owner under a ring object", { timeout: 30_000 }, () => {
  it("is the same for every process given the ring object, whatever labels each process sees", () => {
    fc.assert(
      fc.property(
        sizesArb,
        countArb,
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 30 }),
        (sizes, count, relabels) => {
          const members = shards(count);
          const seenByProposer = racks(sizes);
          const ringObject = {
            epoch: 1,
            members,
            nodeOwners: {},
            domains: assignDomains(members, undefined, key, seenByProposer),
          };
          // Another process sees nodes relabelled into other racks and nodes the proposer never saw.
          const nodes = [...seenByProposer.values()].flat();
          const seenElsewhere = new Map(nodes.map((node) => [node, "r0"]));
          for (const [n, r] of relabels) {
            seenElsewhere.set(nodes[n % nodes.length] as string, `r${r % 70}`);
            seenElsewhere.set(`new-node-${n}`, `r${r % 70}`);
          }
          // Owners are computed from the ring object alone: the observed labels are not an input.
          const ring = new ShardRing(ringObject.members);
          const ownerIn = (_seen: ReadonlyMap<string, string>) => {
            const listed = domainNodeOwners(ringObject.domains);
            return (node: string) => nodeOwnerOf(ring, ringObject.nodeOwners, node, listed);
          };
          const here = ownerIn(new Map());
          const there = ownerIn(seenElsewhere);
          for (const node of seenElsewhere.keys()) expect(there(node)).toBe(here(node));
          // A node the ring object does not list is hashed, as without domains.
          for (const [n] of relabels) expect(here(`new-node-${n}`)).toBe(ring.ownerOf(`new-node-${n}`));
        },
      ),
      { numRuns: 25 },
    );
  });

  it("a lend wins over the domain listing; a listing naming a non-member falls back to the hash", () => {
    const members = shards(2);
    const domains = assignDomains(members, undefined, key, racks([3]));
    const [node] = racks([3]).get("r0") as string[];
    const owner = domainNodeOwners(domains).get(node as string) as string;
    const other = members.find((member) => member !== owner) as string;
    const ring = new ShardRing(members);
    expect(nodeOwnerOf(ring, { [node as string]: other }, node as string, domainNodeOwners(domains))).toBe(
      other,
    );
    const alone = new ShardRing([other]);
    expect(nodeOwnerOf(alone, {}, node as string, domainNodeOwners(domains))).toBe(other);
  });
});

describe("nextRingEpoch with domains", () => {
  const listed = racks(Array(12).fill(5));
  const base = {
    confirmedDead: new Set<string>(),
    nodeOverrides: new Map<string, string>(),
    highestAck: 0,
    domains: { key, listed },
  };

  it("lists the domains in the first ring object, and proposes nothing more while they stay", () => {
    const first = nextRingEpoch(undefined, { ...base, live: shards(3) });
    expect(first?.domains && domainsOfListing(first.domains).size).toBe(12);
    expect(nextRingEpoch(first, { ...base, live: shards(3), highestAck: 1 })).toBeUndefined();
  });

  it("proposes nothing more once its ring object was written and read back, racks named by numbers included", () => {
    const numbered = new Map([...listed.values()].map((nodes, i) => [String(i * 7), nodes] as const));
    const first = nextRingEpoch(undefined, { ...base, live: shards(3), domains: { key, listed: numbered } });
    const parsedBack = parseRingDomains(JSON.stringify(first?.domains));
    if (!first || !parsedBack.ok) throw new Error("no ring object");
    const readBack = { ...first, domains: parsedBack.value };
    expect(
      nextRingEpoch(readBack, {
        ...base,
        live: shards(3),
        highestAck: 1,
        domains: { key, listed: numbered },
      }),
    ).toBeUndefined();
  });

  it("a member joining moves whole domains under one new epoch", () => {
    const first = nextRingEpoch(undefined, { ...base, live: shards(2) });
    const next = nextRingEpoch(first, { ...base, live: shards(3), highestAck: 1 });
    expect(next?.epoch).toBe(2);
    const loads = domainLoads(next?.domains as RingDomainListing);
    expect(loads.get("sharded-scheduler-2")).toBe(20);
  });

  it("a new node or a relabel proposes a new epoch listing it", () => {
    const first = nextRingEpoch(undefined, { ...base, live: shards(2) });
    const grown = new Map(listed);
    grown.set("r0", [...(listed.get("r0") ?? []), "rack-0-node-9"].sort());
    const next = nextRingEpoch(first, {
      ...base,
      live: shards(2),
      highestAck: 1,
      domains: { key, listed: grown },
    });
    expect(next?.epoch).toBe(2);
    const owners = domainNodeOwners(next?.domains);
    expect(owners.get("rack-0-node-9")).toBe(owners.get("rack-0-node-0"));
  });

  it("a promised node of a domain that moves stays with its current owner (a node owner)", () => {
    const first = nextRingEpoch(undefined, { ...base, live: shards(2) }) as NonNullable<
      ReturnType<typeof nextRingEpoch>
    >;
    const next = nextRingEpoch(first, { ...base, live: shards(3), highestAck: 1 });
    const before = domainNodeOwners(first.domains);
    const after = domainNodeOwners(next?.domains);
    const moved = [...before].find(([node, owner]) => after.get(node) !== owner) as [string, string];
    const kept = nextRingEpoch(first, { ...base, live: shards(3), highestAck: 1, promisedNodes: [moved[0]] });
    expect(kept?.nodeOwners[moved[0]]).toBe(moved[1]);
  });

  it("without a domain label the ring object lists none (turning the flag off drops them)", () => {
    const first = nextRingEpoch(undefined, { ...base, live: shards(2) });
    const { domains: _off, ...perNode } = base;
    const next = nextRingEpoch(first, { ...perNode, live: shards(2), highestAck: 1 });
    expect(next?.domains).toBeUndefined();
  });
});

describe("the ring object's size", () => {
  it("lists 1,000 nodes in 50 racks in about 25 KiB", () => {
    const listed = racks(Array(50).fill(20));
    const text = JSON.stringify(assignDomains(shards(3), undefined, key, listed));
    expect(text.length).toBeLessThan(26 * 1024);
  });

  it("lists at most the budget: 8,000 nodes named like kwok-node-01234 fit; beyond it, the largest domains first", () => {
    const name = (i: number) => `kwok-node-${String(i).padStart(5, "0")}`;
    const observed = (count: number) =>
      observeDomains(
        Array.from({ length: count }, (_, i) => [name(i), `rack-${Math.floor(i / 20)}`] as const),
      );
    const fits = listedDomains(observed(8_000));
    expect(fits.size).toBe(400);
    const full = listedDomains(observed(12_000));
    expect(full.size).toBeLessThan(600);
    const text = JSON.stringify(assignDomains(shards(8), undefined, key, full));
    expect(text.length).toBeLessThanOrEqual(domainListingBudgetBytes + 8 * 64);
  });

  it("leaves out of a listing what the parser would refuse (a ring object stays readable)", () => {
    const observed = observeDomains([
      ["node-1", "r1"],
      ["node-2", ""],
      ["Not_A_Node", "r1"],
      ["node-3", "-bad-"],
    ]);
    expect([...observed]).toEqual([["r1", ["node-1"]]]);
  });

  it("parses what it writes, and refuses a node listed twice", () => {
    const domains = assignDomains(shards(2), undefined, key, racks([2, 3]));
    const lease = {
      metadata: {
        name: "s-ring",
        annotations: {
          "sharded-scheduler.io/ring-epoch": "4",
          "sharded-scheduler.io/ring-members": shards(2).join(","),
          [ringDomainsAnnotation]: JSON.stringify(domains),
        },
      },
    };
    const ring = parseRingLease(lease);
    expect(ring.ok && JSON.stringify(ring.value.domains)).toBe(JSON.stringify(domains));
    const twice = { key, owners: { a: { r0: ["n1"] }, b: { r1: ["n1"] } } };
    expect(parseRingDomains(JSON.stringify(twice)).ok).toBe(false);
    expect(parseRingDomains(JSON.stringify({ key: "no spaces", owners: {} })).ok).toBe(false);
  });
});
