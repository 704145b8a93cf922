/**
 * Carries out one group's Decision against the API server (Gödel's BindUnit idea): binds with
 * retries under a fencing ticket, nominations written before any victim is evicted, whole victim
 * groups evicted, a partial gang rolled back, and what the group's pods are told (their
 * PodScheduled condition and Events). The Shard decides when, and what an outcome means for the
 * group's place in the queue; this class executes and reports the outcome as a value.
 *
 * It is also the one place a pod's state in the cache moves because of what the shard did: a
 * placed pod is assumed when its bind is about to go out and pending again when the bind does not
 * go through (assume/unassume), and room the cycle reserved for a nomination that is not written
 * is given back (withdrawReservations).
 */
import { performance } from "node:perf_hooks";
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import pLimit from "p-limit";
import type { Logger } from "pino";
import { schedulerReportingController } from "../contracts/keys.js";
import { ownerPinOf } from "../contracts/owner-condition.js";
import {
  type BindConflict,
  checkBeforeBind,
  coschedulingApi,
  coschedulingStatus,
  type Decision,
  type GroupKey,
  naturalOrder,
  needsCheckBeforeBind,
  type Pod,
  type PodInfo,
  type RollbackPlan,
  type SpanningPlugins,
} from "../core/index.js";
import { CoschedulingStatusWriter } from "../kube/crd-pod-group-status-writer.js";
import {
  EventRecorder,
  type EventSubject,
  maxMessageLength,
  podGroupSubject,
} from "../kube/event-recorder.js";
import type { KubeClient } from "../kube/kube-client.js";
import { type BindOutcome, type EvictOutcome, PodBinder } from "../kube/pod-binder.js";
import { disruptionTargetMessage, PodGroupStatusWriter } from "../kube/pod-group-status-writer.js";
import { PodStatusWriter } from "../kube/pod-status-writer.js";
import type { BindTicket, Ownership } from "../sharding/ownership.js";
import { BindRoom } from "./bind-room.js";
import {
  type ClusterCache,
  declaredMinMember,
  type GroupMembers,
  succeededMembers,
} from "./cluster-cache.js";
import type { ShardConfig } from "./config.js";
import type { ShardMetrics } from "./metrics.js";

/** What a shard writes to the API server through; a unit test may pass stubs. */
export interface ShardWriters {
  readonly binder: Pick<PodBinder, "bind" | "evict" | "delete"> & Partial<Pick<PodBinder, "whereIs">>;
  readonly statusWriter: Pick<PodStatusWriter, "unschedulable" | "nominate" | "pinOwner"> &
    Partial<Pick<PodStatusWriter, "forget" | "settled">>;
  readonly events: Pick<EventRecorder, "record"> & Partial<Pick<EventRecorder, "forget" | "close">>;
  /** Native PodGroups' conditions (PodGroupInitiallyScheduled, DisruptionTarget); none: not written. */
  readonly podGroupStatus?: Pick<PodGroupStatusWriter, "initiallyScheduled"> &
    Partial<Pick<PodGroupStatusWriter, "disruptionTarget">>;
  /** scheduler-plugins PodGroups' status (phase and counts); none: not written. */
  readonly coschedulingStatus?: Pick<CoschedulingStatusWriter, "write">;
}

/** The writers `given`, and for the rest the API server's through `client`. */
export function shardWriters(
  client: KubeClient,
  config: ShardConfig,
  log: Logger,
  given: Partial<ShardWriters> = {},
): ShardWriters {
  return {
    binder: given.binder ?? new PodBinder(client),
    statusWriter: given.statusWriter ?? new PodStatusWriter(client, log),
    events:
      given.events ??
      new EventRecorder(client, schedulerReportingController(config.schedulerName), config.identity, log),
    podGroupStatus: given.podGroupStatus ?? new PodGroupStatusWriter(client, log),
    coschedulingStatus: given.coschedulingStatus ?? new CoschedulingStatusWriter(client, log),
  };
}

type Placement = { readonly pod: PodInfo; readonly nodeName: string };

/** What the API server answered to one member's bind (after retries). */
export interface PodBindAnswer extends Placement {
  readonly outcome: BindOutcome;
  readonly detail: string;
}

/** How carrying out a bind decision ended; every member not bound is pending again. */
export type GroupBindOutcome =
  /** Ownership moved since the cycle decided: no bind was sent. */
  | { readonly kind: "fenced" }
  /** The check before bind rejected a member against the latest cache: no bind was sent. */
  | { readonly kind: "conflict"; readonly conflict: BindConflict }
  /** Every member is bound. */
  | { readonly kind: "bound"; readonly answers: readonly PodBindAnswer[] }
  /** Some members were not bound; their answers say why. */
  | { readonly kind: "partly-bound"; readonly answers: readonly PodBindAnswer[] };

/** How carrying out a preemption plan ended. */
export type PreemptionOutcome =
  /** A nomination was not written: nothing evicted, the room reserved for it given back. */
  | { readonly kind: "not-nominated" }
  /** Nominations written; no victim to evict (those chosen are already leaving). */
  | { readonly kind: "nominated" }
  /** Ownership of the nominated nodes moved: no eviction was sent. */
  | { readonly kind: "fenced" }
  /**
   * Evictions sent: each victim's last answer by pod key (a victim whose group was fenced before
   * any of its evictions went out answers "fenced"); unfinished are those still running when the
   * retries ran out (the gang timeout).
   */
  | {
      readonly kind: "evicting";
      readonly answers: ReadonlyMap<string, EvictOutcome>;
      readonly unfinished: readonly string[];
    };

/** What rolling a partial gang back did: members deleted, and bare pods only told. */
export interface RollbackOutcome {
  readonly deleted: readonly string[];
  readonly leftRunning: readonly string[];
}

export class GroupExecutor {
  private readonly binder: ShardWriters["binder"];
  private readonly statusWriter: ShardWriters["statusWriter"];
  private readonly events: ShardWriters["events"];
  private readonly podGroupStatus: ShardWriters["podGroupStatus"];
  private readonly coschedulingStatus: ShardWriters["coschedulingStatus"];
  private readonly bindSlots;
  private readonly bindRoom: BindRoom;
  /** Aborted by stop(): binds and evictions waiting out a throttled answer give up. */
  private readonly stopping = new AbortController();
  /** The bound groups starting their binds now share (bindThrottleBound). */
  private sharedBindBound: { signal: AbortSignal; madeAt: number } | undefined;

  constructor(
    private readonly config: ShardConfig,
    private readonly log: Logger,
    private readonly ownership: Ownership,
    private readonly cache: ClusterCache,
    private readonly metrics: ShardMetrics,
    writers: ShardWriters,
    /**
     * The profile's plugins that span nodes (core/bind-check.ts spanningProfile), checked again
     * right before a group's binds go out; undefined: the profile has none, nothing is checked.
     */
    private readonly spanning: SpanningPlugins | undefined = undefined,
  ) {
    this.binder = writers.binder;
    this.statusWriter = writers.statusWriter;
    this.events = writers.events;
    this.podGroupStatus = writers.podGroupStatus;
    this.coschedulingStatus = writers.coschedulingStatus;
    this.bindSlots = pLimit(config.bindConcurrency);
    this.bindRoom = new BindRoom(config.bindConcurrency);
  }

  stop(): void {
    this.stopping.abort();
    this.bindRoom.openAll();
    this.events.close?.();
  }

  /** The profile label of the attempt metrics: the schedulerName served, as kube-scheduler's profiles. */
  private get profile(): string {
    return this.config.schedulerName;
  }

  /**
   * Binds a group's placements (the cycle already assumed them in its cluster). Its members are
   * assumed in the cache before anything is sent (they count as running members of their group
   * from now on), and whoever's bind does not go through is pending again when this resolves.
   */
  async bind(groupId: string, placements: readonly Placement[]): Promise<GroupBindOutcome> {
    for (const { pod, nodeName } of placements) this.assume(pod, nodeName);
    // The ticket is asked for once every member's bind can go out: a queue of binds must not hold
    // up a new ring epoch (bind-room.ts).
    const leave = await this.bindRoom.enter(placements.length);
    try {
      return await this.bindUnderTicket(groupId, placements);
    } finally {
      leave();
    }
  }

  private async bindUnderTicket(
    groupId: string,
    placements: readonly Placement[],
  ): Promise<GroupBindOutcome> {
    // Fencing: ownership may have moved since the cycle decided; never bind onto a lost node.
    const ticket = this.ownership.acquireBind(placements.map((p) => p.nodeName));
    if (!ticket) {
      this.log.debug({ group: groupId }, "bind ticket refused (handover); placing again");
      this.metrics.fencedBinds.inc(placements.length);
      this.metrics.scheduleAttempts.inc({ result: "error", profile: this.profile }, placements.length);
      for (const p of placements) this.unassume(p.pod, "fenced");
      return { kind: "fenced" };
    }
    let checkedAt: number | undefined;
    const spanning = this.spanning;
    if (spanning !== undefined && placements.some((p) => needsCheckBeforeBind(spanning, p.pod))) {
      // What the watch brought while the cycle ran is applied first: the check reads the latest cache.
      await nextTurn();
      checkedAt = performance.now();
      const conflict = checkBeforeBind(spanning, this.cache.cluster, placements);
      if (conflict !== undefined) {
        ticket.release();
        this.bindConflict(groupId, placements, conflict);
        return { kind: "conflict", conflict };
      }
    }
    // The epoch the binds go out under (adopting a newer one waits for this ticket).
    const epoch = this.ownership.epoch;
    // Binds the API server throttles are sent again after its Retry-After, but a handover waits
    // for this ticket: after a lease duration they give up and the group is placed again later.
    const bounded = this.bindThrottleBound();
    let answers: PodBindAnswer[];
    try {
      answers = await Promise.all(
        placements.map((p) =>
          this.bindSlots(async () => {
            const answer = await this.bindWithRetry(p.pod, p.nodeName, ticket, bounded);
            if (checkedAt !== undefined && answer.outcome === "bound")
              this.metrics.bindCheckWindowSeconds.observe((performance.now() - checkedAt) / 1000);
            return { ...p, ...answer };
          }),
        ),
      );
    } finally {
      ticket.release();
    }
    const now = Date.now();
    const throttled = answers.filter(({ outcome }) => outcome === "throttled").length;
    if (throttled > 0)
      this.log.info(
        { group: groupId, pods: throttled, boundMs: this.config.leaseDurationMs },
        "binds throttled by the API server (429) all along; placing the group again after its backoff",
      );
    for (const { pod, nodeName, outcome, detail } of answers) {
      if (outcome === "bound") {
        this.metrics.scheduleAttempts.inc({ result: "scheduled", profile: this.profile });
        const created = Date.parse(pod.pod.metadata.creationTimestamp ?? "");
        if (!Number.isNaN(created))
          this.metrics.e2eSchedulingSeconds.observe(Math.max(0, now - created) / 1000);
        continue;
      }
      this.log.debug({ group: groupId, pod: pod.key, node: nodeName, outcome }, "pod not bound");
      // Bound elsewhere: the pod keeps its room here until the watch shows it on its node. An
      // error may hide a bind that went through: kept until a read says where the pod is.
      if (outcome === "error") void this.unassumeOnceKnown(pod, nodeName, detail);
      else if (outcome !== "conflict") this.unassume(pod, outcome);
      // Throttled: not a failure of the bind (nothing counted, nothing told); placed again later.
      if (outcome === "throttled") continue;
      this.metrics.scheduleAttempts.inc({ result: "error", profile: this.profile });
      if (outcome === "fenced") this.metrics.fencedBinds.inc();
      else this.metrics.bindErrors.inc({ reason: outcome });
    }
    this.tellScheduled(
      answers.filter(({ outcome }) => outcome === "bound"),
      epoch,
      now,
    );
    this.forgetGroupWrites(placements);
    return {
      kind: answers.every(({ outcome }) => outcome === "bound") ? "bound" : "partly-bound",
      answers,
    };
  }

  /**
   * The Scheduled Events of a bind, as config.scheduledEvents says: one per bound pod, as
   * kube-scheduler writes them; one for the group, on its native PodGroup, else on its first
   * bound member by name, naming every bound member and its node (a gang of one gets its pod's
   * own); or none.
   */
  private tellScheduled(bound: readonly Placement[], epoch: number, now: number): void {
    const mode = this.config.scheduledEvents;
    const first = bound[0];
    if (mode === "off" || first === undefined) return;
    const subject =
      mode === "group"
        ? this.groupSubject(
            first.pod.group,
            bound.map((p) => p.pod),
          )
        : undefined;
    if (subject === undefined || (bound.length === 1 && subject === first.pod.pod)) {
      for (const { pod, nodeName } of bound)
        this.events.record(
          pod.pod,
          "Normal",
          "Scheduled",
          `Successfully assigned ${pod.key} to ${nodeName} (ring epoch ${epoch})`,
          now,
        );
      return;
    }
    const key = first.pod.group;
    const group = key.podGroup
      ? `PodGroup ${key.namespace}/${key.name}`
      : `group ${key.namespace}/${key.name}`;
    const assigned = [...bound]
      .sort((a, b) => naturalOrder(a.pod.name, b.pod.name))
      .map(({ pod, nodeName }) => `${pod.key} to ${nodeName}`);
    this.events.record(
      subject,
      "Normal",
      "Scheduled",
      listWithin(
        `Successfully assigned ${bound.length} pod(s) of ${group} (ring epoch ${epoch}): `,
        assigned,
      ),
      now,
    );
  }

  /**
   * What a group's Events are about: its native PodGroup when the watch has it, else the first
   * of `pods` by name.
   */
  private groupSubject(key: GroupKey, pods: Iterable<PodInfo>): EventSubject | undefined {
    if (key.podGroup) {
      const podGroup = this.cache.podGroupObject(key.namespace, key.name);
      if (podGroup !== undefined) return podGroupSubject(podGroup, key.namespace);
    }
    let first: PodInfo | undefined;
    for (const pod of pods) if (first === undefined || naturalOrder(pod.name, first.name) < 0) first = pod;
    return first?.pod;
  }

  /**
   * A native PodGroup none of whose members waits any more: its Events' series are finished (as
   * a bound pod's are), so what they still owe is written now, not at the next sweep.
   */
  private forgetGroupWrites(placements: readonly Placement[]): void {
    const key = placements[0]?.pod.group;
    if (!key?.podGroup || this.events.forget === undefined) return;
    if ((this.cache.group(key.id)?.pending.size ?? 0) > 0) return;
    const podGroup = this.cache.podGroupObject(key.namespace, key.name);
    if (podGroup !== undefined) this.events.forget(podGroupSubject(podGroup, key.namespace));
  }

  /**
   * The check before bind rejected a member: the whole group is pending again (nothing was
   * sent), counted by the plugin, and placed again after its backoff, on a cache that now holds
   * what the decision missed.
   */
  private bindConflict(groupId: string, placements: readonly Placement[], conflict: BindConflict): void {
    this.metrics.bindConflicts.inc({ plugin: conflict.plugin });
    this.metrics.scheduleAttempts.inc({ result: "error", profile: this.profile }, placements.length);
    this.log.info(
      {
        group: groupId,
        pod: conflict.pod.key,
        node: conflict.nodeName,
        plugin: conflict.plugin,
        reasons: conflict.reasons,
      },
      "check before bind: a pod bound since the decision rejects this placement; placing the group again",
    );
    for (const p of placements) this.unassume(p.pod, "conflict");
  }

  /** A placed pod counts as a running member of its group until the watch confirms the bind or it fails. */
  private assume(pod: PodInfo, nodeName: string): void {
    this.cache.markAssumed(pod, nodeName);
  }

  /**
   * A bind that did not go through: the pod is pending again. Gated: it waits for its gates again
   * (no retry); stale: the pod was replaced, and its replacement comes from the watch.
   */
  private unassume(pod: PodInfo, outcome: Exclude<BindOutcome, "bound">): void {
    if (outcome === "gated") this.cache.forgetGated(pod.key);
    else if (outcome === "stale") this.cache.forgetReplaced(pod.key, pod.uid);
    else this.cache.forget(pod.key);
  }

  /**
   * A bind answered with an error (a 5xx, a timeout, a dropped connection: retries included) may
   * still have gone through, and the watch may be down (an API server restarting): forgetting
   * the pod at once would free room it may hold, and the next cycle could fill it. It stays
   * assumed until a read says where it is: bound (anywhere) — kept until the watch shows it; not
   * bound — pending again, told as kube-scheduler tells a failed bind; gone or replaced — dropped.
   * The read is tried again with backoff until it answers or the shard stops.
   */
  private async unassumeOnceKnown(pod: PodInfo, nodeName: string, detail: string): Promise<void> {
    const whereIs = this.binder.whereIs?.bind(this.binder);
    for (let backoffMs = 250; whereIs !== undefined; backoffMs = Math.min(2 * backoffMs, 5_000)) {
      if (this.stopping.signal.aborted) return;
      const found = await whereIs(pod.namespace, pod.name);
      if (found.kind === "gone" || (found.kind !== "unknown" && pod.uid !== "" && found.uid !== pod.uid)) {
        this.unassume(pod, "stale");
        return;
      }
      if (found.kind === "bound") {
        this.log.info(
          { pod: pod.key, node: nodeName, boundTo: found.nodeName, detail },
          "bind answered with an error but went through; the pod stays placed",
        );
        return;
      }
      if (found.kind === "unbound") break;
      await sleep(backoffMs, undefined, { signal: this.stopping.signal }).catch(() => undefined);
    }
    this.unassume(pod, "error");
    // As kube-scheduler tells a failed bind: FailedScheduling, "Binding rejected: <why>".
    this.events.record(pod.pod, "Warning", "FailedScheduling", `Binding rejected: ${detail}`, Date.now());
  }

  /**
   * Room the cycle reserved in its cluster for these pods (a nomination) that the API server
   * will not hear of: the pods go back to what the watch last delivered.
   */
  withdrawReservations(pods: readonly PodInfo[]): void {
    for (const pod of pods) this.cache.restorePending(pod);
  }

  /**
   * The bound of a group's throttled binds: a lease duration, less at most a quarter of one. Groups
   * that start binding within that quarter share one bound, made by the first of them: a solo pod
   * is a group, and a composite signal and its timer for each pod of a backlog took 2 % of a
   * shard's CPU (profiled).
   */
  private bindThrottleBound(): AbortSignal {
    const now = performance.now();
    const shared = this.sharedBindBound;
    if (shared && !shared.signal.aborted && now - shared.madeAt < this.config.leaseDurationMs / 4)
      return shared.signal;
    const signal = this.throttleBound(this.config.leaseDurationMs);
    this.sharedBindBound = { signal, madeAt: now };
    return signal;
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
    // The pod's status writes (a "waiting" condition, a nomination) land before its bind.
    await this.statusWriter.settled?.(pod.pod);
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0) await sleep(100 * 4 ** attempt);
      // A replica stalled while this bind waited (for a slot, the rate limit or a retry) may have
      // lost its lease meanwhile: the ticket is asked when the request is about to go out.
      result = await this.binder.bind(
        pod.namespace,
        pod.name,
        pod.uid,
        nodeName,
        ticket.valid,
        bounded,
        attempt > 0,
      );
      if (result.outcome !== "error") return result;
      this.log.warn({ pod: pod.key, node: nodeName, detail: result.detail, attempt }, "bind failed");
    }
    return result;
  }

  /**
   * A preemption decision: the group's pending pods are told they wait for victims to leave,
   * then the plan is carried out (nominations first, evictions after; see nominateThenEvict).
   */
  preempt(
    decision: Extract<Decision, { kind: "preempt" }>,
    members: GroupMembers,
  ): Promise<PreemptionOutcome> {
    const id = decision.group.id;
    const { victims, nominations } = decision.plan;
    const victimPods = victims.flatMap((victim) => victim.pods.filter((pod) => !pod.terminating));
    const partial = new Set(victims.filter((victim) => !victim.whole).map((victim) => victim.id));
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
    return this.nominateThenEvict(id, nominations, victimPods, partial);
  }

  /** An unschedulable decision: the group's pending pods are told why. */
  unschedulable(decision: Extract<Decision, { kind: "unschedulable" }>, members: GroupMembers): void {
    this.tellPending(members, decision.message, "FailedScheduling");
    // The core gave the room these members won by preemption back; the API must say so too,
    // or every shard keeps it reserved for a group that cannot use it. Each held a nomination
    // in the cluster or in its pod; the one this shard wrote may not be back from the watch yet
    // (the pod in the cache shows none), so every one is cleared, after the write that set it.
    for (const pod of decision.withdrawnNominations) void this.statusWriter.nominate(pod.pod, null);
  }

  /**
   * The cycle already reserved the won nodes in its cluster; the reservation must reach the
   * API server (status.nominatedNodeName) before any victim is evicted, or the room the
   * evictions free is reserved for nobody. A nomination not written evicts nothing and leaves
   * the cluster too; the group is tried again at its next cycle. The group's pods are pinned to
   * this shard at the same time: a ring change (a shard joining or coming back) must not move
   * the group away from the room its victims free (ring proposals keep the nodes here).
   */
  async nominateThenEvict(
    preemptor: string,
    nominations: readonly Placement[],
    victims: readonly PodInfo[],
    /** Victim groups that lose only these members (their disruption mode allows it); else whole. */
    partial: ReadonlySet<string> = new Set(),
  ): Promise<PreemptionOutcome> {
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
      this.withdrawReservations(nominations.filter((_, i) => !written[i]).map(({ pod }) => pod));
      return { kind: "not-nominated" };
    }
    if (victims.length === 0) return { kind: "nominated" };
    this.metrics.preemptionAttempts.inc();
    this.metrics.preemptionVictims.observe(victims.length);
    return this.evictVictims(
      preemptor,
      victims,
      nominations.map((n) => n.nodeName),
      partial,
    );
  }

  /**
   * Evicts the victims: whole groups, and members of groups in `partial` (only those). A native
   * PodGroup is first marked DisruptionTarget (once per group here); a group whose mark was
   * refused is not evicted this time. The ticket fences the start: a group none of whose evictions went
   * out while the ticket was valid keeps running. Once one member's eviction went out, the rest
   * of its group follow whatever happens to the lease meanwhile, and those that failed (the API
   * server restarting, or throttling it longer than a lease duration) are retried with backoff
   * for up to the gang timeout, without holding the ticket (a handover must not wait for them). A
   * member still running after that is a candidate again at the preemptor's next cycle, if it
   * still needs the room (a victim that had started is never rolled back). A member the watch
   * shows running after the cycle chose its group (a growing group's owner bound it meanwhile)
   * is evicted with the rest, unless its group loses only some members.
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
    partial: ReadonlySet<string>,
  ): Promise<PreemptionOutcome> {
    const where = [...new Set(nodes)].join(", ");
    // Evicting makes room on the nominated nodes: only while this shard still owns them.
    const ticket = this.ownership.acquireBind(nodes);
    if (!ticket) {
      this.metrics.fencedBinds.inc(victims.length);
      return { kind: "fenced" };
    }
    const answers = new Map<string, EvictOutcome>();
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
          if (!(await this.markDisruptionTarget(preemptor, members[0] as PodInfo))) {
            for (const pod of members) answers.set(pod.key, "error");
            return;
          }
          let committed = false;
          const sendIf = () => {
            committed ||= ticket.valid();
            return committed;
          };
          const results = await Promise.all(
            members.map((pod) =>
              this.bindSlots(() =>
                this.evictVictim(preemptor, pod, where, bounded, sendIf, !partial.has(pod.group.id)),
              ),
            ),
          );
          const group = (members[0] as PodInfo).group;
          if (committed && !group.solo && !partial.has(group.id)) begun.add(group.id);
          results.forEach((result, i) => {
            const pod = members[i] as PodInfo;
            answers.set(pod.key, result.outcome);
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
      (unfinished.length > 0 || looks > 0) && !this.stopping.signal.aborted && Date.now() < deadline;
      looks--
    ) {
      await sleep(delay);
      delay = Math.min(2 * delay, 5_000);
      unfinished.push(...latecomers());
      if (unfinished.length === 0) continue;
      const bounded = this.throttleBound(deadline - Date.now());
      const results = await Promise.all(
        unfinished.map((pod) =>
          this.bindSlots(() =>
            this.evictVictim(preemptor, pod, where, bounded, undefined, !partial.has(pod.group.id)),
          ),
        ),
      );
      for (const [i, pod] of unfinished.entries()) answers.set(pod.key, results[i]?.outcome ?? "error");
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
    return { kind: "evicting", answers, unfinished: unfinished.map((pod) => pod.key) };
  }

  /**
   * A native victim PodGroup says DisruptionTarget before any member is evicted (bounded: asked
   * once per victim group and preemption). False when the write was refused.
   */
  private async markDisruptionTarget(preemptor: string, member: PodInfo): Promise<boolean> {
    const writer = this.podGroupStatus;
    if (!member.group.podGroup || writer?.disruptionTarget === undefined) return true;
    const podGroup = this.cache.podGroupObject(member.group.namespace, member.group.name);
    if (podGroup === undefined) return true;
    const ok = await writer.disruptionTarget(
      podGroup,
      disruptionTargetMessage(this.config.schedulerName, preemptor),
    );
    if (!ok)
      this.log.warn(
        { preemptor, podGroup: member.group.id },
        "DisruptionTarget not written on the victim PodGroup; evicting none of it this time",
      );
    return ok;
  }

  private async evictVictim(
    preemptor: string,
    pod: PodInfo,
    where: string,
    bounded: AbortSignal,
    sendIf?: () => boolean,
    whole = true,
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
        `Preempted by ${preemptor} (${whole ? "whole group evicted" : "member evicted; its group allows it"}) to make room on ${where}`,
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
   * Rolls a partial gang back as its plan says (core/gang rollbackPlan): its controller-owned
   * bound members are deleted (their controller recreates them and the gang is placed afresh);
   * bare pods would be lost, so they are only reported.
   */
  rollBackGang(members: GroupMembers, plan: RollbackPlan): RollbackOutcome {
    this.metrics.gangRollbacks.inc();
    this.log.info(
      { group: members.key.id, running: members.running.size, pending: members.pending.size },
      "rolling back a partial gang",
    );
    for (const pod of plan.deleted) {
      this.events.record(
        pod.pod,
        "Warning",
        "GangRollback",
        `${plan.message}; deleting this member so its controller recreates it`,
      );
      void this.binder.delete(pod.namespace, pod.name, pod.uid);
    }
    for (const pod of plan.reported)
      this.events.record(
        pod.pod,
        "Warning",
        "PartialGang",
        `${plan.message}; this pod has no controller, so it is left running`,
      );
    return { deleted: plan.deleted.map((pod) => pod.key), leftRunning: plan.reported.map((pod) => pod.key) };
  }

  /**
   * What a waiting group is told: every pending member its PodScheduled condition (each pod's
   * own, as cluster-autoscaler reads it; written when its message changes), and the group one
   * Event per attempt, on its native PodGroup, else on its first pending member by name. Invalid
   * terms (InvalidPodGroup, bad input and rare) are told on every member: each pod names its fault.
   */
  tellPending(
    members: GroupMembers,
    message: string,
    reason: string,
    type: "Normal" | "Warning" = "Warning",
  ): void {
    for (const pod of members.pending.values()) void this.statusWriter.unschedulable(pod.pod, message);
    if (reason === "InvalidPodGroup") {
      for (const pod of members.pending.values()) this.events.record(pod.pod, type, reason, message);
      return;
    }
    const subject = this.groupSubject(members.key, members.pending.values());
    if (subject !== undefined) this.events.record(subject, type, reason, message);
  }

  /**
   * A native PodGroup's PodGroupInitiallyScheduled condition (the owner's, once per attempt at
   * most): False/Unschedulable with the attempt's message, or True once minCount members are
   * bound (terminal). Annotation groups and groups whose PodGroup is not known have none.
   */
  tellPodGroup(members: GroupMembers, scheduled: boolean, message = ""): void {
    if (!members.key.podGroup || !this.podGroupStatus) return;
    const podGroup = this.cache.podGroupObject(members.key.namespace, members.key.name);
    if (podGroup === undefined) return;
    void this.podGroupStatus.initiallyScheduled(podGroup, scheduled, message);
  }

  /**
   * A scheduler-plugins PodGroup's status (the owner's): its phase and member counts as they are
   * now (core/gang coschedulingStatus). Written only when it changes, once per group.
   */
  tellCoschedulingPodGroup(members: GroupMembers): void {
    const { key } = members;
    if (key.crd !== coschedulingApi || !this.coschedulingStatus) return;
    const podGroup = this.cache.crdPodGroupObject(key.crd, key.namespace, key.name);
    const minMember = declaredMinMember(members);
    if (podGroup === undefined || minMember === undefined) return;
    // Another scheduler's PodGroup (scheduler-plugins' own scheduler beside us) is not ours to tell.
    const ours = (pod: PodInfo) => pod.pod.spec.schedulerName === this.config.schedulerName;
    if (![...members.pending.values(), ...members.gated.values(), ...members.running.values()].some(ours))
      return;
    let running = 0;
    for (const pod of members.running.values()) if (pod.pod.status?.phase === "Running") running++;
    const counts = {
      pending: members.pending.size + members.gated.size,
      bound: members.running.size + members.orphaned.size,
      running,
      succeeded: succeededMembers(members),
      failed: this.cache.failedCount(key.id),
    };
    const status = podGroup.status as { phase?: unknown } | undefined;
    this.coschedulingStatus.write(podGroup, coschedulingStatus(minMember, counts, status?.phase));
  }

  /** A pod of ours is malformed: its condition and an Event say why. */
  reportInvalid(podKey: string): void {
    const entry = this.cache.invalid.get(podKey);
    if (!entry) return;
    const message = `invalid pod group: ${entry.error}`;
    void this.statusWriter.unschedulable(entry.pod, message);
    this.events.record(entry.pod, "Warning", "InvalidPodGroup", message);
  }

  /** Once a pod is bound or gone, what was written on it need not be remembered. */
  forgetWrites(pod: Pod): void {
    this.statusWriter.forget?.(pod);
    this.events.forget?.(pod);
  }
}

/**
 * `prefix` then as many of `items` as fit an Event's note, comma-separated, and how many were
 * left out.
 */
function listWithin(prefix: string, items: readonly string[]): string {
  let text = prefix;
  for (const [i, item] of items.entries()) {
    const left = items.length - i - 1;
    const more = left > 0 ? `, and ${left} more` : "";
    const next = `${text}${i > 0 ? ", " : ""}${item}`;
    if (next.length + more.length > maxMessageLength)
      return `${text}${i > 0 ? ", " : ""}and ${items.length - i} more`;
    text = next;
  }
  return text;
}

/** Evictions worth sending again while a victim group is being evicted. */
function retried(outcome: EvictOutcome | undefined): boolean {
  return outcome === "error" || outcome === "throttled";
}
