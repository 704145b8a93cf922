/**
 * Writes core/v1 Events about pods (FailedScheduling, Scheduled, Preempted, …), best effort,
 * aggregated into series as kube-scheduler's event recorder does: events about the same pod with
 * the same type and reason are one series whatever their messages, so a pod retried every second
 * costs one Event, not one a second.
 *
 *   first occurrence            create the Event (count 1, its message is the series' message)
 *   second occurrence           patch the count (the series begins)
 *   later occurrences           counted locally; the count is written again at most once per
 *                               heartbeat interval (30 min, as kube-scheduler's series heartbeat)
 *   no occurrence for 6 min     the series is finished; the next occurrence starts a new Event
 *
 * The newest message of a pod stays readable on its PodScheduled condition; the Event keeps the
 * first. Messages are capped at 1024 characters, as the API's own event note limit.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Pod } from "../core/index.js";
import { type KubeClient, RequestWithheld } from "./kube-client.js";

export type EventType = "Normal" | "Warning";

/** The longest message written on a pod (Events and conditions alike). */
export const maxMessageLength = 1024;

/** Cuts a message to maxMessageLength characters, marking the cut. */
export function capMessage(message: string): string {
  return message.length > maxMessageLength ? `${message.slice(0, maxMessageLength - 3)}...` : message;
}

export interface SeriesTiming {
  /** A series with no occurrence for this long is finished (kube: 6 min). */
  finishAfterMs: number;
  /** A running series' count is written at most this often (kube: 30 min). */
  heartbeatMs: number;
}

export const defaultSeriesTiming: SeriesTiming = { finishAfterMs: 6 * 60_000, heartbeatMs: 30 * 60_000 };

interface Series {
  readonly namespace: string;
  /** The Event's name once its create was answered. */
  name: string | undefined;
  count: number;
  /** The count the API server has (or is being sent). */
  writtenCount: number;
  lastObservedAt: number;
  lastWrittenAt: number;
  /** A create or patch in flight: later occurrences wait for the next write. */
  writing: boolean;
}

/** At most this many series are remembered; the oldest finished ones go first. */
const maxSeries = 50_000;

export class EventRecorder {
  /** By pod (uid), then by type and reason. */
  private readonly series = new Map<string, Map<string, Series>>();
  private count = 0;

  constructor(
    private readonly client: Pick<KubeClient, "call">,
    private readonly component: string,
    private readonly instance: string,
    private readonly log: Logger,
    private readonly timing: SeriesTiming = defaultSeriesTiming,
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
    const podId = uid ?? `${namespace}/${name}`;
    const key = `${type}\u0000${reason}`;
    let ofPod = this.series.get(podId);
    const known = ofPod?.get(key);
    if (known && now - known.lastObservedAt < this.timing.finishAfterMs) {
      known.count++;
      known.lastObservedAt = now;
      const due = known.writtenCount === 1 || now - known.lastWrittenAt >= this.timing.heartbeatMs;
      if (due && !known.writing && known.name !== undefined) void this.patchCount(known, now, sendIf);
      return;
    }
    if (!known && this.count >= maxSeries) {
      this.prune(now);
      ofPod = this.series.get(podId);
    }
    const series: Series = {
      namespace,
      name: undefined,
      count: 1,
      writtenCount: 1,
      lastObservedAt: now,
      lastWrittenAt: now,
      writing: true,
    };
    if (!ofPod) {
      ofPod = new Map();
      this.series.set(podId, ofPod);
    }
    if (!known) this.count++;
    ofPod.set(key, series);
    const timestamp = new Date(now).toISOString();
    const event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { generateName: `${name}.`, namespace },
      involvedObject: { apiVersion: "v1", kind: "Pod", namespace, name, uid },
      type,
      reason,
      message: capMessage(message),
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.instance,
      firstTimestamp: timestamp,
      lastTimestamp: timestamp,
      count: 1,
    };
    void this.create(series, event, `${namespace}/${name}`, reason, sendIf).then((withheld) => {
      // Not sent (the writer lost the right to write): the next occurrence starts a series anew.
      if (withheld && ofPod?.get(key) === series) {
        ofPod.delete(key);
        this.count--;
      }
    });
  }

  /** Forgets a pod's series (the pod is gone or bound): memory stays bounded by live pods. */
  forget(pod: Pod): void {
    const { namespace, name, uid } = pod.metadata;
    const podId = uid ?? `${namespace}/${name}`;
    this.count -= this.series.get(podId)?.size ?? 0;
    this.series.delete(podId);
  }

  /** How many series are remembered. */
  get size(): number {
    return this.count;
  }

  /** True when the Event was withheld (sendIf said no). */
  private async create(
    series: Series,
    event: unknown,
    pod: string,
    reason: string,
    sendIf: (() => boolean) | undefined,
  ): Promise<boolean> {
    const outcome = await this.post(series, event, pod, reason, sendIf);
    series.writing = false;
    // Occurrences counted while the create was in flight are written now.
    if (outcome === "created" && series.count > series.writtenCount)
      void this.patchCount(series, Date.now(), sendIf);
    return outcome === "withheld";
  }

  /** One retry after a second for throttling, server errors and dropped connections. */
  private async post(
    series: Series,
    event: unknown,
    pod: string,
    reason: string,
    sendIf: (() => boolean) | undefined,
  ): Promise<"created" | "refused" | "withheld"> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt > 0) await sleep(1_000);
      try {
        const res = await this.client.call(
          "POST",
          `/api/v1/namespaces/${series.namespace}/events`,
          event,
          undefined,
          sendIf,
        );
        if (res.status < 300) {
          const name = (res.body as { metadata?: { name?: unknown } } | undefined)?.metadata?.name;
          series.name = typeof name === "string" ? name : undefined;
          return "created";
        }
        if (res.status === 404 || res.status === 403) {
          this.log.warn({ status: res.status, reason, pod }, "event not written");
          return "refused";
        }
        this.log.warn({ status: res.status, reason, pod, attempt }, "event not written");
      } catch (error) {
        if (error instanceof RequestWithheld) return "withheld";
        this.log.warn({ err: String(error), reason, pod, attempt }, "event not written");
      }
    }
    return "refused";
  }

  private async patchCount(series: Series, now: number, sendIf: (() => boolean) | undefined): Promise<void> {
    series.writing = true;
    const count = series.count;
    try {
      const res = await this.client.call(
        "PATCH",
        `/api/v1/namespaces/${series.namespace}/events/${series.name}`,
        { count, lastTimestamp: new Date(series.lastObservedAt).toISOString() },
        "application/merge-patch+json",
        sendIf,
      );
      if (res.status < 300) {
        series.writtenCount = count;
        series.lastWrittenAt = now;
      } else if (res.status === 404) {
        // The Event expired (the API server keeps Events for an hour): the next occurrence starts anew.
        series.lastObservedAt = Number.NEGATIVE_INFINITY;
      }
    } catch (error) {
      if (!(error instanceof RequestWithheld))
        this.log.warn({ err: String(error), event: series.name }, "event count not written");
    } finally {
      series.writing = false;
    }
  }

  private prune(now: number): void {
    for (const [podId, ofPod] of this.series) {
      for (const [key, series] of ofPod) {
        if (now - series.lastObservedAt < this.timing.finishAfterMs) continue;
        ofPod.delete(key);
        this.count--;
      }
      if (ofPod.size === 0) this.series.delete(podId);
    }
    // Still full (a burst of live pods): forget the oldest half; they start a new Event if they recur.
    for (const [podId, ofPod] of this.series) {
      if (this.count < maxSeries / 2) break;
      this.count -= ofPod.size;
      this.series.delete(podId);
    }
  }
}
