/**
 * A scheduler shard: the ClusterWatch feeds the ClusterCache, the SchedulingQueue says which
 * groups are due, the pure SchedulingCore decides, and the GroupExecutor carries each decision
 * out (binds, evictions, nominations, conditions, Events). This class only orchestrates: what is
 * tried when, and what each outcome means for the queue. Cycles run when something happens — a
 * pod arrives, a node changes, a pod leaves, a backoff or settle window ends — never on a fixed
 * sleep loop.
 */
import type { Logger } from "pino";
import type { CapacitySummary } from "../contracts/capacity-summary.js";
import { CapacitySummarizer } from "../coordination/capacity-summary.js";
import { shardReport } from "../coordination/shard-report.js";
import {
  coschedulingPodGroupLabel,
  type Decision,
  gangTimeout,
  groupProblem,
  groupReadiness,
  groupStarted,
  type PendingGroup,
  type Pod,
  rollbackPlan,
  SchedulingCore,
  spanningProfile,
} from "../core/index.js";
import type { KubeClient } from "../kube/kube-client.js";
import type { GainedNodes, Ownership } from "../sharding/ownership.js";
import {
  type CacheChange,
  ClusterCache,
  type GroupMembers,
  gangState,
  minResourcesGapOf,
  ownsGroup,
  pendingGroupOf,
  routedTo,
} from "./cluster-cache.js";
import { ClusterWatch } from "./cluster-watch.js";
import type { ShardConfig } from "./config.js";
import { GroupExecutor, type ShardWriters, shardWriters } from "./group-executor.js";
import { refreshGauges, type ShardMetrics } from "./metrics.js";
import { SchedulingQueue } from "./scheduling-queue.js";
import { StuckGroups } from "./stuck-groups.js";

export type { ShardWriters } from "./group-executor.js";

/**
 * How long one chunk of a cycle may hold the event loop. Lease renewals, /healthz, /metrics and
 * the watches run between chunks, so a storm of hard groups slows scheduling, never liveness.
 */
export const defaultCycleBudgetMs = 50;

export class Shard {
  readonly cache: ClusterCache;
  readonly queue = new SchedulingQueue();
  readonly core: SchedulingCore;
  readonly metrics: ShardMetrics;
  /** Carries out each group's decision against the API server. */
  readonly executor: GroupExecutor;
  private readonly watch: ClusterWatch;
  /** See defaultCycleBudgetMs. */
  cycleBudgetMs = defaultCycleBudgetMs;
  private ready = false;
  private stopped = false;
  private cycleQueued = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  /** Since when a gang has had some members bound and others not. */
  private readonly partialSince = new Map<string, number>();
  /** Groups found unschedulable (not even preemption helps): since when, and why. */
  private readonly stuck = new StuckGroups();
  /** The capacity summary's nodes, kept between summaries while they do not change. */
  private readonly summarizer = new CapacitySummarizer();
  /** A node changed what routing reads: dropped groups are looked at again (regather). */
  private regatherDue = false;
  /**
   * Set by whoever publishes the capacity summary: called when room was promised by a
   * preemption or given back, so the coordinator sees it before its next plan (never lending a
   * node a preemption won here, never moving a group its victims are leaving for).
   */
  roomPromisesChanged: () => void = () => undefined;

  constructor(
    readonly config: ShardConfig,
    client: KubeClient,
    private readonly log: Logger,
    private readonly ownership: Ownership,
    metrics: ShardMetrics,
    writers: Partial<ShardWriters> = {},
  ) {
    this.metrics = metrics;
    this.metrics.onScrape(() =>
      refreshGauges(this.metrics, {
        cache: this.cache,
        queue: this.queue,
        ownership: this.ownership,
        profile: this.profile,
      }),
    );
    this.cache = new ClusterCache(config.schedulerName, (change) => this.onChange(change));
    this.core = new SchedulingCore(this.cache.cluster, {
      ...config.profile,
      percentageOfNodesToScore: config.percentageOfNodesToScore,
      preemption: config.preemption,
    });
    this.executor = new GroupExecutor(
      config,
      log,
      ownership,
      this.cache,
      metrics,
      shardWriters(client, config, log, writers),
      spanningProfile(this.core.profile),
    );
    this.watch = new ClusterWatch(client, log, config.schedulerName, ownership, this.cache, metrics, {
      upsert: (pod) => this.podUpserted(pod),
      remove: (pod) => this.podRemoved(pod),
    });
  }

  /** Ready once every informer has listed: before that the cluster would be incomplete. */
  get isReady(): boolean {
    return this.ready;
  }

  async start(): Promise<void> {
    const listed = await this.watch.start();
    this.ready = true;
    this.log.info(
      {
        nodes: listed.nodes,
        pods: listed.pods,
        pending: this.cache.pendingPodCount(),
        podGroups: listed.podGroups,
        podGroupCrds: listed.crds,
      },
      "caches synced; scheduling",
    );
    this.scheduleSoon();
  }

  /**
   * Re-reads pods, nodes and budgets with quorum lists (after the lease lapsed: the watches may
   * still owe what happened meanwhile). Before the first sync there is nothing stale to read.
   */
  async relistCaches(): Promise<void> {
    if (!this.ready) return;
    await this.watch.relist();
  }

  /** True once the pod watch delivered the pods on the nodes gained in a handover (ClusterWatch). */
  podsOnGainedNodesDelivered(gained: GainedNodes): Promise<boolean> {
    return this.watch.podsOnGainedNodesDelivered(gained);
  }

  stop(): void {
    this.stopped = true;
    this.executor.stop();
    this.watch.stop();
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
  }

  /**
   * Ownership moved (a ring epoch adopted, a handover finished, a shard came or went): groups
   * this shard dropped may be its own now, and nodes it gained may fit waiting groups.
   */
  ownershipChanged(): void {
    const now = Date.now();
    this.regather(now);
    this.queue.retryNow(now);
    this.scheduleSoon();
  }

  private onChange(change: CacheChange): void {
    const now = Date.now();
    if (change.kind === "capacity") this.queue.wakeUnschedulable(now, change.events);
    else if (change.kind === "member") this.queue.add(change.groupId, now);
    else if (change.kind === "routing") this.regatherDue = true;
    else this.executor.reportInvalid(change.podKey);
    this.scheduleSoon();
  }

  /**
   * Groups dropped as another shard's come back to the queue, to be asked again whether they
   * are ours: once per cycle however many nodes changed (a relist brings them all at once).
   */
  private regather(now: number): void {
    this.regatherDue = false;
    for (const id of this.cache.groupIds()) {
      if (this.queue.state(id) === undefined && (this.cache.group(id)?.pending.size ?? 0) > 0)
        this.queue.add(id, now);
    }
  }

  scheduleSoon(): void {
    if (!this.ready || this.stopped || this.cycleQueued) return;
    this.cycleQueued = true;
    setImmediate(() => {
      this.cycleQueued = false;
      this.runCycle();
    });
  }

  private runCycle(): void {
    // During a handover the shard waits; ownershipChanged() wakes it when it may go on.
    if (!this.ownership.canPlace()) return;
    const now = Date.now();
    if (this.regatherDue) this.regather(now);
    const groups: PendingGroup[] = [];
    const membersById = new Map<string, GroupMembers>();
    for (const id of this.queue.pop(now)) {
      this.metrics.attemptStarted(id);
      const members = this.cache.group(id);
      if (!members || members.pending.size === 0) {
        this.stuck.clear(id);
        this.queue.done(id, "scheduled", now);
        continue;
      }
      if (!ownsGroup(this.ownership, members, this.cache.router)) {
        this.log.debug({ group: id, epoch: this.ownership.epoch }, "not this shard's group; dropped");
        this.stuck.clear(id);
        this.queue.remove(id);
        continue;
      }
      const state = gangState(members);
      // A group waiting for its PodGroup is judged once it has one (its terms may change what is wrong).
      const problem =
        state.waitingFor === undefined
          ? groupProblem(
              members.key,
              members.pending.values(),
              members.running.values(),
              members.foreignPending.values(),
            )
          : undefined;
      if (problem) {
        this.executor.tellPending(members, problem, "InvalidPodGroup");
        this.countUnschedulable(members);
        this.queue.done(id, "unschedulable", now);
        continue;
      }
      const readiness = groupReadiness(state, now, this.config.settleWindowMs);
      if (!readiness.ready) {
        this.log.debug({ group: id, why: readiness.why ?? "settling" }, "waiting for members");
        if (readiness.why) this.executor.tellPending(members, readiness.why, "WaitingForGang", "Normal");
        this.executor.tellCoschedulingPodGroup(members);
        this.queue.done(id, "incomplete", now, readiness.until);
        continue;
      }
      const gap = minResourcesGapOf(members, (node) => this.ownership.ownsNode(node), this.cache);
      if (gap !== undefined) {
        // coscheduling's PreFilter: no member is tried until that much room is free; room
        // appearing (a pod leaving, a node coming) wakes the group.
        this.executor.tellPending(members, gap, "FailedScheduling");
        this.executor.tellCoschedulingPodGroup(members);
        this.countUnschedulable(members);
        this.queue.done(id, "unschedulable", now);
        continue;
      }
      membersById.set(id, members);
      groups.push(pendingGroupOf(members, state));
    }
    if (groups.length > 0) {
      const started = performance.now();
      const { decisions, unreached } = this.core.cycleUntil(
        groups,
        (node) => this.ownership.ownsNode(node),
        this.ownership.version,
        () => performance.now() - started >= this.cycleBudgetMs,
        // Nodes just gained are not placeable for a moment yet and may have the room.
        { gainedNodesSettling: () => this.ownership.gainedNodesSettling() },
      );
      this.metrics.schedulingAlgorithmSeconds.observe((performance.now() - started) / 1000);
      // The rest go on in the next chunk (scheduleSoon below), after timers and I/O had their turn.
      for (const group of unreached) this.queue.requeue(group.key.id);
      for (const decision of decisions) {
        const members = membersById.get(decision.group.id) as GroupMembers;
        this.carryOut(decision, members, now);
      }
    }
    this.armWakeTimer();
    if (this.queue.hasActive()) this.scheduleSoon();
  }

  private carryOut(decision: Decision, members: GroupMembers, now: number): void {
    const id = decision.group.id;
    this.log.debug(
      {
        group: id,
        decision: decision.kind,
        pending: members.pending.size,
        running: members.running.size,
        epoch: this.ownership.epoch,
        ...(decision.kind === "bind" ? {} : { message: decision.message }),
      },
      "decision",
    );
    if (decision.kind === "deferred") {
      // It did not fit while nodes just gained settle: it has not truly failed, and the core
      // changed nothing for it. Nothing is written; it is tried again once they settle.
      this.queue.done(id, "retry", now);
      return;
    }
    if (decision.kind === "unschedulable")
      this.stuck.record(id, decision.message, now, decision.feasibleElsewhere);
    else this.stuck.clear(id);
    switch (decision.kind) {
      case "bind": {
        // Its pods count when their binds come back (GroupExecutor.bind), as kube-scheduler's do.
        this.metrics.podGroupScheduleAttempts.inc({ result: "scheduled", profile: this.profile });
        void this.executor.bind(id, decision.placements).then((outcome) => {
          if (outcome.kind === "bound") this.tellPodGroupIfStarted(id);
          const bound = this.cache.group(id);
          if (bound) this.executor.tellCoschedulingPodGroup(bound);
          // A member not bound is pending again: the group is placed again after its backoff.
          this.queue.done(id, outcome.kind === "bound" ? "scheduled" : "retry", Date.now());
          this.scheduleSoon();
        });
        return;
      }
      case "preempt": {
        // As kube-scheduler counts a preemptor: its attempt failed, the preemption comes after.
        this.countUnschedulable(members, decision.unschedulablePlugins);
        // Its outcome changes nothing here: the watch brings the victims' departure (a capacity
        // change wakes the group) and a refused budget's next version.
        void this.executor.preempt(decision, members);
        this.roomPromisesChanged();
        this.executor.tellPodGroup(members, false, decision.message);
        this.executor.tellCoschedulingPodGroup(members);
        const partial = this.checkGangTimeout(members, now);
        this.queue.done(id, partial ? "retry" : "unschedulable", now, now, decision.wakeOn);
        return;
      }
      case "unschedulable": {
        this.countUnschedulable(members, decision.unschedulablePlugins);
        this.executor.unschedulable(decision, members);
        if (decision.withdrawnNominations.length > 0) this.roomPromisesChanged();
        this.executor.tellPodGroup(members, false, decision.message);
        this.executor.tellCoschedulingPodGroup(members);
        // A partial gang holds room while it waits: retry on backoff, not only on events.
        const partial = this.checkGangTimeout(members, now);
        this.queue.done(id, partial ? "retry" : "unschedulable", now, now, decision.wakeOn);
        return;
      }
    }
  }

  /**
   * Binds came back: a native PodGroup with minCount members bound (or run to completion) says
   * PodGroupInitiallyScheduled=True, once (GroupExecutor.tellPodGroup; True is terminal).
   */
  private tellPodGroupIfStarted(id: string): void {
    const members = this.cache.group(id);
    if (!members?.key.podGroup) return;
    const state = gangState(members);
    if (state.minMember !== undefined && groupStarted(state.running, state.succeeded, state.minMember))
      this.executor.tellPodGroup(members, true);
  }

  /**
   * A partial gang (core/gang/lifecycle.ts) waits for the gang timeout, then is rolled back
   * (GroupExecutor.rollBackGang). Returns true while the gang is partial and waiting.
   */
  private checkGangTimeout(members: GroupMembers, now: number): boolean {
    const id = members.key.id;
    // A scheduler-plugins PodGroup's scheduleTimeoutSeconds is its own gang timeout (coscheduling's Permit wait).
    const ownTimeout = members.pending.values().next().value?.crdTerms?.scheduleTimeoutMs;
    const timeout = gangTimeout(
      gangState(members),
      this.partialSince.get(id),
      now,
      ownTimeout ?? this.config.gangTimeoutMs,
    );
    if (timeout.kind === "waiting") {
      this.partialSince.set(id, timeout.since);
      return true;
    }
    this.partialSince.delete(id);
    if (timeout.kind === "rollback")
      this.executor.rollBackGang(
        members,
        rollbackPlan(members.key, members.running.values(), timeout.since, now),
      );
    return false;
  }

  /** The profile label of the attempt metrics: the schedulerName served, as kube-scheduler's profiles. */
  private get profile(): string {
    return this.config.schedulerName;
  }

  /** An attempt that placed nothing, for the attempt metrics and unschedulable_pods (metrics.ts). */
  private countUnschedulable(members: GroupMembers, rejectedBy?: readonly string[]): void {
    this.metrics.unschedulableAttempt(members.key.id, members.pending.size, this.profile, rejectedBy);
  }

  /** The pod watch delivered a pod; once bound, what was written on it need not be remembered. */
  podUpserted(pod: Pod): void {
    this.cache.upsertPod(pod);
    if (pod.spec.nodeName) this.executor.forgetWrites(pod);
    this.tellCoschedulingPodGroupOf(pod);
  }

  podRemoved(pod: Pod): void {
    this.cache.removePod(pod);
    this.executor.forgetWrites(pod);
    this.tellCoschedulingPodGroupOf(pod);
  }

  /**
   * A member of a scheduler-plugins PodGroup came, changed phase or left: its owner writes the
   * group's counts and phase again (only when they change; GroupExecutor.tellCoschedulingPodGroup).
   */
  private tellCoschedulingPodGroupOf(pod: Pod): void {
    if (!this.ready || pod.metadata.labels?.[coschedulingPodGroupLabel] === undefined) return;
    const id = this.cache.groupIdOf(`${pod.metadata.namespace}/${pod.metadata.name}`);
    const members = id === undefined ? undefined : this.cache.group(id);
    if (members?.key.crd && ownsGroup(this.ownership, members, this.cache.router))
      this.executor.tellCoschedulingPodGroup(members);
  }

  private armWakeTimer(): void {
    const next = this.queue.nextDueAt();
    if (next === undefined || !Number.isFinite(next)) return;
    if (this.wakeTimer && next >= this.wakeAt) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = next;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.wakeAt = Number.POSITIVE_INFINITY;
        this.scheduleSoon();
      },
      Math.max(0, next - Date.now()),
    );
  }

  /**
   * Changes whenever capacitySummary may give another answer: what it reads of ownership, the
   * cluster (the cycles' placements and nominations included), the cache (every object it was
   * given: groups, gates, PodGroups) and the stuck groups.
   */
  capacityInputsVersion(): string {
    return [
      this.ready,
      this.ownership.version,
      this.ownership.epoch,
      this.ownership.canPlace(),
      this.cache.cluster.version,
      this.cache.version,
      this.stuck.version,
    ].join(":");
  }

  /** What the coordinator is told: owned capacity and the groups this shard cannot place. */
  capacitySummary(now = Date.now()): CapacitySummary | undefined {
    if (!this.ready || !this.ownership.canPlace()) return undefined;
    return shardReport(
      this.summarizer,
      this.cache.cluster,
      (node) => this.ownership.ownsNode(node),
      { shard: this.config.identity, epoch: this.ownership.epoch, publishedAt: now },
      this.stuck.current(
        this.cache,
        (members) => ownsGroup(this.ownership, members, this.cache.router),
        (members) => routedTo(this.ownership, members, this.cache.router) !== undefined,
      ),
      (groupId) => {
        const group = this.cache.group(groupId);
        return group !== undefined && group.pending.size + group.gated.size > 0;
      },
    );
  }
}
