/**
 * What the demo shows while it runs (pure): the pods and Events of its namespace and the
 * status view of the shards in, a tally and the terminal's lines out.
 */
import type * as k8s from "@kubernetes/client-node";
import type { Scene } from "./scenes.js";

/** The demo's pods and Events, counted. */
export interface DemoTally {
  /** Pods that exist now. */
  pods: number;
  bound: number;
  pending: number;
  /** Pending pods whose PodScheduled condition says why they wait. */
  waitingWithReason: number;
  /** Bound pods per shard, from the shard that wrote the pod's Scheduled Event. */
  boundByShard: Map<string, number>;
  /** Handoffs and lends by the coordinator: one per act, not per member. */
  handoffs: number;
  lends: number;
  /** Pods evicted by preemption, and the groups that preempted them. */
  evictedPods: number;
  preemptors: number;
  /** The newest handoff, lend and preemption Events, newest first, one line each. */
  recent: string[];
}

const reliefReasons = new Set(["HandedOff", "NodesLent", "Preempted"]);

const eventTime = (event: k8s.CoreV1Event) =>
  Date.parse(
    String(
      event.series?.lastObservedTime ?? event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? "",
    ),
  ) || 0;

export function tallyDemo(pods: readonly k8s.V1Pod[], events: readonly k8s.CoreV1Event[]): DemoTally {
  const live = pods.filter((pod) => !pod.metadata?.deletionTimestamp);
  const isBound = (pod: k8s.V1Pod) => Boolean(pod.spec?.nodeName);
  const bound = live.filter(isBound);
  const pending = live.filter((pod) => !isBound(pod) && pod.status?.phase === "Pending");
  const waitingWithReason = pending.filter((pod) =>
    pod.status?.conditions?.some((c) => c.type === "PodScheduled" && c.status === "False" && c.reason),
  ).length;

  // The Scheduled Event of a pod's current binding: the newest one for its uid.
  const scheduledBy = new Map<string, { at: number; shard: string }>();
  const messagesOf = new Map<string, Set<string>>();
  const preemptors = new Set<string>();
  for (const event of events) {
    const reason = event.reason ?? "";
    if (reason === "Scheduled") {
      const uid = event.involvedObject?.uid ?? "";
      const at = eventTime(event);
      const shard = event.reportingInstance ?? "";
      if ((scheduledBy.get(uid)?.at ?? -1) <= at) scheduledBy.set(uid, { at, shard });
    } else if (reliefReasons.has(reason)) {
      // "Preempted by <namespace/group> (…)": the preemptor, whatever the victim.
      if (reason === "Preempted") preemptors.add(/^Preempted by (\S+)/.exec(event.message ?? "")?.[1] ?? "");
      const messages = messagesOf.get(reason) ?? new Set<string>();
      messages.add(event.message ?? "");
      messagesOf.set(reason, messages);
    }
  }
  const boundByShard = new Map<string, number>();
  for (const pod of bound) {
    const shard = scheduledBy.get(pod.metadata?.uid ?? "")?.shard;
    if (shard) boundByShard.set(shard, (boundByShard.get(shard) ?? 0) + 1);
  }
  const recent = events
    .filter((event) => reliefReasons.has(event.reason ?? ""))
    .sort((a, b) => eventTime(b) - eventTime(a))
    .filter(
      (event, i, sorted) => i === 0 || sorted[i - 1]?.message !== event.message, // one line per act
    )
    .slice(0, 3)
    .map((event) => `${event.reason}: ${event.message}`);
  return {
    pods: live.length,
    bound: bound.length,
    pending: pending.length,
    waitingWithReason,
    boundByShard,
    handoffs: messagesOf.get("HandedOff")?.size ?? 0,
    lends: messagesOf.get("NodesLent")?.size ?? 0,
    // One Preempted Event per victim pod; its message names the preemptor.
    evictedPods: countReason(events, "Preempted"),
    preemptors: preemptors.size,
    recent,
  };
}

/** Distinct pods with an Event of this reason. */
function countReason(events: readonly k8s.CoreV1Event[], reason: string): number {
  return new Set(events.filter((e) => e.reason === reason).map((e) => e.involvedObject?.uid)).size;
}

/**
 * Where a scene's bound pods sit: the racks of their nodes (nodes without a rack count as
 * "(none)") and the shards whose newest Scheduled Event bound them.
 */
export function placementOf(
  pods: readonly k8s.V1Pod[],
  events: readonly k8s.CoreV1Event[],
  rackOfNode: ReadonlyMap<string, string>,
): { racks: string[]; shards: string[] } {
  const scheduledBy = new Map<string, { at: number; shard: string }>();
  for (const event of events) {
    if (event.reason !== "Scheduled") continue;
    const uid = event.involvedObject?.uid ?? "";
    const at = eventTime(event);
    if ((scheduledBy.get(uid)?.at ?? -1) <= at)
      scheduledBy.set(uid, { at, shard: event.reportingInstance ?? "" });
  }
  const racks = new Set<string>();
  const shards = new Set<string>();
  for (const pod of pods) {
    const node = pod.spec?.nodeName;
    if (!node) continue;
    racks.add(rackOfNode.get(node) ?? "(none)");
    shards.add(scheduledBy.get(pod.metadata?.uid ?? "")?.shard ?? "(unknown)");
  }
  return { racks: [...racks].sort(), shards: [...shards].sort() };
}

/** One rack's row: its nodes and which shards own them under the current ring. */
export interface RackProgress {
  rack: string;
  nodes: number;
  /** Shard → nodes of the rack it owns, most first. */
  owners: readonly { shard: string; nodes: number }[];
}

/** Racks with their nodes' owners, racks by name; nodes without a rack are left out. */
export function rackRows(
  nodes: readonly { name: string; rack: string | undefined }[],
  ownerOf: (node: string) => string | undefined,
): RackProgress[] {
  const racks = new Map<string, Map<string, number>>();
  for (const node of nodes) {
    if (node.rack === undefined) continue;
    const owners = racks.get(node.rack) ?? new Map<string, number>();
    const owner = ownerOf(node.name) ?? "(no owner)";
    owners.set(owner, (owners.get(owner) ?? 0) + 1);
    racks.set(node.rack, owners);
  }
  return [...racks.entries()]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([rack, owners]) => ({
      rack,
      nodes: [...owners.values()].reduce((sum, n) => sum + n, 0),
      owners: [...owners.entries()]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([shard, count]) => ({ shard, nodes: count })),
    }));
}

const rackLine = (r: RackProgress) =>
  `${r.rack.padEnd(22)}${String(r.nodes).padStart(7)}  ${r.owners.map((o) => (o.nodes === r.nodes ? o.shard : `${o.shard} ${o.nodes}`)).join(" · ")}`;

/** One shard's row: what it owns and does. */
export interface ShardProgress {
  shard: string;
  ownedNodes: number;
  pendingGroups: number;
}

export interface ShardsView {
  shards: readonly ShardProgress[];
  leader: string | undefined;
  /** The racks and their owners, when the nodes are labelled in racks. */
  racks?: readonly RackProgress[];
}

/**
 * Whether the ring is what the scenes are sized from: every shard live and owning nodes; with
 * racks, every rack listed with one owner, and each shard's own count of its nodes (its status)
 * the same as the racks the ring Lease gives it — the shards may still report a first ring that
 * hashed node by node while the Lease already lists whole racks, or the racks may not be readable.
 */
export function ringSettledForScenes(view: ShardsView, shards: number, racked: boolean): boolean {
  if (view.shards.length !== shards || !view.shards.every((s) => s.ownedNodes > 0)) return false;
  if (!racked) return true;
  const racks = view.racks ?? [];
  if (racks.length === 0 || !racks.every((rack) => rack.owners.length === 1)) return false;
  return view.shards.every(
    (s) =>
      s.ownedNodes ===
      racks.filter((rack) => rack.owners[0]?.shard === s.shard).reduce((sum, rack) => sum + rack.nodes, 0),
  );
}

export interface SceneOutcome {
  scene: Scene;
  seconds: number;
  /** Whether it ended as it should (bound, or settled) before its time was up. */
  completed: boolean;
  bound: number;
  /** For a one-rack scene: the racks and shards its bound pods ended in. */
  placement?: { racks: string[]; shards: string[] };
}

export interface DemoOutcome {
  scenes: SceneOutcome[];
  tally: DemoTally;
  shards: ShardsView;
  /** Pods still pending at the end, with the reason the scheduler gave. */
  waiting: { pod: string; group: string | undefined; message: string }[];
  seconds: number;
}

export interface DemoView {
  scene: { number: number; of: number; title: string };
  elapsedSeconds: number;
  /** Pods the demo created so far, and will have created after its last scene. */
  submitted: number;
  planned: number;
  tally: DemoTally;
  shards: readonly ShardProgress[];
  leader: string | undefined;
  racks?: readonly RackProgress[];
}

/** A bar of width cells, filled to the fraction (clamped to 0..1). */
export function progressBar(fraction: number, width: number): string {
  const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(clamped * width);
  return `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
}

/** The share of all the demo's pods that are settled: bound, evicted, or told why they wait. */
export function demoProgress(view: DemoView): number {
  const { tally } = view;
  const settled = tally.bound + tally.waitingWithReason + tally.evictedPods;
  return view.planned === 0 ? 0 : Math.min(1, settled / view.planned);
}

const clock = (seconds: number) =>
  `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(Math.floor(seconds % 60)).padStart(2, "0")}`;

/** The live block a terminal redraws in place. */
export function renderFrame(view: DemoView, columns = 100): string[] {
  const { tally } = view;
  const cut = (line: string) => (line.length > columns ? `${line.slice(0, columns - 1)}…` : line);
  const lines = [
    `sharded-scheduler demo  ${clock(view.elapsedSeconds)}  ${progressBar(demoProgress(view), 30)} ${Math.round(demoProgress(view) * 100)}%`,
    `scene ${view.scene.number}/${view.scene.of}: ${view.scene.title}`,
    "",
    `pods: ${view.submitted} submitted · ${tally.bound} bound · ${tally.pending} pending · ${tally.evictedPods} evicted`,
    "",
    `${"shard".padEnd(22)}${"nodes".padStart(7)}${"pending groups".padStart(16)}${"bound pods".padStart(12)}`,
    ...view.shards.map(
      (s) =>
        `${s.shard.padEnd(22)}${String(s.ownedNodes).padStart(7)}${String(s.pendingGroups).padStart(16)}${String(tally.boundByShard.get(s.shard) ?? 0).padStart(12)}`,
    ),
    ...((view.racks?.length ?? 0) > 0
      ? ["", `${"rack".padEnd(22)}${"nodes".padStart(7)}  owned by`, ...(view.racks ?? []).map(rackLine)]
      : []),
    "",
    `coordinator ${view.leader ?? "(no leader)"} · handoffs ${tally.handoffs} · lends ${tally.lends} · preemptions ${tally.preemptors} (${tally.evictedPods} pods evicted)`,
    ...tally.recent.map((line) => `  ${line}`),
  ];
  return lines.map(cut);
}

/** One line for logs and pipes, where nothing is redrawn. */
export function renderPlainLine(view: DemoView): string {
  const { tally } = view;
  const shards = view.shards
    .map(
      (s) =>
        `${s.shard}: ${s.ownedNodes} nodes, ${s.pendingGroups} pending groups, ${tally.boundByShard.get(s.shard) ?? 0} bound`,
    )
    .join("; ");
  return `[demo ${clock(view.elapsedSeconds)}] scene ${view.scene.number}/${view.scene.of} · ${Math.round(demoProgress(view) * 100)}% · ${tally.bound}/${view.submitted} bound, ${tally.pending} pending, ${tally.evictedPods} evicted · handoffs ${tally.handoffs}, lends ${tally.lends}, preemptions ${tally.preemptors} · ${shards}`;
}

/** What the demo did, after its last scene. */
export function renderSummary(outcome: DemoOutcome): string[] {
  const { tally } = outcome;
  const lines = [
    `sharded-scheduler demo: ${outcome.scenes.filter((s) => s.completed).length} of ${outcome.scenes.length} scenes as expected, in ${outcome.seconds} s`,
    "",
  ];
  for (const [i, { scene, seconds, completed, bound, placement }] of outcome.scenes.entries()) {
    const shown =
      scene.shows === "relief"
        ? ", moved by the coordinator"
        : scene.shows === "preemption"
          ? ", by preemption"
          : scene.shows === "one-rack"
            ? ", in one rack by one shard"
            : "";
    const result = completed
      ? scene.until === "bound"
        ? `all ${scene.pods.length} pods bound${shown}`
        : `${bound} of ${scene.pods.length} pods bound, the rest told why they wait`
      : `NOT as expected: ${bound} of ${scene.pods.length} pods bound${shown ? ` (expected${shown.slice(1)})` : ""} when its time was up`;
    const where = placement
      ? `; racks ${placement.racks.join(", ") || "none"}, bound by ${placement.shards.join(", ") || "no shard"}`
      : "";
    lines.push(`  ${i + 1}. ${scene.title}`, `     ${result} (${seconds} s${where})`);
  }
  lines.push(
    "",
    `pods: ${tally.bound} bound, ${tally.pending} pending, ${tally.evictedPods} evicted by preemption`,
    `coordinator (${outcome.shards.leader ?? "no leader"}): ${tally.handoffs} handoffs, ${tally.lends} lends; preemptions: ${tally.preemptors}`,
  );
  for (const s of outcome.shards.shards)
    lines.push(
      `  ${s.shard}: owns ${s.ownedNodes} nodes, bound ${tally.boundByShard.get(s.shard) ?? 0} pods, ${s.pendingGroups} groups pending`,
    );
  for (const r of outcome.shards.racks ?? []) lines.push(`  ${rackLine(r).replace(/ +/g, " ")}`);
  const groups = new Map<string, { pods: number; message: string }>();
  for (const { pod, group, message } of outcome.waiting) {
    const key = group ?? pod;
    groups.set(key, { pods: (groups.get(key)?.pods ?? 0) + 1, message });
  }
  if (groups.size > 0) lines.push("", "still waiting, and why (the pods' PodScheduled condition):");
  for (const [group, { pods, message }] of groups)
    lines.push(`  ${group} (${pods} pod${pods === 1 ? "" : "s"}): ${message}`);
  return lines;
}
