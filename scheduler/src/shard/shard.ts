/**
 * A scheduler shard: informers feed the ClusterCache, the SchedulingQueue says which groups
 * are due, the pure SchedulingCore decides, and this class carries the decisions out
 * (binds, evictions, nominations, conditions, Events). Cycles run when something happens —
 * a pod arrives, a node changes, a pod leaves, a backoff or settle window ends — never on a
 * fixed sleep loop.
 */
import { setTimeout as sleep } from "node:timers/promises";
import pLimit from "p-limit";
import type { Logger } from "pino";
import {
  type CapacitySummary,
  type StuckGroupReport,
  summarizeCapacity,
} from "../coordination/capacity-summary.js";
import {
  type Decision,
  minMemberAnnotation,
  type Node,
  type PendingGroup,
  type Pod,
  type PodDisruptionBudget,
  type PodInfo,
  pendingGroup,
  priorityDisagreement,
  SchedulingCore,
} from "../core/index.js";
import { EventRecorder, schedulerReportingController } from "../kube/event-recorder.js";
import { Informer } from "../kube/informer.js";
import type { KubeClient } from "../kube/kube-client.js";
import { type BindOutcome, type EvictOutcome, PodBinder } from "../kube/pod-binder.js";
import { PodStatusWriter } from "../kube/pod-status-writer.js";
import { ownerPinOf } from "../sharding/owner-condition.js";
import type { BindTicket, Ownership } from "../sharding/ownership.js";
import { nodeOwnerAnnotation } from "../sharding/shard-ring.js";
import {
  type CacheChange,
  ClusterCache,
  declaredMinMember,
  declaredMinMembers,
  type GroupMembers,
  succeededMembers,
} from "./cluster-cache.js";
import type { ShardConfig } from "./config.js";
import type { ShardMetrics } from "./metrics.js";
import { type QueueState, SchedulingQueue } from "./scheduling-queue.js";

/** What a shard writes to the API server through; a unit test may pass stubs. */
export interface ShardWriters {
  readonly binder: Pick<PodBinder, "bind" | "evict" | "delete">;
  readonly statusWriter: Pick<PodStatusWriter, "unschedulable" | "nominate" | "pinOwner"> &
    Partial<Pick<PodStatusWriter, "forget">>;
  readonly events: Pick<EventRecorder, "record"> & Partial<Pick<EventRecorder, "forget" | "close">>;
}

/**
 * How long one chunk of a cycle may hold the event loop. Lease renewals, /healthz, /metrics and
 * the watches run between chunks, so a storm of hard groups slows scheduling, never liveness.
 */
export const defaultCycleBudgetMs = 50;

type Readiness =
  | { ready: true; minMember: number | undefined }
  | { ready: false; until: number; why?: string };

export class Shard {
  readonly cache: ClusterCache;
  readonly queue = new SchedulingQueue();
  readonly core: SchedulingCore;
  readonly metrics: ShardMetrics;
  private readonly informers: Informer<{ metadata: { name: string } }>[] = [];
  private readonly binder: ShardWriters["binder"];
  private readonly statusWriter: ShardWriters["statusWriter"];
  private readonly events: ShardWriters["events"];
  private readonly bindSlots;
  /** See defaultCycleBudgetMs. */
  cycleBudgetMs = defaultCycleBudgetMs;
  private ready = false;
  private stopped = false;
  /** Aborted by stop(): binds and evictions waiting out a throttled answer give up. */
  private readonly stopping = new AbortController();
  private cycleQueued = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  /** Since when a gang has had some members bound and others not. */
  private readonly partialSince = new Map<string, number>();
  /** Groups found unschedulable (not even preemption helps): since when, and why. */
  private readonly stuck = new Map<string, { since: number; message: string }>();
  /**
   * The filter plugins that rejected each group at its last attempt, until it is tried again
   * (kube-scheduler's UnschedulablePlugins, cleared when a pod is popped): unschedulable_pods.
   */
  private readonly rejectedBy = new Map<string, readonly string[]>();
  /** Every plugin unschedulable_pods has named. */
  private readonly reportedPlugins = new Set<string>();

  constructor(
    readonly config: ShardConfig,
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly ownership: Ownership,
    metrics: ShardMetrics,
    writers: Partial<ShardWriters> = {},
  ) {
    this.metrics = metrics;
    this.metrics.onScrape(() => this.updateGauges());
    this.cache = new ClusterCache(config.schedulerName, (change) => this.onChange(change));
    this.core = new SchedulingCore(this.cache.snapshot, {
      scoringStrategy: config.scoringStrategy,
      percentageOfNodesToScore: config.percentageOfNodesToScore,
      preemption: config.preemption,
    });
    this.binder = writers.binder ?? new PodBinder(client);
    this.statusWriter = writers.statusWriter ?? new PodStatusWriter(client, log);
    this.events =
      writers.events ??
      new EventRecorder(client, schedulerReportingController(config.schedulerName), config.identity, log);
    this.bindSlots = pLimit(config.bindConcurrency);
  }

  /** Ready once every informer has listed: before that the snapshot would be incomplete. */
  get isReady(): boolean {
    return this.ready;
  }

  async start(): Promise<void> {
    const nodes = new Informer<Node>(
      this.client,
      { path: "/api/v1/nodes", onHandlerError: this.handlerErrors("nodes") },
      {
        upsert: (node) => {
          this.ownership.observeNodeOwner(
            node.metadata.name,
            node.metadata.annotations?.[nodeOwnerAnnotation],
          );
          this.cache.upsertNode(node);
        },
        remove: (node) => {
          this.ownership.observeNodeOwner(node.metadata.name, undefined);
          this.cache.removeNode(node);
        },
      },
      this.log,
    );
    // Finished pods hold no resources; leaving them out keeps the cache small (as kube-scheduler does).
    const pods = new Informer<Pod>(
      this.client,
      {
        path: "/api/v1/pods",
        fieldSelector: "status.phase!=Succeeded,status.phase!=Failed",
        onHandlerError: this.handlerErrors("pods"),
      },
      { upsert: (pod) => this.podUpserted(pod), remove: (pod) => this.podRemoved(pod) },
      this.log,
    );
    // Members that succeeded count toward their gang's min-member; only this scheduler's pods.
    const succeededPods = new Informer<Pod>(
      this.client,
      {
        path: "/api/v1/pods",
        fieldSelector: `status.phase=Succeeded,spec.schedulerName=${this.config.schedulerName}`,
        onHandlerError: this.handlerErrors("succeeded-pods"),
      },
      {
        upsert: (pod) => this.cache.upsertSucceededPod(pod),
        remove: (pod) => this.cache.removeSucceededPod(pod),
      },
      this.log,
    );
    const budgets = new Informer<PodDisruptionBudget>(
      this.client,
      {
        path: "/apis/policy/v1/poddisruptionbudgets",
        onHandlerError: this.handlerErrors("poddisruptionbudgets"),
      },
      {
        upsert: (pdb) => this.cache.upsertPodDisruptionBudget(pdb),
        remove: (pdb) => this.cache.removePodDisruptionBudget(pdb),
      },
      this.log,
    );
    this.informers.push(nodes, pods, succeededPods, budgets);
    for (const informer of this.informers) void informer.run();
    while (!this.stopped && !this.informers.every((informer) => informer.synced)) {
      await sleep(50);
    }
    this.ready = true;
    this.log.info(
      { nodes: nodes.size, pods: pods.size, pending: this.cache.pendingPodCount() },
      "caches synced; scheduling",
    );
    this.scheduleSoon();
  }

  private handlerErrors(resource: string): () => void {
    return () => this.metrics.informerHandlerErrors.inc({ resource });
  }

  /**
   * Re-reads pods, nodes and budgets with quorum lists (after the lease lapsed: the watches may
   * still owe what happened meanwhile). Before the first sync there is nothing stale to read.
   */
  async relistCaches(): Promise<void> {
    if (!this.ready) return;
    await Promise.all(this.informers.map((informer) => informer.relist()));
  }

  stop(): void {
    this.stopped = true;
    this.stopping.abort();
    for (const informer of this.informers) informer.stop();
    this.events.close?.();
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
  }

  /**
   * Ownership moved (a ring epoch adopted, a handover finished, a shard came or went): groups
   * this shard dropped may be its own now, and nodes it gained may fit waiting groups.
   */
  ownershipChanged(): void {
    const now = Date.now();
    for (const id of this.cache.groupIds()) {
      if (this.queue.state(id) === undefined && (this.cache.group(id)?.pending.size ?? 0) > 0)
        this.queue.add(id, now);
    }
    this.queue.retryNow(now);
    this.scheduleSoon();
  }

  private onChange(change: CacheChange): void {
    const now = Date.now();
    if (change.kind === "capacity") this.queue.wakeUnschedulable(now);
    else if (change.kind === "member") this.queue.add(change.groupId, now);
    else this.reportInvalid(change.podKey);
    this.scheduleSoon();
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
    const groups: PendingGroup[] = [];
    const membersById = new Map<string, GroupMembers>();
    for (const id of this.queue.pop(now)) {
      this.rejectedBy.delete(id);
      const members = this.cache.group(id);
      if (!members || members.pending.size === 0) {
        this.stuck.delete(id);
        this.queue.done(id, "scheduled", now);
        continue;
      }
      if (!this.ownership.ownsGroup(members.key.hashKey, ownerOverride(members))) {
        this.log.debug({ group: id, epoch: this.ownership.epoch }, "not this shard's group; dropped");
        this.stuck.delete(id);
        this.queue.remove(id);
        continue;
      }
      const problem = groupProblem(members);
      if (problem) {
        this.tellPending(members, problem, "InvalidPodGroup");
        this.countUnschedulable(members);
        this.queue.done(id, "unschedulable", now);
        continue;
      }
      const readiness = this.readiness(members, now);
      if (!readiness.ready) {
        this.log.debug({ group: id, why: readiness.why ?? "settling" }, "waiting for members");
        if (readiness.why) this.tellPending(members, readiness.why, "WaitingForGang", "Normal");
        this.queue.done(id, "incomplete", now, readiness.until);
        continue;
      }
      membersById.set(id, members);
      groups.push(
        pendingGroup(
          members.key,
          [...members.pending.values()],
          [...members.running.values()],
          readiness.minMember,
          succeededMembers(members),
          members.started,
        ),
      );
    }
    if (groups.length > 0) {
      const started = performance.now();
      const { decisions, unreached } = this.core.cycleUntil(
        groups,
        (node) => this.ownership.ownsNode(node),
        this.ownership.version,
        () => performance.now() - started >= this.cycleBudgetMs,
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

  private readiness(members: GroupMembers, now: number): Readiness {
    const minMember = declaredMinMember(members);
    // A group that started takes later members as they come: nothing to wait for.
    if (members.started) return { ready: true, minMember };
    if (minMember !== undefined) {
      const present = members.pending.size + members.running.size + succeededMembers(members);
      if (present >= minMember) return { ready: true, minMember };
      return {
        ready: false,
        until: Number.POSITIVE_INFINITY,
        // The text stays the same while members arrive: one write per pod, not one per arrival.
        why:
          `waiting for pod group ${members.key.namespace}/${members.key.name} to have ${minMember} members ` +
          `(${minMemberAnnotation}); members with scheduling gates do not count`,
      };
    }
    if (members.key.solo) return { ready: true, minMember: undefined };
    const settledAt = members.lastArrivalAt + this.config.settleWindowMs;
    return settledAt <= now ? { ready: true, minMember: undefined } : { ready: false, until: settledAt };
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
    if (decision.kind === "unschedulable" && this.ownership.gainedNodesSettling()) {
      // Nodes just gained are not placeable for a moment yet and may have the room: the group
      // has not truly failed. Nothing is written; it is tried again once they settle.
      for (const pod of decision.withdrawnNominations) this.cache.restorePending(pod);
      this.queue.done(id, "retry", now);
      return;
    }
    if (decision.kind === "unschedulable")
      this.stuck.set(id, { since: this.stuck.get(id)?.since ?? now, message: decision.message });
    else this.stuck.delete(id);
    switch (decision.kind) {
      case "bind": {
        // Its pods count when their binds come back (bindGroup), as kube-scheduler's do.
        this.metrics.podGroupScheduleAttempts.inc({ result: "scheduled", profile: this.profile });
        for (const placement of decision.placements)
          this.cache.markAssumed(placement.pod, placement.nodeName);
        void this.bindGroup(id, decision.placements);
        return;
      }
      case "preempt": {
        const { victims, nominations } = decision.plan;
        if (this.ownership.gainedNodesSettling()) {
          // Nodes just gained are not placeable for a moment yet, and may have the room: evict
          // nothing until they are (the group is tried again as soon as they settle).
          this.log.debug({ group: id }, "preemption deferred: nodes just gained are settling");
          for (const { pod } of nominations) this.cache.restorePending(pod);
          this.queue.done(id, "retry", now);
          return;
        }
        // As kube-scheduler counts a preemptor: its attempt failed, the preemption comes after.
        this.countUnschedulable(members, decision.unschedulablePlugins);
        const victimPods = victims.flatMap((victim) => victim.pods.filter((pod) => !pod.terminating));
        this.log.debug(
          {
            group: id,
            nominations: nominations.map(({ pod, nodeName }) => `${pod.name}@${nodeName}`),
            victims: victims.map((victim) => victim.id),
          },
          "preempting",
        );
        const waiting =
          victimPods.length > 0
            ? `preempting ${victimPods.length} pod(s) of ${victims.length} lower-priority group(s); waiting for them to leave`
            : "waiting for preempted pods to leave";
        this.tellPending(members, `${decision.message} ${waiting}.`, "FailedScheduling");
        void this.nominateThenEvict(decision.group.id, nominations, victimPods);
        const partial = this.checkGangTimeout(members, now);
        this.queue.done(id, partial ? "retry" : "unschedulable", now);
        return;
      }
      case "unschedulable": {
        this.countUnschedulable(members, decision.unschedulablePlugins);
        this.tellPending(members, decision.message, "FailedScheduling");
        // The core gave the room these members won by preemption back; the API must say so too,
        // or every shard keeps it reserved for a group that cannot use it.
        for (const pod of decision.withdrawnNominations)
          if (pod.pod.status?.nominatedNodeName) void this.statusWriter.nominate(pod.pod, null);
        // A partial gang holds room while it waits: retry on backoff, not only on events.
        const partial = this.checkGangTimeout(members, now);
        this.queue.done(id, partial ? "retry" : "unschedulable", now);
        return;
      }
    }
  }

  private async bindGroup(
    groupId: string,
    placements: readonly { pod: PodInfo; nodeName: string }[],
  ): Promise<void> {
    // Fencing: ownership may have moved since the cycle decided; never bind onto a lost node.
    const ticket = this.ownership.acquireBind(placements.map((p) => p.nodeName));
    if (!ticket) {
      this.log.debug({ group: groupId }, "bind ticket refused (handover); placing again");
      this.metrics.fencedBinds.inc(placements.length);
      this.metrics.scheduleAttempts.inc({ result: "error", profile: this.profile }, placements.length);
      for (const p of placements) this.cache.forget(p.pod.key);
      this.queue.done(groupId, "retry", Date.now());
      this.scheduleSoon();
      return;
    }
    // The epoch the binds go out under (adopting a newer one waits for this ticket).
    const epoch = this.ownership.epoch;
    // Binds the API server throttles are sent again after its Retry-After, but a handover waits
    // for this ticket: after a lease duration they give up and the group is placed again later.
    const bounded = this.throttleBound(this.config.leaseDurationMs);
    let outcomes: { outcome: BindOutcome; detail: string }[];
    try {
      outcomes = await Promise.all(
        placements.map((p) => this.bindSlots(() => this.bindWithRetry(p.pod, p.nodeName, ticket, bounded))),
      );
    } finally {
      ticket.release();
    }
    let failed = 0;
    const now = Date.now();
    const throttled = outcomes.filter(({ outcome }) => outcome === "throttled").length;
    if (throttled > 0)
      this.log.info(
        { group: groupId, pods: throttled, boundMs: this.config.leaseDurationMs },
        "binds throttled by the API server (429) all along; placing the group again after its backoff",
      );
    outcomes.forEach(({ outcome, detail }, i) => {
      const { pod, nodeName } = placements[i] as { pod: PodInfo; nodeName: string };
      if (outcome === "bound") {
        this.metrics.scheduleAttempts.inc({ result: "scheduled", profile: this.profile });
        const created = Date.parse(pod.pod.metadata.creationTimestamp ?? "");
        if (!Number.isNaN(created))
          this.metrics.e2eSchedulingSeconds.observe(Math.max(0, now - created) / 1000);
        this.events.record(
          pod.pod,
          "Normal",
          "Scheduled",
          `Successfully assigned ${pod.key} to ${nodeName} (ring epoch ${epoch})`,
          now,
        );
        return;
      }
      failed++;
      this.log.debug({ group: groupId, pod: pod.key, node: nodeName, outcome }, "pod not bound");
      // Throttled: not a failure of the bind (nothing counted, nothing told); placed again later.
      if (outcome === "throttled") {
        this.cache.forget(pod.key);
        return;
      }
      this.metrics.scheduleAttempts.inc({ result: "error", profile: this.profile });
      if (outcome === "fenced") this.metrics.fencedBinds.inc();
      else this.metrics.bindErrors.inc({ reason: outcome });
      // Gated: it waits for its gates again (no retry); stale: the pod was replaced.
      if (outcome === "gated") this.cache.forgetGated(pod.key);
      else if (outcome === "stale") this.cache.forgetReplaced(pod.key, pod.uid);
      else this.cache.forget(pod.key);
      // As kube-scheduler tells a failed bind: FailedScheduling, "Binding rejected: <why>".
      if (outcome === "error")
        this.events.record(pod.pod, "Warning", "FailedScheduling", `Binding rejected: ${detail}`, now);
    });
    this.queue.done(groupId, failed === 0 ? "scheduled" : "retry", now);
    this.scheduleSoon();
  }

  /** Ends waits on throttled answers after `ms`, or when the shard stops. */
  private throttleBound(ms: number): AbortSignal {
    return AbortSignal.any([this.stopping.signal, AbortSignal.timeout(Math.max(0, ms))]);
  }

  private async bindWithRetry(
    pod: PodInfo,
    nodeName: string,
    ticket: BindTicket,
    bounded: AbortSignal,
  ): Promise<{ outcome: BindOutcome; detail: string }> {
    let result: { outcome: BindOutcome; detail: string } = { outcome: "error", detail: "" };
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0) await sleep(100 * 4 ** attempt);
      // A replica stalled while this bind waited (for a slot, the rate limit or a retry) may have
      // lost its lease meanwhile: the ticket is asked when the request is about to go out.
      result = await this.binder.bind(pod.namespace, pod.name, pod.uid, nodeName, ticket.valid, bounded);
      if (result.outcome !== "error") return result;
      this.log.warn({ pod: pod.key, node: nodeName, detail: result.detail, attempt }, "bind failed");
    }
    return result;
  }

  /**
   * The cycle already reserved the won nodes in its snapshot; the reservation must reach the
   * API server (status.nominatedNodeName) before any victim is evicted, or the room the
   * evictions free is reserved for nobody. A nomination not written evicts nothing and leaves
   * the snapshot too; the group is tried again at its next cycle. The group's pods are pinned to
   * this shard at the same time: a ring change (a shard joining or coming back) must not move
   * the group away from the room its victims free (ring proposals keep the nodes here).
   */
  async nominateThenEvict(
    preemptor: string,
    nominations: readonly { pod: PodInfo; nodeName: string }[],
    victims: readonly PodInfo[],
  ): Promise<void> {
    const self = this.config.identity;
    const [written] = await Promise.all([
      Promise.all(nominations.map(({ pod, nodeName }) => this.statusWriter.nominate(pod.pod, nodeName))),
      Promise.all(
        nominations
          .filter(({ pod }) => ownerPinOf(pod.pod)?.shard !== self)
          .map(({ pod }) => this.statusWriter.pinOwner(pod.pod, self, this.ownership.epoch)),
      ),
    ]);
    if (written.includes(false)) {
      this.log.warn({ group: preemptor }, "nomination not written; evicting nothing this time");
      nominations.forEach(({ pod }, i) => {
        if (!written[i]) this.cache.restorePending(pod);
      });
      return;
    }
    if (victims.length === 0) return;
    this.metrics.preemptionAttempts.inc();
    this.metrics.preemptionVictims.observe(victims.length);
    await this.evictVictims(
      preemptor,
      victims,
      nominations.map((n) => n.nodeName),
    );
  }

  /**
   * Evicts whole groups only. The ticket fences the start: a group none of whose evictions went
   * out while the ticket was valid keeps running. Once one member's eviction went out, the rest
   * of its group follow whatever happens to the lease meanwhile, and those that failed (the API
   * server restarting, or throttling it longer than a lease duration) are retried with backoff
   * for up to the gang timeout, without holding the ticket (a handover must not wait for them). A
   * member still running after that is a candidate again at the preemptor's next cycle, if it
   * still needs the room (a victim that had started is never rolled back). A member the watch
   * shows running after the cycle chose its group (a growing group's owner bound it meanwhile)
   * is evicted with the rest.
   *
   * A PodDisruptionBudget's refusal is an answer, not a failure: that victim keeps running and is
   * not asked again here. The preemptor is told why, the budget counts as allowing nothing until
   * its next version arrives, and the preemptor's next cycle (after its backoff) looks for the
   * room elsewhere or waits for the budget.
   */
  private async evictVictims(
    preemptor: string,
    victims: readonly PodInfo[],
    nodes: readonly string[],
  ): Promise<void> {
    const where = [...new Set(nodes)].join(", ");
    // Evicting makes room on the nominated nodes: only while this shard still owns them.
    const ticket = this.ownership.acquireBind(nodes);
    if (!ticket) {
      this.metrics.fencedBinds.inc(victims.length);
      return;
    }
    const groups = new Map<string, PodInfo[]>();
    for (const pod of victims) {
      const members = groups.get(pod.group.id) ?? [];
      members.push(pod);
      groups.set(pod.group.id, members);
    }
    let unfinished: PodInfo[] = [];
    const refused: { pod: PodInfo; detail: string }[] = [];
    // Groups whose eviction began, and every member asked to go: a member the group's owner bound
    // after this cycle read the cache (a growing group) must follow the rest.
    const begun = new Set<string>();
    const asked = new Set(victims.map((pod) => pod.key));
    // While the ticket is held, waits on throttled answers end after a lease duration (as binds').
    const bounded = this.throttleBound(this.config.leaseDurationMs);
    try {
      await Promise.all(
        [...groups.values()].map(async (members) => {
          let committed = false;
          const sendIf = () => {
            committed ||= ticket.valid();
            return committed;
          };
          const results = await Promise.all(
            members.map((pod) =>
              this.bindSlots(() => this.evictVictim(preemptor, pod, where, bounded, sendIf)),
            ),
          );
          const group = (members[0] as PodInfo).group;
          if (committed && !group.solo) begun.add(group.id);
          results.forEach((result, i) => {
            const pod = members[i] as PodInfo;
            if (result.outcome === "disruption_budget") refused.push({ pod, detail: result.detail });
            else if (committed && retried(result.outcome)) unfinished.push(pod);
          });
        }),
      );
    } finally {
      ticket.release();
    }
    if (refused.length > 0) this.budgetRefusedPreemption(preemptor, refused);
    const latecomers = (): PodInfo[] => {
      const found = [...begun].flatMap((id) =>
        [...(this.cache.group(id)?.running.values() ?? [])].filter(
          (pod) => !pod.terminating && !asked.has(pod.key),
        ),
      );
      for (const pod of found) asked.add(pod.key);
      return found;
    };
    unfinished.push(...latecomers());
    const deadline = Date.now() + this.config.gangTimeoutMs;
    // Two looks for latecomers after the first round: the watch may bring a bind a moment late.
    for (
      let delay = 500, looks = begun.size > 0 ? 2 : 0;
      (unfinished.length > 0 || looks > 0) && !this.stopped && Date.now() < deadline;
      looks--
    ) {
      await sleep(delay);
      delay = Math.min(2 * delay, 5_000);
      unfinished.push(...latecomers());
      if (unfinished.length === 0) continue;
      const bounded = this.throttleBound(deadline - Date.now());
      const results = await Promise.all(
        unfinished.map((pod) => this.bindSlots(() => this.evictVictim(preemptor, pod, where, bounded))),
      );
      const refusedNow = unfinished.flatMap((pod, i) =>
        results[i]?.outcome === "disruption_budget" ? [{ pod, detail: results[i].detail }] : [],
      );
      if (refusedNow.length > 0) this.budgetRefusedPreemption(preemptor, refusedNow);
      unfinished = unfinished.filter((_, i) => retried(results[i]?.outcome));
    }
    if (unfinished.length > 0)
      this.log.warn(
        { preemptor, pods: unfinished.map((pod) => pod.key) },
        "victims not evicted before the gang timeout; the preemptor's next cycles may pick them again",
      );
  }

  private async evictVictim(
    preemptor: string,
    pod: PodInfo,
    where: string,
    bounded: AbortSignal,
    sendIf?: () => boolean,
  ): Promise<{ outcome: EvictOutcome; detail: string }> {
    const result = await this.binder.evict(pod.namespace, pod.name, sendIf, bounded);
    if (result.outcome === "fenced") {
      this.metrics.fencedBinds.inc();
      return result;
    }
    this.metrics.evictions.inc({ result: result.outcome });
    if (result.outcome === "evicted") {
      this.events.record(
        pod.pod,
        "Normal",
        "Preempted",
        `Preempted by ${preemptor} (whole group evicted) to make room on ${where}`,
      );
    } else if (result.outcome === "disruption_budget") {
      this.log.warn(
        { preemptor, pod: pod.key, detail: result.detail },
        "eviction refused by the victim's PodDisruptionBudget; the victim keeps running",
      );
    } else if (result.outcome !== "gone") {
      this.log.warn({ pod: pod.key, outcome: result.outcome, detail: result.detail }, "eviction failed");
    }
    return result;
  }

  /**
   * Victims a PodDisruptionBudget kept: their budgets count as allowing no disruption until the
   * watch brings their next version (that change wakes the preemptor once its backoff allows),
   * and the preemptor's pending pods say why they still wait, on their PodScheduled condition
   * and in a FailedScheduling Event, as kube-scheduler reports a preemption that failed.
   */
  private budgetRefusedPreemption(
    preemptor: string,
    refused: readonly { pod: PodInfo; detail: string }[],
  ): void {
    for (const { pod } of refused) this.cache.budgetRefused(pod);
    const members = this.cache.group(preemptor);
    if (!members || members.pending.size === 0) return;
    const first = refused[0] as { pod: PodInfo; detail: string };
    const others = refused.length > 1 ? ` (and ${refused.length - 1} more)` : "";
    this.tellPending(
      members,
      `preemption: the eviction of ${first.pod.key}${others} was refused by a PodDisruptionBudget: ${first.detail} ` +
        "The victim keeps running; preemption is tried again after a backoff, elsewhere or once the budget allows.",
      "FailedScheduling",
    );
  }

  /**
   * A gang with a declared min-member that never started, with some members bound and the rest
   * unplaceable for longer than the gang timeout, is rolled back: its controller-owned bound
   * members are deleted (their controller recreates them and the gang is placed afresh). Bare
   * pods would be lost, so they are only reported. A group that started, or declares no
   * min-member, is never rolled back: later members join it as room allows.
   * Returns true while the gang is partial and waiting (not yet rolled back).
   */
  private checkGangTimeout(members: GroupMembers, now: number): boolean {
    const id = members.key.id;
    const running = [...members.running.values()];
    const minMember = declaredMinMember(members);
    const incomplete =
      !members.key.solo &&
      !members.started &&
      minMember !== undefined &&
      running.length > 0 &&
      members.pending.size > 0 &&
      running.length + succeededMembers(members) < minMember;
    if (!incomplete) {
      this.partialSince.delete(id);
      return false;
    }
    const since = this.partialSince.get(id) ?? now;
    this.partialSince.set(id, since);
    if (now - since < this.config.gangTimeoutMs) return true;
    this.partialSince.delete(id);
    this.metrics.gangRollbacks.inc();
    this.log.info(
      { group: id, running: running.length, pending: members.pending.size },
      "rolling back a partial gang",
    );
    const message = `pod group ${members.key.namespace}/${members.key.name} stayed partially bound for ${Math.round((now - since) / 1000)}s`;
    for (const pod of running) {
      const owned = pod.pod.metadata.ownerReferences?.some((ref) => ref.controller) ?? false;
      if (owned) {
        this.events.record(
          pod.pod,
          "Warning",
          "GangRollback",
          `${message}; deleting this member so its controller recreates it`,
        );
        void this.binder.delete(pod.namespace, pod.name, pod.uid);
      } else {
        this.events.record(
          pod.pod,
          "Warning",
          "PartialGang",
          `${message}; this pod has no controller, so it is left running`,
        );
      }
    }
    return false;
  }

  /** The profile label of the attempt metrics: the schedulerName served, as kube-scheduler's profiles. */
  private get profile(): string {
    return this.config.schedulerName;
  }

  /**
   * An attempt that placed nothing: counted once for the group and once for each pending member;
   * the filter plugins that rejected it (none for an invalid group) are remembered for
   * unschedulable_pods until the group is tried again.
   */
  private countUnschedulable(members: GroupMembers, rejectedBy?: readonly string[]): void {
    const labels = { result: "unschedulable", profile: this.profile };
    this.metrics.podGroupScheduleAttempts.inc(labels);
    this.metrics.scheduleAttempts.inc(labels, members.pending.size);
    if (rejectedBy) this.rejectedBy.set(members.key.id, rejectedBy);
  }

  /** Condition and Event on every pending member of a group. */
  private tellPending(
    members: GroupMembers,
    message: string,
    reason: string,
    type: "Normal" | "Warning" = "Warning",
  ): void {
    for (const pod of members.pending.values()) {
      void this.statusWriter.unschedulable(pod.pod, message);
      this.events.record(pod.pod, type, reason, message);
    }
  }

  /** The pod watch delivered a pod; once bound, what was written on it need not be remembered. */
  podUpserted(pod: Pod): void {
    this.cache.upsertPod(pod);
    if (pod.spec.nodeName) this.forgetWrites(pod);
  }

  podRemoved(pod: Pod): void {
    this.cache.removePod(pod);
    this.forgetWrites(pod);
  }

  private forgetWrites(pod: Pod): void {
    this.statusWriter.forget?.(pod);
    this.events.forget?.(pod);
  }

  private reportInvalid(podKey: string): void {
    const entry = this.cache.invalid.get(podKey);
    if (!entry) return;
    const message = `invalid pod group: ${entry.error}`;
    void this.statusWriter.unschedulable(entry.pod, message);
    this.events.record(entry.pod, "Warning", "InvalidPodGroup", message);
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

  /** What the coordinator is told: owned capacity and the groups this shard cannot place. */
  capacitySummary(now = Date.now()): CapacitySummary | undefined {
    if (!this.ready || !this.ownership.canPlace()) return undefined;
    const stuck: StuckGroupReport[] = [];
    for (const [id, { since, message }] of this.stuck) {
      const members = this.cache.group(id);
      if (
        !members ||
        members.pending.size === 0 ||
        !this.ownership.ownsGroup(members.key.hashKey, ownerOverride(members))
      ) {
        this.stuck.delete(id);
        continue;
      }
      const pending = [...members.pending.values()];
      const group = pendingGroup(
        members.key,
        pending,
        [...members.running.values()],
        declaredMinMember(members),
        succeededMembers(members),
        members.started,
      );
      stuck.push({
        id,
        namespace: members.key.namespace,
        name: members.key.name,
        solo: members.key.solo,
        hashKey: members.key.hashKey,
        members: pending.map((pod) => pod.name).sort(),
        required: group.required,
        priority: group.priority,
        mayPreempt: group.mayPreempt,
        since,
        message,
      });
    }
    return summarizeCapacity(
      this.cache.snapshot,
      (node) => this.ownership.ownsNode(node),
      { shard: this.config.identity, epoch: this.ownership.epoch, publishedAt: now },
      stuck,
    );
  }

  private updateGauges(): void {
    // The queue's states as kube-scheduler names its queues: a group being tried is still active.
    const queueOf: Record<QueueState, string> = {
      active: "active",
      inflight: "active",
      backoff: "backoff",
      unschedulable: "unschedulable",
      incomplete: "incomplete",
    };
    const pods: Record<string, number> = { active: 0, backoff: 0, unschedulable: 0, gated: 0, incomplete: 0 };
    const rejected = new Map<string, number>();
    let groups = 0;
    for (const id of this.cache.groupIds()) {
      const members = this.cache.group(id);
      const size = members?.pending.size ?? 0;
      const gated = members?.gated.size ?? 0;
      if (
        !members ||
        size + gated === 0 ||
        !this.ownership.ownsGroup(members.key.hashKey, ownerOverride(members))
      )
        continue;
      pods.gated = (pods.gated ?? 0) + gated;
      if (size === 0) continue;
      groups++;
      const queue = queueOf[this.queue.state(id) ?? "active"];
      pods[queue] = (pods[queue] ?? 0) + size;
      for (const plugin of this.rejectedBy.get(id) ?? [])
        rejected.set(plugin, (rejected.get(plugin) ?? 0) + size);
    }
    for (const [queue, count] of Object.entries(pods)) this.metrics.pendingPods.set({ queue }, count);
    this.metrics.pendingGroups.set(groups);
    // A plugin that rejects no pod now reads 0, not its last value.
    for (const plugin of rejected.keys()) this.reportedPlugins.add(plugin);
    for (const plugin of this.reportedPlugins)
      this.metrics.unschedulablePods.set({ plugin, profile: this.profile }, rejected.get(plugin) ?? 0);
    for (const id of this.rejectedBy.keys()) {
      const members = this.cache.group(id);
      if (!members || members.pending.size === 0) this.rejectedBy.delete(id);
    }
    const sizes = this.cache.sizes();
    this.metrics.cacheSize.set({ type: "nodes" }, sizes.nodes);
    this.metrics.cacheSize.set({ type: "pods" }, sizes.pods);
    this.metrics.cacheSize.set({ type: "assumed_pods" }, sizes.assumedPods);
    let ownedNodes = 0;
    for (const node of this.cache.snapshot.nodes) if (this.ownership.ownsNode(node.name)) ownedNodes++;
    this.metrics.ownedNodes.set(ownedNodes);
    this.metrics.ringEpoch.set(this.ownership.epoch);
    this.metrics.invalidPods.set(this.cache.invalid.size);
  }
}

/**
 * The shard a group's pods name in their Owner condition (a handoff, a lend, a preemption's pin),
 * if any. Never an annotation: the pods' tenant could write that (owner-condition.ts).
 */
export function ownerOverride(members: GroupMembers): string | undefined {
  for (const pod of members.pending.values()) {
    const owner = ownerPinOf(pod.pod)?.shard;
    if (owner) return owner;
  }
  return undefined;
}

/** Reasons a group can never be placed as a whole by this scheduler, or undefined. */
export function groupProblem(members: GroupMembers): string | undefined {
  const name = `${members.key.namespace}/${members.key.name}`;
  if (members.foreignPending.size > 0) {
    const names = new Set(members.foreignPending.values());
    return `members of pod group ${name} name different schedulers (${[...names].join(", ")}); a gang must use one scheduler`;
  }
  const declared = declaredMinMembers(members);
  if (declared.size > 1) {
    return `members of pod group ${name} disagree on sharded-scheduler.io/min-member (${[...declared].join(", ")})`;
  }
  return priorityDisagreement(members.key, [...members.pending.values(), ...members.running.values()]);
}

/** Evictions worth sending again while a victim group is being evicted. */
function retried(outcome: EvictOutcome | undefined): boolean {
  return outcome === "error" || outcome === "throttled";
}
