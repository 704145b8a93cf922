/**
 * Ownership for one replica among many: it carries out the handover protocol of handover.ts
 * over the shard Leases.
 *   - Nodes: the owner under the ring epoch this replica adopted (a lent node: its node owner).
 *     Binding onto a node needs the bind gate open; a node just gained is used only once the
 *     pod watch has delivered the previous owner's last binds: every pod a quorum read made
 *     after the gate opened shows bound to the gained nodes (every other member acknowledged
 *     the epoch after finishing its binds under older ones, so those binds precede the read),
 *     however long the watch trails (gainedNodesDelivered). Only where that read cannot tell
 *     (versions that are not revisions) does the settle delay after the gate opened end it.
 *   - Groups: the owner under the newest ring seen, or the live shard a pod's owner annotation
 *     names (optimistic: the API server binds a pod once).
 *   - Adopting a new epoch waits for this replica's bind batches in flight, then acknowledges.
 *   - The lowest live replica proposes the next ring when members or lends change, keeping
 *     nodes that hold room a preemption won with their owner.
 *   - With a domain label (--shard-by-label) the ring object lists whole domains per member
 *     (domain-assignment.ts); the proposer lists the domains its node watch sees once its nodes
 *     are listed (before, members change with the ring object's listing), and proposes anew (at most once per domainProposalIntervalMs) when the nodes
 *     or labels it sees differ from the listing. A node's owner is read from the ring object
 *     only, never from a label (see handover.ts).
 */
import type { Logger } from "pino";
import type { RingEpoch } from "../contracts/leases.js";
import { groupOwner, type RoutingRing } from "../core/gang/index.js";
import {
  domainNodeOwners,
  domainsOfListing,
  listedDomains,
  observeDomains,
  sameDomains,
} from "./domain-assignment.js";
import { type BindGate, bindGate, nextRingEpoch, type PeerView } from "./handover.js";
import type { BindTicket, GainedNodes, Ownership } from "./ownership.js";
import { isConfirmedDead } from "./peer-liveness.js";
import type { LeaseView } from "./shard-leases.js";
import { nodeOwnerOf, ShardRing } from "./shard-ring.js";

export interface ShardedOwnershipOptions {
  /** How long a node just gained waits where the read of its pods cannot tell (see gainedNodesDelivered). */
  handoverSettleMs: number;
  /** At most one ring proposal per this many ms. */
  proposalIntervalMs?: number;
  /**
   * The replicas deployed (--expected-shards): at a cold start the first proposal waits for this
   * many live replicas, at most coldStartWaitMs after this replica gained its lease (see
   * gatheringFirstRing). Absent or 0: no wait.
   */
  expectedMembers?: number;
  coldStartWaitMs?: number;
  /** The node label whose domains the ring assigns whole (--shard-by-label); "" or absent: none. */
  shardByLabel?: string;
  /** At most one proposal for a change of the domains seen (not of members) per this many ms. */
  domainProposalIntervalMs?: number;
}

interface Adoption {
  readonly epoch: number;
  readonly ring: ShardRing;
  readonly nodeOwners: Readonly<Record<string, string>>;
  /** Node → the member whose domains list it (domainNodeOwners). */
  readonly listed: ReadonlyMap<string, string>;
  /**
   * To tell nodes kept from nodes gained: the last adoption whose gained nodes settled, then
   * every adoption since that never settled (another epoch came before its gate opened or its
   * read answered). A node is kept only if this replica owned it under each of them: one gained
   * under an epoch that never settled is still to settle, and one lost under such an epoch and
   * given back may have taken another shard's binds meanwhile. Empty: nothing is kept (the
   * first adoption, or more than 32 epochs in a row that never settled).
   */
  readonly since: readonly OwnerView[];
}

/** What a node's owner is read from under one adoption. */
interface OwnerView {
  readonly ring: ShardRing;
  readonly nodeOwners: Readonly<Record<string, string>>;
  readonly listed: ReadonlyMap<string, string>;
}

type GateReason = Extract<BindGate, { open: false }>["reason"];

/** What the ownership records of its bind gate: the shard's handover metrics. */
export interface HandoverMetrics {
  readonly handoverWaits: { inc(labels: { reason: string }): void };
  readonly handoverWaitSeconds: { observe(labels: { reason: string }, seconds: number): void };
  readonly handoverSettleSeconds: { observe(labels: { ended: SettleEnd }, seconds: number): void };
}

/** What ended a settle: the pod watch delivered the gained nodes' pods, or the delay. */
type SettleEnd = "nodes" | "delay";

export class ShardedOwnership implements Ownership {
  private changes = 0;
  private adopted: Adoption | undefined;
  /** The newest ring seen, for group ownership. */
  private latestRing: ShardRing = new ShardRing([]);
  private liveKey = "";
  private live = new Set<string>();
  private inflight = 0;
  private settling = false;
  /** Set when ownsNode turned down a node gained under the adopted epoch while settling. */
  private gainedWhileSettling = false;
  private settleTimer: NodeJS.Timeout | undefined;
  private settleStartedAt = 0;
  /** The epoch whose settle started (the gate opened on it). */
  private settleEpoch: number | undefined;
  /** The read of the gained nodes' pods is asked (or retried) and not answered yet. */
  private gainedReadPending = false;
  /** Settling past 10 delays was logged for this epoch. */
  private longSettleLogged = false;
  private gateOpen = false;
  private closedSince = Date.now();
  private closedReason: GateReason | undefined;
  private proposing = false;
  private nextProposalAt = 0;
  /** Set while a cold start waits for the expected replicas (see gatheringFirstRing). */
  private gatherTimer: NodeJS.Timeout | undefined;
  private readonly nodeOverrides = new Map<string, string>();
  /** Node → its value of the domain label, as the node watch sees it (nodes without it absent). */
  private readonly domainValues = new Map<string, string>();
  private domainValuesVersion = 0;
  /** The domains a proposal would list, for domainValuesVersion. */
  private observedListing: { version: number; listed: Map<string, readonly string[]> } | undefined;
  /** The ring object's listing and whether it is what the node watch sees, per ring object and version. */
  private comparedListing:
    | {
        readonly ring: RingEpoch | undefined;
        readonly version: number;
        readonly listing: ReadonlyMap<string, readonly string[]> | undefined;
        readonly same: boolean;
      }
    | undefined;
  private nodesListed = false;
  private nextDomainProposalAt = 0;
  private domainProposalTimer: NodeJS.Timeout | undefined;
  /** routing()'s answer, while the ring object and the live members stay the same. */
  private routingRing: (RoutingRing & { readonly epoch: number; readonly shardRing: ShardRing }) | undefined;
  private routingVersions = 0;
  private readonly nodeAnswers = new Map<string, boolean>();
  private readonly self: string;
  private leaving = false;
  private drained: (() => void) | undefined;
  /**
   * Set by the shard: the nodes pending pods are nominated to (room a preemption won). A ring
   * proposal keeps each with its current owner (see nextRingEpoch).
   */
  promisedNodes: () => Iterable<string> = () => [];
  /**
   * Set by the shard: resolves true once its pod watch has delivered every pod bound, as of the
   * call (a quorum read), to a node gained under the adopted epoch — `nodes` when the epoch moved
   * only those (lends given or returned), else every node `gained` accepts. False when that
   * cannot be known (versions that are not revisions); rejects when the read failed (retried
   * after a delay). Asked when the gate opens while gained nodes settle; true ends the settle.
   */
  gainedNodesDelivered: ((gained: GainedNodes) => Promise<boolean>) | undefined;

  constructor(
    private readonly leases: LeaseView,
    private readonly options: ShardedOwnershipOptions,
    private readonly metrics: HandoverMetrics,
    private readonly log: Logger,
    /** Called when any answer may have changed: the shard looks at its groups again. */
    private readonly onChange: () => void,
  ) {
    this.self = leases.identity;
  }

  get version(): number {
    return this.changes;
  }

  get epoch(): number {
    return this.adopted?.epoch ?? 0;
  }

  private changed(): void {
    this.changes++;
    this.nodeAnswers.clear();
    this.onChange();
  }

  canPlace(): boolean {
    return this.gate().open;
  }

  ownsNode(nodeName: string): boolean {
    let answer = this.nodeAnswers.get(nodeName);
    if (answer === undefined) {
      answer = this.ownsNodeNow(nodeName);
      this.nodeAnswers.set(nodeName, answer);
    }
    return answer;
  }

  gainedNodesSettling(): boolean {
    return this.settling && this.gainedWhileSettling;
  }

  private ownsNodeNow(nodeName: string): boolean {
    const adopted = this.adopted;
    if (!adopted || nodeOwnerOf(adopted.ring, adopted.nodeOwners, nodeName, adopted.listed) !== this.self)
      return false;
    if (!this.settling) return true;
    const kept = keptThrough(adopted.since, nodeName, this.self);
    if (!kept) this.gainedWhileSettling = true;
    return kept;
  }

  ownsGroup(hashKey: string, pinnedTo?: string, routedTo?: string): boolean {
    return groupOwner(this.latestRing.ownerOf(hashKey), pinnedTo, this.live, routedTo) === this.self;
  }

  /**
   * The newest ring seen and its lends, as groups are owned under it (not the adopted epoch
   * nodes are bound under: a group goes where its nodes are going). Its version changes with
   * the ring object (any change of members or lends) and the live members.
   */
  routing(): RoutingRing | undefined {
    const ring = this.leases.ring;
    if (!ring || ring.members.length < 2) return undefined;
    const cached = this.routingRing;
    if (
      !cached ||
      cached.epoch !== ring.epoch ||
      cached.shardRing !== this.latestRing ||
      cached.live !== this.live
    ) {
      const shardRing = this.latestRing;
      const lends = ring.nodeOwners;
      const listed = domainNodeOwners(ring.domains);
      // Hashing a node name is not free, and routing asks about the same nodes again and again.
      const owners = new Map<string, string | undefined>();
      const groupOwners = new Map<string, string>();
      this.routingRing = {
        version: ++this.routingVersions,
        epoch: ring.epoch,
        shardRing,
        members: shardRing.members,
        live: this.live,
        ringOwnerOf: (hashKey) => {
          let owner = groupOwners.get(hashKey);
          if (owner === undefined) {
            owner = shardRing.ownerOf(hashKey);
            // Bounded: pods come and go while a ring stays.
            if (groupOwners.size >= 100_000) groupOwners.clear();
            if (owner !== undefined) groupOwners.set(hashKey, owner);
          }
          return owner;
        },
        nodeOwnerOf: (nodeName) => {
          if (owners.has(nodeName)) return owners.get(nodeName);
          const owner = nodeOwnerOf(shardRing, lends, nodeName, listed);
          owners.set(nodeName, owner);
          return owner;
        },
      };
    }
    return this.routingRing;
  }

  acquireBind(nodeNames: readonly string[]): BindTicket | undefined {
    if (this.leaving || !this.gate().open) return undefined;
    if (!nodeNames.every((node) => this.ownsNode(node))) return undefined;
    this.inflight++;
    let released = false;
    // A lease that lapsed and was regained meanwhile voids the ticket: peers may have taken
    // its nodes while this replica was stalled, and its adopted ring is stale.
    const gainedAt = this.leases.leaseGainedAt;
    return {
      valid: () => this.leases.holdsLease() && this.leases.leaseGainedAt === gainedAt,
      release: () => {
        if (released) return;
        released = true;
        this.inflight--;
        if (this.inflight > 0) return;
        if (this.leaving) this.drained?.();
        else this.reconcile();
      },
    };
  }

  observeNodeOwner(nodeName: string, owner: string | undefined): void {
    if (owner === this.nodeOverrides.get(nodeName)) return;
    if (owner === undefined) this.nodeOverrides.delete(nodeName);
    else this.nodeOverrides.set(nodeName, owner);
    this.proposeIfDue();
  }

  /**
   * A node's labels as the node watch delivers them (undefined: the node is gone). Only the
   * domain label is kept, and only to propose listings: ownership never reads it.
   */
  observeNodeLabels(nodeName: string, labels: Readonly<Record<string, string>> | undefined): void {
    const key = this.options.shardByLabel;
    if (!key) return;
    const value = labels?.[key] ?? "";
    if ((this.domainValues.get(nodeName) ?? "") === value) return;
    if (value === "") this.domainValues.delete(nodeName);
    else this.domainValues.set(nodeName, value);
    this.domainValuesVersion++;
    if (this.nodesListed) this.proposeIfDue();
  }

  /** The node watch has listed every node: the proposer may list domains from now on. */
  nodesSynced(): void {
    this.nodesListed = true;
    this.proposeIfDue();
  }

  /**
   * Leaving: grants no more bind tickets and resolves once the batches in flight finished
   * (or after timeoutMs); then the Lease may be released.
   */
  async leave(timeoutMs: number): Promise<void> {
    this.leaving = true;
    if (this.settleTimer) clearTimeout(this.settleTimer);
    if (this.domainProposalTimer) clearTimeout(this.domainProposalTimer);
    if (this.gatherTimer) clearTimeout(this.gatherTimer);
    if (this.inflight === 0) return;
    await new Promise<void>((resolve) => {
      this.drained = resolve;
      setTimeout(resolve, timeoutMs).unref();
    });
  }

  /** Called on every change of the Leases: adopt, re-gate, propose. */
  reconcile(): void {
    let changed = false;
    const ring = this.leases.ring;
    if (ring && !sameMembers(this.latestRing, ring)) {
      this.latestRing = new ShardRing(ring.members);
      changed = true;
    }
    if (ring && ring.epoch !== this.adopted?.epoch && ring.epoch >= this.leases.acknowledged) {
      if (this.inflight === 0) {
        this.adopt(ring);
        changed = true;
      } else {
        this.log.info(
          { epoch: ring.epoch, inflight: this.inflight },
          "new ring; finishing binds in flight first",
        );
      }
    }
    const live = this.leases.liveMembers();
    if (live.join(",") !== this.liveKey) {
      this.liveKey = live.join(",");
      this.live = new Set(live);
      changed = true;
    }
    const wasOpen = this.gateOpen;
    this.gate();
    if (changed || wasOpen !== this.gateOpen) this.changed();
    this.proposeIfDue();
  }

  /** Adopts the newest ring seen (latestRing already has its members). */
  private adopt(ring: RingEpoch): void {
    const before = this.adopted;
    const listed = domainNodeOwners(ring.domains);
    const view = before && { ring: before.ring, nodeOwners: before.nodeOwners, listed: before.listed };
    this.adopted = {
      epoch: ring.epoch,
      ring: this.latestRing,
      nodeOwners: ring.nodeOwners,
      listed,
      since: !view ? [] : !this.settling ? [view] : before.since.length < 32 ? [...before.since, view] : [],
    };
    const domains = ring.domains ? domainsOfListing(ring.domains).size : undefined;
    this.log.info(
      {
        epoch: ring.epoch,
        members: ring.members,
        lent: Object.keys(ring.nodeOwners).length,
        ...(domains !== undefined ? { domains, domainNodes: listed.size } : {}),
      },
      "adopted ring epoch",
    );
    void this.leases.publishAck(ring.epoch);
    this.settling = true;
    this.gainedWhileSettling = false;
    this.settleEpoch = undefined;
    this.gainedReadPending = false;
    this.longSettleLogged = false;
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
  }

  /**
   * The gate is open on the adopted epoch while its gained nodes settle: every other member
   * acknowledged it, each after its last bind under an older epoch. The settle runs from now, not
   * from the adoption: a peer may take longer than the delay to finish its binds in flight, and
   * its last ones land just before its acknowledgment. A quorum read made now is newer than those
   * binds, and once the pod watch delivered what it shows on the gained nodes they are in the cache.
   */
  private settleFromNow(): void {
    const epoch = this.adopted?.epoch;
    if (epoch === undefined || this.settleEpoch === epoch) return;
    this.settleEpoch = epoch;
    this.settleStartedAt = Date.now();
    this.settleTimer = setTimeout(() => this.settleDelayPassed(epoch), this.options.handoverSettleMs);
    this.readGainedNodes(epoch);
  }

  /**
   * Asks whether the pod watch delivered the pods on the gained nodes (gainedNodesDelivered);
   * true ends the settle; false (it cannot tell) leaves it to the delay. A failed read is asked
   * again a delay later, as long as this epoch settles: an answer is coming, so the delay does not
   * end the settle meanwhile.
   */
  private readGainedNodes(epoch: number): void {
    const adopted = this.adopted;
    if (!this.gainedNodesDelivered || !adopted) return;
    this.gainedReadPending = true;
    const current = () => this.settling && this.adopted?.epoch === epoch;
    this.gainedNodesDelivered(gainedNodesOf(adopted, this.self)).then(
      (reached) => {
        if (!current()) return;
        this.gainedReadPending = false;
        if (reached) this.settled("nodes");
        else if (Date.now() - this.settleStartedAt >= this.options.handoverSettleMs) this.settled("delay");
      },
      (error: unknown) => {
        if (!current()) return;
        this.log.debug({ err: String(error) }, "pods on the gained nodes not read; reading again");
        setTimeout(() => {
          if (current()) this.readGainedNodes(epoch);
        }, this.options.handoverSettleMs).unref();
      },
    );
  }

  /**
   * The settle delay passed. While the read of the gained nodes' pods is unanswered it waits on,
   * however long: the previous owner's last binds may be among what the pod watch has not
   * delivered yet (on a loaded API server it can trail by seconds), and placing on the node before
   * they are in the cache can overcommit it (a chaos run did, when a delay ended the wait with
   * the watch 2 s behind). Without that read, or when it cannot tell, the delay ends the settle.
   */
  private settleDelayPassed(epoch: number): void {
    if (!this.settling || this.adopted?.epoch !== epoch) return;
    const delay = this.options.handoverSettleMs;
    if (this.gainedReadPending) {
      if (!this.longSettleLogged && Date.now() - this.settleStartedAt >= 10 * delay) {
        this.longSettleLogged = true;
        this.log.info(
          { epoch, waitedMs: Date.now() - this.settleStartedAt },
          "gained nodes still settling: the pod watch has not delivered their pods yet",
        );
      }
      this.settleTimer = setTimeout(() => this.settleDelayPassed(epoch), delay);
      return;
    }
    this.settled("delay");
  }

  /** Nodes gained under the adopted epoch may be used from now on. */
  private settled(ended: SettleEnd): void {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    this.settling = false;
    const waitedMs = Date.now() - this.settleStartedAt;
    this.metrics.handoverSettleSeconds.observe({ ended }, waitedMs / 1000);
    this.log.debug({ epoch: this.adopted?.epoch, ended, waitedMs }, "gained nodes settled");
    this.changed();
  }

  /** Evaluates the bind gate now, and keeps the metrics of its closed spells. */
  private gate(): BindGate {
    const ring = this.leases.ring;
    const peers: PeerView[] = [];
    for (const member of ring?.members ?? []) {
      const sighting = member === this.self ? undefined : this.leases.peer(member);
      if (sighting)
        peers.push({
          identity: member,
          ackedEpoch: sighting.ackedEpoch,
          confirmedDead: isConfirmedDead(sighting),
        });
    }
    const gate = bindGate({
      self: this.self,
      holdsLease: this.leases.holdsLease(),
      revalidated: this.leases.revalidated,
      ackedEpoch: this.adopted?.epoch === this.leases.acknowledged ? this.adopted.epoch : -1,
      ring,
      peers,
    });
    const now = Date.now();
    if (gate.open && !this.gateOpen) {
      // Whoever asked, the shard may have paused on the closed gate: wake it.
      setImmediate(() => this.onChange());
      this.metrics.handoverWaitSeconds.observe(
        { reason: this.closedReason ?? "starting" },
        (now - this.closedSince) / 1000,
      );
    } else if (!gate.open && (this.gateOpen || this.closedReason !== gate.reason)) {
      if (this.gateOpen) this.closedSince = now;
      this.metrics.handoverWaits.inc({ reason: gate.reason });
      this.log.info({ reason: gate.reason }, "binding paused for a handover");
    }
    this.gateOpen = gate.open;
    this.closedReason = gate.open ? undefined : gate.reason;
    if (gate.open && this.settling) this.settleFromNow();
    return gate;
  }

  /** The lowest live replica proposes the next ring when members or lends change. */
  private proposeIfDue(): void {
    if (this.proposing || Date.now() < this.nextProposalAt) return;
    if (!this.leases.holdsLease() || !this.leases.revalidated) return;
    const live = new Set(this.leases.liveMembers());
    live.add(this.self);
    if ([...live].sort()[0] !== this.self) return;
    const current = this.leases.ring;
    if (this.gatheringFirstRing(live, current)) return;
    const domains = this.domainsToList(current);
    let highestAck = this.leases.acknowledged;
    for (const member of live) highestAck = Math.max(highestAck, this.leases.peer(member)?.ackedEpoch ?? 0);
    const next = nextRingEpoch(current, {
      live: [...live],
      confirmedDead: this.leases.confirmedDead(),
      nodeOverrides: this.nodeOverrides,
      highestAck,
      promisedNodes: this.promisedNodes(),
      replace: this.leases.ringMalformed,
      ...(domains ? { domains: { key: domains.key, listed: domains.listed } } : {}),
    });
    if (!next) return;
    this.proposing = true;
    this.nextProposalAt = Date.now() + (this.options.proposalIntervalMs ?? 250);
    if (domains?.seen)
      this.nextDomainProposalAt = Date.now() + (this.options.domainProposalIntervalMs ?? 5_000);
    // Nodes kept with their owner for a preemptor (owners that are not lends).
    const kept = Object.keys(next.nodeOwners).filter((node) => !this.nodeOverrides.has(node));
    this.log.info(
      {
        epoch: next.epoch,
        members: next.members,
        ...(kept.length > 0 ? { kept } : {}),
        ...(next.domains ? { domains: domainsOfListing(next.domains).size } : {}),
      },
      "proposing ring epoch",
    );
    void this.leases
      .proposeRing(next, current)
      .catch((error: unknown) => this.log.warn({ err: String(error) }, "ring proposal failed"))
      .finally(() => {
        this.proposing = false;
        this.reconcile();
      });
  }

  /**
   * A cold start — no member of the ring object alive but this replica: a whole set of replicas
   * starting at once — waits for the expected replicas before proposing, at most coldStartWaitMs
   * after this replica gained its lease. Proposing as each arrives would make one ring per
   * arrival, each a handover (binds finished, acknowledged, gained nodes settled) while the
   * backlog waits. Only when a proposal is made changes: the handover's safety does not rest on it.
   */
  private gatheringFirstRing(live: ReadonlySet<string>, current: RingEpoch | undefined): boolean {
    const expected = this.options.expectedMembers ?? 0;
    if (live.size >= expected) return false;
    if (current?.members.some((member) => member !== this.self && live.has(member))) return false;
    const bound = this.options.coldStartWaitMs ?? 0;
    const wait = Math.min(bound, this.leases.leaseGainedAt + bound - Date.now());
    if (wait <= 0 || this.leaving) return false;
    if (!this.gatherTimer) {
      this.log.info(
        { live: live.size, expected, waitMs: Math.round(wait) },
        "cold start: waiting for the expected replicas before the first ring",
      );
      this.gatherTimer = setTimeout(() => {
        this.gatherTimer = undefined;
        this.proposeIfDue();
      }, wait);
      this.gatherTimer.unref();
    }
    return true;
  }

  /**
   * The domains the next ring object lists: those this replica's node watch sees, when they
   * differ from the ring object's listing and no domain proposal was made within
   * domainProposalIntervalMs (then a timer looks again); else the ring object's own listing,
   * so a change of members alone reassigns the same domains.
   */
  private domainsToList(current: RingEpoch | undefined): DomainsToList | undefined {
    const key = this.options.shardByLabel;
    if (!key) return undefined;
    // Listing domains from a node watch that has not listed yet would move them for nothing:
    // until it has, a change of members reassigns the ring object's listing.
    if (!this.nodesListed)
      return current?.domains?.key === key
        ? { key, listed: domainsOfListing(current.domains), seen: false }
        : undefined;
    if (this.observedListing?.version !== this.domainValuesVersion) {
      const observed = observeDomains(this.domainValues);
      const listed = listedDomains(observed);
      if (listed.size < observed.size)
        this.log.warn(
          { domains: observed.size, listed: listed.size },
          "ring object full: domains beyond its size are hashed node by node",
        );
      this.observedListing = { version: this.domainValuesVersion, listed };
    }
    const seen = this.observedListing.listed;
    // Asked at every Lease change: compared once per ring object and view of the nodes.
    let compared = this.comparedListing;
    if (
      compared === undefined ||
      compared.ring !== current ||
      compared.version !== this.domainValuesVersion
    ) {
      const listing = current?.domains?.key === key ? domainsOfListing(current.domains) : undefined;
      compared = {
        ring: current,
        version: this.domainValuesVersion,
        listing,
        same: listing !== undefined && sameDomains(listing, seen),
      };
      this.comparedListing = compared;
    }
    const listing = compared.listing;
    if (listing && compared.same) return { key, listed: listing, seen: false };
    const wait = this.nextDomainProposalAt - Date.now();
    if (wait <= 0) return { key, listed: seen, seen: true };
    if (!this.domainProposalTimer && !this.leaving) {
      this.domainProposalTimer = setTimeout(() => {
        this.domainProposalTimer = undefined;
        this.proposeIfDue();
      }, wait);
      this.domainProposalTimer.unref();
    }
    // Not listed yet (another proposer's ring, or this one's was refused): none until due.
    return listing && { key, listed: listing, seen: false };
  }
}

/** What the next ring object lists of the domains (see domainsToList). */
interface DomainsToList {
  readonly key: string;
  readonly listed: ReadonlyMap<string, readonly string[]>;
  /** The listing is what this replica sees, which differs from the ring object's. */
  readonly seen: boolean;
}

function sameMembers(
  a: { readonly members: readonly string[] },
  b: { readonly members: readonly string[] },
): boolean {
  return a.members.length === b.members.length && a.members.every((member, i) => member === b.members[i]);
}

/**
 * The nodes this replica gained under the adopted epoch (GainedNodes): named when only lends
 * moved, else described by the predicate alone.
 */
function gainedNodesOf(adopted: Adoption, self: string): GainedNodes {
  const { since } = adopted;
  const gained = (nodeName: string) =>
    nodeOwnerOf(adopted.ring, adopted.nodeOwners, nodeName, adopted.listed) === self &&
    !keptThrough(since, nodeName, self);
  if (
    since.length === 0 ||
    since.some((view) => !sameMembers(view.ring, adopted.ring) || !sameListing(view.listed, adopted.listed))
  )
    return { nodes: undefined, gained };
  // Only lends moved: a node changes owner only if a lend names it, now or before.
  const named = new Set([adopted, ...since].flatMap((view) => Object.keys(view.nodeOwners)));
  return { nodes: [...named].filter(gained), gained };
}

/** This replica owned the node under every one of these adoptions (and there is one). */
function keptThrough(since: readonly OwnerView[], nodeName: string, self: string): boolean {
  return (
    since.length > 0 &&
    since.every((view) => nodeOwnerOf(view.ring, view.nodeOwners, nodeName, view.listed) === self)
  );
}

function sameListing(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [node, owner] of a) if (b.get(node) !== owner) return false;
  return true;
}
