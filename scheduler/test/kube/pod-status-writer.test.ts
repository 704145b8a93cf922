/**
 * The status writer sends each pod's writes in the order they were made, one after another, and
 * does not take a write the API server refused for one already made. A stub stands in for the
 * REST client: it records each request and answers when the test says so.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { KubeClient } from "../../src/kube/kube-client.js";
import { PodStatusWriter } from "../../src/kube/pod-status-writer.js";
import { pod } from "../core/fixtures.js";

interface SentRequest {
  path: string;
  message: string | undefined;
  resourceVersion: string | undefined;
  answer: (status: number) => void;
}

function stubClient() {
  const sent: SentRequest[] = [];
  const client = {
    call: (
      _method: string,
      path: string,
      body: { metadata?: { resourceVersion?: string }; status?: { conditions?: { message: string }[] } },
    ) =>
      new Promise((resolve) => {
        sent.push({
          path,
          message: body.status?.conditions?.[0]?.message,
          resourceVersion: body.metadata?.resourceVersion,
          answer: (status) => resolve({ status, body: {} }),
        });
      }),
  } as unknown as KubeClient;
  return { client, sent };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("pod status writer", () => {
  it("sends a pod's second message only after its first was answered", async () => {
    const { client, sent } = stubClient();
    const writer = new PodStatusWriter(client, pino({ level: "silent" }));
    const target = pod("a", { cpu: 1 });
    const first = writer.unschedulable(target, "waiting for members");
    const second = writer.unschedulable(target, "cannot be placed as a whole");
    await settle();
    expect(sent.map((r) => r.message)).toEqual(["waiting for members"]);
    sent[0]?.answer(200);
    await first;
    await settle();
    expect(sent.map((r) => r.message)).toEqual(["waiting for members", "cannot be placed as a whole"]);
    sent[1]?.answer(200);
    await second;
  });

  it("pins a pod to its shard with the Owner condition through pods/status, keeping its other conditions", async () => {
    const requests: unknown[][] = [];
    const client = {
      call: async (...args: unknown[]) => {
        requests.push(args);
        return { status: 200, body: {} };
      },
    } as unknown as KubeClient;
    const writer = new PodStatusWriter(client, pino({ level: "silent" }));
    const at = Date.parse("2026-12-04T12:00:00Z");
    expect(await writer.pinOwner(pod("a", { cpu: 1 }), "shard-1", 9, at)).toBe(true);
    expect(requests).toEqual([
      [
        "PATCH",
        "/api/v1/namespaces/default/pods/a/status",
        {
          status: {
            conditions: [
              {
                type: "sharded-scheduler.io/Owner",
                status: "True",
                reason: "Preempting",
                message: "shard=shard-1 epoch=9",
                lastTransitionTime: "2026-12-04T12:00:00.000Z",
              },
            ],
          },
        },
        // Conditions merge by type: PodScheduled and the rest stay.
        "application/strategic-merge-patch+json",
      ],
    ]);
  });

  it("writes different pods side by side", async () => {
    const { client, sent } = stubClient();
    const writer = new PodStatusWriter(client, pino({ level: "silent" }));
    void writer.unschedulable(pod("a", { cpu: 1 }), "no room");
    void writer.nominate(pod("b", { cpu: 1 }), "node-1");
    await settle();
    expect(sent.map((r) => r.path)).toEqual([
      "/api/v1/namespaces/default/pods/a/status",
      "/api/v1/namespaces/default/pods/b/status",
    ]);
  });

  it("writes a message again when the API server refused it", async () => {
    const { client, sent } = stubClient();
    const writer = new PodStatusWriter(client, pino({ level: "silent" }));
    const target = pod("a", { cpu: 1 });
    const refused = writer.unschedulable(target, "no room");
    await settle();
    sent[0]?.answer(503);
    await refused;
    void writer.unschedulable(target, "no room");
    await settle();
    expect(sent.map((r) => r.message)).toEqual(["no room", "no room"]);
    // A message that was taken is not repeated within the interval.
    sent[1]?.answer(200);
    await settle();
    void writer.unschedulable(target, "no room");
    await settle();
    expect(sent).toHaveLength(2);
  });

  it("patches a condition only onto the pod as it was read: a pod changed since (bound) answers 409 and is written afresh later", async () => {
    const { client, sent } = stubClient();
    const writer = new PodStatusWriter(client, pino({ level: "silent" }));
    const seen = pod("a", { cpu: 1 });
    const target = { ...seen, metadata: { ...seen.metadata, resourceVersion: "41" } };
    const conflicted = writer.unschedulable(target, "no room");
    await settle();
    expect(sent[0]?.resourceVersion).toBe("41");
    sent[0]?.answer(409);
    await conflicted;
    // Not remembered as written: the pod as read next (still pending) is told again.
    const next = { ...target, metadata: { ...target.metadata, resourceVersion: "45" } };
    void writer.unschedulable(next, "no room");
    await settle();
    expect(sent.map((r) => [r.message, r.resourceVersion])).toEqual([
      ["no room", "41"],
      ["no room", "45"],
    ]);
  });
});
