/**
 * The discrete-event model of a sharded-scheduler cluster. The product's own code decides;
 * the model only charges time for it:
 *   - each shard runs the real SchedulingCore over the pending groups the real ring
 *     (ShardRing, groupOwner) gives it, on the nodes it owns under the ring and the
 *     coordinator's lends (nodeOwnerOf), and binds only while the real bindGate is open;
 *   - the coordinator, when on, plans with the real planRelief over the real summarizeCapacity
 *     of each shard (withReservations between plans), and its handoffs and lends are carried out;
 *   - the API server is a pool of cores serving writes (bind, Event, status patch, Owner
 *     patch) at a calibrated cost each plus a cost per watcher for every pod event it fans out;
 *     every shard decodes every pod event; etcd pays per write (calibration.ts).
 * Decisions take effect in one ClusterState all shards read: a shard places only on nodes it
 * owns, so what the others assumed elsewhere never changes its answers (the cache's watch lag
 * shows only as the delay before a bind is seen).
 *
 * Scale: each simulated node and pod stands for `scale` real ones, and every per-pod cost is
 * charged `scale` times (the core's too, for the node count the real shard would scan), so
 * rates and latencies are those of the full-size cluster while the core places 1/scale of it.
 */
import { planRelief, type Reservation, withReservations } from "../../coordinator/src/core/index.js";
import type { RingEpoch } from "../../scheduler/src/contracts/leases.js";
import { summarizeCapacity } from "../../scheduler/src/coordination/capacity-summary.js";
import {
  ClusterState,
  type CoreConfig,
  defaultCoreConfig,
  groupOwner,
  type PendingGroup,
  type Placement,
  SchedulingCore,
  trialPlacement,
} from "../../scheduler/src/core/index.js";
import { bindGate } from "../../scheduler/src/sharding/handover.js";
import { nodeOwnerOf, ShardRing } from "../../scheduler/src/sharding/shard-ring.js";
import { type Calibration, coreMsPerPod, calibration as measured } from "./calibration.js";
import { VirtualClock } from "./clock.js";
import { CpuPool, type Process } from "./machine.js";
import { nodeNames, nodeObject, pendingGroups } from "./workload.js";

export type ScheduledEvents = "pod" | "group" | "off";

export interface SimulationOptions {
  readonly nodes: number;
  readonly pods: number;
  readonly shards: number;
  /** Everything shares one machine of this many cores (the benchmark's); unset: dedicated pools. */
  readonly machineCores?: number;
  /** API-server cores (dedicated pools). */
  readonly apiCores: number;
  /** etcd cores (dedicated pools). */
  readonly etcdCores: number;
  readonly nodeMilliCpu: number;
  readonly podMilliCpu: number;
  readonly gangFraction: number;
  readonly gangSize: number;
  /**
   * Each gang is a native PodGroup whose condition its shard writes once the gang is placed:
   * one write, sent to every shard's PodGroup watch (the annotation gangs have none).
   */
  readonly podGroupWrites: boolean;
  readonly coordinator: boolean;
  readonly scheduledEvents: ScheduledEvents;
  /** Pod status patches per bound pod inside the run (the kubelet's, KWOK's). */
  readonly statusPatchesPerPod: number;
  /** Groups per cycle. */
  readonly batch: number;
  /** Binds in flight per shard (the shard's --bind-concurrency). */
  readonly bindConcurrency: number;
  /** From an API write to the watchers having it. */
  readonly watchDelayMs: number;
  /** Each simulated node and pod stands for this many. */
  readonly scale: number;
  readonly seed: number;
  readonly calibration?: Calibration;
  /** Stop the clock here (virtual ms). */
  readonly limitMs?: number;
}

export const defaultOptions: SimulationOptions = {
  nodes: 50_000,
  pods: 1_000_000,
  shards: 1,
  apiCores: 16,
  etcdCores: 8,
  nodeMilliCpu: 1000,
  podMilliCpu: 40,
  gangFraction: 0.5,
  gangSize: 8,
  podGroupWrites: true,
  coordinator: true,
  scheduledEvents: "pod",
  statusPatchesPerPod: 1,
  batch: 64,
  bindConcurrency: 256,
  watchDelayMs: 5,
  scale: 20,
  seed: 1,
};

/** The coordinator's defaults (coordinator/src/config.ts) and the shard's handover settle. */
const coordinatorTiming = { intervalMs: 500, stuckAfterMs: 3000, cooldownMs: 15_000, maxAttempts: 3 };
const handoverSettleMs = 1000;

export interface SimulationResult {
  readonly shards: number;
  readonly nodes: number;
  readonly pods: number;
  readonly scale: number;
  readonly scheduled: number;
  readonly durationSeconds: number;
  readonly podsPerSecond: number;
  /** Pods per second between the 10th and the 90th percentile bind: the drain without start and tail. */
  readonly steadyPodsPerSecond: number;
  /** When the first pod was bound (the shards' start and pod list decoded before it). */
  readonly firstBindSeconds: number;
  readonly podP50Ms: number;
  readonly podP99Ms: number;
  readonly gangs: {
    readonly count: number;
    readonly bound: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
  };
  /** Groups still pending at the end, and how many of them one scheduler could place on the final state. */
  readonly pendingGroups: number;
  readonly fragmentation: number;
  readonly handoffs: number;
  readonly lentNodes: number;
  /** Shard-milliseconds a closed bind gate held cycles back. */
  readonly handoverWaitMs: number;
  /** CPU seconds per component, full scale. */
  readonly cpuSeconds: Record<string, number>;
  /** Busy share of each pool's cores over the run (%). */
  readonly busyPercent: Record<string, number>;
  /** Wall-clock seconds the simulation took. */
  readonly wallSeconds: number;
}

interface Shard {
  readonly id: string;
  readonly process: Process;
  readonly core: SchedulingCore;
  readonly active: PendingGroup[];
  activeHead: number;
  readonly unschedulable: Map<string, { group: PendingGroup; since: number }>;
  ready: boolean;
  cycling: boolean;
  bindsInFlight: number;
  ackedEpoch: number;
  gateClosedSince: number | undefined;
  readonly ownsCache: Map<string, boolean>;
  ownsCacheVersion: number;
  ownedCount: number;
  /** Requests sent so far (the first ones open connections). */
  requests: number;
}

export function simulate(input: Partial<SimulationOptions> = {}): SimulationResult {
  return new Simulation({ ...defaultOptions, ...input }).run();
}

class Simulation {
  private readonly clock = new VirtualClock();
  private readonly cal: Calibration;
  private readonly cluster = new ClusterState();
  private readonly pools: CpuPool[] = [];
  private readonly api: Process;
  private readonly etcd: Process;
  private readonly kwok: Process | undefined;
  private readonly others: Process | undefined;
  private readonly shards: Shard[] = [];
  private readonly byId = new Map<string, Shard>();
  private readonly ring: ShardRing;
  private readonly live: ReadonlySet<string>;
  private ringEpoch: RingEpoch;
  private readonly lends: Record<string, string> = Object.create(null);
  private readonly gainedAt = new Map<string, number>();
  private ownershipVersion = 1;
  private readonly pins = new Map<string, string>();
  private readonly reliefs = new Map<string, { attempts: number; at: number }>();
  private reservations: Reservation[] = [];
  private readonly groupsTotal: PendingGroup[];
  private readonly remaining = new Map<string, number>();
  private readonly podBoundAt: number[] = [];
  private readonly gangBoundAt: number[] = [];
  private gangCount = 0;
  private scheduled = 0;
  private lastBindAt = 0;
  private patchDebt = 0;
  private handoffs = 0;
  private lentNodes = 0;
  private handoverWaitMs = 0;
  private timers = 0;
  private roundsWithoutPlan = 0;
  private readonly watchers: number;
  private readonly decodePerEventMs: number;
  private simPods = 0;

  constructor(private readonly options: SimulationOptions) {
    this.cal = options.calibration ?? measured;
    const shared = options.machineCores !== undefined;
    const machine = shared ? this.pool("machine", options.machineCores as number) : undefined;
    const apiPool = machine ?? this.pool("api-server", options.apiCores);
    const etcdPool = machine ?? this.pool("etcd", options.etcdCores);
    this.api = apiPool.process("kube-apiserver", apiPool.cores);
    this.etcd = etcdPool.process("etcd", etcdPool.cores);
    this.kwok = machine?.process("kwok", 1);
    this.others = machine?.process("other", 1);
    const members = Array.from({ length: options.shards }, (_, i) => `sharded-scheduler-${i}`);
    this.ring = new ShardRing(members);
    this.live = new Set(members);
    this.ringEpoch = { epoch: 1, members, nodeOwners: {} };
    const coreConfig: CoreConfig = { ...defaultCoreConfig, preemption: false };
    for (const id of members) {
      const process = (machine ?? this.pool(id, 1)).process(id, 1);
      const shard: Shard = {
        id,
        process,
        core: new SchedulingCore(this.cluster, coreConfig),
        active: [],
        activeHead: 0,
        unschedulable: new Map(),
        ready: false,
        cycling: false,
        bindsInFlight: 0,
        ackedEpoch: 1,
        gateClosedSince: undefined,
        ownsCache: new Map(),
        ownsCacheVersion: 0,
        ownedCount: 0,
        requests: 0,
      };
      this.shards.push(shard);
      this.byId.set(id, shard);
    }
    const simNodes = Math.max(1, Math.round(options.nodes / options.scale));
    for (const name of nodeNames(simNodes)) this.cluster.upsertNode(nodeObject(name, options.nodeMilliCpu));
    this.groupsTotal = pendingGroups({
      nodes: simNodes,
      pods: Math.max(1, Math.round(options.pods / options.scale)),
      nodeMilliCpu: options.nodeMilliCpu,
      podMilliCpu: options.podMilliCpu,
      gangFraction: options.gangFraction,
      gangSize: options.gangSize,
      seed: options.seed,
    });
    this.watchers = options.shards + this.cal.otherPodWatchers;
    this.decodePerEventMs = this.cal.shardWatchMsPerPod / (2 + this.cal.statusPatchesPerPod);
  }

  private pool(name: string, cores: number): CpuPool {
    const pool = new CpuPool(name, cores, this.clock);
    this.pools.push(pool);
    return pool;
  }

  run(): SimulationResult {
    const started = performance.now();
    for (const group of this.groupsTotal) {
      this.remaining.set(group.key.id, group.members.length);
      if (!group.key.solo) this.gangCount++;
      this.ownerOf(group).active.push(group);
    }
    this.simPods = this.groupsTotal.reduce((sum, g) => sum + g.members.length, 0);
    for (const shard of this.shards) this.start(shard, this.simPods);
    if (this.others) this.background(this.others);
    if (this.options.coordinator && this.shards.length > 1) this.coordinatorRound();
    this.clock.run(() => false, this.options.limitMs);
    return this.result(performance.now() - started);
  }

  // --- ownership -------------------------------------------------------------------------

  private ownerOf(group: PendingGroup): Shard {
    const id = groupOwner(this.ring.ownerOf(group.key.hashKey), this.pins.get(group.key.id), this.live);
    return this.byId.get(id as string) as Shard;
  }

  private ownsNode(shard: Shard, node: string): boolean {
    if (shard.ownsCacheVersion !== this.ownershipVersion) {
      shard.ownsCache.clear();
      shard.ownsCacheVersion = this.ownershipVersion;
      shard.ownedCount = -1;
    }
    let answer = shard.ownsCache.get(node);
    if (answer === undefined) {
      answer = nodeOwnerOf(this.ring, this.lends, node) === shard.id;
      const gained = this.gainedAt.get(node);
      // A node just gained is used once the settle delay passed (sharded-ownership.ts).
      if (answer && gained !== undefined && this.clock.now < gained + handoverSettleMs) answer = false;
      shard.ownsCache.set(node, answer);
    }
    return answer;
  }

  /** Nodes the shard owns, full scale: what its real core would scan a share of. */
  private ownedNodes(shard: Shard): number {
    if (shard.ownsCacheVersion !== this.ownershipVersion || shard.ownedCount < 0) {
      let count = 0;
      for (const node of this.cluster.nodes) if (this.ownsNode(shard, node.name)) count++;
      shard.ownedCount = count;
    }
    return shard.ownedCount * this.options.scale;
  }

  private gateOpen(shard: Shard): boolean {
    return bindGate({
      self: shard.id,
      holdsLease: true,
      revalidated: true,
      ackedEpoch: shard.ackedEpoch,
      ring: this.ringEpoch,
      peers: this.shards
        .filter((peer) => peer !== shard)
        .map((peer) => ({ identity: peer.id, ackedEpoch: peer.ackedEpoch, confirmedDead: false })),
    }).open;
  }

  // --- shards ----------------------------------------------------------------------------

  /** Start: the process's fixed cost, then the pod list decoded, then cycles. */
  private start(shard: Shard, simPods: number): void {
    shard.process.submitChunked(
      this.cal.shardStartMs + simPods * this.decodePerEventMs * this.options.scale,
      () => {
        shard.ready = true;
        this.tryCycle(shard);
      },
    );
  }

  private tryCycle(shard: Shard): void {
    if (!shard.ready || shard.cycling || shard.bindsInFlight >= this.options.bindConcurrency) return;
    if (shard.activeHead >= shard.active.length) return;
    if (!this.gateOpen(shard)) {
      shard.gateClosedSince ??= this.clock.now;
      return;
    }
    if (shard.gateClosedSince !== undefined) {
      this.handoverWaitMs += this.clock.now - shard.gateClosedSince;
      shard.gateClosedSince = undefined;
    }
    const room = Math.max(1, this.options.bindConcurrency - shard.bindsInFlight);
    const groups: PendingGroup[] = [];
    let pods = 0;
    while (shard.activeHead < shard.active.length && groups.length < this.options.batch && pods < room) {
      const group = shard.active[shard.activeHead++] as PendingGroup;
      groups.push(group);
      pods += group.members.length;
    }
    if (shard.activeHead > 4096 && shard.activeHead * 2 > shard.active.length) {
      shard.active.splice(0, shard.activeHead);
      shard.activeHead = 0;
    }
    shard.cycling = true;
    const decisions = shard.core.cycle(groups, (node) => this.ownsNode(shard, node), this.ownershipVersion);
    const owned = this.ownedNodes(shard);
    const placeMs = coreMsPerPod(this.cal, owned) + this.cal.shardClientMsPerPod;
    // A group that does not fit was tried against every owned node.
    const failMs = this.cal.coreBaseMs + this.cal.coreMsPerNodeScanned * owned;
    let cost = 0;
    const binds: Placement[][] = [];
    for (const decision of decisions) {
      if (decision.kind === "bind") {
        cost += decision.placements.length * placeMs;
        binds.push([...decision.placements]);
        shard.bindsInFlight += decision.placements.length;
        continue;
      }
      cost += failMs;
      const group = groups.find((g) => g.key.id === decision.group.id) as PendingGroup;
      shard.unschedulable.set(group.key.id, { group, since: this.clock.now });
    }
    shard.process.submit(cost * this.options.scale, () => {
      shard.cycling = false;
      for (const placements of binds) this.sendBinds(shard, placements);
      this.tryCycle(shard);
    });
  }

  private sendBinds(shard: Shard, placements: readonly Placement[]): void {
    const scale = this.options.scale;
    const writeMs = this.cal.apiWriteMs * scale;
    const podEventMs = this.watchedWriteMs(this.watchers);
    for (const { pod } of placements) {
      this.request(shard);
      this.api.submit(podEventMs, () => this.bound(shard, pod.group.id));
      if (this.options.scheduledEvents === "pod") this.event(shard, writeMs);
    }
    if (this.options.scheduledEvents === "group") this.event(shard, writeMs);
  }

  /** A shard's first requests carry its warm-up (connections, TLS contexts), at the shard's CPU. */
  private request(shard: Shard): void {
    if (shard.requests++ < this.cal.shardWarmupRequests) shard.process.bulk(this.cal.shardWarmupMsPerRequest);
  }

  private event(shard: Shard, writeMs: number): void {
    this.request(shard);
    this.api.submit(writeMs, () => this.etcd.bulk(this.cal.etcdWriteMs * this.options.scale));
  }

  /** A bind went through: etcd writes it, every watcher is sent it, KWOK runs the pod. */
  private bound(shard: Shard, groupId: string): void {
    const scale = this.options.scale;
    shard.bindsInFlight--;
    this.watchedWriteLanded();
    this.kwok?.bulk(this.cal.kwokMsPerPod * scale);
    this.patchDebt += this.options.statusPatchesPerPod;
    while (this.patchDebt >= 1) {
      this.patchDebt -= 1;
      this.api.submit(this.watchedWriteMs(this.watchers), () => this.watchedWriteLanded());
    }
    const seenAt = this.clock.now + this.options.watchDelayMs;
    this.scheduled++;
    this.podBoundAt.push(seenAt);
    this.lastBindAt = Math.max(this.lastBindAt, seenAt);
    const left = (this.remaining.get(groupId) ?? 1) - 1;
    this.remaining.set(groupId, left);
    if (left === 0 && !groupId.startsWith("pod:")) {
      this.gangBoundAt.push(seenAt);
      if (this.options.podGroupWrites) this.podGroupWritten(shard);
    }
    this.tryCycle(shard);
  }

  /** The gang's PodGroup condition: one write by its shard, sent to the shards' PodGroup watches. */
  private podGroupWritten(shard: Shard): void {
    this.request(shard);
    this.api.submit(this.watchedWriteMs(this.shards.length), () => this.watchedWriteLanded());
  }

  /** The API server's CPU for a write whose event it sends to `watchers` watchers. */
  private watchedWriteMs(watchers: number): number {
    return (this.cal.apiWriteMs + this.cal.apiWatchEventMs * watchers) * this.options.scale;
  }

  /** A watched write (a pod's, a PodGroup's) landed: etcd stores it, every shard decodes the event. */
  private watchedWriteLanded(): void {
    const scale = this.options.scale;
    this.etcd.bulk(this.cal.etcdWriteMs * scale);
    for (const shard of this.shards) shard.process.bulk(this.decodePerEventMs * scale);
  }

  /** The rest of the shared machine: a steady load (controller-manager, idle kube-scheduler, harness). */
  private background(process: Process): void {
    const tickMs = 10;
    const tick = () => {
      if (this.finished()) return;
      process.submit(this.cal.otherCores * tickMs);
      this.clock.after(tickMs, tick);
    };
    tick();
  }

  private finished(): boolean {
    if (this.scheduled === this.simPods) return true;
    return this.quiet() && (!this.options.coordinator || this.shards.length < 2 || this.coordinatorIdle());
  }

  private quiet(): boolean {
    return (
      this.timers === 0 &&
      this.shards.every(
        (s) =>
          s.ready &&
          !s.cycling &&
          s.bindsInFlight === 0 &&
          (s.activeHead >= s.active.length || !this.gateOpen(s)),
      )
    );
  }

  // --- coordinator -----------------------------------------------------------------------

  private coordinatorIdle(): boolean {
    const idleRounds =
      (coordinatorTiming.stuckAfterMs + coordinatorTiming.cooldownMs) / coordinatorTiming.intervalMs;
    return this.roundsWithoutPlan > idleRounds;
  }

  private coordinatorRound(): void {
    const planned = this.planReliefs();
    this.roundsWithoutPlan = planned > 0 || !this.quiet() ? 0 : this.roundsWithoutPlan + 1;
    if (this.finished()) return;
    this.clock.after(coordinatorTiming.intervalMs, () => this.coordinatorRound());
  }

  /** One round: every group stuck long enough and out of its cooldown gets a plan. */
  private planReliefs(): number {
    const now = this.clock.now;
    const stuck: { shard: Shard; group: PendingGroup }[] = [];
    for (const shard of this.shards)
      for (const { group, since } of shard.unschedulable.values()) {
        if (now - since < coordinatorTiming.stuckAfterMs) continue;
        const relief = this.reliefs.get(group.key.id);
        if (
          relief &&
          (relief.attempts >= coordinatorTiming.maxAttempts || now - relief.at < coordinatorTiming.cooldownMs)
        )
          continue;
        stuck.push({ shard, group });
      }
    if (stuck.length === 0) return 0;
    // Longest stuck first, as the coordinator orders them (every group has one priority here).
    stuck.sort(
      (a, b) =>
        (a.shard.unschedulable.get(a.group.key.id)?.since ?? 0) -
        (b.shard.unschedulable.get(b.group.key.id)?.since ?? 0),
    );
    this.reservations = this.reservations.filter((r) => r.until > now);
    const summaries = this.shards.map((shard) =>
      summarizeCapacity(
        this.cluster,
        (node) => this.ownsNode(shard, node),
        { shard: shard.id, epoch: this.ringEpoch.epoch, publishedAt: now },
        [],
      ),
    );
    let planned = 0;
    for (const { shard, group } of stuck) {
      const plan = planRelief({
        group: asCoordinators(group),
        owner: shard.id,
        summaries: withReservations(summaries, this.reservations, now),
        lentNodes: new Set(Object.keys(this.lends)),
      });
      const relief = this.reliefs.get(group.key.id) ?? { attempts: 0, at: now };
      relief.attempts++;
      relief.at = now;
      this.reliefs.set(group.key.id, relief);
      if (plan.kind === "none") continue;
      planned++;
      this.reservations.push({ until: now + coordinatorTiming.cooldownMs, placements: plan.placements });
      this.apply(shard, group, plan as PlannedRelief);
    }
    return planned;
  }

  private apply(owner: Shard, group: PendingGroup, plan: PlannedRelief): void {
    const scale = this.options.scale;
    const patchMs = this.watchedWriteMs(this.watchers);
    if (plan.kind === "handoff") {
      this.handoffs++;
      owner.unschedulable.delete(group.key.id);
      this.pins.set(group.key.id, plan.to);
      const target = this.byId.get(plan.to) as Shard;
      // The Owner condition on every member, then the new owner sees it.
      let left = group.members.length;
      this.timers++;
      for (const _ of group.members)
        this.api.submit(patchMs, () => {
          this.watchedWriteLanded();
          if (--left > 0) return;
          this.clock.after(this.options.watchDelayMs, () => {
            this.timers--;
            target.active.push(group);
            this.tryCycle(target);
          });
        });
      return;
    }
    this.lentNodes += plan.nodes.length;
    const nodeOwners: Record<string, string> = { ...this.ringEpoch.nodeOwners };
    for (const { node } of plan.nodes) {
      this.lends[node] = plan.to;
      nodeOwners[node] = plan.to;
      this.gainedAt.set(node, this.clock.now);
      this.api.submit(this.cal.apiWriteMs * scale);
    }
    this.ringEpoch = { epoch: this.ringEpoch.epoch + 1, members: this.ringEpoch.members, nodeOwners };
    this.ownershipVersion++;
    const epoch = this.ringEpoch.epoch;
    // Each shard sees the ring, finishes its binds in flight (modelled as the watch delay) and acknowledges in its Lease.
    for (const shard of this.shards) {
      this.timers++;
      this.clock.after(this.options.watchDelayMs, () =>
        this.api.submit(this.cal.apiWriteMs, () => {
          this.timers--;
          shard.ackedEpoch = Math.max(shard.ackedEpoch, epoch);
          for (const other of this.shards) this.tryCycle(other);
        }),
      );
    }
    // The owner tries the group again once the lent nodes settled.
    this.timers++;
    this.clock.after(handoverSettleMs, () => {
      this.timers--;
      this.ownershipVersion++;
      if (owner.unschedulable.delete(group.key.id)) owner.active.push(group);
      this.tryCycle(owner);
    });
  }

  // --- result ----------------------------------------------------------------------------

  private result(wallMs: number): SimulationResult {
    const scale = this.options.scale;
    const pending: PendingGroup[] = [];
    for (const shard of this.shards) {
      for (let i = shard.activeHead; i < shard.active.length; i++)
        pending.push(shard.active[i] as PendingGroup);
      for (const { group } of shard.unschedulable.values()) pending.push(group);
    }
    // The oracle: one scheduler owning every node, on the final state (a sample of at most 200 groups).
    const sample = pending.slice(0, 200);
    let fit = 0;
    for (const group of sample) if (trialPlacement(this.cluster, this.cluster.nodes, group)) fit++;
    const fragmentation =
      sample.length === 0 ? 0 : Math.round((fit / sample.length) * pending.length * scale);
    const durationSeconds = this.lastBindAt / 1000;
    const cpuSeconds: Record<string, number> = {};
    for (const pool of this.pools)
      for (const process of pool.processes) {
        const key = process.name.startsWith("sharded-scheduler") ? "shards" : process.name;
        cpuSeconds[key] = round((cpuSeconds[key] ?? 0) + process.cpuMs / 1000, 1);
      }
    const busyPercent: Record<string, number> = {};
    const endMs = Math.max(1, this.lastBindAt);
    for (const pool of this.pools) {
      const key = pool.name.startsWith("sharded-scheduler") ? "shards" : pool.name;
      const share = (100 * pool.busyMs) / (pool.cores * endMs);
      busyPercent[key] = round(Math.max(busyPercent[key] ?? 0, Math.min(100, share)), 1);
    }
    return {
      shards: this.options.shards,
      nodes: this.options.nodes,
      pods: this.options.pods,
      scale,
      scheduled: this.scheduled * scale,
      durationSeconds: round(durationSeconds, 2),
      podsPerSecond: durationSeconds > 0 ? round((this.scheduled * scale) / durationSeconds, 1) : 0,
      steadyPodsPerSecond: steadyRate(this.podBoundAt, scale),
      firstBindSeconds: round(percentile(this.podBoundAt, 0) / 1000, 2),
      podP50Ms: percentile(this.podBoundAt, 50),
      podP99Ms: percentile(this.podBoundAt, 99),
      gangs: {
        count: this.gangCount * scale,
        bound: this.gangBoundAt.length * scale,
        p50Ms: percentile(this.gangBoundAt, 50),
        p99Ms: percentile(this.gangBoundAt, 99),
      },
      pendingGroups: pending.length * scale,
      fragmentation,
      handoffs: this.handoffs * scale,
      lentNodes: this.lentNodes * scale,
      handoverWaitMs: Math.round(this.handoverWaitMs),
      cpuSeconds,
      busyPercent,
      wallSeconds: round(wallMs / 1000, 1),
    };
  }
}

/**
 * The coordinator is built against the scheduler package (its dist), the simulation against the
 * scheduler's sources: the same code under two type identities, hence the casts at this seam.
 */
type CoordinatorGroup = Parameters<typeof planRelief>[0]["group"];
type PlannedRelief =
  | { readonly kind: "handoff"; readonly to: string }
  | {
      readonly kind: "lend";
      readonly to: string;
      readonly nodes: readonly { readonly node: string; readonly from: string }[];
    };

function asCoordinators(group: PendingGroup): CoordinatorGroup {
  return group as unknown as CoordinatorGroup;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
}

function steadyRate(boundAt: number[], scale: number): number {
  if (boundAt.length < 10) return 0;
  const from = percentile(boundAt, 10);
  const to = percentile(boundAt, 90);
  return to > from ? round((0.8 * boundAt.length * scale) / ((to - from) / 1000), 1) : 0;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
