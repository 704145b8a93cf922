/**
 * The shard Leases as read from the API server: whatever their annotations say, parsing gives a
 * ring object or a reason and never throws; a ShardLeases that sees a malformed ring Lease skips
 * it (once logged, counted), keeps working, and its next proposal replaces that very object.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import {
  ackedEpochAnnotation,
  ringEpochAnnotation,
  ringMembersAnnotation,
  ringNodeOwnersAnnotation,
} from "../../src/contracts/keys.js";
import {
  type Lease,
  parseMemberLease,
  parseNodeOwners,
  parseRingLease,
  parseRingMembers,
} from "../../src/contracts/leases.js";
import type { KubeClient } from "../../src/kube/kube-client.js";
import { nextRingEpoch } from "../../src/sharding/handover.js";
import { ShardLeases } from "../../src/sharding/shard-leases.js";
import { nodeOwnerOf, ShardRing } from "../../src/sharding/shard-ring.js";

const ringLease = (annotations: Record<string, string>, resourceVersion = "7"): Lease => ({
  metadata: { name: "sched-ring", resourceVersion, annotations },
});
const ring = (members: string, epoch = "3", owners = "{}") =>
  parseRingLease(
    ringLease({
      [ringEpochAnnotation]: epoch,
      [ringMembersAnnotation]: members,
      [ringNodeOwnersAnnotation]: owners,
    }),
  );
const reasonOf = (result: { ok: boolean; reason?: string }) => (result.ok ? undefined : result.reason);

describe("parseRingLease", () => {
  it("reads a well-formed ring", () => {
    expect(ring("s-1,s-0", "12", '{"node-a":"s-1"}')).toEqual({
      ok: true,
      value: { epoch: 12, members: ["s-0", "s-1"], nodeOwners: { "node-a": "s-1" }, resourceVersion: "7" },
    });
    expect(ring("")).toMatchObject({ ok: true, value: { members: [] } });
  });

  it.each([
    ["__proto__", "__proto__"],
    ["__proto__ among others", "s-0,__proto__"],
    ["upper case", "S-0"],
    ["an underscore", "s_0"],
    ["a leading dash", "-s"],
    ["garbage", "s-0,garbage!"],
    ["a space", " s-0"],
    ["254 characters", "x".repeat(254)],
    ["200 KB", `s-0,${"y".repeat(200_000)}`],
  ])("refuses a member with %s, naming it (cut short)", (_, members) => {
    const reason = reasonOf(ring(members));
    expect(reason).toMatch(/^member ".*" is not a shard identity/);
    expect((reason ?? "").length).toBeLessThan(200);
  });

  it("takes identities named like Object.prototype members", () => {
    expect(ring("constructor,tostring,valueof")).toMatchObject({
      ok: true,
      value: { members: ["constructor", "tostring", "valueof"] },
    });
  });

  it.each([
    ["9007199254740991", true],
    ["9007199254740992", false],
    ["9007199254740993", false],
    ["99999999999999999999", false],
    ["1e3", false],
    ["-1", false],
    ["1.5", false],
    ["0x10", false],
    ["", false],
    ["three", false],
  ])("epoch %s is read exactly or refused (ok: %s)", (epoch, ok) => {
    const result = ring("s-0", epoch);
    expect(result.ok).toBe(ok);
    if (result.ok) expect(result.value.epoch).toBe(Number.MAX_SAFE_INTEGER);
    else expect(result.reason).toContain(ringEpochAnnotation);
  });

  it("refuses epochs beyond 2^53 - 1 saying so", () => {
    expect(reasonOf(ring("s-0", "9007199254740992"))).toContain("beyond 2^53 - 1");
  });

  it("refuses a ring without an epoch", () => {
    expect(reasonOf(parseRingLease(ringLease({ [ringMembersAnnotation]: "s-0" })))).toContain("no ");
  });

  it.each([
    ["not json", "not JSON"],
    ["[]", "not a JSON object"],
    ["null", "not a JSON object"],
    ['"s-0"', "not a JSON object"],
    ['{"__proto__":"s-0"}', "not a node name"],
    ['{"constructor":{"a":1}}', "not a shard identity"],
    ['{"node-a":"__proto__"}', "not a shard identity"],
    ['{"node-a":7}', "not a shard identity"],
    ['{"Node A":"s-0"}', "not a node name"],
  ])("refuses node owners %s", (owners, reason) => {
    expect(reasonOf(ring("s-0", "3", owners))).toContain(reason);
  });

  it("keeps node owners without a prototype: a node named like one of its members is a node", () => {
    const parsed = parseNodeOwners('{"constructor":"s-1","tostring":"s-1"}');
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(Object.getPrototypeOf(parsed.value)).toBeNull();
    const shardRing = new ShardRing(["s-0", "s-1"]);
    expect(nodeOwnerOf(shardRing, parsed.value, "constructor")).toBe("s-1");
    expect(nodeOwnerOf(shardRing, parsed.value, "hasOwnProperty")).toBe(shardRing.ownerOf("hasOwnProperty"));
  });

  it("never throws, whatever the annotations hold", () => {
    const values = ["", "{", "__proto__", "1e3", '{"__proto__":{}}', "\u0000", "x".repeat(300_000)];
    for (const epoch of values)
      for (const members of values)
        for (const owners of values) expect(() => ring(members, epoch, owners)).not.toThrow();
    expect(() => parseRingLease({ metadata: { name: "sched-ring" } })).not.toThrow();
    expect(() =>
      parseRingLease({
        metadata: { name: "r", annotations: { [ringEpochAnnotation]: 5 as unknown as string } },
      }),
    ).not.toThrow();
  });
});

describe("parseRingMembers", () => {
  it("sorts and removes duplicates and empty entries", () => {
    expect(parseRingMembers("s-1,,s-0,s-1,")).toEqual({ ok: true, value: ["s-0", "s-1"] });
  });
});

describe("parseMemberLease", () => {
  const member = (annotations: Record<string, string>, spec: Lease["spec"] = {}, name = "s-0"): Lease => ({
    metadata: { name, resourceVersion: "1", annotations },
    spec: { holderIdentity: name, leaseDurationSeconds: 10, renewTime: "t", ...spec },
  });

  it("reads the acknowledged epoch exactly", () => {
    expect(parseMemberLease(member({ [ackedEpochAnnotation]: "9007199254740991" }))).toMatchObject({
      ok: true,
      value: { ackedEpoch: Number.MAX_SAFE_INTEGER, durationMs: 10_000, released: false },
    });
    expect(parseMemberLease(member({}))).toMatchObject({ ok: true, value: { ackedEpoch: 0 } });
  });

  it.each(["9007199254740992", "1e3", "-1", "abc", "1.5"])("refuses acked epoch %s", (epoch) => {
    expect(reasonOf(parseMemberLease(member({ [ackedEpochAnnotation]: epoch })))).toContain(
      ackedEpochAnnotation,
    );
  });

  it.each([0, -5, 1.5, Number.NaN])("refuses lease duration %s", (seconds) => {
    expect(parseMemberLease(member({}, { leaseDurationSeconds: seconds })).ok).toBe(false);
  });

  it("refuses a Lease whose name is not a shard identity", () => {
    expect(parseMemberLease(member({}, {}, "__proto__")).ok).toBe(false);
  });
});

describe("nextRingEpoch replacing a malformed ring object", () => {
  const desired = {
    live: ["s-0", "s-1"],
    confirmedDead: new Set<string>(),
    nodeOverrides: new Map<string, string>(),
    highestAck: 4,
  };
  const current = { epoch: 4, members: ["s-0", "s-1"], nodeOwners: {} };

  it("proposes the same ring under a higher epoch when the stored one cannot be read", () => {
    expect(nextRingEpoch(current, desired)).toBeUndefined();
    expect(nextRingEpoch(current, { ...desired, replace: true })).toEqual({ ...current, epoch: 5 });
  });

  it("builds node owners without a prototype", () => {
    const next = nextRingEpoch(current, {
      ...desired,
      nodeOverrides: new Map([
        ["constructor", "s-1"],
        ["node-a", "s-0"],
      ]),
    });
    expect(Object.getPrototypeOf(next?.nodeOwners)).toBeNull();
    expect(JSON.parse(JSON.stringify(next?.nodeOwners))).toEqual({ constructor: "s-1", "node-a": "s-0" });
  });
});

/** A KubeClient that lists the given Leases and records what is written. */
function fakeClient(leases: Lease[]) {
  const writes: { method: string; path: string; body: Lease }[] = [];
  const client = {
    must: async () => ({ items: leases }),
    call: async (method: string, path: string, body: Lease) => {
      writes.push({ method, path, body });
      return { status: 200, body: { ...body, metadata: { ...body.metadata, resourceVersion: "99" } } };
    },
  } as unknown as KubeClient;
  return { client, writes };
}

/** Shard s-0's Leases: 10 s, renewed every second. */
const leaseOptions = {
  namespace: "ns",
  identity: "s-0",
  schedulerName: "sched",
  leaseDurationMs: 10_000,
  renewIntervalMs: 1_000,
};

/** Shard s-0's ShardLeases over a client, on a clock the test moves. */
const leasesOnClock = (client: KubeClient, now: () => number) =>
  new ShardLeases(client, leaseOptions, pino({ level: "silent" }), () => undefined, now);

describe("ShardLeases with a malformed ring Lease", () => {
  const hostile = ringLease(
    {
      [ringEpochAnnotation]: "3",
      [ringMembersAnnotation]: "__proto__,s-0",
      [ringNodeOwnersAnnotation]: "{}",
    },
    "42",
  );

  it("skips it (logged once, counted once), and replaces that object when proposing", async () => {
    const { client, writes } = fakeClient([hostile]);
    const logged: unknown[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => logged.push(JSON.parse(line)) });
    const leases = new ShardLeases(client, leaseOptions, log);
    const counted: string[] = [];
    leases.onInvalidObject = (kind) => counted.push(kind);
    await leases.freshRead();
    await leases.freshRead();
    expect(leases.ring).toBeUndefined();
    expect(leases.ringMalformed).toBe(true);
    expect(counted).toEqual(["ring-lease"]);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ name: "ns/sched-ring", kind: "ring-lease" });
    expect(JSON.stringify(logged[0])).toContain('member \\"__proto__\\" is not a shard identity');

    const next = nextRingEpoch(leases.ring, {
      live: ["s-0"],
      confirmedDead: new Set(),
      nodeOverrides: new Map(),
      highestAck: 0,
      replace: leases.ringMalformed,
    });
    if (!next) throw new Error("no proposal");
    expect(await leases.proposeRing(next, leases.ring)).toBe(true);
    expect(writes[0]?.method).toBe("PUT");
    expect(writes[0]?.body.metadata.resourceVersion).toBe("42");
    expect(leases.ring).toMatchObject({ epoch: 1, members: ["s-0"] });
    expect(leases.ringMalformed).toBe(false);
    leases.stop(false);
  });

  it("writes the ring's domain listing and reads it back as the same ring", async () => {
    const { client, writes } = fakeClient([]);
    const leases = new ShardLeases(client, leaseOptions, pino({ level: "silent" }));
    await leases.freshRead();
    const next = nextRingEpoch(undefined, {
      live: ["s-0", "s-1"],
      confirmedDead: new Set(),
      nodeOverrides: new Map(),
      highestAck: 0,
      domains: {
        key: "topology.kubernetes.io/rack",
        listed: new Map([
          ["r1", ["n-1", "n-2"]],
          ["r2", ["n-3"]],
        ]),
      },
    });
    if (!next) throw new Error("no proposal");
    expect(await leases.proposeRing(next, undefined)).toBe(true);
    expect(
      JSON.parse(writes[0]?.body.metadata.annotations?.["sharded-scheduler.io/ring-domains"] ?? "{}"),
    ).toEqual({
      key: "topology.kubernetes.io/rack",
      owners: { "s-0": { r1: ["n-1", "n-2"] }, "s-1": { r2: ["n-3"] } },
    });
    expect(JSON.stringify(leases.ring?.domains)).toBe(JSON.stringify(next.domains));
    leases.stop(false);
  });

  it("keeps the last good ring when a later one is malformed", async () => {
    const good = ringLease(
      { [ringEpochAnnotation]: "5", [ringMembersAnnotation]: "s-0,s-1", [ringNodeOwnersAnnotation]: "{}" },
      "41",
    );
    const listed = [good];
    const { client } = fakeClient(listed);
    const leases = new ShardLeases(client, leaseOptions, pino({ level: "silent" }));
    await leases.freshRead();
    expect(leases.ring?.epoch).toBe(5);
    listed[0] = hostile;
    await leases.freshRead();
    expect(leases.ring?.epoch).toBe(5);
    expect(leases.ringMalformed).toBe(true);
    leases.stop(false);
  });
});

describe("ShardLeases with a ring member that has no Lease", () => {
  it("confirms it dead after a lease duration of fresh reads, so the ring can drop it", async () => {
    const ghostRing = ringLease({
      [ringEpochAnnotation]: "3",
      [ringMembersAnnotation]: "ghost,s-0",
      [ringNodeOwnersAnnotation]: "{}",
    });
    const own: Lease = {
      metadata: { name: "s-0", resourceVersion: "1", annotations: { [ackedEpochAnnotation]: "3" } },
      spec: { holderIdentity: "s-0", leaseDurationSeconds: 10, renewTime: "t" },
    };
    const { client } = fakeClient([ghostRing, own]);
    let now = 1_000_000;
    const leases = leasesOnClock(client, () => now);
    await leases.freshRead();
    // Seen absent once: not dead yet (it may be a replica about to create its Lease).
    await leases.freshRead();
    expect(leases.peer("ghost")?.absent).toBe(true);
    expect(leases.confirmedDead().has("ghost")).toBe(false);
    now += 10_000;
    await leases.freshRead();
    expect(leases.confirmedDead().has("ghost")).toBe(true);
    expect(
      nextRingEpoch(leases.ring, {
        live: ["s-0"],
        confirmedDead: leases.confirmedDead(),
        nodeOverrides: new Map(),
        highestAck: 3,
      })?.members,
    ).toEqual(["s-0"]);
    leases.stop(false);
  });
});

describe("ShardLeases renewing its own Lease", () => {
  it("counts each renewal by its result, and a lapse once the lease is regained after one", async () => {
    let now = 1_000_000;
    /** What the next write does: answer after delayMs with status, or fail. */
    let next: { delayMs: number; status: number } | "fail" = { delayMs: 10, status: 200 };
    const client = {
      must: async () => ({ items: [] }),
      call: async (_method: string, _path: string, body: Lease) => {
        if (next === "fail") throw new Error("connection reset");
        now += next.delayMs;
        return {
          status: next.status,
          body: { ...body, metadata: { ...body.metadata, resourceVersion: "5" } },
        };
      },
    } as unknown as KubeClient;
    const leases = leasesOnClock(client, () => now);
    const results: string[] = [];
    let lapses = 0;
    leases.onRenewal = (result) => results.push(result);
    leases.onLapse = () => lapses++;
    let epoch = 0;
    const renew = () => leases.publishAck(++epoch);

    await renew();
    expect(leases.holdsLease()).toBe(true);
    // Answered after the margin (2 s of a 10 s lease): it holds nothing.
    next = { delayMs: 2_000, status: 200 };
    await renew();
    next = { delayMs: 10, status: 500 };
    await renew();
    next = "fail";
    await renew();
    expect(results).toEqual(["counted", "late", "refused", "failed"]);
    // The first gain is no lapse; eight seconds without a counted renewal are one.
    expect(lapses).toBe(0);
    now += 8_000;
    expect(leases.holdsLease()).toBe(false);
    next = { delayMs: 10, status: 200 };
    await renew();
    expect(results.at(-1)).toBe("counted");
    expect(lapses).toBe(1);
    leases.stop(false);
  });
});
