/**
 * What the owning shard writes on a native PodGroup (scheduling.k8s.io/v1beta1): its
 * PodGroupInitiallyScheduled condition (core/gang initiallyScheduledUpdate decides what, and
 * that True is terminal). One write per group, never per member: a condition the PodGroup
 * already has, or that this writer sent within the interval, is not sent again; a group told
 * True is never written again. A group's writes reach the API server one after another.
 *
 * On a victim PodGroup, before its members are evicted: DisruptionTarget (True, reason
 * PreemptionByScheduler, the message naming the preemptor), once per victim group and preemption.
 */
import type { Logger } from "pino";
import { initiallyScheduledUpdate, type PodGroupObject } from "../core/index.js";
import { capMessage } from "./event-recorder.js";
import type { KubeClient } from "./kube-client.js";
import { OrderedWrites } from "./ordered-writes.js";

const strategicMerge = "application/strategic-merge-patch+json";

export const disruptionTargetCondition = "DisruptionTarget";
/** kube-scheduler's reason on the pods it preempts; ours on the PodGroup too. */
export const preemptionByScheduler = "PreemptionByScheduler";

/** The DisruptionTarget message: who preempts (kube-scheduler's pod text, naming the group). */
export function disruptionTargetMessage(schedulerName: string, preemptor: string): string {
  return `${schedulerName}: preempting to accommodate a higher priority group ${preemptor}`;
}

/** At most this many groups' last writes are remembered; the oldest go first. */
const maxRemembered = 10_000;

export class PodGroupStatusWriter {
  private readonly lastWritten = new Map<string, { status: string; message: string; at: number }>();
  /** Each PodGroup's writes (by uid), one after another. */
  private readonly writes = new OrderedWrites();

  constructor(
    private readonly client: Pick<KubeClient, "call">,
    private readonly log: Logger,
    private readonly repeatIntervalMs = 60_000,
  ) {}

  /**
   * Makes the PodGroup say it is scheduled (minCount members bound) or unschedulable (why);
   * `podGroup` is the watch's latest version of it. Resolves false when a write was refused.
   */
  async initiallyScheduled(
    podGroup: PodGroupObject,
    scheduled: boolean,
    fullMessage: string,
    now = Date.now(),
  ): Promise<boolean> {
    const condition = initiallyScheduledUpdate(podGroup, scheduled, capMessage(fullMessage));
    if (condition === undefined) return true;
    const { namespace = "", name, uid } = podGroup.metadata;
    const key = uid ?? `${namespace}/${name}`;
    const last = this.lastWritten.get(key);
    if (last?.status === "True") return true;
    if (
      last &&
      last.status === condition.status &&
      last.message === condition.message &&
      now - last.at < this.repeatIntervalMs
    )
      return true;
    if (this.lastWritten.size >= maxRemembered)
      this.lastWritten.delete(this.lastWritten.keys().next().value as string);
    const written = { status: condition.status, message: condition.message, at: now };
    this.lastWritten.set(key, written);
    const patch = {
      status: { conditions: [{ ...condition, lastTransitionTime: new Date(now).toISOString() }] },
    };
    const ok = await this.writes.after(key, () => this.send(namespace, name, patch));
    // Not written: the next attempt must not be skipped as a repeat.
    if (!ok && this.lastWritten.get(key) === written) this.lastWritten.delete(key);
    return ok;
  }

  /**
   * Marks the victim PodGroup DisruptionTarget before its members are evicted. Not sent when it
   * already says so with this message (the same preemptor trying again). Resolves false when the
   * write was refused: the caller then evicts nothing of that group.
   */
  async disruptionTarget(podGroup: PodGroupObject, message: string, now = Date.now()): Promise<boolean> {
    const capped = capMessage(message);
    const conditions = (podGroup as { status?: { conditions?: unknown } }).status?.conditions;
    const current = Array.isArray(conditions)
      ? (conditions as { type?: unknown; status?: unknown; message?: unknown }[]).find(
          (c) => c?.type === disruptionTargetCondition,
        )
      : undefined;
    if (current?.status === "True" && current.message === capped) return true;
    const { namespace = "", name, uid } = podGroup.metadata;
    const key = uid ?? `${namespace}/${name}`;
    const patch = {
      status: {
        conditions: [
          {
            type: disruptionTargetCondition,
            status: "True",
            reason: preemptionByScheduler,
            message: capped,
            lastTransitionTime: new Date(now).toISOString(),
          },
        ],
      },
    };
    return this.writes.after(key, () => this.send(namespace, name, patch));
  }

  private send(namespace: string, name: string, patch: unknown): Promise<boolean> {
    const path = `/apis/scheduling.k8s.io/v1beta1/namespaces/${namespace}/podgroups/${name}/status`;
    return patchPodGroupStatus(this.client, this.log, path, patch, strategicMerge);
  }
}

/**
 * PATCHes a PodGroup's status subresource (native or CRD): true when written or the PodGroup is
 * gone (404: nothing left to tell), false when refused or unanswered (logged).
 */
export async function patchPodGroupStatus(
  client: Pick<KubeClient, "call">,
  log: Logger,
  path: string,
  patch: unknown,
  contentType: string,
): Promise<boolean> {
  try {
    const res = await client.call("PATCH", path, patch, contentType);
    if (res.status >= 300 && res.status !== 404) {
      log.warn({ status: res.status, path, body: res.body }, "PodGroup status not patched");
      return false;
    }
    return true;
  } catch (error) {
    log.warn({ err: String(error), path }, "PodGroup status not patched");
    return false;
  }
}
