/**
 * Writes events.k8s.io/v1 Events about pods and native PodGroups (FailedScheduling, Scheduled,
 * Preempted, …), best effort, aggregated into series as client-go's events broadcaster
 * (tools/events, kube-scheduler's recorder) does: events about the same object from the same
 * reporter with the same type, reason and action are one series whatever their notes, so a pod
 * retried every second costs one Event.
 *
 *   first occurrence            create the Event (its note is the first occurrence's)
 *   second occurrence           patch series {count: 2, lastObservedTime}: the series begins
 *   later occurrences           counted locally; a running series is written every heartbeat
 *                               (30 min, which also renews the Event's TTL)
 *   no occurrence for 6 min     the series is finished: its final count is written, and the next
 *                               occurrence starts a new Event (as is an object forgotten, once bound)
 *   a patch answered 404        the Event expired: created again, series and all
 *
 * Readers of core/v1 see the same Events, the count under series.count (kubectl's COUNT column).
 * The newest message of a pod stays readable on its PodScheduled condition; the Event keeps the
 * first. Notes are capped at 1024 characters, the API's limit.
 * Events are created in protobuf, as kube-scheduler creates them (the API server decodes them for
 * less); the series patches stay JSON merge patches.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Pod, PodGroupObject } from "../core/index.js";

import { type KubeClient, RequestWithheld } from "./kube-client.js";
import { type EventObject, encodeEvent, protobufContentType } from "./protobuf.js";

export type EventType = "Normal" | "Warning";

/** A native PodGroup as the object an Event regards (podGroupSubject). */
export interface PodGroupSubject {
  readonly kind: "PodGroup";
  readonly metadata: { readonly namespace: string; readonly name: string; readonly uid?: string };
}

/** What an Event is about: a pod, or a native PodGroup (scheduling.k8s.io/v1beta1). */
export type EventSubject = Pod | PodGroupSubject;

/** A native PodGroup as an Event's subject; the namespace is the group's (a watched object may omit it). */
export function podGroupSubject(podGroup: PodGroupObject, namespace: string): PodGroupSubject {
  const { name, uid } = podGroup.metadata;
  return { kind: "PodGroup", metadata: { namespace, name, ...(uid ? { uid } : {}) } };
}

/** The Event's regarding: the object reference of its subject. */
function regardingOf(subject: EventSubject): Regarding {
  const { namespace, name, uid } = subject.metadata;
  // A pod from a watch carries kind "Pod" too: only "PodGroup" makes a PodGroup's reference.
  const kind =
    "kind" in subject && subject.kind === "PodGroup"
      ? ({ apiVersion: "scheduling.k8s.io/v1beta1", kind: "PodGroup" } as const)
      : ({ apiVersion: "v1", kind: "Pod" } as const);
  return { ...kind, namespace, name, ...(uid ? { uid } : {}) };
}

type Regarding = {
  apiVersion: "v1" | "scheduling.k8s.io/v1beta1";
  kind: "Pod" | "PodGroup";
  namespace: string;
  name: string;
  uid?: string;
};

/** The longest message written on a pod (Events and conditions alike). */
export const maxMessageLength = 1024;

/** Cuts a message to maxMessageLength characters, marking the cut. */
export function capMessage(message: string): string {
  return message.length > maxMessageLength ? `${message.slice(0, maxMessageLength - 3)}...` : message;
}

/**
 * What the reporter was doing when it told each reason (the Event's action), as kube-scheduler
 * pairs them: FailedScheduling while Scheduling, Scheduled while Binding, Preempted while Preempting.
 */
export const eventActions: Readonly<Record<string, string>> = {
  FailedScheduling: "Scheduling",
  InvalidPodGroup: "Scheduling",
  Scheduled: "Binding",
  Preempted: "Preempting",
  GangRollback: "RollingBack",
  PartialGang: "RollingBack",
  HandedOff: "HandingOff",
  NodesLent: "LendingNodes",
  ReliefExhausted: "Relieving",
};

export interface SeriesTiming {
  /** A series with no occurrence for this long is finished (kube: 6 min). */
  finishAfterMs: number;
  /** A running series is written this often (kube: 30 min). */
  heartbeatMs: number;
}

export const defaultSeriesTiming: SeriesTiming = { finishAfterMs: 6 * 60_000, heartbeatMs: 30 * 60_000 };

interface Series {
  readonly namespace: string;
  /** The Event's name, chosen by us (as client-go does): a retried create cannot duplicate it. */
  readonly name: string;
  /** The Event as created, for creating it again (series and all) if it expired. */
  readonly event: EventBody;
  /** Whether the API server has the Event (its create was answered). */
  created: boolean;
  count: number;
  /** The count the API server has (or is being sent). */
  writtenCount: number;
  lastObservedAt: number;
  lastWrittenAt: number;
  /** A create or patch in flight: later occurrences wait for the next write. */
  writing: boolean;
  /** The newest occurrence's condition for sending (a fence), asked by every write. */
  sendIf: (() => boolean) | undefined;
}

/** The Event as the recorder writes it (the protobuf envelope names its kind and version). */
type EventBody = EventObject & { regarding: Regarding; type: EventType };

/** At most this many series are remembered; the oldest finished ones go first. */
const maxSeries = 50_000;

/** A MicroTime: RFC 3339 with exactly six fractional digits (the API rejects fewer). */
export function microTime(ms: number): string {
  // toISOString ends in milliseconds and "Z" (".sssZ"): three more zeros make microseconds.
  return `${new Date(ms).toISOString().slice(0, -1)}000Z`;
}

/** The Event's name: its subject's, then the time in hex nanoseconds (as client-go's), randomised below the ms. */
function eventName(subjectName: string, now: number): string {
  const nanos = BigInt(Math.floor(now)) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000));
  const suffix = `.${nanos.toString(16)}`;
  return `${subjectName.slice(0, 253 - suffix.length)}${suffix}`;
}

/** The key of a subject's series: its uid, else its kind, namespace and name. */
function subjectKeyOf(regarding: Regarding): string {
  return regarding.uid ?? `${regarding.kind}/${regarding.namespace}/${regarding.name}`;
}

export class EventRecorder {
  /** By subject (subjectKeyOf), then by type, reason and action. */
  private readonly series = new Map<string, Map<string, Series>>();
  private count = 0;
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly client: Pick<KubeClient, "call">,
    private readonly reportingController: string,
    private readonly reportingInstance: string,
    private readonly log: Logger,
    private readonly timing: SeriesTiming = defaultSeriesTiming,
  ) {}

  /** sendIf: asked right when the Event goes out (see KubeClient.call); when false it is dropped. */
  record(
    subject: EventSubject,
    type: EventType,
    reason: string,
    message: string,
    now = Date.now(),
    sendIf?: () => boolean,
  ): void {
    const regarding = regardingOf(subject);
    const { namespace, name } = regarding;
    const subjectKey = subjectKeyOf(regarding);
    const action = eventActions[reason] ?? "Scheduling";
    const key = `${type}\u0000${reason}\u0000${action}`;
    let ofSubject = this.series.get(subjectKey);
    const known = ofSubject?.get(key);
    if (known && now - known.lastObservedAt < this.timing.finishAfterMs) {
      known.count++;
      known.lastObservedAt = now;
      known.sendIf = sendIf;
      // The second occurrence begins the series on the server; later ones wait for a heartbeat.
      if (known.writtenCount === 1 && known.created && !known.writing) void this.writeSeries(known, now);
      return;
    }
    if (known) this.finish(known, now);
    if (!known && this.count >= maxSeries) {
      this.prune(now);
      ofSubject = this.series.get(subjectKey);
    }
    const event: EventBody = {
      metadata: { name: eventName(name, now), namespace },
      eventTime: microTime(now),
      reportingController: this.reportingController,
      reportingInstance: this.reportingInstance,
      action,
      reason,
      note: capMessage(message),
      regarding,
      type,
    };
    const series: Series = {
      namespace,
      name: event.metadata.name,
      event,
      created: false,
      count: 1,
      writtenCount: 1,
      lastObservedAt: now,
      lastWrittenAt: now,
      writing: true,
      sendIf,
    };
    if (!ofSubject) {
      ofSubject = new Map();
      this.series.set(subjectKey, ofSubject);
    }
    if (!known) this.count++;
    ofSubject.set(key, series);
    this.startSweeping();
    void this.create(series, `${namespace}/${name}`).then((withheld) => {
      // Not sent (the writer lost the right to write): the next occurrence starts a series anew.
      if (withheld && ofSubject?.get(key) === series) {
        ofSubject.delete(key);
        this.count--;
      }
    });
  }

  /** Forgets a subject's series (the pod or group is gone or bound), writing their final counts first. */
  forget(subject: EventSubject, now = Date.now()): void {
    const subjectKey = subjectKeyOf(regardingOf(subject));
    const ofSubject = this.series.get(subjectKey);
    if (!ofSubject) return;
    for (const series of ofSubject.values()) this.finish(series, now);
    this.count -= ofSubject.size;
    this.series.delete(subjectKey);
  }

  /**
   * Writes what the heartbeat and finished series owe: a running series' count every heartbeat,
   * a finished one's final count (then it is forgotten). Runs every minute on its own.
   */
  sweep(now = Date.now()): void {
    for (const [subjectKey, ofSubject] of this.series) {
      for (const [key, series] of ofSubject) {
        if (now - series.lastObservedAt >= this.timing.finishAfterMs) {
          this.finish(series, now);
          ofSubject.delete(key);
          this.count--;
        } else if (
          series.count > 1 &&
          series.created &&
          !series.writing &&
          now - series.lastWrittenAt >= this.timing.heartbeatMs
        )
          void this.writeSeries(series, now);
      }
      if (ofSubject.size === 0) this.series.delete(subjectKey);
    }
  }

  /** Stops the sweeps (the process is shutting down). */
  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** How many series are remembered. */
  get size(): number {
    return this.count;
  }

  private startSweeping(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => this.sweep(), Math.min(60_000, this.timing.finishAfterMs));
    this.sweeper.unref();
  }

  /** A series ends: the count the server does not have yet is written. */
  private finish(series: Series, now: number): void {
    if (series.created && !series.writing && series.count > series.writtenCount)
      void this.writeSeries(series, now);
  }

  /** True when the Event was withheld (sendIf said no). */
  private async create(series: Series, about: string): Promise<boolean> {
    const outcome = await this.post(series, series.event, about);
    series.writing = false;
    if (outcome === "created") {
      series.created = true;
      // Occurrences counted while the create was in flight are written now.
      if (series.count > series.writtenCount) void this.writeSeries(series, Date.now());
    }
    return outcome === "withheld";
  }

  /** One retry after a second for throttling, server errors and dropped connections. */
  private async post(
    series: Series,
    event: EventBody,
    about: string,
  ): Promise<"created" | "refused" | "withheld"> {
    const { reason } = event;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt > 0) await sleep(1_000);
      try {
        const res = await this.client.call(
          "POST",
          `/apis/events.k8s.io/v1/namespaces/${series.namespace}/events`,
          encodeEvent(event),
          protobufContentType,
          series.sendIf,
        );
        if (res.status < 300) return "created";
        // The name is ours: a retry answered 409 means the first attempt went through.
        if (res.status === 409 && attempt > 0) return "created";
        if (res.status === 404 || res.status === 403 || res.status === 409 || res.status === 422) {
          this.log.warn(
            { status: res.status, reason, about, answer: message(res.body) },
            "event not written",
          );
          return "refused";
        }
        this.log.warn({ status: res.status, reason, about, attempt }, "event not written");
      } catch (error) {
        if (error instanceof RequestWithheld) return "withheld";
        this.log.warn({ err: String(error), reason, about, attempt }, "event not written");
      }
    }
    return "refused";
  }

  /** Patches the series (count, lastObservedTime); an Event gone meanwhile is created again with it. */
  private async writeSeries(series: Series, now: number): Promise<void> {
    series.writing = true;
    const count = series.count;
    const seriesField = { count, lastObservedTime: microTime(series.lastObservedAt) };
    try {
      const res = await this.client.call(
        "PATCH",
        `/apis/events.k8s.io/v1/namespaces/${series.namespace}/events/${series.name}`,
        { series: seriesField },
        "application/merge-patch+json",
        series.sendIf,
      );
      let written = res.status < 300;
      if (res.status === 404) {
        // The Event expired (the API server keeps Events for an hour): create it again, as client-go does.
        const about = `${series.namespace}/${series.event.regarding.name}`;
        written = (await this.post(series, { ...series.event, series: seriesField }, about)) === "created";
      }
      if (written) {
        series.writtenCount = count;
        series.lastWrittenAt = now;
      }
    } catch (error) {
      if (!(error instanceof RequestWithheld))
        this.log.warn({ err: String(error), event: series.name }, "event series not written");
    } finally {
      series.writing = false;
    }
  }

  private prune(now: number): void {
    for (const [subjectKey, ofSubject] of this.series) {
      for (const [key, series] of ofSubject) {
        if (now - series.lastObservedAt < this.timing.finishAfterMs) continue;
        this.finish(series, now);
        ofSubject.delete(key);
        this.count--;
      }
      if (ofSubject.size === 0) this.series.delete(subjectKey);
    }
    // Still full (a burst of live pods): forget the oldest half; they start a new Event if they recur.
    for (const [subjectKey, ofSubject] of this.series) {
      if (this.count < maxSeries / 2) break;
      this.count -= ofSubject.size;
      this.series.delete(subjectKey);
    }
  }
}

/** The message of a Status answer, for a log line. */
function message(body: unknown): string | undefined {
  const text = (body as { message?: unknown } | undefined)?.message;
  return typeof text === "string" ? text : undefined;
}
