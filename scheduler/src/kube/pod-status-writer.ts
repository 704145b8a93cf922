/**
 * Tells users why a pod waits: PodScheduled=False with reason Unschedulable and a
 * kube-scheduler-style message, and status.nominatedNodeName for preemptors. A condition
 * already saying the same thing is not written again within the interval.
 */
import type { Logger } from "pino";
import type { Pod } from "../core/index.js";
import type { KubeClient } from "./kube-client.js";

const strategicMerge = "application/strategic-merge-patch+json";

export class PodStatusWriter {
  private readonly lastWritten = new Map<string, { message: string; at: number }>();

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly repeatIntervalMs = 60_000,
  ) {}

  /** Sets PodScheduled=False; returns without writing when the pod already says so. */
  async unschedulable(pod: Pod, message: string, now = Date.now()): Promise<void> {
    const key = pod.metadata.uid ?? `${pod.metadata.namespace}/${pod.metadata.name}`;
    const current = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
    const last = this.lastWritten.get(key);
    if (current?.status === "False" && current.message === message) return;
    if (last && last.message === message && now - last.at < this.repeatIntervalMs) return;
    this.lastWritten.set(key, { message, at: now });
    const patch = {
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
    await this.patchStatus(pod, patch);
  }

  /** Reserves the node won by preemption (kube-scheduler's nominatedNodeName); false when not written. */
  async nominate(pod: Pod, nodeName: string | null): Promise<boolean> {
    return this.patchStatus(pod, { status: { nominatedNodeName: nodeName } });
  }

  forget(uid: string): void {
    this.lastWritten.delete(uid);
  }

  /** True when the API server took the patch (or the pod is gone). */
  private async patchStatus(pod: Pod, patch: unknown): Promise<boolean> {
    const { namespace, name } = pod.metadata;
    try {
      const res = await this.client.call(
        "PATCH",
        `/api/v1/namespaces/${namespace}/pods/${name}/status`,
        patch,
        strategicMerge,
      );
      if (res.status >= 300 && res.status !== 404) {
        this.log.warn(
          { status: res.status, pod: `${namespace}/${name}`, body: res.body },
          "pod status not written",
        );
        return false;
      }
      return true;
    } catch (error) {
      this.log.warn({ err: String(error), pod: `${namespace}/${name}` }, "pod status not written");
      return false;
    }
  }
}
