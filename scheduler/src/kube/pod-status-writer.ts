/**
 * What a shard writes on pending pods. It tells users why a pod waits: PodScheduled=False with
 * reason Unschedulable and a kube-scheduler-style message, and status.nominatedNodeName for
 * preemptors (a condition already saying the same thing is not written again within the
 * interval); and it pins a preempting group to the shard with the Owner condition.
 * A pod's writes reach the API server one after another, in the order they were made: sent
 * side by side over several connections, an older message could land last and stay.
 */
import type { Logger } from "pino";
import { ownerCondition } from "../contracts/owner-condition.js";
import type { Pod } from "../core/index.js";
import { capMessage } from "./event-recorder.js";
import type { KubeClient } from "./kube-client.js";
import { OrderedWrites } from "./ordered-writes.js";

const strategicMerge = "application/strategic-merge-patch+json";

/** At most this many pods' last messages are remembered; the oldest go first. */
const maxRemembered = 50_000;

export class PodStatusWriter {
  private readonly lastWritten = new Map<string, { message: string; at: number }>();
  /** Each pod's writes (by uid), one after another. */
  private readonly writes = new OrderedWrites();

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly repeatIntervalMs = 60_000,
  ) {}

  /** Sets PodScheduled=False; returns without writing when the pod already says so. */
  async unschedulable(pod: Pod, fullMessage: string, now = Date.now()): Promise<void> {
    const message = capMessage(fullMessage);
    const key = podKey(pod);
    const current = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
    const last = this.lastWritten.get(key);
    if (current?.status === "False" && current.message === message) return;
    if (last && last.message === message && now - last.at < this.repeatIntervalMs) return;
    const written = { message, at: now };
    if (this.lastWritten.size >= maxRemembered) this.prune(now);
    this.lastWritten.set(key, written);
    // Sent only onto the pod as the cycle saw it (resourceVersion as the patch's precondition):
    // a pod bound since (by this shard, another, or while this replica was stalled) answers 409
    // and keeps its PodScheduled=True; the next cycle reads it afresh.
    const resourceVersion = pod.metadata.resourceVersion;
    const patch = {
      ...(resourceVersion ? { metadata: { resourceVersion } } : {}),
      status: {
        conditions: [
          {
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            message,
            lastTransitionTime: new Date(now).toISOString(),
          },
        ],
      },
    };
    // Not written: the next attempt must not be skipped as a repeat.
    if (!(await this.patchStatus(pod, patch)) && this.lastWritten.get(key) === written)
      this.lastWritten.delete(key);
  }

  /** Reserves the node won by preemption (kube-scheduler's nominatedNodeName); false when not written. */
  async nominate(pod: Pod, nodeName: string | null): Promise<boolean> {
    return this.patchStatus(pod, { status: { nominatedNodeName: nodeName } });
  }

  /**
   * Names the shard in the pod's Owner condition (as the coordinator's handoff does): the group
   * stays with that shard while it lives, whatever the ring does. False when not written.
   */
  async pinOwner(pod: Pod, shard: string, epoch: number, now = Date.now()): Promise<boolean> {
    const condition = ownerCondition({ shard, reason: "Preempting", epoch }, now);
    return this.patchStatus(pod, { status: { conditions: [condition] } });
  }

  /**
   * Resolves once the pod's writes queued so far are answered. A bind waits for it: a
   * PodScheduled=False still in flight would otherwise land after the bind and stay on a bound pod.
   */
  settled(pod: Pod): Promise<void> {
    return this.writes.settled(podKey(pod));
  }

  /** Forgets what was written on a pod (it is gone or bound): memory stays bounded by pending pods. */
  forget(pod: Pod): void {
    this.lastWritten.delete(podKey(pod));
  }

  /** How many pods' last messages are remembered. */
  get size(): number {
    return this.lastWritten.size;
  }

  private prune(now: number): void {
    for (const [key, { at }] of this.lastWritten)
      if (now - at >= this.repeatIntervalMs) this.lastWritten.delete(key);
    for (const key of this.lastWritten.keys()) {
      if (this.lastWritten.size < maxRemembered / 2) break;
      this.lastWritten.delete(key);
    }
  }

  private patchStatus(pod: Pod, patch: unknown): Promise<boolean> {
    return this.patch(pod, "/status", patch, strategicMerge);
  }

  /** Queues the patch behind the pod's earlier writes; true when the API server took it (or the pod is gone). */
  private patch(pod: Pod, subresource: string, patch: unknown, contentType: string): Promise<boolean> {
    return this.writes.after(podKey(pod), () => this.send(pod, subresource, patch, contentType));
  }

  private async send(pod: Pod, subresource: string, patch: unknown, contentType: string): Promise<boolean> {
    const { namespace, name } = pod.metadata;
    try {
      const res = await this.client.call(
        "PATCH",
        `/api/v1/namespaces/${namespace}/pods/${name}${subresource}`,
        patch,
        contentType,
      );
      if (res.status === 409) {
        this.log.debug({ pod: `${namespace}/${name}` }, "pod changed since it was read; not patched");
        return false;
      }
      if (res.status >= 300 && res.status !== 404) {
        this.log.warn({ status: res.status, pod: `${namespace}/${name}`, body: res.body }, "pod not patched");
        return false;
      }
      return true;
    } catch (error) {
      this.log.warn({ err: String(error), pod: `${namespace}/${name}` }, "pod not patched");
      return false;
    }
  }
}

function podKey(pod: Pod): string {
  return pod.metadata.uid ?? `${pod.metadata.namespace}/${pod.metadata.name}`;
}
