/**
 * Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it: the
 * holder renews spec.renewTime; a candidate takes over (compare-and-swap on the
 * resourceVersion) once it has seen the Lease unchanged for a whole lease duration on its own
 * clock; the leader releases it on shutdown so the standby takes over at once.
 *
 * The leader acts only while it can prove it leads (core/leadership.ts): every write carries a
 * LeaderTicket that the KubeClient asks right when the request goes out (sendIf), so a write
 * that waited (rate limit, a stalled process) past the renew deadline is never sent. Renewals
 * go through their own client, with its own rate limit and connections, so the leader's writes
 * can never delay them.
 *
 * A replica that cannot reach Redis cannot coordinate: it does not acquire the Lease, and a
 * leader that has not reached Redis for mayLead's bound gives the Lease up, so a healthy
 * standby leads.
 */

import { type Lease, leaseTimestamp } from "@sharded-scheduler/scheduler/contracts";
import type { KubeClient } from "@sharded-scheduler/scheduler/kube";
import type { Logger } from "pino";
import { LeadershipProof, type LeaderTicket } from "../core/index.js";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewIntervalMs: number;
}

export interface LeaderElectionHooks {
  /** Leadership changed (also called when the deadline passes between two renewals). */
  onChange?: (leading: boolean) => void;
  /** False while this replica must not lead (Redis unreachable): it neither acquires nor renews. */
  mayLead?: () => boolean;
  /** Monotonic clock in ms (default performance.now). */
  now?: () => number;
  /** Wall clock for the Lease's timestamps (default Date.now). */
  wallClock?: () => number;
}

export class LeaderElection {
  private timer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly proof: LeadershipProof;
  /** The Lease as last seen and when (our clock) it last changed. */
  private observed: { resourceVersion: string; at: number } | undefined;
  private stopped = false;
  private leading = false;
  /** Set once a write of the Lease naming us was sent, cleared once it no longer names us. */
  private mayHoldLease = false;
  private readonly now: () => number;
  private readonly wallClock: () => number;
  private readonly mayLead: () => boolean;
  private readonly onChange: (leading: boolean) => void;

  constructor(
    /** Used for the Lease only: its own rate limit and connections. */
    private readonly client: KubeClient,
    private readonly options: LeaderElectionOptions,
    private readonly log: Logger,
    hooks: LeaderElectionHooks = {},
  ) {
    this.now = hooks.now ?? (() => performance.now());
    this.wallClock = hooks.wallClock ?? Date.now;
    this.mayLead = hooks.mayLead ?? (() => true);
    this.onChange = hooks.onChange ?? (() => undefined);
    this.proof = new LeadershipProof(options.leaseDurationMs, this.now);
  }

  /** True while this replica can prove it holds the Lease: only then may it act. */
  get isLeader(): boolean {
    return this.proof.holds();
  }

  /** A ticket for writes decided now (ask ticket.valid() right before each is sent); undefined unless leading. */
  ticket(): LeaderTicket | undefined {
    return this.proof.ticket();
  }

  start(): void {
    const tick = async () => {
      await this.tick().catch((error: unknown) =>
        this.log.warn({ err: String(error) }, "leader lease: request failed"),
      );
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.options.renewIntervalMs);
    };
    void tick();
  }

  /** Stops renewing; a leader releases the Lease so the standby need not wait for it to expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    if (!this.mayHoldLease) return;
    await this.release().catch((error: unknown) =>
      this.log.warn({ err: String(error) }, "could not release the leader Lease; it expires"),
    );
  }

  /** One round: renew or acquire when this replica may lead; give the Lease up when it may not. */
  async tick(): Promise<void> {
    try {
      if (this.stopped) return;
      if (this.mayLead()) return await this.tryAcquireOrRenew();
      if (!this.mayHoldLease) return;
      this.log.warn("cannot reach Redis: giving up the leader Lease so a standby that can leads");
      await this.release();
    } finally {
      this.report();
    }
  }

  /** Stops acting at once, then hands the Lease back if it is still ours. */
  private async release(): Promise<void> {
    this.proof.revoke();
    this.report();
    const lease = await this.read();
    if (lease?.spec?.holderIdentity !== this.options.identity) {
      this.mayHoldLease = false;
      return;
    }
    const res = await this.client.call("PUT", this.path(lease.metadata.name), {
      ...lease,
      spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1 },
    });
    if (res.status === 200) this.mayHoldLease = false;
  }

  private path(name = ""): string {
    const base = `/apis/coordination.k8s.io/v1/namespaces/${this.options.namespace}/leases`;
    return name === "" ? base : `${base}/${name}`;
  }

  private async read(): Promise<(Lease & { spec?: Record<string, unknown> }) | undefined> {
    const res = await this.client.call<Lease>("GET", this.path(this.options.name));
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET leader Lease: HTTP ${res.status}`);
    return res.body;
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const started = this.now();
    const stamp = leaseTimestamp(this.wallClock());
    const durationSeconds = Math.max(1, Math.ceil(this.options.leaseDurationMs / 1000));
    const lease = await this.read();
    if (!lease) {
      this.mayHoldLease = true;
      const res = await this.client.call("POST", this.path(), {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.options.name, namespace: this.options.namespace },
        spec: {
          holderIdentity: this.options.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: stamp,
          renewTime: stamp,
          leaseTransitions: 0,
        },
      });
      if (res.status === 201) this.renewed(started, "acquired the leader Lease (created it)");
      return;
    }
    const rv = lease.metadata.resourceVersion ?? "";
    if (this.observed?.resourceVersion !== rv) this.observed = { resourceVersion: rv, at: started };
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const mine = holder === this.options.identity;
    const heldSeconds = Number(spec.leaseDurationSeconds ?? durationSeconds);
    const expired = holder === "" || started - this.observed.at >= heldSeconds * 1000;
    if (!mine && !expired) return;
    const transitions = Number(spec.leaseTransitions ?? 0);
    this.mayHoldLease = true;
    const res = await this.client.call("PUT", this.path(this.options.name), {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.options.identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: stamp,
        ...(mine ? {} : { acquireTime: stamp, leaseTransitions: transitions + 1 }),
      },
    });
    if (res.status === 200)
      this.renewed(started, mine ? undefined : `took over the leader Lease from "${holder}"`);
  }

  /** A renewal counts from when it was sent, and only if it was answered in time. */
  private renewed(sentAt: number, message: string | undefined): void {
    const outcome = this.proof.renewed(sentAt);
    if (outcome === "late") {
      this.log.warn(
        { ms: Math.round(this.now() - sentAt) },
        "leader lease renewal answered too late to count",
      );
      return;
    }
    if (message) this.log.info({ identity: this.options.identity }, message);
    // Leadership ends at the deadline even if no tick comes by then (the process was stalled).
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(() => this.report(), Math.max(0, this.proof.deadline - this.now()) + 1);
    this.deadlineTimer.unref();
  }

  private report(): void {
    const leading = this.isLeader;
    if (leading === this.leading) return;
    this.leading = leading;
    if (!leading) this.log.warn("no longer provably the leader: writes stop");
    this.onChange(leading);
  }
}
