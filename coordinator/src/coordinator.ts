/**
 * The coordinator's loop. Only the leader acts; each round it
 *   1. reads the ring (the shards' ring Lease) and every member's capacity summary (Redis);
 *   2. gives back lent nodes their group no longer uses (core/lend-return.ts);
 *   3. for each group its owner has reported unschedulable for --stuck-after-ms, reads the
 *      pending members, plans relief (core/relief-plan.ts), claims it in the ledger, and writes
 *      the owner overrides on the pods (handoff: their Owner condition) or nodes (lend) with an
 *      Event on each member.
 * Shards never wait for it: without Redis or a coordinator they keep scheduling what they own.
 * Every write (pods, nodes, Events, the ledger) is fenced by the round's LeaderTicket: it is
 * sent only if leadership is still provable when it goes out (kube/leader-election.ts).
 */
import {
  type CapacitySummary,
  type Lease,
  lentToLabel,
  ownerPinOf,
  parseCapacitySummary,
  parseRingLease,
  type RingObject,
  ringLeaseName,
  type StuckGroupReport,
  summaryKey,
} from "@sharded-scheduler/scheduler/contracts";
import {
  domainWord,
  groupKey,
  groupOwner,
  groupPin,
  type Node,
  type Pod,
  type PodInfo,
  pendingGroup,
  podGroupMembership,
  toPodInfo,
} from "@sharded-scheduler/scheduler/core";
import {
  type EventRecorder,
  InvalidObjects,
  type KubeClient,
  RequestWithheld,
} from "@sharded-scheduler/scheduler/kube";
import { ShardRing } from "@sharded-scheduler/scheduler/sharding";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { CoordinatorConfig } from "./config.js";
import {
  capacityView,
  freeCpu,
  type LeaderTicket,
  planRelief,
  promisedToAnother,
  type ReliefPlan,
  type Reservation,
  shouldReturn,
  usableFreeCpu,
  withReservations,
} from "./core/index.js";
import type { LeaderElection } from "./kube/leader-election.js";
import {
  type Lend,
  lendNodePatch,
  lendOf,
  type PodRelief,
  podReliefPatch,
  recordedRelief,
  returnNodePatch,
} from "./kube/overrides.js";
import type { ReliefLedger } from "./ledger/relief-ledger.js";
import type { CoordinatorMetrics } from "./metrics.js";

const mergePatch = "application/merge-patch+json";
const strategicMerge = "application/strategic-merge-patch+json";

export class Coordinator {
  private timer: NodeJS.Timeout | undefined;
  private ring: ShardRing = new ShardRing([]);
  /** The ring epoch last read, recorded in the Owner conditions written. */
  private ringEpoch = 0;
  /** Groups not to look at again before this time (impossible, refused, just relieved). */
  private readonly nextLookAt = new Map<string, number>();
  /** Stuck groups as last seen: since when (our clock) and whether the cluster could fit them. */
  private readonly stuck = new Map<string, { since: number; fittable: boolean }>();
  /** Room promised to groups just relieved, by group (see core/reservations.ts). */
  private readonly reservations = new Map<string, Reservation>();
  /** Stuck groups' members as last read, by namespace/name (see relieve). */
  private readonly memberPods = new Map<string, Pod>();
  /** Lends (node/group/lent-at) whose group was seen running on the node. */
  private readonly lendsRunOn = new Set<string>();
  /** Summaries and Leases that cannot be read: logged once, counted, skipped. */
  private readonly invalidObjects: InvalidObjects;
  /** The leadership the round in progress acts under. */
  private ticket: LeaderTicket | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly redis: Redis,
    private readonly ledger: ReliefLedger,
    private readonly election: LeaderElection,
    private readonly events: EventRecorder,
    private readonly config: CoordinatorConfig,
    private readonly metrics: CoordinatorMetrics,
    private readonly log: Logger,
  ) {
    this.invalidObjects = new InvalidObjects(log, (kind) => metrics.invalidObjects.inc({ kind }));
  }

  start(): void {
    const tick = async () => {
      const ticket = this.election.ticket();
      if (ticket) {
        await this.round(Date.now(), ticket).catch((error: unknown) => {
          if (error instanceof RequestWithheld)
            this.log.info({ err: error.message }, "lost leadership mid-round");
          else this.log.warn({ err: String(error) }, "coordination round failed; trying again");
        });
      }
      this.timer = setTimeout(() => void tick(), this.config.intervalMs);
    };
    void tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  /** One round of the leader: read, give back, relieve; its writes are sent only while the ticket is valid. */
  async round(now: number, ticket: LeaderTicket): Promise<void> {
    this.ticket = ticket;
    const ring = await this.readRing();
    if (!ring) return;
    if (ring.members.join(",") !== this.ring.members.join(",")) this.ring = new ShardRing(ring.members);
    this.ringEpoch = ring.epoch;
    // Redis down: nothing to plan from. The shards go on; the round is tried again.
    if (this.redis.status !== "ready") return;
    for (const [id, reservation] of this.reservations)
      if (reservation.until <= now) this.reservations.delete(id);
    const published = await this.readSummaries(ring.members);
    const lends = await this.readLends();
    await this.returnLends(lends, ring, published, now);
    const live = new Set(published.map((summary) => summary.shard));
    const lentNodes = new Set(lends.filter((lend) => lend.to !== "").map((lend) => lend.node));
    const reported = new Map<string, { summary: CapacitySummary; report: StuckGroupReport }>();
    for (const summary of published)
      for (const report of summary.stuck) reported.set(report.id, { summary, report });
    this.trackStuck(reported, now);
    const members = new Set(
      [...reported.values()].flatMap(({ report }) =>
        report.members.map((name) => `${report.namespace}/${name}`),
      ),
    );
    for (const key of this.memberPods.keys()) if (!members.has(key)) this.memberPods.delete(key);
    // Most important first, as the shards' queues order them: higher priority, then longer stuck.
    const due = [...reported.values()]
      .filter(({ summary, report }) => summary.publishedAt - report.since >= this.config.stuckAfterMs)
      .filter(({ report }) => (this.nextLookAt.get(report.id) ?? 0) <= now)
      .sort((a, b) => b.report.priority - a.report.priority || a.report.since - b.report.since);
    for (const { summary, report } of due) {
      if (!ticket.valid()) return;
      // Each relief reserves its room, so the next plan of this round sees it taken.
      const summaries = withReservations(published, this.reservations.values(), now);
      await this.relieve(summary, report, summaries, live, lentNodes, lends, now).catch((error: unknown) => {
        if (error instanceof RequestWithheld) throw error;
        this.log.warn({ group: report.id, err: String(error) }, "relief failed; will look again");
      });
    }
    for (const [id, at] of this.nextLookAt) if (at <= now && !reported.has(id)) this.nextLookAt.delete(id);
  }

  private async relieve(
    summary: CapacitySummary,
    report: StuckGroupReport,
    summaries: readonly CapacitySummary[],
    live: ReadonlySet<string>,
    lentNodes: Set<string>,
    lends: readonly Lend[],
    now: number,
  ): Promise<void> {
    // Plan from the members as last read (what placement reads of a pod never changes), so a
    // group the cluster cannot place yet costs no reads when it is looked at again; anything
    // that would act, or that looks stale, is judged again from a fresh read.
    let judged = this.judge(
      summary,
      report,
      await this.membersOf(report, "cached"),
      summaries,
      live,
      lentNodes,
    );
    if (!judged || judged.owner !== summary.shard || judged.plan.kind !== "none")
      judged = this.judge(summary, report, await this.membersOf(report, "fresh"), summaries, live, lentNodes);
    if (!judged) return;
    const { owner, recorded, infos, plan } = judged;
    // A report from a shard that no longer owns the group is stale: the new owner reports anew.
    if (owner !== summary.shard) {
      this.log.debug(
        { group: report.id, owner, reporter: summary.shard },
        "stale report; waiting for the owner's",
      );
      return;
    }
    if (infos.some((info) => info.nominatedNodeName !== undefined)) {
      // Its owner has won room for it by preemption since that report (a summary can be a few
      // seconds old when read): it waits for its victims to leave. Relieving it now would move
      // it away from the room they are freeing and waste the evictions; its owner gives the
      // nominations back (and reports it stuck again) if it cannot use them.
      this.log.debug({ group: report.id, owner }, "its owner is preempting for it; not relieved now");
      this.nextLookAt.set(report.id, now + Math.min(this.config.cooldownMs, 5_000));
      return;
    }
    const state = this.stuck.get(report.id);
    if (state) state.fittable = plan.kind !== "none" || plan.reason === "owner-fits";
    this.reportStuckGroups();
    if (plan.kind === "none") {
      // For reading a disagreement with the owner's own cycle or with what others see: where the
      // owner's summary says the group fits, or each shard's free cpu (millicores) as its summary
      // says and as the planner could use it for the group (nodes two summaries claim, and nodes
      // held for another group, left out). Computed only when it is logged.
      if (this.log.isLevelEnabled("debug")) {
        const seen =
          plan.reason === "owner-fits"
            ? { witness: plan.placements.map((p) => `${p.pod.name}@${p.nodeName}`) }
            : {
                freeCpu: Object.fromEntries(summaries.map((s) => [s.shard, freeCpu(s)])),
                usableCpu: usableFreeCpu(capacityView(summaries), report.id),
              };
        this.log.debug({ group: report.id, owner, reason: plan.reason, ...seen }, "no relief planned");
      }
      // Nothing in the cluster can place it now: do nothing, and look again once the summaries
      // had the time to change (from the members already read).
      if (plan.reason === "impossible") this.nextLookAt.set(report.id, now + this.config.stuckAfterMs);
      return;
    }
    if (plan.kind === "lend" && (await this.promisedSincePlanned(plan, report.id))) {
      // A lender's preemption won room on one of the nodes since its summary was read (a shard
      // publishes at once when that happens): the room is its preemptor's, not to be lent.
      this.log.debug({ group: report.id, owner }, "a node to lend was promised meanwhile; planning again");
      this.nextLookAt.set(report.id, now + this.config.intervalMs);
      return;
    }
    // A claim binds whoever leads next to its cooldown: only a provable leader makes one.
    if (!this.fence()()) return;
    const claim = await this.ledger.claim(
      {
        group: report.id,
        kind: plan.kind,
        to: plan.to,
        from: owner,
        nodes: plan.kind === "lend" ? plan.nodes.map((n) => n.node) : [],
        knownAttempts: recorded.attempts,
        knownAt: recorded.at,
      },
      now,
    );
    if (!claim.claimed) {
      this.log.debug(
        { group: report.id, kind: plan.kind, reason: claim.reason },
        "relief refused by the ledger",
      );
      this.metrics.refusals.inc({ reason: claim.reason });
      if (claim.reason === "exhausted") this.tellExhausted(infos, claim.attempts);
      if (
        claim.current?.kind === "handoff" &&
        infos.some(({ pod }) => ownerPinOf(pod)?.shard !== claim.current?.to)
      ) {
        // A handoff claimed, then interrupted before every pod was pinned: finish it.
        await this.pinPods(
          infos.map(({ pod }) => pod),
          {
            kind: "handoff",
            owner: claim.current.to,
            attempts: claim.attempts,
            at: recorded.at || now,
            epoch: this.ringEpoch,
          },
        );
      }
      this.nextLookAt.set(report.id, now + Math.min(this.config.cooldownMs, 5_000));
      return;
    }
    this.nextLookAt.set(report.id, now + this.config.stuckAfterMs);
    // Until the new owner had the time to place it and to publish that (or to report it stuck).
    this.reservations.set(report.id, { until: now + this.config.stuckAfterMs, placements: plan.placements });
    if (plan.kind === "lend") for (const { node } of plan.nodes) lentNodes.add(node);
    await this.carryOut(plan, report, infos, owner, claim.attempts, now);
    if (plan.to !== owner) {
      // Nodes lent to the old owner for this group would be held for it there, where it no longer is.
      for (const lend of lends)
        if (lend.group === report.id && lend.to !== plan.to)
          await this.returnLend(lend, "its group was handed off");
    }
  }

  /**
   * Whether a node the lend would take now holds room a preemption promised to another group, as
   * its shard's summary says when read again (the round's read may be older than that preemption).
   */
  private async promisedSincePlanned(
    plan: Extract<ReliefPlan, { kind: "lend" }>,
    group: string,
  ): Promise<boolean> {
    const lenders = [...new Set(plan.nodes.map(({ from }) => from))];
    const lent = new Set(plan.nodes.map(({ node }) => node));
    for (const summary of await this.readSummaries(lenders))
      for (const node of summary.nodes)
        if (lent.has(node.name) && promisedToAnother(node, group)) return true;
    return false;
  }

  /** The group's owner, its recorded relief and the plan for it; undefined when no member waits. */
  private judge(
    summary: CapacitySummary,
    report: StuckGroupReport,
    pods: readonly Pod[],
    summaries: readonly CapacitySummary[],
    live: ReadonlySet<string>,
    lentNodes: ReadonlySet<string>,
  ) {
    if (pods.length === 0) return undefined;
    const recorded = recordedRelief(pods);
    const infos = pods.map((pod) => toPodInfo(pod));
    // A group its reporter owns by feasibility-aware routing (its feasible nodes are the
    // reporter's) is the reporter's while the reporter works under the ring read here.
    const routedTo = report.routed && summary.epoch === this.ringEpoch ? summary.shard : undefined;
    const owner = groupOwner(this.ring.ownerOf(report.hashKey), groupPin(infos), live, routedTo);
    // What the members not read here imply (running ones), and the one priority the members
    // agree on, as the owner reported them (none lends its own).
    // The reporter's id and hash key: a PodGroup's ("podgroup:…") is not an annotation group's.
    const key = {
      ...groupKey(report.namespace, report.name, report.solo),
      id: report.id,
      hashKey: report.hashKey,
    };
    const group = pendingGroup(key, infos, [], undefined, 0, false, report);
    const plan: ReliefPlan =
      owner === summary.shard
        ? planRelief({
            group,
            owner,
            summaries,
            lentNodes,
            profile: this.config.profile,
            ...(report.feasibleElsewhere ? { feasibleElsewhere: report.feasibleElsewhere } : {}),
          })
        : { kind: "none", reason: "impossible" };
    return { owner, recorded, infos, plan };
  }

  private async carryOut(
    plan: Exclude<ReliefPlan, { kind: "none" }>,
    report: StuckGroupReport,
    members: readonly PodInfo[],
    owner: string,
    attempts: number,
    now: number,
  ): Promise<void> {
    const name = `${report.namespace}/${report.name}`;
    const count = `${members.length === 1 ? "the pod" : `all ${report.required} members`}`;
    const attempt = `attempt ${attempts} of ${this.config.maxAttempts}`;
    const how = plan.preempting ? " by preempting lower-priority groups" : "";
    let message: string;
    if (plan.kind === "handoff") {
      // Nodes first for a lend (below); for a handoff the pods are the whole change.
      await this.pinPods(
        members.map((m) => m.pod),
        { kind: "handoff", owner: plan.to, attempts, at: now, epoch: this.ringEpoch },
      );
      this.metrics.handoffs.inc({ mode: plan.preempting ? "preempt" : "free" });
      message = `pod group ${name} handed from shard ${owner} to shard ${plan.to} (${attempt}): ${owner} cannot place ${count}; ${plan.to} has room for them${how}`;
      this.log.info(
        { group: report.id, from: owner, to: plan.to, preempting: plan.preempting, attempts },
        "handed off",
      );
      for (const pod of members)
        this.events.record(pod.pod, "Normal", "HandedOff", message, undefined, this.fence());
      return;
    }
    for (const { node } of plan.nodes) {
      const lend: Lend = { node, to: plan.to, group: report.id, at: now };
      await this.client.must("PATCH", `/api/v1/nodes/${node}`, lendNodePatch(lend), mergePatch, this.fence());
    }
    // Pin the group to the borrower (its owner, or the shard it moves to with the lend): a ring
    // change must not move it away from the nodes lent for it.
    await this.pinPods(
      members.map((m) => m.pod),
      { kind: "lend", owner: plan.to, attempts, at: now, epoch: this.ringEpoch },
    );
    this.metrics.lends.inc({ mode: plan.preempting ? "preempt" : "free" }, plan.nodes.length);
    const wholeDomains = plan.domains
      ? `${domainWord(plan.domains.key)} ${plan.domains.values.join(", ")} whole: `
      : "";
    const lent = wholeDomains + plan.nodes.map((n) => `${n.node} (from ${n.from})`).join(", ");
    const moved = plan.to === owner ? "" : `, handed from shard ${owner}`;
    message = `no single shard can place ${count} of pod group ${name}; lent ${lent} to shard ${plan.to}, which schedules it${moved} (${attempt})${how ? `; room comes partly${how}` : ""}`;
    this.log.info(
      {
        group: report.id,
        to: plan.to,
        ...(plan.to === owner ? {} : { from: owner }),
        nodes: plan.nodes,
        ...(plan.domains ? { domains: plan.domains } : {}),
        preempting: plan.preempting,
        attempts,
      },
      "lent nodes",
    );
    for (const pod of members)
      this.events.record(pod.pod, "Normal", "NodesLent", message, undefined, this.fence());
  }

  /** Writes the Owner and Relief conditions on the members (pods/status). */
  private async pinPods(pods: readonly Pod[], relief: PodRelief) {
    const sendIf = this.fence();
    await Promise.all(
      pods.map(async (pod) => {
        const res = await this.client.call(
          "PATCH",
          `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`,
          podReliefPatch(relief),
          strategicMerge,
          sendIf,
        );
        // A member deleted meanwhile needs no override.
        if (res.status !== 200 && res.status !== 404)
          throw new Error(`pinning pod ${pod.metadata.namespace}/${pod.metadata.name}: HTTP ${res.status}`);
      }),
    );
  }

  private readonly exhaustedTold = new Set<string>();

  private tellExhausted(members: readonly PodInfo[], attempts: number): void {
    const id = members[0]?.group.id ?? "";
    if (this.exhaustedTold.has(id)) return;
    this.exhaustedTold.add(id);
    for (const pod of members)
      this.events.record(
        pod.pod,
        "Warning",
        "ReliefExhausted",
        `the coordinator moved this pod group ${attempts} time(s) and it is still not placed; it keeps trying, each wait twice as long as the last, up to ${Math.round(this.config.maxCooldownMs / 1000)}s`,
        undefined,
        this.fence(),
      );
  }

  /** Lent nodes whose group no longer uses them go back to the ring. */
  private async returnLends(
    lends: readonly Lend[],
    ring: RingObject,
    summaries: readonly CapacitySummary[],
    now: number,
  ): Promise<void> {
    const current = new Set(lends.map(lendIdOf));
    for (const id of this.lendsRunOn) if (!current.has(id)) this.lendsRunOn.delete(id);
    for (const lend of lends) {
      const podsOnNode = await this.client.must<{ items: Pod[] }>(
        "GET",
        `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${lend.node},status.phase!=Succeeded,status.phase!=Failed`)}`,
      );
      const groupPodsOnNode = podsOnNode.items.filter(
        (pod) => podGroupMembership(pod).group.id === lend.group,
      ).length;
      // Which lends their group was seen running on (kept by the leader; a new one waits the grace).
      const lendId = lendIdOf(lend);
      if (groupPodsOnNode > 0) this.lendsRunOn.add(lendId);
      const onBorrower = summaries
        .find((summary) => summary.shard === lend.to)
        ?.nodes.find((node) => node.name === lend.node);
      const state = {
        lentAt: lend.at,
        borrowerLive: ring.members.includes(lend.to),
        groupPodsOnNode,
        groupRanOnNode: this.lendsRunOn.has(lendId),
        promised: onBorrower?.nominatedFor !== undefined,
        groupPlaced: onBorrower?.lentFor === lend.group && onBorrower.lentForPlaced === true,
      };
      if (!shouldReturn(state, now, this.config.lendGraceMs)) continue;
      this.lendsRunOn.delete(lendId);
      await this.returnLend(lend, "its group no longer needs it");
    }
  }

  private async returnLend(lend: Lend, why: string): Promise<void> {
    const sendIf = this.fence();
    await this.client.must("PATCH", `/api/v1/nodes/${lend.node}`, returnNodePatch, mergePatch, sendIf);
    if (sendIf()) await this.ledger.releaseLend(lend.node).catch(() => undefined);
    this.metrics.returns.inc();
    this.log.info({ node: lend.node, from: lend.to, group: lend.group, why }, "returned a lent node");
  }

  /**
   * The condition a write of this round is sent under, asked right when it goes out: the
   * round's ticket still valid. Taken when the write is decided (an Event may go out later).
   */
  private fence(): () => boolean {
    const ticket = this.ticket;
    return () => {
      if (ticket?.valid()) return true;
      this.metrics.writesWithheld.inc();
      return false;
    };
  }

  private trackStuck(
    reported: ReadonlyMap<string, { summary: CapacitySummary; report: StuckGroupReport }>,
    now: number,
  ) {
    for (const [id, { summary, report }] of reported) {
      if (!this.stuck.has(id))
        this.stuck.set(id, { since: now - Math.max(0, summary.publishedAt - report.since), fittable: false });
    }
    for (const [id, { since }] of this.stuck) {
      if (reported.has(id)) continue;
      this.stuck.delete(id);
      this.metrics.stuckSeconds.observe((now - since) / 1000);
    }
    this.reportStuckGroups();
  }

  private reportStuckGroups(): void {
    this.metrics.stuckGroups.set(this.stuck.size);
    this.metrics.fittableGroups.set([...this.stuck.values()].filter((s) => s.fittable).length);
  }

  private async readRing(): Promise<RingObject | undefined> {
    const res = await this.client.call<Lease>(
      "GET",
      `/apis/coordination.k8s.io/v1/namespaces/${this.config.namespace}/leases/${ringLeaseName(this.config.schedulerName)}`,
    );
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET ring Lease: HTTP ${res.status}`);
    // A malformed ring: no round until the shards replace it.
    return this.invalidObjects.check(
      "ring-lease",
      `${this.config.namespace}/${ringLeaseName(this.config.schedulerName)}`,
      parseRingLease(res.body),
    );
  }

  private async readSummaries(members: readonly string[]): Promise<CapacitySummary[]> {
    if (members.length === 0) return [];
    const bodies = await this.redis.mget(
      members.map((member) => summaryKey(this.config.schedulerName, member)),
    );
    const summaries: CapacitySummary[] = [];
    bodies.forEach((body, i) => {
      const member = members[i] as string;
      const key = summaryKey(this.config.schedulerName, member);
      // A summary that cannot be read is skipped: the round plans with the others.
      const summary =
        body === null
          ? this.invalidObjects.valid("capacity-summary", key)
          : this.invalidObjects.check("capacity-summary", key, parseCapacitySummary(body, member));
      if (summary) summaries.push(summary);
    });
    return summaries;
  }

  private async readLends(): Promise<Lend[]> {
    const nodes = await this.client.must<{ items: Node[] }>(
      "GET",
      `/api/v1/nodes?labelSelector=${encodeURIComponent(lentToLabel)}`,
    );
    return nodes.items.flatMap((node) => lendOf(node) ?? []);
  }

  /**
   * The group's members that still wait for a node: "fresh" reads each from the API server,
   * "cached" reuses the last read of each (fresh ones for members not read before).
   */
  private async membersOf(report: StuckGroupReport, read: "fresh" | "cached"): Promise<Pod[]> {
    const pods = await Promise.all(
      report.members.map(async (name) => {
        const key = `${report.namespace}/${name}`;
        const cached = read === "cached" ? this.memberPods.get(key) : undefined;
        if (cached) return cached;
        const res = await this.client.call<Pod>("GET", `/api/v1/namespaces/${report.namespace}/pods/${name}`);
        if (res.status === 404) {
          this.memberPods.delete(key);
          return undefined;
        }
        if (res.status !== 200) throw new Error(`GET pod ${key}: HTTP ${res.status}`);
        this.memberPods.set(key, res.body);
        return res.body;
      }),
    );
    return pods.filter(
      (pod): pod is Pod =>
        pod !== undefined && !pod.spec.nodeName && pod.metadata.deletionTimestamp === undefined,
    );
  }
}

const lendIdOf = (lend: Lend): string => `${lend.node}/${lend.group}/${lend.at}`;
