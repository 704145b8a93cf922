/**
 * Writes core/v1 Events about pods (FailedScheduling, Scheduled, Preempted, …), best effort:
 * the same event for the same pod is written at most once per interval, so a pod retried
 * every second does not flood the API server.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Pod } from "../core/index.js";
import { type KubeClient, RequestWithheld } from "./kube-client.js";

export type EventType = "Normal" | "Warning";

export class EventRecorder {
  private readonly lastWritten = new Map<string, number>();

  constructor(
    private readonly client: KubeClient,
    private readonly component: string,
    private readonly instance: string,
    private readonly log: Logger,
    private readonly repeatIntervalMs = 60_000,
  ) {}

  /** sendIf: asked right when the Event goes out (see KubeClient.call); when false it is dropped. */
  record(
    pod: Pod,
    type: EventType,
    reason: string,
    message: string,
    now = Date.now(),
    sendIf?: () => boolean,
  ): void {
    const { namespace, name, uid } = pod.metadata;
    const dedupeKey = `${uid ?? `${namespace}/${name}`}\u0000${reason}\u0000${message}`;
    const last = this.lastWritten.get(dedupeKey);
    if (last !== undefined && now - last < this.repeatIntervalMs) return;
    this.lastWritten.set(dedupeKey, now);
    if (this.lastWritten.size > 50_000) this.prune(now);
    const timestamp = new Date(now).toISOString();
    const event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { generateName: `${name}.`, namespace },
      involvedObject: { apiVersion: "v1", kind: "Pod", namespace, name, uid },
      type,
      reason,
      message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.instance,
      firstTimestamp: timestamp,
      lastTimestamp: timestamp,
      count: 1,
    };
    void this.write(namespace, event, `${namespace}/${name}`, reason, sendIf);
  }

  /** One retry after a second for throttling, server errors and dropped connections. */
  private async write(
    namespace: string,
    event: unknown,
    pod: string,
    reason: string,
    sendIf: (() => boolean) | undefined,
  ): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt > 0) await sleep(1_000);
      try {
        const res = await this.client.call(
          "POST",
          `/api/v1/namespaces/${namespace}/events`,
          event,
          undefined,
          sendIf,
        );
        if (res.status < 300 || res.status === 404 || res.status === 403) {
          if (res.status >= 300) this.log.warn({ status: res.status, reason, pod }, "event not written");
          return;
        }
        this.log.warn({ status: res.status, reason, pod, attempt }, "event not written");
      } catch (error) {
        if (error instanceof RequestWithheld) return;
        this.log.warn({ err: String(error), reason, pod, attempt }, "event not written");
      }
    }
  }

  private prune(now: number): void {
    for (const [key, at] of this.lastWritten)
      if (now - at >= this.repeatIntervalMs) this.lastWritten.delete(key);
  }
}
