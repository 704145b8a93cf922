/**
 * The coordination.k8s.io Leases the shards of one scheduler share, in the shards' namespace:
 *   - a member Lease per replica, named after its identity (the StatefulSet pod name), renewed
 *     on a short period, carrying the ring epoch the replica has acknowledged;
 *   - the ring Lease `<schedulerName>-ring`, whose annotations hold the ring object
 *     {epoch, members, nodeOwners, domains}, changed only by compare-and-swap.
 * One watch keeps every shard's view current; fresh (quorum) reads back the decisions that must
 * not rest on a possibly stale watch: confirming a peer dead, and looking again after this
 * replica's own lease lapsed. Liveness is judged with the observer's clock (peer-liveness.ts),
 * so clock skew between machines does not matter.
 */
import type { Logger } from "pino";
import {
  ackedEpochAnnotation,
  leaseRoleLabel,
  releasedAnnotation,
  ringDomainsAnnotation,
  ringEpochAnnotation,
  ringLeaseName,
  ringMembersAnnotation,
  ringNodeOwnersAnnotation,
  shardLeaseLabel,
} from "../contracts/keys.js";
import {
  type Lease,
  leaseMarginMs,
  leaseTimestamp,
  parseMemberLease,
  parseRingLease,
  type RingEpoch,
  type RingObject,
} from "../contracts/leases.js";
import { Informer } from "../kube/informer.js";
import { InvalidObjects } from "../kube/invalid-objects.js";
import type { KubeClient } from "../kube/kube-client.js";
import {
  deathConfirmableAt,
  isConfirmedDead,
  isLive,
  type LeaseSighting,
  nextSighting,
} from "./peer-liveness.js";

export interface ShardLeasesOptions {
  namespace: string;
  identity: string;
  /** The scheduler name the shards serve: shards of different schedulers are separate rings. */
  schedulerName: string;
  leaseDurationMs: number;
  renewIntervalMs: number;
}

/** What the handover protocol reads from and writes to the Leases (ShardedOwnership's view). */
export type LeaseView = Pick<
  ShardLeases,
  | "identity"
  | "ring"
  | "acknowledged"
  | "revalidated"
  | "liveMembers"
  | "confirmedDead"
  | "peer"
  | "holdsLease"
  | "ringMalformed"
  | "leaseGainedAt"
  | "publishAck"
  | "proposeRing"
>;

/** What became of a renewal of the own Lease (ShardLeases.onRenewal). */
export type RenewalResult = "counted" | "late" | "refused" | "failed";

export class ShardLeases {
  private readonly sightings = new Map<string, LeaseSighting>();
  private ringObject: RingObject | undefined;
  /** The ring Lease as last seen, when it could not be read: the next proposal replaces it. */
  private malformedRing: { resourceVersion: string } | undefined;
  private readonly informer: Informer<Lease>;
  private readonly ringName: string;
  private readonly marginMs: number;
  private renewTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private lastRenewOkAt = Number.NEGATIVE_INFINITY;
  /** When the own lease was last (re)gained after a lapse; fresh reads sent after it revalidate. */
  private regainedAt = Number.POSITIVE_INFINITY;
  private lastFreshReadSentAt = Number.NEGATIVE_INFINITY;
  /** When the last fresh read was sent, whether or not it succeeded. */
  private lastFreshReadTriedAt = Number.NEGATIVE_INFINITY;
  /** The fresh read in flight, and when it was sent. */
  private freshReading: { sentAt: number; done: Promise<void> } | undefined;
  /** A fresh read queued behind one that was sent too early for its caller. */
  private freshReadQueued: Promise<void> | undefined;
  private ackedEpoch = 0;
  private stopped = false;
  /**
   * Set by the shard: re-reads its cluster caches with quorum reads. A replica stalled past its
   * lease may hold a cache the watch has not caught up yet (what other shards bound on nodes
   * it gets back); revalidation waits for this too.
   */
  catchUp: (() => Promise<void>) | undefined;
  private cachesReadAt = Number.NEGATIVE_INFINITY;
  private cachesReading = false;
  /** Leases that cannot be read: logged once, counted (set by the shard), skipped. */
  readonly invalidObjects: InvalidObjects;

  constructor(
    private readonly client: KubeClient,
    private readonly options: ShardLeasesOptions,
    private readonly log: Logger,
    /** Called whenever anything here may have changed: sightings, the ring, the own lease. */
    private readonly onChange: () => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.ringName = ringLeaseName(options.schedulerName);
    if (options.identity === this.ringName)
      throw new TypeError(`shard identity "${options.identity}" is the ring Lease's name`);
    this.marginMs = leaseMarginMs(options.leaseDurationMs);
    this.invalidObjects = new InvalidObjects(log, (kind) => this.onInvalidObject(kind));
    this.informer = new Informer<Lease>(
      client,
      {
        path: this.collectionPath,
        labelSelector: `${shardLeaseLabel}=${options.schedulerName}`,
        watchdogMs: 30_000,
        onHandlerError: () => this.onHandlerError(),
      },
      {
        upsert: (lease) => this.observe(lease, this.now()),
        remove: (lease) => this.observeAbsent(lease.metadata.name, this.now()),
      },
      log,
    );
  }

  get identity(): string {
    return this.options.identity;
  }

  private get collectionPath(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.options.namespace}/leases`;
  }

  private leasePath(name: string): string {
    return `${this.collectionPath}/${name}`;
  }

  async start(): Promise<void> {
    void this.informer.run();
    // A restarted replica carries on from the epoch it acknowledged before: it has no binds in
    // flight, and acknowledgments never go back.
    await this.freshRead();
    this.ackedEpoch = Math.max(this.ackedEpoch, this.sightings.get(this.options.identity)?.ackedEpoch ?? 0);
    await this.renew();
    const tick = () => {
      if (this.stopped) return;
      this.renewTimer = setTimeout(() => void this.renew().finally(tick), this.options.renewIntervalMs);
    };
    tick();
  }

  /**
   * Stops renewing. With release, marks the Lease released so the others take over at once:
   * call it only after this replica's binds have finished.
   */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.informer.stop();
    if (!release) return;
    await this.client
      .call(
        "PATCH",
        this.leasePath(this.options.identity),
        {
          metadata: { annotations: { [releasedAnnotation]: "true" } },
          spec: { renewTime: this.renewTime() },
        },
        "application/merge-patch+json",
      )
      .catch(() => undefined);
  }

  /** Set by the shard: counts a Lease skipped as invalid, by kind ("ring-lease", "member-lease"). */
  onInvalidObject: (kind: string) => void = () => undefined;
  /** Set by the shard: counts a Lease event whose handling threw (the Informer logs it). */
  onHandlerError: () => void = () => undefined;
  /**
   * Set by the shard: counts each renewal by what became of it — counted, late (answered after
   * the margin: it holds nothing), refused (a non-2xx answer) or failed (no answer) — and each
   * time the own lease had lapsed and was regained (the caches are then read afresh).
   */
  onRenewal: (result: RenewalResult) => void = () => undefined;
  onLapse: () => void = () => undefined;

  /** The newest ring object seen. */
  get ring(): RingObject | undefined {
    return this.ringObject;
  }

  /** The ring Lease as last seen cannot be read: a new ring object is due even if nothing changed. */
  get ringMalformed(): boolean {
    return this.malformedRing !== undefined;
  }

  /** Live members, sorted: holders of unreleased Leases seen renewed within their duration. */
  liveMembers(): string[] {
    const now = this.now();
    const live: string[] = [];
    for (const [name, sighting] of this.sightings) if (isLive(sighting, now)) live.push(name);
    return live.sort();
  }

  /** Members whose death fresh reads confirmed (or who released their Lease). */
  confirmedDead(): Set<string> {
    const dead = new Set<string>();
    for (const [name, sighting] of this.sightings) if (isConfirmedDead(sighting)) dead.add(name);
    return dead;
  }

  /** What this replica knows of a peer; undefined when it has never seen its Lease. */
  peer(identity: string): LeaseSighting | undefined {
    return this.sightings.get(identity);
  }

  /**
   * True while this replica's own Lease is certainly unexpired: the last renewal that counted
   * (answered within the margin) was sent less than a lease duration minus the margin ago.
   * A replica stalled past its lease (SIGSTOP, long GC, cut network) sees false when it wakes.
   */
  holdsLease(): boolean {
    return this.now() - this.lastRenewOkAt < this.options.leaseDurationMs - this.marginMs;
  }

  /**
   * When the own lease was last (re)gained after a lapse. Peers may have moved on while it had
   * lapsed, so anything decided before (a bind ticket) is void once this changes.
   */
  get leaseGainedAt(): number {
    return this.regainedAt;
  }

  /** The ring and every Lease were read fresh, and the caches relisted, since the own lease was last (re)gained. */
  get revalidated(): boolean {
    return (
      this.lastFreshReadSentAt >= this.regainedAt &&
      (this.catchUp === undefined || this.cachesReadAt >= this.regainedAt)
    );
  }

  /** The ring epoch this replica acknowledged. */
  get acknowledged(): number {
    return this.ackedEpoch;
  }

  /** Publishes the ring epoch this replica adopted (acknowledgments only grow). */
  async publishAck(epoch: number): Promise<void> {
    if (epoch <= this.ackedEpoch) return;
    this.ackedEpoch = epoch;
    await this.renew();
  }

  /**
   * Compare-and-swap of the ring object against the version read (a malformed ring Lease seen
   * since: against that one, which it replaces). Returns false when another replica changed it
   * first (the watch brings the winner).
   */
  async proposeRing(next: RingEpoch, expected: RingObject | undefined): Promise<boolean> {
    const resourceVersion = this.malformedRing?.resourceVersion ?? expected?.resourceVersion;
    const lease: Lease = {
      metadata: {
        name: this.ringName,
        namespace: this.options.namespace,
        labels: { [shardLeaseLabel]: this.options.schedulerName, [leaseRoleLabel]: "ring" },
        annotations: {
          [ringEpochAnnotation]: String(next.epoch),
          [ringMembersAnnotation]: next.members.join(","),
          [ringNodeOwnersAnnotation]: JSON.stringify(next.nodeOwners),
          // Replaced whole (PUT): absent, the ring lists no domains.
          ...(next.domains ? { [ringDomainsAnnotation]: JSON.stringify(next.domains) } : {}),
        },
        ...(resourceVersion !== undefined ? { resourceVersion } : {}),
      },
      spec: {},
    };
    const res =
      resourceVersion !== undefined
        ? await this.client.call<Lease>("PUT", this.leasePath(this.ringName), lease)
        : await this.client.call<Lease>("POST", this.collectionPath, lease);
    if (res.status >= 200 && res.status < 300) {
      this.observe(res.body, this.now());
      return true;
    }
    if (res.status !== 409) this.log.warn({ status: res.status, body: res.body }, "ring proposal refused");
    return false;
  }

  private renewTime(): string {
    return leaseTimestamp(this.now());
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    const sentAt = this.now();
    const labels = { [shardLeaseLabel]: this.options.schedulerName, [leaseRoleLabel]: "member" };
    const annotations: Record<string, string | null> = {
      [ackedEpochAnnotation]: String(this.ackedEpoch),
      [releasedAnnotation]: null,
    };
    const spec = {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
      renewTime: this.renewTime(),
    };
    try {
      let res = await this.client.call<Lease>(
        "PATCH",
        this.leasePath(this.options.identity),
        { metadata: { labels, annotations }, spec },
        "application/merge-patch+json",
      );
      if (res.status === 404) {
        res = await this.client.call<Lease>("POST", this.collectionPath, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.options.identity, namespace: this.options.namespace, labels, annotations },
          spec,
        });
      }
      const answeredAt = this.now();
      if (res.status < 200 || res.status >= 300) {
        this.log.warn({ status: res.status }, "lease renewal refused");
        this.onRenewal("refused");
        return;
      }
      if (answeredAt - sentAt >= this.marginMs) {
        this.log.warn({ ms: answeredAt - sentAt }, "lease renewal answered too late to count");
        this.onRenewal("late");
        return;
      }
      const lapsed = sentAt - this.lastRenewOkAt >= this.options.leaseDurationMs - this.marginMs;
      this.lastRenewOkAt = sentAt;
      this.onRenewal("counted");
      if (lapsed) {
        if (Number.isFinite(this.regainedAt)) {
          this.log.warn("own lease had lapsed; reading everything afresh");
          this.onLapse();
        }
        this.regainedAt = sentAt;
      }
      // Until a fresh read sent after the lease was regained has succeeded, every renewal asks
      // for one (a read that failed, or was already in flight, must not leave it unvalidated).
      if (!this.revalidated) {
        void this.freshRead(this.regainedAt);
        this.readCachesAfresh();
      }
      this.onChange();
    } catch (error) {
      this.log.warn({ err: String(error) }, "lease renewal failed");
      this.onRenewal("failed");
    }
  }

  /** Runs catchUp once at a time; one sent before the lease was regained does not count. */
  private readCachesAfresh(): void {
    const catchUp = this.catchUp;
    if (!catchUp || this.cachesReading || this.cachesReadAt >= this.regainedAt) return;
    this.cachesReading = true;
    const sentAt = this.now();
    catchUp()
      .then(() => {
        this.cachesReadAt = Math.max(this.cachesReadAt, sentAt);
        this.onChange();
      })
      .catch((error: unknown) => this.log.warn({ err: String(error) }, "re-reading the caches failed"))
      .finally(() => {
        this.cachesReading = false;
      });
  }

  /**
   * Lists every Lease with a quorum read, so what it shows is at least as new as the moment it
   * was sent. Callers share a read in flight when it was sent no earlier than `notBefore`;
   * otherwise one more read follows it (shared by every such caller).
   */
  freshRead(notBefore = this.now()): Promise<void> {
    const inFlight = this.freshReading;
    if (!inFlight) return this.startFreshRead().done;
    if (inFlight.sentAt >= notBefore) return inFlight.done;
    this.freshReadQueued ??= inFlight.done.then(() => {
      this.freshReadQueued = undefined;
      return this.freshRead(notBefore);
    });
    return this.freshReadQueued;
  }

  private startFreshRead(): { sentAt: number; done: Promise<void> } {
    const sentAt = this.now();
    this.lastFreshReadTriedAt = sentAt;
    const done = (async () => {
      try {
        const list = await this.client.must<{ items: Lease[] }>(
          "GET",
          `${this.collectionPath}?labelSelector=${encodeURIComponent(`${shardLeaseLabel}=${this.options.schedulerName}`)}`,
        );
        const at = this.now();
        const present = new Set<string>();
        for (const lease of list.items) {
          present.add(lease.metadata.name);
          this.observe(lease, at, sentAt, false);
        }
        if (!present.has(this.ringName)) this.ringObject = undefined;
        for (const name of [...this.sightings.keys()])
          if (!present.has(name)) this.observeAbsent(name, at, sentAt, false);
        // Ring members never seen count too: one without a Lease (a name written into the ring
        // by hand) is confirmed dead like a vanished one, instead of holding every gate shut.
        for (const name of this.ringObject?.members ?? [])
          if (!present.has(name) && !this.sightings.has(name) && name !== this.options.identity)
            this.observeAbsent(name, at, sentAt, false);
        this.lastFreshReadSentAt = Math.max(this.lastFreshReadSentAt, sentAt);
      } catch (error) {
        this.log.warn({ err: String(error) }, "fresh read of the shard Leases failed");
      } finally {
        this.freshReading = undefined;
      }
      this.publish();
    })();
    this.freshReading = { sentAt, done };
    return this.freshReading;
  }

  private observe(lease: Lease, at: number, freshReadSentAt?: number, publish = true): void {
    const name = lease.metadata.name;
    const objectName = `${this.options.namespace}/${name}`;
    if (name === this.ringName) {
      const ring = this.invalidObjects.check("ring-lease", objectName, parseRingLease(lease));
      this.malformedRing = ring ? undefined : { resourceVersion: lease.metadata.resourceVersion ?? "" };
      if (ring && ring.epoch >= (this.ringObject?.epoch ?? 0)) this.ringObject = ring;
    } else {
      // An unreadable member Lease leaves the sighting as it was (its holder rewrites it when renewing).
      const observation = this.invalidObjects.check("member-lease", objectName, parseMemberLease(lease));
      if (observation)
        this.sightings.set(name, nextSighting(this.sightings.get(name), observation, at, freshReadSentAt));
    }
    if (publish) this.publish();
  }

  private observeAbsent(name: string, at: number, freshReadSentAt?: number, publish = true): void {
    if (name === this.ringName) {
      this.ringObject = undefined;
      this.malformedRing = undefined;
    } else {
      const previous = this.sightings.get(name);
      this.sightings.set(
        name,
        nextSighting(
          previous,
          // A member never seen gets this replica's own lease duration to appear.
          {
            holder: name,
            version: "",
            durationMs: this.options.leaseDurationMs,
            ackedEpoch: 0,
            released: false,
            absent: true,
          },
          at,
          freshReadSentAt,
        ),
      );
    }
    if (publish) this.publish();
  }

  /**
   * Tells the owner something changed, and wakes up when the next sighting expires: then a
   * fresh read can confirm that peer dead.
   */
  private publish(): void {
    this.onChange();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    if (this.stopped) return;
    let next = Number.POSITIVE_INFINITY;
    for (const sighting of this.sightings.values())
      if (!isConfirmedDead(sighting)) next = Math.min(next, deathConfirmableAt(sighting));
    // A ring member never seen: a fresh read starts its sighting (absent, unless it appears).
    const identity = this.options.identity;
    if (this.ringObject?.members.some((member) => member !== identity && !this.sightings.has(member)))
      next = Math.min(next, this.now());
    if (!Number.isFinite(next)) return;
    // Not sooner than a renewal period after the last fresh read, answered or not: neither a
    // peer that keeps its Lease unchanged nor an API server that is down is worth a read storm.
    const at = Math.max(next, this.lastFreshReadTriedAt + this.options.renewIntervalMs);
    this.expiryTimer = setTimeout(() => void this.freshRead(), Math.max(0, at - this.now()) + 5);
  }
}

/** An annotation that must hold an exact count (an epoch), or the reason it does not. */
