/**
 * The owner overrides the coordinator writes on objects (durable in the API, visible with
 * kubectl), and how it reads them back. Shards read the Owner condition and `lent-for`; the
 * rest is the coordinator's own record, from which its Redis ledger can be rebuilt.
 *
 *   pod   condition sharded-scheduler.io/Owner    the shard that schedules the group (the
 *                                                 scheduler's contracts/owner-condition.ts)
 *         condition sharded-scheduler.io/Relief   reason HandedOff | NodesLent, message
 *                                                 "attempts=<n> at=<ms since the epoch>": the
 *                                                 handoffs and lends the group had, the last when
 *   node  sharded-scheduler.io/owner             the shard the node is lent to
 *         sharded-scheduler.io/lent-for          the pod group it was lent for (GroupKey.id); shards
 *                                                place only that group's pods on it (LentNode)
 *         sharded-scheduler.io/lent-at           when (ms since the epoch)
 *         label sharded-scheduler.io/lent-to     the shard, so lent nodes can be listed
 *
 * A pod's record is in status conditions, written through pods/status, because a pod's
 * annotations are its tenant's to edit: a tenant could otherwise choose its shard, or (after
 * Redis lost the ledger) reset its relief count to be handed off and lent nodes again and again,
 * lends whose room may come from preempting other tenants' pods. Tenants cannot write
 * pods/status (Kubernetes' edit and admin roles do not grant it) nor patch nodes.
 */
import {
  exactCount,
  lentAtAnnotation,
  lentForAnnotation,
  lentToLabel,
  nodeOwnerAnnotation,
  ownerCondition,
  ownerPinOf,
  reliefConditionType,
} from "@sharded-scheduler/scheduler/contracts";
import type { Node, Pod, PodCondition } from "@sharded-scheduler/scheduler/core";

export interface PodRelief {
  readonly kind: "handoff" | "lend";
  readonly owner: string;
  readonly attempts: number;
  readonly at: number;
  /** The ring epoch the coordinator read when it planned the relief. */
  readonly epoch: number;
}

/**
 * Pins a group's pod to a shard and records the relief: a strategic-merge patch of pods/status,
 * whose conditions merge by type (PodScheduled and the rest stay).
 */
export function podReliefPatch(relief: PodRelief): unknown {
  const reason = relief.kind === "handoff" ? "HandedOff" : "NodesLent";
  return {
    status: {
      conditions: [
        ownerCondition({ shard: relief.owner, reason, epoch: relief.epoch }, relief.at),
        {
          type: reliefConditionType,
          status: "True",
          reason,
          message: `attempts=${relief.attempts} at=${relief.at}`,
          lastTransitionTime: new Date(relief.at).toISOString(),
        },
      ],
    },
  };
}

/** What a group's pods say about earlier reliefs (the highest over its members). */
export function recordedRelief(pods: readonly Pod[]): {
  attempts: number;
  at: number;
  owner: string | undefined;
} {
  let attempts = 0;
  let at = 0;
  let owner: string | undefined;
  for (const pod of pods) {
    const relief = reliefOf(pod.status?.conditions?.find((c) => c.type === reliefConditionType));
    attempts = Math.max(attempts, relief.attempts);
    at = Math.max(at, relief.at);
    owner ??= ownerPinOf(pod)?.shard;
  }
  return { attempts, at, owner };
}

const reliefMessage = /^attempts=(\d{1,16}) at=(\d{1,16})$/;

/** A Relief condition's counts; none (zeros) when it is absent or malformed. */
function reliefOf(condition: PodCondition | undefined): { attempts: number; at: number } {
  const match = condition?.status === "True" ? reliefMessage.exec(condition.message ?? "") : null;
  return match ? { attempts: wholeNumber(match[1]), at: wholeNumber(match[2]) } : { attempts: 0, at: 0 };
}

export interface Lend {
  readonly node: string;
  readonly to: string;
  readonly group: string;
  readonly at: number;
}

export function lendNodePatch(lend: Lend): unknown {
  return {
    metadata: {
      labels: { [lentToLabel]: lend.to },
      annotations: {
        [nodeOwnerAnnotation]: lend.to,
        [lentForAnnotation]: lend.group,
        [lentAtAnnotation]: String(lend.at),
      },
    },
  };
}

/** Gives a node back: without the override, the ring decides its owner again. */
export const returnNodePatch: unknown = {
  metadata: {
    labels: { [lentToLabel]: null },
    annotations: { [nodeOwnerAnnotation]: null, [lentForAnnotation]: null, [lentAtAnnotation]: null },
  },
};

/** The lend a node records, if it is lent. */
export function lendOf(node: Node): Lend | undefined {
  const to = node.metadata.labels?.[lentToLabel];
  if (!to) return undefined;
  const annotations = node.metadata.annotations ?? {};
  return {
    node: node.metadata.name,
    to,
    group: annotations[lentForAnnotation] ?? "",
    at: wholeNumber(annotations[lentAtAnnotation]),
  };
}

/** A count or time the coordinator wrote; 0 for anything else (never a rounded number). */
function wholeNumber(text: string | undefined): number {
  const count = typeof text === "string" ? exactCount(text) : undefined;
  return count?.ok ? count.value : 0;
}
