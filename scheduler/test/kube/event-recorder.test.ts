/**
 * Events are aggregated into series as kube-scheduler's recorder does: one Event per pod, type
 * and reason, its count patched at the second occurrence and then at most once per heartbeat,
 * a new Event only after the series finished. A stub stands in for the REST client.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { EventRecorder, maxMessageLength } from "../../src/kube/event-recorder.js";
import { type KubeClient, RequestWithheld } from "../../src/kube/kube-client.js";
import { pod } from "../core/fixtures.js";

interface Request {
  method: string;
  path: string;
  body: { message?: string; count?: number };
}

function stubClient() {
  const sent: Request[] = [];
  let made = 0;
  const client = {
    call: async (method: string, path: string, body: Request["body"]) => {
      sent.push({ method, path, body });
      return method === "POST"
        ? { status: 201, body: { metadata: { name: `event-${made++}` } } }
        : { status: 200 };
    },
  } as unknown as KubeClient;
  return { client, sent };
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};
const timing = { finishAfterMs: 6 * 60_000, heartbeatMs: 30 * 60_000 };

describe("event recorder", () => {
  it("writes one Event and one count patch for a pod told the same thing many times, whatever the messages", async () => {
    const { client, sent } = stubClient();
    const events = new EventRecorder(client, "sched", "shard-0", pino({ level: "silent" }), timing);
    const target = pod("a");
    for (let i = 0; i < 50; i++) {
      events.record(target, "Warning", "FailedScheduling", `0/${i} nodes are available`, 1_000 + i * 1_000);
      await settle();
    }
    expect(sent.map((r) => r.method)).toEqual(["POST", "PATCH"]);
    expect(sent[0]?.body.message).toBe("0/0 nodes are available");
    expect(sent[1]).toMatchObject({ path: "/api/v1/namespaces/default/events/event-0", body: { count: 2 } });
  });

  it("writes the count again after the heartbeat, and starts a new Event once the series finished", async () => {
    const { client, sent } = stubClient();
    const events = new EventRecorder(client, "sched", "shard-0", pino({ level: "silent" }), timing);
    const target = pod("a");
    // One occurrence every 5 minutes keeps the series alive.
    for (let minute = 0; minute <= 35; minute += 5) {
      events.record(target, "Warning", "FailedScheduling", "no room", minute * 60_000);
      await settle();
    }
    expect(sent.map((r) => `${r.method} ${r.body.count}`)).toEqual(["POST 1", "PATCH 2", "PATCH 8"]);
    // Silent for longer than the series window: the next occurrence is a new Event.
    events.record(target, "Warning", "FailedScheduling", "no room", 50 * 60_000);
    await settle();
    expect(sent.map((r) => r.method)).toEqual(["POST", "PATCH", "PATCH", "POST"]);
  });

  it("keeps series of different reasons and pods apart", async () => {
    const { client, sent } = stubClient();
    const events = new EventRecorder(client, "sched", "shard-0", pino({ level: "silent" }), timing);
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
      call: (method: string, path: string, body: Request["body"]) => {
        sent.push({ method, path, body });
        if (method !== "POST") return Promise.resolve({ status: 200 });
        return new Promise((resolve) => {
          answerCreate = () => resolve({ status: 201, body: { metadata: { name: "slow" } } });
        });
      },
    } as unknown as KubeClient;
    const events = new EventRecorder(client, "sched", "shard-0", pino({ level: "silent" }), timing);
    events.record(pod("a"), "Warning", "FailedScheduling", "no room", 0);
    events.record(pod("a"), "Warning", "FailedScheduling", "no room", 1_000);
    events.record(pod("a"), "Warning", "FailedScheduling", "no room", 2_000);
    await settle();
    expect(sent.map((r) => r.method)).toEqual(["POST"]);
    answerCreate?.();
    await settle();
    expect(sent.map((r) => `${r.method} ${r.body.count}`)).toEqual(["POST 1", "PATCH 3"]);
  });

  it("drops an Event its writer may no longer send, and starts a new series at the next occurrence", async () => {
    const { client, sent } = stubClient();
    const withholding = {
      call: (method: string, path: string, body: unknown, type?: string, sendIf?: () => boolean) =>
        sendIf && !sendIf()
          ? Promise.reject(new RequestWithheld(method, path))
          : client.call(method, path, body, type),
    } as unknown as KubeClient;
    const events = new EventRecorder(withholding, "sched", "shard-0", pino({ level: "silent" }), timing);
    events.record(pod("a"), "Normal", "HandedOff", "moved", 0, () => false);
    await settle();
    expect(sent).toEqual([]);
    expect(events.size).toBe(0);
    events.record(pod("a"), "Normal", "HandedOff", "moved", 1_000, () => true);
    await settle();
    expect(sent.map((r) => `${r.method} ${r.body.count}`)).toEqual(["POST 1"]);
  });

  it("caps a message at the API's event note limit", async () => {
    const { client, sent } = stubClient();
    const events = new EventRecorder(client, "sched", "shard-0", pino({ level: "silent" }), timing);
    events.record(pod("a"), "Warning", "InvalidPodGroup", "x".repeat(200_000), 0);
    await settle();
    expect(sent[0]?.body.message).toHaveLength(maxMessageLength);
    expect(sent[0]?.body.message?.endsWith("...")).toBe(true);
  });

  it("forgets a pod's series", async () => {
    const { client } = stubClient();
    const events = new EventRecorder(client, "sched", "shard-0", pino({ level: "silent" }), timing);
    events.record(pod("a"), "Warning", "FailedScheduling", "no room", 0);
    events.record(pod("a"), "Normal", "Scheduled", "bound", 0);
    events.record(pod("b"), "Warning", "FailedScheduling", "no room", 0);
    expect(events.size).toBe(3);
    events.forget(pod("a"));
    expect(events.size).toBe(1);
  });
});
