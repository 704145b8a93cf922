/**
 * Events go to events.k8s.io/v1 and are aggregated into series as client-go's events
 * broadcaster does: one Event per pod, type, reason and action, its series patched at the second
 * occurrence, then every heartbeat and when the series finishes; a new Event only after that.
 * A stub stands in for the REST client.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { schedulerReportingController } from "../../src/contracts/keys.js";
import {
  EventRecorder,
  maxMessageLength,
  microTime,
  podGroupSubject,
} from "../../src/kube/event-recorder.js";
import { type KubeClient, RequestWithheld } from "../../src/kube/kube-client.js";
import { pod } from "../core/fixtures.js";
import { asObject } from "./protobuf-reader.js";

interface EventBody {
  apiVersion?: string;
  metadata?: { name?: string; namespace?: string };
  note?: string;
  reason?: string;
  action?: string;
  type?: string;
  eventTime?: string;
  reportingController?: string;
  reportingInstance?: string;
  regarding?: { apiVersion?: string; kind?: string; namespace?: string; name?: string; uid?: string };
  series?: { count: number; lastObservedTime: string };
}

interface Request {
  method: string;
  path: string;
  body: EventBody;
  contentType?: string;
}

function stubClient(
  answer: (request: Request) => { status: number; body?: unknown } = () => ({ status: 201 }),
) {
  const sent: Request[] = [];
  const client = {
    call: async (method: string, path: string, body: unknown, contentType?: string) => {
      const request = { method, path, body: asObject<EventBody>(body), contentType };
      sent.push(request);
      return answer(request);
    },
  } as unknown as KubeClient;
  return { client, sent };
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};
const timing = { finishAfterMs: 6 * 60_000, heartbeatMs: 30 * 60_000 };
const minute = 60_000;
const recorder = (client: KubeClient) =>
  new EventRecorder(client, "sharded-scheduler.io/sched", "shard-0", pino({ level: "silent" }), timing);
const summary = (sent: Request[]) =>
  sent.map((r) => `${r.method}${r.body.series ? ` ${r.body.series.count}` : ""}`);

describe("event recorder", () => {
  it("creates an events.k8s.io/v1 Event as kube-scheduler's recorder does", async () => {
    const { client, sent } = stubClient();
    const events = recorder(client);
    const target = pod("a");
    target.metadata.uid = "uid-a";
    const at = Date.parse("2026-12-05T01:02:03.456Z");
    events.record(target, "Warning", "FailedScheduling", "0/5 nodes are available", at);
    await settle();
    expect(sent).toHaveLength(1);
    const [create] = sent;
    expect(create?.method).toBe("POST");
    expect(create?.path).toBe("/apis/events.k8s.io/v1/namespaces/default/events");
    expect(create?.body).toMatchObject({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { namespace: "default" },
      eventTime: "2026-12-05T01:02:03.456000Z",
      reportingController: "sharded-scheduler.io/sched",
      reportingInstance: "shard-0",
      action: "Scheduling",
      reason: "FailedScheduling",
      note: "0/5 nodes are available",
      regarding: { apiVersion: "v1", kind: "Pod", namespace: "default", name: "a", uid: "uid-a" },
      type: "Warning",
    });
    // No core/v1 fields: the events.k8s.io API refuses them on create.
    for (const field of ["message", "count", "source", "firstTimestamp", "lastTimestamp", "involvedObject"])
      expect(create?.body, field).not.toHaveProperty(field);
    // Named as client-go names them: the pod's name, then a hex timestamp.
    expect(create?.body.metadata?.name).toMatch(/^a\.[0-9a-f]+$/);
    expect(schedulerReportingController("sharded-scheduler")).toBe("sharded-scheduler.io/sharded-scheduler");
  });

  it("writes times as MicroTime: six fractional digits, as the API requires", () => {
    expect(microTime(Date.parse("2026-12-06T10:11:12.345Z"))).toBe("2026-12-06T10:11:12.345000Z");
    expect(microTime(0)).toBe("1970-01-01T00:00:00.000000Z");
  });

  it("pairs reasons with kube-scheduler's actions", async () => {
    const { client, sent } = stubClient();
    const events = recorder(client);
    events.record(pod("a"), "Normal", "Scheduled", "bound", 0);
    events.record(pod("b"), "Normal", "Preempted", "by c", 0);
    events.record(pod("c"), "Warning", "FailedScheduling", "no room", 0);
    await settle();
    expect(sent.map((r) => `${r.body.reason}/${r.body.action}`)).toEqual([
      "Scheduled/Binding",
      "Preempted/Preempting",
      "FailedScheduling/Scheduling",
    ]);
  });

  it("writes one Event and one series patch for a pod told the same thing many times, whatever the notes", async () => {
    const { client, sent } = stubClient();
    const events = recorder(client);
    const target = pod("a");
    for (let i = 0; i < 50; i++) {
      events.record(target, "Warning", "FailedScheduling", `0/${i} nodes are available`, 1_000 + i * 1_000);
      await settle();
    }
    expect(summary(sent)).toEqual(["POST", "PATCH 2"]);
    expect(sent[0]?.body.note).toBe("0/0 nodes are available");
    const name = sent[0]?.body.metadata?.name;
    expect(sent[1]).toMatchObject({
      path: `/apis/events.k8s.io/v1/namespaces/default/events/${name}`,
      contentType: "application/merge-patch+json",
      body: { series: { count: 2, lastObservedTime: microTime(2_000) } },
    });
  });

  it("writes a running series every heartbeat, its final count when it finishes, then starts a new Event", async () => {
    const { client, sent } = stubClient();
    const events = recorder(client);
    const target = pod("a");
    // One occurrence every 5 minutes keeps the series alive; the sweep runs every minute.
    for (let at = 0; at <= 45 * minute; at += minute) {
      if (at <= 35 * minute && at % (5 * minute) === 0)
        events.record(target, "Warning", "FailedScheduling", "no room", at);
      events.sweep(at);
      await settle();
    }
    // Created at 0, the series at 5 min (count 2), the heartbeat at 35 min (count 8 then), and at
    // 41 min, six minutes after the last occurrence, nothing left to write: the series is over.
    expect(summary(sent)).toEqual(["POST", "PATCH 2", "PATCH 8"]);
    expect(events.size).toBe(0);
    events.record(target, "Warning", "FailedScheduling", "no room", 50 * minute);
    await settle();
    expect(summary(sent)).toEqual(["POST", "PATCH 2", "PATCH 8", "POST"]);
  });

  it("writes the count a finished series has not written yet", async () => {
    const { client, sent } = stubClient();
    const events = recorder(client);
    for (let i = 0; i < 5; i++) events.record(pod("a"), "Warning", "FailedScheduling", "no room", i * 1_000);
    await settle();
    expect(summary(sent)).toEqual(["POST", "PATCH 5"]);
    for (let i = 5; i < 9; i++) events.record(pod("a"), "Warning", "FailedScheduling", "no room", i * 1_000);
    events.sweep(8_000 + 5 * minute);
    await settle();
    expect(summary(sent)).toEqual(["POST", "PATCH 5"]);
    events.sweep(8_000 + 6 * minute);
    await settle();
    expect(summary(sent)).toEqual(["POST", "PATCH 5", "PATCH 9"]);
    expect(sent[2]?.body.series?.lastObservedTime).toBe(microTime(8_000));
  });

  it("writes the final count of a forgotten pod's series (the pod was bound)", async () => {
    const { client, sent } = stubClient();
    const events = recorder(client);
    for (let i = 0; i < 2; i++) events.record(pod("a"), "Warning", "FailedScheduling", "no room", i);
    await settle();
    events.record(pod("a"), "Warning", "FailedScheduling", "no room", 2);
    events.forget(pod("a"), 3);
    await settle();
    expect(summary(sent)).toEqual(["POST", "PATCH 2", "PATCH 3"]);
    expect(events.size).toBe(0);
  });

  it("creates an expired Event again, series and all, when its series patch is answered 404", async () => {
    const { client, sent } = stubClient((request) => ({ status: request.method === "PATCH" ? 404 : 201 }));
    const events = recorder(client);
    events.record(pod("a"), "Warning", "FailedScheduling", "no room", 0);
    await settle();
    events.record(pod("a"), "Warning", "FailedScheduling", "no room", 1_000);
    await settle();
    expect(summary(sent)).toEqual(["POST", "PATCH 2", "POST 2"]);
    expect(sent[2]?.body.metadata?.name).toBe(sent[0]?.body.metadata?.name);
    expect(sent[2]?.body.note).toBe("no room");
  });

  it("keeps series of different reasons and pods apart", async () => {
    const { client, sent } = stubClient();
    const events = recorder(client);
    events.record(pod("a"), "Warning", "FailedScheduling", "no room", 0);
    events.record(pod("a"), "Normal", "Scheduled", "bound", 0);
    events.record(pod("b"), "Warning", "FailedScheduling", "no room", 0);
    await settle();
    expect(sent.map((r) => r.method)).toEqual(["POST", "POST", "POST"]);
  });

  it("writes the occurrences counted while the create was in flight once it is answered", async () => {
    const sent: Request[] = [];
    let answerCreate: (() => void) | undefined;
    const client = {
      call: (method: string, path: string, body: EventBody) => {
        sent.push({ method, path, body });
        if (method !== "POST") return Promise.resolve({ status: 200 });
        return new Promise((resolve) => {
          answerCreate = () => resolve({ status: 201 });
        });
      },
    } as unknown as KubeClient;
    const events = recorder(client);
    events.record(pod("a"), "Warning", "FailedScheduling", "no room", 0);
    events.record(pod("a"), "Warning", "FailedScheduling", "no room", 1_000);
    events.record(pod("a"), "Warning", "FailedScheduling", "no room", 2_000);
    await settle();
    expect(sent.map((r) => r.method)).toEqual(["POST"]);
    answerCreate?.();
    await settle();
    expect(summary(sent)).toEqual(["POST", "PATCH 3"]);
  });

  it("drops an Event its writer may no longer send, and starts a new series at the next occurrence", async () => {
    const { client, sent } = stubClient();
    const withholding = {
      call: (method: string, path: string, body: unknown, type?: string, sendIf?: () => boolean) =>
        sendIf && !sendIf()
          ? Promise.reject(new RequestWithheld(method, path))
          : client.call(method, path, body, type),
    } as unknown as KubeClient;
    const events = recorder(withholding);
    events.record(pod("a"), "Normal", "HandedOff", "moved", 0, () => false);
    await settle();
    expect(sent).toEqual([]);
    expect(events.size).toBe(0);
    events.record(pod("a"), "Normal", "HandedOff", "moved", 1_000, () => true);
    await settle();
    expect(summary(sent)).toEqual(["POST"]);
  });

  it("treats a retried create answered 409 as written: the Event's name is ours", async () => {
    let posts = 0;
    const { client, sent } = stubClient((request) => {
      if (request.method !== "POST") return { status: 200 };
      posts++;
      return posts === 1 ? { status: 503 } : { status: 409 };
    });
    const events = recorder(client);
    events.record(pod("a"), "Warning", "FailedScheduling", "no room", 0);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    events.record(pod("a"), "Warning", "FailedScheduling", "no room", 1_000);
    await settle();
    expect(summary(sent)).toEqual(["POST", "POST", "PATCH 2"]);
    expect(sent[1]?.body.metadata?.name).toBe(sent[0]?.body.metadata?.name);
  });

  it("caps a note at the API's limit", async () => {
    const { client, sent } = stubClient();
    const events = recorder(client);
    events.record(pod("a"), "Warning", "InvalidPodGroup", "x".repeat(200_000), 0);
    await settle();
    expect(sent[0]?.body.note).toHaveLength(maxMessageLength);
    expect(sent[0]?.body.note?.endsWith("...")).toBe(true);
  });

  it("forgets a pod's series", async () => {
    const { client } = stubClient();
    const events = recorder(client);
    events.record(pod("a"), "Warning", "FailedScheduling", "no room", 0);
    events.record(pod("a"), "Normal", "Scheduled", "bound", 0);
    events.record(pod("b"), "Warning", "FailedScheduling", "no room", 0);
    expect(events.size).toBe(3);
    events.forget(pod("a"));
    expect(events.size).toBe(1);
    events.close();
  });

  it("writes Events about a native PodGroup, regarding the PodGroup, in series of their own", async () => {
    const { client, sent } = stubClient();
    const events = recorder(client);
    const train = podGroupSubject({ metadata: { name: "train", uid: "uid-pg" }, spec: {} }, "ml");
    // A pod of the same name is another object: its own series.
    for (let i = 0; i < 3; i++) {
      events.record(train, "Warning", "FailedScheduling", "no room", i);
      if (i === 0)
        events.record(pod("train", { namespace: "ml" }), "Warning", "FailedScheduling", "no room", 0);
      await settle();
    }
    expect(
      sent.map(
        (r) => `${r.method} ${r.body.regarding?.kind ?? ""}${r.body.series ? ` ${r.body.series.count}` : ""}`,
      ),
    ).toEqual(["POST PodGroup", "POST Pod", "PATCH  2"]);
    expect(sent[0]?.path).toBe("/apis/events.k8s.io/v1/namespaces/ml/events");
    expect(sent[0]?.body.regarding).toEqual({
      apiVersion: "scheduling.k8s.io/v1beta1",
      kind: "PodGroup",
      namespace: "ml",
      name: "train",
      uid: "uid-pg",
    });
    expect(sent[0]?.body.metadata?.name).toMatch(/^train\.[0-9a-f]+$/);
    // Forgotten once the group is bound: its final count is written.
    events.forget(train, 3);
    await settle();
    expect(sent.at(-1)?.body.series?.count).toBe(3);
    expect(events.size).toBe(1);
    events.close();
  });

  it("regards a pod as a Pod whatever kind its watched object carries", async () => {
    const { client, sent } = stubClient();
    const events = recorder(client);
    events.record(
      { ...pod("a"), kind: "Pod" } as Parameters<EventRecorder["record"]>[0],
      "Normal",
      "Scheduled",
      "bound",
      0,
    );
    await settle();
    expect(sent[0]?.body.regarding).toMatchObject({ apiVersion: "v1", kind: "Pod", name: "a" });
  });
});
