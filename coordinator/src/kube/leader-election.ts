/**
 * Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it: the
 * holder renews spec.renewTime; a candidate takes over (compare-and-swap on the
 * resourceVersion) once it has seen the Lease unchanged for a whole lease duration on its own
 * clock; the leader releases it on shutdown so the standby takes over at once. The leader
 * counts itself leader only while its last renewal is younger than the lease minus a margin,
 * so two coordinators never act at the same time.
 */
import type { KubeClient } from "@sharded-scheduler/scheduler/kube";
import { type Lease, leaseMarginMs, leaseTimestamp } from "@sharded-scheduler/scheduler/sharding";
import type { Logger } from "pino";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewIntervalMs: number;
}

export class LeaderElection {
  private timer: NodeJS.Timeout | undefined;
  private renewedAt = Number.NEGATIVE_INFINITY;
  /** The Lease as last seen and when (our clock) it last changed. */
  private observed: { resourceVersion: string; at: number } | undefined;
  private stopped = false;
  private leading = false;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaderElectionOptions,
    private readonly log: Logger,
    private readonly onChange: (leading: boolean) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** True while this replica holds the Lease with time to spare: only then may it act. */
  get isLeader(): boolean {
    return (
      this.now() - this.renewedAt < this.options.leaseDurationMs - leaseMarginMs(this.options.leaseDurationMs)
    );
  }

  start(): void {
    const tick = async () => {
      await this.tryAcquireOrRenew().catch((error: unknown) =>
        this.log.warn({ err: String(error) }, "leader lease: request failed"),
      );
      this.report();
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.options.renewIntervalMs);
    };
    void tick();
  }

  /** Stops renewing; a leader releases the Lease so the standby need not wait for it to expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.isLeader) return;
    this.renewedAt = Number.NEGATIVE_INFINITY;
    this.report();
    const lease = await this.read();
    if (lease?.spec?.holderIdentity !== this.options.identity) return;
    await this.client
      .call("PUT", this.path(lease.metadata.name), {
        ...lease,
        spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1 },
      })
      .catch(() => undefined);
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
    const stamp = leaseTimestamp(started);
    const durationSeconds = Math.max(1, Math.ceil(this.options.leaseDurationMs / 1000));
    const lease = await this.read();
    if (!lease) {
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
    if (this.now() - sentAt > leaseMarginMs(this.options.leaseDurationMs)) return;
    this.renewedAt = sentAt;
    if (message) this.log.info({ identity: this.options.identity }, message);
  }

  private report(): void {
    const leading = this.isLeader;
    if (leading === this.leading) return;
    this.leading = leading;
    if (!leading) this.log.warn("no longer the leader: pausing");
    this.onChange(leading);
  }
}
