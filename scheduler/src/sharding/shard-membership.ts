/**
 * Shard membership through coordination.k8s.io Leases: each replica holds a Lease named after
 * its identity (the StatefulSet pod name) and renews it on a short period; the live members
 * are the holders of unexpired Leases carrying the shard label. Liveness is judged with the
 * observer's clock against when it last saw each Lease change, so clock skew between
 * machines does not matter (as client-go's leader election does).
 */
import type { Logger } from "pino";
import { Informer } from "../kube/informer.js";
import type { KubeClient } from "../kube/kube-client.js";

export const shardLeaseLabel = "sharded-scheduler.io/shard";

interface Lease {
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string };
}

export interface MembershipOptions {
  namespace: string;
  identity: string;
  /** The scheduler name the shards serve: shards of different schedulers are separate rings. */
  schedulerName: string;
  leaseDurationMs: number;
  renewIntervalMs: number;
}

export class ShardMembership {
  private readonly seen = new Map<
    string,
    { holder: string; durationMs: number; observedAt: number; version: string }
  >();
  private readonly informer: Informer<Lease>;
  private renewTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private lastRenewOkAt = Number.NEGATIVE_INFINITY;
  private liveKey = "";
  private stopped = false;

  constructor(
    private readonly client: KubeClient,
    private readonly options: MembershipOptions,
    private readonly log: Logger,
    /** Called whenever the set of live members changes. */
    private readonly onChange: (members: readonly string[]) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {
    const selector = `${shardLeaseLabel}=${options.schedulerName}`;
    this.informer = new Informer<Lease>(
      client,
      {
        path: `/apis/coordination.k8s.io/v1/namespaces/${options.namespace}/leases`,
        labelSelector: selector,
        watchdogMs: 30_000,
      },
      {
        upsert: (lease) => this.observe(lease),
        remove: (lease) => {
          this.seen.delete(lease.metadata.name);
          this.publish();
        },
      },
      log,
    );
  }

  private get leasePath(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.options.namespace}/leases/${this.options.identity}`;
  }

  async start(): Promise<void> {
    void this.informer.run();
    await this.renew();
    const tick = () => {
      if (this.stopped) return;
      this.renewTimer = setTimeout(() => void this.renew().finally(tick), this.options.renewIntervalMs);
    };
    tick();
  }

  /** Stops renewing and deletes the Lease, so the others take over at once. */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.informer.stop();
    if (release) await this.client.call("DELETE", this.leasePath).catch(() => undefined);
  }

  /** Live members, sorted: holders of Leases seen renewed within their duration. */
  liveMembers(): string[] {
    const now = this.now();
    const live: string[] = [];
    for (const entry of this.seen.values())
      if (now - entry.observedAt < entry.durationMs) live.push(entry.holder);
    return live.sort();
  }

  /**
   * True while this shard's own Lease is certainly unexpired: renewed successfully, measured
   * from when that renewal was sent, with a safety margin. A shard stalled past its lease
   * (SIGSTOP, long GC) sees false when it wakes and must not bind.
   */
  holdsLease(marginMs = 1_000): boolean {
    return this.now() - this.lastRenewOkAt < this.options.leaseDurationMs - marginMs;
  }

  private async renew(): Promise<void> {
    const sentAt = this.now();
    const spec = {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
      renewTime: new Date(sentAt).toISOString().replace("Z", "000Z"),
    };
    const body = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: this.options.identity,
        namespace: this.options.namespace,
        labels: { [shardLeaseLabel]: this.options.schedulerName },
      },
      spec,
    };
    try {
      let res = await this.client.call(
        "PATCH",
        this.leasePath,
        { metadata: { labels: body.metadata.labels }, spec },
        "application/merge-patch+json",
      );
      if (res.status === 404) {
        res = await this.client.call(
          "POST",
          `/apis/coordination.k8s.io/v1/namespaces/${this.options.namespace}/leases`,
          body,
        );
      }
      if (res.status >= 200 && res.status < 300) this.lastRenewOkAt = sentAt;
      else this.log.warn({ status: res.status }, "lease renewal refused");
    } catch (error) {
      this.log.warn({ err: String(error) }, "lease renewal failed");
    }
  }

  private observe(lease: Lease): void {
    const holder = lease.spec?.holderIdentity;
    if (!holder) return;
    const previous = this.seen.get(lease.metadata.name);
    const version = lease.spec?.renewTime ?? lease.metadata.resourceVersion ?? "";
    // A lease is alive from when we saw it change, for its duration.
    if (previous?.version === version) return;
    this.seen.set(lease.metadata.name, {
      holder,
      durationMs: (lease.spec?.leaseDurationSeconds ?? 10) * 1000,
      observedAt: this.now(),
      version,
    });
    this.publish();
  }

  /** Tells onChange about a new live set, and wakes up when the next lease would expire. */
  private publish(): void {
    const live = this.liveMembers();
    const key = live.join(",");
    if (key !== this.liveKey) {
      this.liveKey = key;
      this.onChange(live);
    }
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    let next = Number.POSITIVE_INFINITY;
    const now = this.now();
    for (const entry of this.seen.values()) {
      const expiresAt = entry.observedAt + entry.durationMs;
      if (expiresAt > now) next = Math.min(next, expiresAt);
    }
    if (Number.isFinite(next) && !this.stopped) {
      this.expiryTimer = setTimeout(() => this.publish(), next - now + 5);
    }
  }
}
