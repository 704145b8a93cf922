/**
 * The owner overrides the coordinator writes on objects (durable in the API, visible with
 * kubectl), and how it reads them back. Shards read `sharded-scheduler.io/owner` and `lent-for`;
 * the rest is the coordinator's own record, from which its Redis ledger can be rebuilt.
 *
 *   pod   sharded-scheduler.io/owner             the shard that schedules the group
 *         sharded-scheduler.io/relief-attempts   handoffs and lends the group had
 *         sharded-scheduler.io/relief-at         when the last one was (ms since the epoch)
 *   node  sharded-scheduler.io/owner             the shard the node is lent to
 *         sharded-scheduler.io/lent-for          the pod group it was lent for (GroupKey.id); shards
 *                                                place only that group's pods on it (LentNode)
 *         sharded-scheduler.io/lent-at           when (ms since the epoch)
 *         label sharded-scheduler.io/lent-to     the shard, so lent nodes can be listed
 */
import { lentForAnnotation, type Node, type Pod } from "@sharded-scheduler/scheduler/core";
import { exactCount } from "@sharded-scheduler/scheduler/kube";
import { nodeOwnerAnnotation, podOwnerAnnotation } from "@sharded-scheduler/scheduler/sharding";

export const reliefAttemptsAnnotation = "sharded-scheduler.io/relief-attempts";
export const reliefAtAnnotation = "sharded-scheduler.io/relief-at";
export const lentAtAnnotation = "sharded-scheduler.io/lent-at";
export const lentToLabel = "sharded-scheduler.io/lent-to";

export interface PodRelief {
  readonly owner: string;
  readonly attempts: number;
  readonly at: number;
}

/** Pins a group's pod to a shard and records the relief. */
export function podReliefPatch(relief: PodRelief): unknown {
  return {
    metadata: {
      annotations: {
        [podOwnerAnnotation]: relief.owner,
        [reliefAttemptsAnnotation]: String(relief.attempts),
        [reliefAtAnnotation]: String(relief.at),
      },
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
    const annotations = pod.metadata.annotations ?? {};
    attempts = Math.max(attempts, wholeNumber(annotations[reliefAttemptsAnnotation]));
    at = Math.max(at, wholeNumber(annotations[reliefAtAnnotation]));
    owner ??= annotations[podOwnerAnnotation];
  }
  return { attempts, at, owner };
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
