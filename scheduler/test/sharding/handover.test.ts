import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RingEpoch } from "../../src/contracts/leases.js";
import { domainNodeOwners, listedDomains, observeDomains } from "../../src/sharding/domain-assignment.js";
import { bindGate, type HandoverView, nextRingEpoch, type PeerView } from "../../src/sharding/handover.js";
import {
  isConfirmedDead,
  isLive,
  type LeaseSighting,
  nextSighting,
} from "../../src/sharding/peer-liveness.js";
import { nodeOwnerOf, ShardRing } from "../../src/sharding/shard-ring.js";

const ring = (epoch: number, ...members: string[]): RingEpoch => ({
  epoch,
  members: [...members].sort(),
  nodeOwners: {},
});
const view = (overrides: Partial<HandoverView> = {}): HandoverView => ({
  self: "a",
  holdsLease: true,
  revalidated: true,
  ackedEpoch: 2,
  ring: ring(2, "a", "b"),
  peers: [{ identity: "b", ackedEpoch: 2, confirmedDead: false }],
  ...overrides,
});

describe("bindGate", () => {
  it("opens when every member acknowledged the same epoch", () => {
    expect(bindGate(view()).open).toBe(true);
  });

  it.each([
    ["lease", { holdsLease: false }],
    ["revalidating", { revalidated: false }],
    ["no-ring", { ring: undefined }],
    ["adopting", { ackedEpoch: 1 }],
    ["not-a-member", { ring: ring(2, "b", "c"), peers: [] }],
    ["peers-behind", { peers: [{ identity: "b", ackedEpoch: 1, confirmedDead: false }] }],
    ["peers-behind", { peers: [] }],
  ] as const)("stays closed: %s", (reason, overrides) => {
    const gate = bindGate(view(overrides as Partial<HandoverView>));
    expect(gate).toEqual({ open: false, reason });
  });

  it("does not wait for a member confirmed dead", () => {
    expect(bindGate(view({ peers: [{ identity: "b", ackedEpoch: 1, confirmedDead: true }] })).open).toBe(
      true,
    );
  });
});

describe("nextRingEpoch", () => {
  const desired = (live: string[], dead: string[] = [], highestAck = 0, lends: [string, string][] = []) => ({
    live,
    confirmedDead: new Set(dead),
    nodeOverrides: new Map(lends),
    highestAck,
  });

  it("bumps the epoch only when the members change", () => {
    expect(nextRingEpoch(undefined, desired(["b", "a"]))).toEqual(ring(1, "a", "b"));
    expect(nextRingEpoch(ring(3, "a", "b"), desired(["b", "a", "a"], [], 3))).toBeUndefined();
    expect(nextRingEpoch(ring(3, "a"), desired([], [], 3))).toBeUndefined();
  });

  it("keeps a member whose lease looks expired until fresh reads confirm it dead", () => {
    expect(nextRingEpoch(ring(3, "a", "b"), desired(["a"], [], 3))).toBeUndefined();
    expect(nextRingEpoch(ring(3, "a", "b"), desired(["a"], ["b"], 3))).toEqual(ring(4, "a"));
  });

  it("carries lends to members only, and a lend change is a new epoch", () => {
    const next = nextRingEpoch(
      ring(3, "a", "b"),
      desired(["a", "b"], [], 3, [
        ["n1", "b"],
        ["n2", "gone"],
      ]),
    );
    expect(next).toEqual({ epoch: 4, members: ["a", "b"], nodeOwners: { n1: "b" } });
  });

  it("keeps a promised node with its owner while members change, and lets it go once no longer promised", () => {
    const two = new ShardRing(["a", "b"]);
    const three = new ShardRing(["a", "b", "c"]);
    const names = Array.from({ length: 200 }, (_, i) => `node-${i}`);
    // A node the joining member takes from b, and another it takes from a.
    const fromB = names.find((n) => two.ownerOf(n) === "b" && three.ownerOf(n) === "c") as string;
    const fromA = names.find((n) => two.ownerOf(n) === "a" && three.ownerOf(n) === "c") as string;
    expect(fromB && fromA).toBeTruthy();
    const promised = (...nodes: string[]) => ({ ...desired(["a", "b", "c"], [], 3), promisedNodes: nodes });
    const joined = nextRingEpoch(ring(3, "a", "b"), promised(fromB));
    // c joins and takes fromA; fromB, promised, stays with b.
    expect(joined).toEqual({ epoch: 4, members: ["a", "b", "c"], nodeOwners: { [fromB]: "b" } });
    const settled = joined as RingEpoch;
    // Still promised: nothing to change. No longer promised: it goes to c in a new epoch.
    expect(nextRingEpoch(settled, promised(fromB))).toBeUndefined();
    expect(nextRingEpoch(settled, promised())).toEqual({
      epoch: 5,
      members: ["a", "b", "c"],
      nodeOwners: {},
    });
    // A member confirmed dead keeps nothing; a lend decides over a promise.
    expect(nextRingEpoch(settled, { ...desired(["a", "c"], ["b"], 4), promisedNodes: [fromB] })).toEqual(
      ring(5, "a", "c"),
    );
    expect(
      nextRingEpoch(ring(3, "a", "b"), {
        ...desired(["a", "b", "c"], [], 3, [[fromB, "a"]]),
        promisedNodes: [fromB],
      }),
    ).toEqual({ epoch: 4, members: ["a", "b", "c"], nodeOwners: { [fromB]: "a" } });
    // A promised node whose owner does not change needs no entry.
    const stays = names.find((n) => two.ownerOf(n) === "a" && three.ownerOf(n) === "a") as string;
    expect(nextRingEpoch(ring(3, "a", "b"), promised(stays))).toEqual(ring(4, "a", "b", "c"));
  });

  it("goes past every acknowledgment seen when the ring object was lost", () => {
    expect(nextRingEpoch(undefined, desired(["a"], [], 7))).toEqual(ring(8, "a"));
    expect(nextRingEpoch(ring(2, "a"), desired(["a"], [], 7))).toEqual(ring(8, "a"));
  });
});

/**
 * Model: shards with stale copies of the ring object and of each other's Leases, on one clock.
 * Leases last `lease` ms; a shard holds its own while its last successful renewal is younger
 * than lease − margin. Informer reads may be arbitrarily stale; "fresh" reads see the truth.
 * After every step, all shards whose gate is open must be binding under the same epoch.
 */
const lease = 10_000;
const margin = 1_000;
/** Nodes the coordinator may lend in the model. */
const modelNodes = ["node-a", "node-b", "node-c", "node-d", "node-e"];
/** The domain label the model's shards align to (--shard-by-label), and its values ("": none). */
const modelRackKey = "topology.kubernetes.io/rack";
const modelRacks = ["", "r1", "r2", "r3"];

interface ShardState {
  id: string;
  running: boolean;
  stalled: boolean;
  acked: number;
  lastRenewOk: number;
  heldLease: boolean;
  revalidated: boolean;
  seenRing: RingEpoch | undefined;
  /** Copies of peers' Leases (from the watch or fresh reads), as peer-liveness keeps them. */
  seen: Map<string, LeaseSighting>;
  /** Its copy of the nodes' owner annotations (the coordinator's lends), from its node watch. */
  seenLends: Map<string, string>;
  /** Its copy of the nodes' rack labels, from its node watch. */
  seenRacks: Map<string, string>;
}

interface LeaseState {
  version: number;
  acked: number;
  deleted: boolean;
}

type Action =
  | { kind: "tick"; ms: number }
  | { kind: "join" }
  | {
      kind: "renew" | "observeRing" | "ack" | "propose" | "kill" | "stall" | "resume" | "leave" | "freshRead";
      i: number;
    }
  | { kind: "observe"; i: number; j: number }
  | { kind: "lend"; node: number; to: number; give: boolean }
  | { kind: "relabel"; node: number; rack: number }
  | { kind: "observeNodes"; i: number };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "join" as const }) },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constantFrom(
        "renew" as const,
        "observeRing" as const,
        "ack" as const,
        "propose" as const,
        "freshRead" as const,
        "renew" as const,
        "ack" as const,
      ),
      i: fc.nat(7),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom("kill" as const, "stall" as const, "resume" as const, "leave" as const),
      i: fc.nat(7),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("observe" as const), i: fc.nat(7), j: fc.nat(7) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("lend" as const),
      node: fc.nat(modelNodes.length - 1),
      to: fc.nat(7),
      give: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("relabel" as const),
      node: fc.nat(modelNodes.length - 1),
      rack: fc.nat(modelRacks.length - 1),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("observeNodes" as const), i: fc.nat(7) }) },
);

class World {
  t = 0;
  ring: RingEpoch | undefined;
  readonly shards: ShardState[] = [];
  readonly leases = new Map<string, LeaseState>();
  /** The nodes' owner annotations as the API server holds them (written by the coordinator). */
  readonly lends = new Map<string, string>();
  /** The nodes' rack labels as the API server holds them (an operator relabels at any moment). */
  readonly racks = new Map<string, string>(modelNodes.map((node, i) => [node, `r${1 + (i % 2)}`]));
  private nextVersion = 1;
  private readonly rings = new Map<string, ShardRing>();

  constructor(
    initial: number,
    /** Shards align to the rack label (--shard-by-label). */
    private readonly byRack = false,
  ) {
    for (let k = 0; k < initial; k++) this.join();
  }

  active(s: ShardState): boolean {
    return s.running && !s.stalled;
  }

  holds(s: ShardState): boolean {
    return this.t - s.lastRenewOk < lease - margin;
  }

  join(): void {
    const id = `shard-${this.shards.length}`;
    const s: ShardState = {
      id,
      running: true,
      stalled: false,
      acked: 0,
      lastRenewOk: Number.NEGATIVE_INFINITY,
      heldLease: false,
      revalidated: false,
      seenRing: this.ring,
      seen: new Map(),
      seenLends: new Map(this.lends),
      seenRacks: new Map(this.racks),
    };
    this.shards.push(s);
    // Starting up lists every Lease (a fresh read).
    this.freshRead(s);
    this.write(s);
  }

  write(s: ShardState): void {
    this.leases.set(s.id, { version: this.nextVersion++, acked: s.acked, deleted: false });
    s.lastRenewOk = this.t;
  }

  /** What s learns from reading peer's Lease now (a watch event, or a fresh read). */
  observe(s: ShardState, peer: string, fresh: boolean): void {
    const l = this.leases.get(peer);
    if (!l) return;
    const observation = {
      holder: peer,
      version: String(l.version),
      durationMs: lease,
      ackedEpoch: l.acked,
      released: l.deleted,
      absent: false,
    };
    s.seen.set(peer, nextSighting(s.seen.get(peer), observation, this.t, fresh ? this.t : undefined));
  }

  /** Fresh reads of the ring and every Lease, as after a lapse of the own lease. */
  freshRead(s: ShardState): void {
    s.seenRing = this.ring;
    for (const peer of this.leases.keys()) this.observe(s, peer, true);
    if (this.holds(s)) s.revalidated = true;
  }

  gateView(s: ShardState): HandoverView {
    const members = s.seenRing?.members ?? [];
    const peers: PeerView[] = [];
    for (const m of members) {
      const sighting = s.seen.get(m);
      if (m !== s.id && sighting)
        peers.push({
          identity: m,
          ackedEpoch: sighting.ackedEpoch,
          confirmedDead: isConfirmedDead(sighting),
        });
    }
    return {
      self: s.id,
      holdsLease: this.holds(s),
      revalidated: s.revalidated,
      ackedEpoch: s.acked,
      ring: s.seenRing,
      peers,
    };
  }

  apply(a: Action): void {
    if (a.kind === "tick") {
      this.t += a.ms;
    } else if (a.kind === "lend") {
      // The coordinator lends a node to a shard, or gives it back, at any moment.
      const node = modelNodes[a.node] as string;
      const to = this.shards[a.to % Math.max(1, this.shards.length)];
      if (a.give && to) this.lends.set(node, to.id);
      else this.lends.delete(node);
    } else if (a.kind === "relabel") {
      const rack = modelRacks[a.rack] as string;
      if (rack === "") this.racks.delete(modelNodes[a.node] as string);
      else this.racks.set(modelNodes[a.node] as string, rack);
    } else if (a.kind === "observeNodes") {
      const s = this.shards[a.i % Math.max(1, this.shards.length)];
      if (s && this.active(s)) {
        s.seenLends = new Map(this.lends);
        s.seenRacks = new Map(this.racks);
      }
    } else if (a.kind === "join") {
      if (this.shards.length < 8) this.join();
    } else {
      const s = this.shards[a.i % Math.max(1, this.shards.length)];
      if (!s) return;
      switch (a.kind) {
        case "renew":
          if (this.active(s)) this.write(s);
          break;
        case "observe": {
          const peer = this.shards[a.j % this.shards.length] as ShardState;
          if (this.active(s)) this.observe(s, peer.id, false);
          break;
        }
        case "observeRing":
          if (this.active(s)) s.seenRing = this.ring;
          break;
        case "freshRead":
          if (this.active(s)) this.freshRead(s);
          break;
        case "ack":
          if (this.active(s) && s.seenRing && s.seenRing.epoch > s.acked) {
            s.acked = s.seenRing.epoch;
            this.write(s);
          }
          break;
        case "propose": {
          if (!this.active(s) || !this.holds(s)) break;
          // As ShardedOwnership proposes: live Leases join, members confirmed dead leave.
          this.freshRead(s);
          const live = [s.id];
          const dead = new Set<string>();
          let highestAck = s.acked;
          for (const [peer, sighting] of s.seen) {
            if (isLive(sighting, this.t)) live.push(peer);
            if (isConfirmedDead(sighting)) dead.add(peer);
            highestAck = Math.max(highestAck, sighting.ackedEpoch);
          }
          const next = nextRingEpoch(this.ring, {
            live,
            confirmedDead: dead,
            nodeOverrides: s.seenLends,
            highestAck,
            // The proposer lists the racks its own (possibly stale) node watch sees.
            ...(this.byRack
              ? { domains: { key: modelRackKey, listed: listedDomains(observeDomains(s.seenRacks)) } }
              : {}),
          });
          // Compare-and-swap against the ring version it read.
          if (next && (this.ring?.epoch ?? 0) === (s.seenRing?.epoch ?? 0)) {
            this.ring = next;
            s.seenRing = next;
          }
          break;
        }
        case "kill":
          s.running = false;
          break;
        case "stall":
          s.stalled = true;
          break;
        case "resume":
          s.stalled = false;
          break;
        case "leave":
          if (this.active(s)) {
            s.running = false;
            // Released after its binds finished: the others may drop it at once.
            this.leases.set(s.id, { version: this.nextVersion++, acked: s.acked, deleted: true });
          }
          break;
      }
    }
    // A shard that stopped holding its lease must re-read before it binds again.
    for (const s of this.shards) {
      const holds = this.holds(s);
      if (!holds) s.revalidated = false;
      s.heldLease = holds;
    }
  }

  /** For each node, the shards whose gate is open and that would place on it. */
  bindingOwners(): Map<string, Set<string>> {
    const owners = new Map<string, Set<string>>();
    for (const s of this.shards) {
      if (!this.active(s)) continue;
      const gate = bindGate(this.gateView(s));
      if (!gate.open) continue;
      const key = gate.ring.members.join(",");
      let ring = this.rings.get(key);
      if (!ring) {
        ring = new ShardRing(gate.ring.members);
        this.rings.set(key, ring);
      }
      const listed = domainNodeOwners(gate.ring.domains);
      for (const node of modelNodes) {
        if (nodeOwnerOf(ring, gate.ring.nodeOwners, node, listed) !== s.id) continue;
        const set = owners.get(node) ?? new Set<string>();
        set.add(s.id);
        owners.set(node, set);
      }
    }
    return owners;
  }

  openEpochs(): Set<number> {
    const epochs = new Set<number>();
    for (const s of this.shards) {
      if (!this.active(s)) continue;
      const gate = bindGate(this.gateView(s));
      if (gate.open) epochs.add(gate.ring.epoch);
    }
    return epochs;
  }
}

describe("handover model", () => {
  it("never lets shards bind under two epochs at once, nor two shards onto one node (joins, leaves, kills, stalls, stale reads, lends)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(actionArb, { minLength: 20, maxLength: 150, size: "max" }),
        (initial, actions) => {
          const world = new World(initial);
          for (const action of actions) {
            world.apply(action);
            expect(world.openEpochs().size).toBeLessThanOrEqual(1);
            for (const owners of world.bindingOwners().values()) expect(owners.size).toBe(1);
          }
        },
      ),
      { numRuns: Number(process.env.MODEL_RUNS ?? 400) },
    );
    // 400 runs take about 4 s alone; a machine busy with other suites needs longer.
  }, 60_000);

  it("the same with shards aligned by rack while nodes are relabelled and each shard's node watch lags", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(actionArb, { minLength: 20, maxLength: 150, size: "max" }),
        (initial, actions) => {
          const world = new World(initial, true);
          for (const action of actions) {
            world.apply(action);
            expect(world.openEpochs().size).toBeLessThanOrEqual(1);
            for (const owners of world.bindingOwners().values()) expect(owners.size).toBe(1);
          }
        },
      ),
      { numRuns: Number(process.env.MODEL_RUNS ?? 300) },
    );
  }, 60_000);

  it("lets a stable group of shards bind after one proposal and acknowledgments", () => {
    const world = new World(3);
    for (let i = 0; i < 3; i++) world.apply({ kind: "freshRead", i });
    world.apply({ kind: "propose", i: 0 });
    for (let i = 0; i < 3; i++) world.apply({ kind: "observeRing", i });
    for (let i = 0; i < 3; i++) world.apply({ kind: "ack", i });
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) world.apply({ kind: "observe", i, j });
    expect([...world.openEpochs()]).toEqual([1]);
    const open = world.shards.filter((s) => bindGate(world.gateView(s)).open).map((s) => s.id);
    expect(open).toEqual(["shard-0", "shard-1", "shard-2"]);
  });

  it("keeps a replica stalled past its lease from binding under its old ring when it wakes", () => {
    const world = new World(3);
    const everyone = () => {
      for (let i = 0; i < world.shards.length; i++) {
        world.apply({ kind: "renew", i });
        world.apply({ kind: "observeRing", i });
        world.apply({ kind: "ack", i });
      }
      for (let i = 0; i < world.shards.length; i++)
        for (let j = 0; j < world.shards.length; j++) world.apply({ kind: "observe", i, j });
    };
    for (let i = 0; i < 3; i++) world.apply({ kind: "freshRead", i });
    world.apply({ kind: "propose", i: 0 });
    everyone();
    expect([...world.openEpochs()]).toEqual([1]);
    // shard-2 stalls (SIGSTOP); the others confirm it dead and move on without it.
    world.apply({ kind: "stall", i: 2 });
    world.apply({ kind: "freshRead", i: 0 });
    world.apply({ kind: "tick", ms: lease });
    world.apply({ kind: "renew", i: 0 });
    world.apply({ kind: "renew", i: 1 });
    world.apply({ kind: "propose", i: 0 });
    expect(world.ring?.members).toEqual(["shard-0", "shard-1"]);
    for (const i of [0, 1]) {
      world.apply({ kind: "observeRing", i });
      world.apply({ kind: "ack", i });
      world.apply({ kind: "freshRead", i });
      for (const j of [0, 1]) world.apply({ kind: "observe", i, j });
    }
    expect([...world.openEpochs()]).toEqual([2]);
    // It wakes and renews: its copies of the ring and of the others' acks are from epoch 1.
    world.apply({ kind: "resume", i: 2 });
    world.apply({ kind: "renew", i: 2 });
    const stale = world.shards[2] as ShardState;
    expect(stale.seenRing?.epoch).toBe(1);
    expect(bindGate(world.gateView(stale))).toEqual({ open: false, reason: "revalidating" });
    expect([...world.openEpochs()]).toEqual([2]);
    // After fresh reads it sees it is no longer a member.
    world.apply({ kind: "freshRead", i: 2 });
    world.apply({ kind: "ack", i: 2 });
    expect(bindGate(world.gateView(stale))).toEqual({ open: false, reason: "not-a-member" });
  });
});
