/**
 * ShardedOwnership over an in-memory view of the Leases: adoption waits for binds in flight,
 * tickets are refused or turn invalid when the gate closes, nodes follow the adopted ring and
 * its lends, gained nodes wait until the pod watch delivered their pods (or the settle delay),
 * and only the lowest live replica proposes.
 */
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RingEpoch, RingObject } from "../../src/contracts/leases.js";
import { ShardMetrics } from "../../src/shard/metrics.js";
import type { GainedNodes } from "../../src/sharding/ownership.js";
import type { LeaseSighting } from "../../src/sharding/peer-liveness.js";
import type { LeaseView } from "../../src/sharding/shard-leases.js";
import { ShardRing } from "../../src/sharding/shard-ring.js";
import { ShardedOwnership } from "../../src/sharding/sharded-ownership.js";

class Leases implements LeaseView {
  ring: RingObject | undefined;
  acknowledged = 0;
  revalidated = true;
  holds = true;
  ringMalformed = false;
  leaseGainedAt = 1;
  live: string[] = [];
  dead = new Set<string>();
  readonly peers = new Map<string, LeaseSighting>();
  readonly proposals: RingEpoch[] = [];

  constructor(readonly identity: string) {}

  liveMembers(): string[] {
    return [...this.live].sort();
  }
  confirmedDead(): Set<string> {
    return this.dead;
  }
  peer(identity: string): LeaseSighting | undefined {
    return this.peers.get(identity);
  }
  holdsLease(): boolean {
    return this.holds;
  }
  async publishAck(epoch: number): Promise<void> {
    this.acknowledged = Math.max(this.acknowledged, epoch);
  }
  /** Wins every compare-and-swap, as the only proposer. */
  async proposeRing(next: RingEpoch): Promise<boolean> {
    this.proposals.push(next);
    this.ring = { ...next, resourceVersion: String(next.epoch) };
    return true;
  }

  setRing(epoch: number, members: string[], nodeOwners: Record<string, string> = {}): void {
    this.ring = { epoch, members: [...members].sort(), nodeOwners, resourceVersion: String(epoch) };
    this.live = [...members];
  }
  setPeer(identity: string, ackedEpoch: number, released = false): void {
    this.peers.set(identity, {
      holder: identity,
      version: `v${ackedEpoch}`,
      durationMs: 10_000,
      ackedEpoch,
      released,
      absent: false,
      since: Date.now(),
      freshAt: undefined,
    });
  }
}

const settleMs = 1_000;
let leases: Leases;
let ownership: ShardedOwnership;
let changes: number;

/** Node names the ring over these members gives to `owner`. */
function nodesOf(members: string[], owner: string, count: number): string[] {
  const ring = new ShardRing(members);
  const names: string[] = [];
  for (let i = 0; names.length < count; i++) if (ring.ownerOf(`node-${i}`) === owner) names.push(`node-${i}`);
  return names;
}

/** A group hash key the ring over these members gives to `owner`. */
function groupOf(members: string[], owner: string): string {
  const ring = new ShardRing(members);
  return Array.from({ length: 50 }, (_, i) => `ns/g${i}`).find(
    (key) => ring.ownerOf(key) === owner,
  ) as string;
}

beforeEach(() => {
  vi.useFakeTimers();
  leases = new Leases("a");
  changes = 0;
  ownership = new ShardedOwnership(
    leases,
    { handoverSettleMs: settleMs, proposalIntervalMs: 0 },
    new ShardMetrics(),
    pino({ level: "silent" }),
    () => changes++,
  );
});
afterEach(() => {
  ownership.leave(0);
  vi.useRealTimers();
});

/** Ring epoch with members, every peer acknowledged it, adopted and settled by "a". */
function settledAt(epoch: number, members: string[]): void {
  leases.setRing(epoch, members);
  for (const member of members) if (member !== "a") leases.setPeer(member, epoch);
  ownership.reconcile();
  vi.advanceTimersByTime(settleMs);
}

describe("ShardedOwnership", () => {
  it("binds only onto nodes of its own share of the adopted ring", () => {
    settledAt(1, ["a", "b"]);
    expect(ownership.canPlace()).toBe(true);
    const [mine] = nodesOf(["a", "b"], "a", 1);
    const [theirs] = nodesOf(["a", "b"], "b", 1);
    expect(ownership.ownsNode(mine as string)).toBe(true);
    expect(ownership.ownsNode(theirs as string)).toBe(false);
    expect(ownership.acquireBind([mine as string])).toBeDefined();
    expect(ownership.acquireBind([mine as string, theirs as string])).toBeUndefined();
  });

  it("adopts a new epoch only after the bind batch in flight finished, and binds nothing meanwhile", () => {
    settledAt(1, ["a", "b"]);
    const [mine] = nodesOf(["a", "b"], "a", 1) as [string];
    const ticket = ownership.acquireBind([mine]);
    expect(ticket?.valid()).toBe(true);
    leases.setRing(2, ["a", "b", "c"]);
    ownership.reconcile();
    expect(leases.acknowledged).toBe(1);
    expect(ownership.epoch).toBe(1);
    expect(ownership.acquireBind([mine])).toBeUndefined();
    ticket?.release();
    expect(ownership.epoch).toBe(2);
    expect(leases.acknowledged).toBe(2);
    // Its peers have not acknowledged epoch 2 yet: still no binding.
    expect(ownership.canPlace()).toBe(false);
    leases.setPeer("b", 2);
    leases.setPeer("c", 2);
    ownership.reconcile();
    expect(ownership.canPlace()).toBe(true);
  });

  it("does not wait for a member confirmed dead, but does for one merely silent", () => {
    settledAt(1, ["a", "b", "c"]);
    leases.setRing(2, ["a", "b", "c"]);
    ownership.reconcile();
    leases.setPeer("b", 2);
    ownership.reconcile();
    expect(ownership.canPlace()).toBe(false);
    leases.setPeer("c", 1, true);
    ownership.reconcile();
    expect(ownership.canPlace()).toBe(true);
  });

  it("refuses tickets once its own lease may have lapsed, and a ticket held turns invalid", () => {
    settledAt(1, ["a"]);
    const [mine] = nodesOf(["a"], "a", 1) as [string];
    const ticket = ownership.acquireBind([mine]);
    expect(ticket?.valid()).toBe(true);
    leases.holds = false;
    expect(ticket?.valid()).toBe(false);
    expect(ownership.acquireBind([mine])).toBeUndefined();
    expect(ownership.canPlace()).toBe(false);
    // Renewed, but not yet read afresh.
    leases.holds = true;
    leases.revalidated = false;
    expect(ownership.acquireBind([mine])).toBeUndefined();
    leases.revalidated = true;
    const before = changes;
    ownership.reconcile();
    expect(changes).toBeGreaterThan(before);
    expect(ownership.acquireBind([mine])).toBeDefined();
  });

  it("voids a ticket held across a lapse of its lease, even once the lease is regained", () => {
    settledAt(1, ["a"]);
    const [mine] = nodesOf(["a"], "a", 1) as [string];
    // A bind batch waits (rate limit, retry backoff) while the replica is stalled past its lease.
    const stale = ownership.acquireBind([mine]);
    leases.holds = false;
    leases.holds = true;
    leases.leaseGainedAt = 2;
    expect(stale?.valid()).toBe(false);
    // A ticket granted after the regain is good.
    expect(ownership.acquireBind([mine])?.valid()).toBe(true);
  });

  it("uses a node just gained only after the settle delay; nodes it kept at once", () => {
    settledAt(1, ["a", "b"]);
    const kept = nodesOf(["a", "b"], "a", 1)[0] as string;
    // "b" leaves: its nodes come to "a".
    const gained = nodesOf(["a", "b"], "b", 1)[0] as string;
    leases.setRing(2, ["a"]);
    ownership.reconcile();
    expect(ownership.ownsNode(kept)).toBe(true);
    expect(ownership.ownsNode(gained)).toBe(false);
    vi.advanceTimersByTime(settleMs);
    expect(ownership.ownsNode(gained)).toBe(true);
  });

  /** The coordinator lends a node (its annotation seen); "a", the proposer, puts it in the next epoch and adopts it. */
  async function lend(node: string, owner: string | undefined): Promise<void> {
    ownership.observeNodeOwner(node, owner);
    await vi.advanceTimersByTimeAsync(0);
  }

  it("uses a node just gained once the pod watch delivered its pods, as a read made after the gate opened shows them, before the delay", async () => {
    settledAt(1, ["a", "b"]);
    const asked: ((reached: boolean) => void)[] = [];
    ownership.gainedNodesDelivered = () => new Promise((resolve) => asked.push(resolve));
    // One of "b"'s nodes is lent to "a": "a" gains it under epoch 2.
    const lent = nodesOf(["a", "b"], "b", 1)[0] as string;
    await lend(lent, "a");
    expect(ownership.epoch).toBe(2);
    expect(ownership.ownsNode(lent)).toBe(false);
    // "b" has not acknowledged epoch 2 yet: its last binds may still be on the way; not asked.
    expect(asked).toHaveLength(0);
    leases.setPeer("b", 2);
    ownership.reconcile();
    expect(ownership.canPlace()).toBe(true);
    expect(asked).toHaveLength(1);
    expect(ownership.ownsNode(lent)).toBe(false);
    const before = changes;
    asked[0]?.(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(ownership.ownsNode(lent)).toBe(true);
    expect(ownership.gainedNodesSettling()).toBe(false);
    expect(changes).toBeGreaterThan(before);
    // Asked once per epoch, however often the gate is looked at.
    ownership.canPlace();
    ownership.reconcile();
    expect(asked).toHaveLength(1);
  });

  it("settles from the moment every peer acknowledged, not from the adoption: a slow peer's last binds are waited for", async () => {
    settledAt(1, ["a", "b"]);
    const lent = nodesOf(["a", "b"], "b", 1)[0] as string;
    await lend(lent, "a");
    // "b" finishes its binds in flight for longer than the settle delay before acknowledging.
    await vi.advanceTimersByTimeAsync(settleMs * 2);
    expect(ownership.ownsNode(lent)).toBe(false);
    leases.setPeer("b", 2);
    ownership.reconcile();
    expect(ownership.canPlace()).toBe(true);
    // Its last binds landed just now: the node waits (here with no read: the delay) from here.
    expect(ownership.ownsNode(lent)).toBe(false);
    await vi.advanceTimersByTimeAsync(settleMs - 1);
    expect(ownership.ownsNode(lent)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(ownership.ownsNode(lent)).toBe(true);
  });

  // Seen in a chaos run (two shards' binds on one node, 1 s apart): a lend given back in one epoch
  // and, before the peers acknowledged it, another epoch on top. The node counted as kept by the
  // newer epoch (its owner under the epoch before), so it was used at once, while the borrower's
  // last bind there was still on its way to the watch.
  it("a node gained in an epoch that never settled still settles under the epoch adopted over it", async () => {
    settledAt(1, ["a", "b"]);
    const [returned, other] = nodesOf(["a", "b"], "a", 2) as [string, string];
    await lend(returned, "b");
    leases.setPeer("b", 2);
    ownership.reconcile();
    await vi.advanceTimersByTimeAsync(settleMs);
    expect(ownership.ownsNode(returned)).toBe(false);
    // Epoch 3 gives it back; "b" is still finishing binds there and has not acknowledged 3.
    await lend(returned, undefined);
    expect(ownership.epoch).toBe(3);
    // Epoch 4 lends another node before "b" acknowledged 3.
    await lend(other, "b");
    expect(ownership.epoch).toBe(4);
    leases.setPeer("b", 4);
    ownership.reconcile();
    expect(ownership.canPlace()).toBe(true);
    expect(ownership.ownsNode(returned)).toBe(false);
    await vi.advanceTimersByTimeAsync(settleMs);
    expect(ownership.ownsNode(returned)).toBe(true);
  });

  // The mirror case: a node lost in an epoch that never settled here (its new owner may have
  // bound onto it meanwhile) and given back on top of it was never this replica's all along.
  it("a node lost and given back across an epoch that never settled here settles again", async () => {
    settledAt(1, ["a", "b"]);
    const [node] = nodesOf(["a", "b"], "a", 1) as [string];
    // Epoch 2 lends it to "b"; "b" acknowledges, but "a"'s read for epoch 2 never answers.
    ownership.gainedNodesDelivered = () => new Promise(() => undefined);
    await lend(node, "b");
    leases.setPeer("b", 2);
    ownership.reconcile();
    await vi.advanceTimersByTimeAsync(settleMs * 3);
    expect(ownership.ownsNode(node)).toBe(false);
    // Epoch 3 gives it back while "a" is still settling epoch 2.
    ownership.gainedNodesDelivered = undefined;
    await lend(node, undefined);
    expect(ownership.epoch).toBe(3);
    leases.setPeer("b", 3);
    ownership.reconcile();
    expect(ownership.canPlace()).toBe(true);
    expect(ownership.ownsNode(node)).toBe(false);
    await vi.advanceTimersByTimeAsync(settleMs);
    expect(ownership.ownsNode(node)).toBe(true);
  });

  it("a late answer to an older epoch's read does not end a newer epoch's settle", async () => {
    settledAt(1, ["a", "b"]);
    const asked: ((reached: boolean) => void)[] = [];
    ownership.gainedNodesDelivered = () => new Promise((resolve) => asked.push(resolve));
    const [first, second] = nodesOf(["a", "b"], "b", 2) as [string, string];
    await lend(first, "a");
    leases.setPeer("b", 2);
    ownership.reconcile();
    asked[0]?.(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(ownership.ownsNode(first)).toBe(true);

    await lend(second, "a");
    expect(ownership.epoch).toBe(3);
    leases.setPeer("b", 3);
    ownership.reconcile();
    expect(asked).toHaveLength(2);
    // Epoch 4 takes the lend back and epoch 5 lends it again; "b" has acknowledged neither.
    await lend(second, undefined);
    await lend(second, "a");
    expect(ownership.epoch).toBe(5);
    // Epoch 3's answer comes while epoch 5 settles: it ends nothing.
    asked[1]?.(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(ownership.ownsNode(second)).toBe(false);
    expect(asked).toHaveLength(2);
  });

  // On a loaded API server the pod watch can trail by seconds: the previous owner's last binds on a
  // gained node may not be in the cache yet, and placing there then overcommits it (seen in a chaos
  // run: two shards' binds on one node, 2 s apart, a handover between them, when the delay ended
  // the wait). While the read of the gained nodes' pods is unanswered, the delay does not end it.
  it("waits for the read of the gained nodes' pods however long the watch trails, naming the lent nodes", async () => {
    settledAt(1, ["a", "b"]);
    const asked: { gained: GainedNodes; resolve: (reached: boolean) => void }[] = [];
    ownership.gainedNodesDelivered = (gained) => new Promise((resolve) => asked.push({ gained, resolve }));
    const [lent, other] = nodesOf(["a", "b"], "b", 2) as [string, string];
    await lend(lent, "a");
    expect(asked).toHaveLength(0);
    leases.setPeer("b", 2);
    ownership.reconcile();
    expect(asked).toHaveLength(1);
    // Only lends moved: the lent node is named, and only it is gained.
    expect(asked[0]?.gained.nodes).toEqual([lent]);
    expect(asked[0]?.gained.gained(lent)).toBe(true);
    expect(asked[0]?.gained.gained(other)).toBe(false);
    expect(asked[0]?.gained.gained(nodesOf(["a", "b"], "a", 1)[0] as string)).toBe(false);
    await vi.advanceTimersByTimeAsync(settleMs * 30);
    expect(ownership.ownsNode(lent)).toBe(false);
    asked[0]?.resolve(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(ownership.ownsNode(lent)).toBe(true);
    expect(ownership.gainedNodesSettling()).toBe(false);

    // The lend goes back: "a" gains nothing, and the read names nothing.
    await lend(lent, undefined);
    leases.setPeer("b", 3);
    ownership.reconcile();
    expect(asked[1]?.gained.nodes).toEqual([]);
  });

  it("ends the settle at the read of the gained nodes' pods before the delay; members changing name no nodes", async () => {
    settledAt(1, ["a", "b"]);
    const asked: { gained: GainedNodes; resolve: (reached: boolean) => void }[] = [];
    ownership.gainedNodesDelivered = (gained) => new Promise((resolve) => asked.push({ gained, resolve }));
    const [gained] = nodesOf(["a", "b"], "b", 1) as [string];
    const [kept] = nodesOf(["a", "b"], "a", 1) as [string];
    // "b" leaves: any node may have moved.
    leases.setRing(2, ["a"]);
    ownership.reconcile();
    expect(asked).toHaveLength(1);
    expect(asked[0]?.gained.nodes).toBeUndefined();
    expect(asked[0]?.gained.gained(gained)).toBe(true);
    expect(asked[0]?.gained.gained(kept)).toBe(false);
    expect(ownership.ownsNode(gained)).toBe(false);
    asked[0]?.resolve(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(ownership.ownsNode(gained)).toBe(true);
  });

  it("reads the gained nodes' pods again when the read fails; falls back to the delay when it cannot tell", async () => {
    settledAt(1, ["a", "b"]);
    const answers: (boolean | Error)[] = [new Error("503"), true];
    let reads = 0;
    ownership.gainedNodesDelivered = async () => {
      reads++;
      const answer = answers.shift();
      if (answer instanceof Error) throw answer;
      return answer ?? false;
    };
    const [first, second] = nodesOf(["a", "b"], "b", 2) as [string, string];
    await lend(first, "a");
    leases.setPeer("b", 2);
    ownership.reconcile();
    await vi.advanceTimersByTimeAsync(0);
    expect(reads).toBe(1);
    // The failed read does not let the delay end the settle: it is read again a delay later.
    await vi.advanceTimersByTimeAsync(settleMs - 1);
    expect(ownership.ownsNode(first)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(reads).toBe(2);
    expect(ownership.ownsNode(first)).toBe(true);

    // "Cannot tell" (versions that are not revisions): the delay, as without the read.
    await lend(second, "a");
    leases.setPeer("b", 3);
    ownership.reconcile();
    await vi.advanceTimersByTimeAsync(0);
    expect(reads).toBe(3);
    expect(ownership.ownsNode(second)).toBe(false);
    await vi.advanceTimersByTimeAsync(settleMs);
    expect(ownership.ownsNode(second)).toBe(true);
  });

  it("says gained nodes are settling once asked about one, until the delay ends; not for kept nodes", () => {
    settledAt(1, ["a", "b"]);
    expect(ownership.gainedNodesSettling()).toBe(false);
    const kept = nodesOf(["a", "b"], "a", 3);
    const gained = nodesOf(["a", "b"], "b", 1)[0] as string;
    leases.setRing(2, ["a"]);
    ownership.reconcile();
    for (const node of kept) ownership.ownsNode(node);
    expect(ownership.gainedNodesSettling()).toBe(false);
    ownership.ownsNode(gained);
    expect(ownership.gainedNodesSettling()).toBe(true);
    vi.advanceTimersByTime(settleMs);
    expect(ownership.gainedNodesSettling()).toBe(false);
    // "c" joins and takes nodes from "a": "a" gains none, whatever it is asked.
    leases.setRing(3, ["a", "c"]);
    leases.setPeer("c", 3);
    ownership.reconcile();
    for (const node of [...kept, gained, ...nodesOf(["a", "c"], "c", 3)]) ownership.ownsNode(node);
    expect(ownership.gainedNodesSettling()).toBe(false);
  });

  it("follows the ring's lends, and ignores a lend to a shard not in the ring", () => {
    const theirs = nodesOf(["a", "b"], "b", 2) as [string, string];
    leases.setRing(1, ["a", "b"], { [theirs[0]]: "a", [theirs[1]]: "gone" });
    leases.setPeer("b", 1);
    ownership.reconcile();
    vi.advanceTimersByTime(settleMs);
    expect(ownership.ownsNode(theirs[0])).toBe(true);
    expect(ownership.ownsNode(theirs[1])).toBe(false);
  });

  it("schedules a group its pods hand to it while that shard lives, else by the ring", () => {
    settledAt(1, ["a", "b"]);
    const groupOfB = groupOf(["a", "b"], "b");
    expect(ownership.ownsGroup(groupOfB)).toBe(false);
    expect(ownership.ownsGroup(groupOfB, "a")).toBe(true);
    expect(ownership.ownsGroup(groupOfB, "zombie")).toBe(false);
  });

  it("schedules a group routing sends to it while it lives; a pin still comes first", () => {
    settledAt(1, ["a", "b"]);
    const groupOfB = groupOf(["a", "b"], "b");
    expect(ownership.ownsGroup(groupOfB, undefined, "a")).toBe(true);
    expect(ownership.ownsGroup(groupOfB, "b", "a")).toBe(false);
    expect(ownership.ownsGroup(groupOfB, undefined, "zombie")).toBe(false);
  });

  it("gives routing the newest ring with its lends and live members, a new version when they change", () => {
    expect(ownership.routing()).toBeUndefined();
    settledAt(1, ["a"]);
    // A ring of one routes nothing.
    expect(ownership.routing()).toBeUndefined();
    const theirs = nodesOf(["a", "b"], "b", 2) as [string, string];
    // The coordinator lent one of b's nodes to a (as its annotation says).
    ownership.observeNodeOwner(theirs[0], "a");
    leases.setRing(2, ["a", "b"], { [theirs[0]]: "a" });
    leases.setPeer("b", 2);
    ownership.reconcile();
    const first = ownership.routing();
    expect(first?.members).toEqual(["a", "b"]);
    expect([...(first?.live ?? [])].sort()).toEqual(["a", "b"]);
    expect(first?.nodeOwnerOf(theirs[0])).toBe("a");
    expect(first?.nodeOwnerOf(theirs[1])).toBe("b");
    expect(first?.ringOwnerOf("ns/g")).toBe(new ShardRing(["a", "b"]).ownerOf("ns/g"));
    expect(ownership.routing()).toBe(first);
    // The lend is returned: a new ring object, a new version.
    ownership.observeNodeOwner(theirs[0], undefined);
    leases.setRing(3, ["a", "b"]);
    leases.setPeer("b", 3);
    ownership.reconcile();
    const second = ownership.routing();
    expect(second?.version).not.toBe(first?.version);
    expect(second?.nodeOwnerOf(theirs[0])).toBe("b");
  });

  it("proposes the next ring only as the lowest live replica, dropping members confirmed dead", () => {
    settledAt(1, ["a", "b", "c"]);
    leases.live = ["a", "b"];
    ownership.reconcile();
    // "c" only looks expired: it stays until confirmed dead.
    expect(leases.proposals).toEqual([]);
    leases.dead = new Set(["c"]);
    ownership.reconcile();
    expect(leases.proposals).toEqual([{ epoch: 2, members: ["a", "b"], nodeOwners: {} }]);

    const other = new Leases("b");
    other.setRing(1, ["a", "b", "c"]);
    other.dead = new Set(["c"]);
    const notLowest = new ShardedOwnership(
      other,
      { handoverSettleMs: 0 },
      new ShardMetrics(),
      pino({ level: "silent" }),
      () => undefined,
    );
    notLowest.reconcile();
    expect(other.proposals).toEqual([]);
  });

  describe("a cold start with --expected-shards", () => {
    /** "a" expecting 3 replicas, its lease gained at the fake clock's now, with the given ring object. */
    function expecting(ring: { epoch: number; members: string[] } | undefined) {
      const view = new Leases("a");
      if (ring) view.setRing(ring.epoch, ring.members);
      view.live = ["a"];
      view.leaseGainedAt = Date.now();
      const owner = new ShardedOwnership(
        view,
        { handoverSettleMs: 0, proposalIntervalMs: 0, expectedMembers: 3, coldStartWaitMs: 10_000 },
        new ShardMetrics(),
        pino({ level: "silent" }),
        () => undefined,
      );
      return { view, owner };
    }

    it("forms one ring of every expected replica instead of one per arrival", () => {
      // The ring object of an earlier run names a member no longer alive: a cold start.
      const { view, owner } = expecting({ epoch: 4, members: ["old"] });
      view.dead = new Set(["old"]);
      owner.reconcile();
      view.live = ["a", "b"];
      owner.reconcile();
      expect(view.proposals).toEqual([]);
      view.live = ["a", "b", "c"];
      owner.reconcile();
      expect(view.proposals).toEqual([{ epoch: 5, members: ["a", "b", "c"], nodeOwners: {} }]);
      owner.leave(0);
    });

    it("proposes with those alive once the wait ran out", () => {
      const { view, owner } = expecting(undefined);
      owner.reconcile();
      view.live = ["a", "b"];
      owner.reconcile();
      vi.advanceTimersByTime(9_999);
      expect(view.proposals).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(view.proposals).toEqual([{ epoch: 1, members: ["a", "b"], nodeOwners: {} }]);
      owner.leave(0);
    });

    it("does not wait when another member of the ring is alive (a replica lost or added while others run)", () => {
      const { view, owner } = expecting({ epoch: 2, members: ["a", "b", "c"] });
      view.live = ["a", "b"];
      view.dead = new Set(["c"]);
      owner.reconcile();
      expect(view.proposals).toEqual([{ epoch: 3, members: ["a", "b"], nodeOwners: {} }]);
      owner.leave(0);
    });
  });

  it("carries the coordinator's node lends into the next ring", async () => {
    settledAt(1, ["a", "b"]);
    ownership.observeNodeOwner("node-7", "b");
    await vi.runOnlyPendingTimersAsync();
    expect(leases.proposals.at(-1)).toEqual({ epoch: 2, members: ["a", "b"], nodeOwners: { "node-7": "b" } });
  });
});

describe("ShardedOwnership with a domain label (--shard-by-label)", () => {
  const rack = "topology.kubernetes.io/rack";
  const domainInterval = 5_000;
  let byRack: ShardedOwnership;

  beforeEach(() => {
    byRack = new ShardedOwnership(
      leases,
      {
        handoverSettleMs: settleMs,
        proposalIntervalMs: 0,
        shardByLabel: rack,
        domainProposalIntervalMs: domainInterval,
      },
      new ShardMetrics(),
      pino({ level: "silent" }),
      () => changes++,
    );
  });
  afterEach(() => {
    byRack.leave(0);
  });

  /** Racks r0…r{count-1} of `size` nodes each, as this replica's node watch delivers them. */
  function seeRacks(ownership: ShardedOwnership, count: number, size: number): void {
    for (let r = 0; r < count; r++)
      for (let n = 0; n < size; n++) ownership.observeNodeLabels(`r${r}-n${n}`, { [rack]: `r${r}` });
  }

  function adoptNewest(ownership: ShardedOwnership, members: string[]): void {
    const ring = leases.ring as RingObject;
    for (const member of members) if (member !== "a") leases.setPeer(member, ring.epoch);
    ownership.reconcile();
    vi.advanceTimersByTime(settleMs);
  }

  it("lists domains only once its nodes are listed, then owns whole racks by the ring object", async () => {
    leases.setRing(1, ["a", "b"]);
    leases.setPeer("b", 1);
    seeRacks(byRack, 4, 3);
    byRack.reconcile();
    expect(leases.proposals).toEqual([]);
    byRack.nodesSynced();
    await vi.advanceTimersByTimeAsync(0);
    const proposed = leases.proposals.at(-1);
    expect(proposed?.epoch).toBe(2);
    expect(Object.keys(proposed?.domains?.owners.a ?? {})).toHaveLength(2);
    expect(Object.keys(proposed?.domains?.owners.b ?? {})).toHaveLength(2);
    adoptNewest(byRack, ["a", "b"]);
    expect(byRack.epoch).toBe(2);
    for (const [member, owned] of Object.entries(proposed?.domains?.owners ?? {}))
      for (const nodes of Object.values(owned))
        for (const node of nodes) expect(byRack.ownsNode(node)).toBe(member === "a");
  });

  it("before its nodes are listed, a change of members keeps the ring object's listing", async () => {
    leases.setRing(1, ["a", "b"]);
    leases.setPeer("b", 1);
    seeRacks(byRack, 4, 3);
    byRack.nodesSynced();
    await vi.advanceTimersByTimeAsync(0);
    const listing = leases.proposals.at(-1)?.domains;
    // A restarted proposer: its node watch has not listed, and sees a rack the ring does not list.
    const restarted = new ShardedOwnership(
      leases,
      { handoverSettleMs: settleMs, proposalIntervalMs: 0, shardByLabel: rack },
      new ShardMetrics(),
      pino({ level: "silent" }),
      () => undefined,
    );
    restarted.observeNodeLabels("new-node", { [rack]: "r9" });
    leases.live = ["a", "b", "c"];
    leases.setPeer("c", 2);
    restarted.reconcile();
    await vi.advanceTimersByTimeAsync(0);
    const next = leases.proposals.at(-1);
    expect(next?.members).toEqual(["a", "b", "c"]);
    expect(
      Object.values(next?.domains?.owners ?? {})
        .flatMap((owned) => Object.keys(owned))
        .sort(),
    ).toEqual(
      Object.values(listing?.owners ?? {})
        .flatMap((owned) => Object.keys(owned))
        .sort(),
    );
    restarted.leave(0);
  });

  it("a node relabelled or added is owned as the ring object says until a new epoch lists it; that proposal waits its interval", async () => {
    leases.setRing(1, ["a", "b"]);
    leases.setPeer("b", 1);
    seeRacks(byRack, 4, 3);
    byRack.nodesSynced();
    await vi.advanceTimersByTimeAsync(0);
    adoptNewest(byRack, ["a", "b"]);
    const owners = (leases.ring as RingObject).domains?.owners ?? {};
    const myRack = Object.keys(owners.a ?? {})[0] as string;
    const theirRack = Object.keys(owners.b ?? {})[0] as string;
    const moving = `${theirRack}-n0`;
    expect(byRack.ownsNode(moving)).toBe(false);
    // The watch says the node moved into one of "a"'s racks, and a new node joined it.
    const proposals = leases.proposals.length;
    byRack.observeNodeLabels(moving, { [rack]: myRack });
    byRack.observeNodeLabels("late-node", { [rack]: myRack });
    expect(byRack.ownsNode(moving)).toBe(false);
    expect(byRack.ownsNode("late-node")).toBe(new ShardRing(["a", "b"]).ownerOf("late-node") === "a");
    expect(leases.proposals.length).toBe(proposals);
    await vi.advanceTimersByTimeAsync(domainInterval);
    const relisted = leases.proposals.at(-1);
    expect(relisted?.epoch).toBe(3);
    expect(relisted?.domains?.owners.a?.[myRack]).toEqual(expect.arrayContaining([moving, "late-node"]));
    adoptNewest(byRack, ["a", "b"]);
    expect(byRack.ownsNode(moving)).toBe(true);
    expect(byRack.ownsNode("late-node")).toBe(true);
  });

  it("two replicas that see different labels still agree on every node's owner under one ring object", async () => {
    leases.setRing(1, ["a", "b"]);
    leases.setPeer("b", 1);
    seeRacks(byRack, 6, 4);
    byRack.nodesSynced();
    await vi.advanceTimersByTimeAsync(0);
    adoptNewest(byRack, ["a", "b"]);
    const ring = leases.ring as RingObject;
    const other = new Leases("b");
    other.ring = ring;
    other.live = ["a", "b"];
    other.setPeer("a", ring.epoch);
    const b = new ShardedOwnership(
      other,
      { handoverSettleMs: 0, proposalIntervalMs: 0, shardByLabel: rack },
      new ShardMetrics(),
      pino({ level: "silent" }),
      () => undefined,
    );
    // "b"'s watch is behind or ahead: every node in rack r0, plus nodes "a" never saw.
    for (let r = 0; r < 6; r++)
      for (let n = 0; n < 4; n++) b.observeNodeLabels(`r${r}-n${n}`, { [rack]: "r0" });
    for (let n = 0; n < 10; n++) b.observeNodeLabels(`extra-${n}`, { [rack]: "r5" });
    b.nodesSynced();
    b.reconcile();
    await vi.advanceTimersByTimeAsync(settleMs);
    expect(b.epoch).toBe(ring.epoch);
    const nodes = [
      ...Array.from({ length: 24 }, (_, i) => `r${Math.floor(i / 4)}-n${i % 4}`),
      ...Array.from({ length: 10 }, (_, n) => `extra-${n}`),
    ];
    for (const node of nodes) expect(byRack.ownsNode(node) !== b.ownsNode(node)).toBe(true);
    b.leave(0);
  });

  it("a member joining takes whole racks under one epoch; racks it gains settle, racks kept do not", async () => {
    leases.setRing(1, ["a", "b"]);
    leases.setPeer("b", 1);
    seeRacks(byRack, 6, 4);
    byRack.nodesSynced();
    await vi.advanceTimersByTimeAsync(0);
    adoptNewest(byRack, ["a", "b"]);
    const before = (leases.ring as RingObject).domains?.owners ?? {};
    // "b" leaves (released): "a" takes its racks whole.
    leases.live = ["a"];
    leases.dead = new Set(["b"]);
    byRack.reconcile();
    await vi.advanceTimersByTimeAsync(0);
    const after = leases.proposals.at(-1);
    expect(after?.members).toEqual(["a"]);
    expect(Object.keys(after?.domains?.owners.a ?? {}).sort()).toEqual(["r0", "r1", "r2", "r3", "r4", "r5"]);
    byRack.reconcile();
    const gainedRack = Object.keys(before.b ?? {})[0] as string;
    const keptRack = Object.keys(before.a ?? {})[0] as string;
    expect(byRack.ownsNode(`${keptRack}-n0`)).toBe(true);
    expect(byRack.ownsNode(`${gainedRack}-n0`)).toBe(false);
    vi.advanceTimersByTime(settleMs);
    for (let n = 0; n < 4; n++) expect(byRack.ownsNode(`${gainedRack}-n${n}`)).toBe(true);
  });
});
