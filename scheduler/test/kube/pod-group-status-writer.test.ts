/**
 * The PodGroup status writer: one strategic-merge patch of PodGroupInitiallyScheduled on the
 * status subresource per change, repeats within the interval skipped, nothing after True, and a
 * refused write not remembered (the next attempt writes again).
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { KubeResponse } from "../../src/kube/kube-client.js";
import { disruptionTargetMessage, PodGroupStatusWriter } from "../../src/kube/pod-group-status-writer.js";

function recordingClient(statuses: number[] = []) {
  const calls: { method: string; path: string; body: unknown; contentType: string }[] = [];
  return {
    calls,
    call: async <T>(
      method: string,
      path: string,
      body?: unknown,
      contentType = "",
    ): Promise<KubeResponse<T>> => {
      calls.push({ method, path, body, contentType });
      return { status: statuses.shift() ?? 200, body: {} as T };
    },
  };
}

const podGroup = { metadata: { namespace: "ml", name: "train", uid: "u1" }, spec: {}, status: {} };
const log = pino({ level: "silent" });

describe("PodGroupStatusWriter", () => {
  it("patches the status subresource with the condition, once per message within the interval", async () => {
    const client = recordingClient();
    const writer = new PodGroupStatusWriter(client, log, 60_000);
    await writer.initiallyScheduled(podGroup, false, "0/3 nodes fit", 1_000);
    await writer.initiallyScheduled(podGroup, false, "0/3 nodes fit", 2_000);
    expect(client.calls).toHaveLength(1);
    const [call] = client.calls;
    expect(call?.method).toBe("PATCH");
    expect(call?.path).toBe("/apis/scheduling.k8s.io/v1beta1/namespaces/ml/podgroups/train/status");
    expect(call?.contentType).toBe("application/strategic-merge-patch+json");
    expect(call?.body).toEqual({
      status: {
        conditions: [
          {
            type: "PodGroupInitiallyScheduled",
            status: "False",
            reason: "Unschedulable",
            message: "0/3 nodes fit",
            lastTransitionTime: new Date(1_000).toISOString(),
          },
        ],
      },
    });
    // A new message, or the same after the interval, is written.
    await writer.initiallyScheduled(podGroup, false, "0/4 nodes fit", 3_000);
    await writer.initiallyScheduled(podGroup, false, "0/4 nodes fit", 70_000);
    expect(client.calls).toHaveLength(3);
  });

  it("writes True once and nothing after it, whatever the watch still shows", async () => {
    const client = recordingClient();
    const writer = new PodGroupStatusWriter(client, log);
    await writer.initiallyScheduled(podGroup, true, "", 1_000);
    await writer.initiallyScheduled(podGroup, false, "evicted", 2_000);
    await writer.initiallyScheduled(podGroup, true, "", 3_000);
    expect(client.calls).toHaveLength(1);
    expect(JSON.stringify(client.calls[0]?.body)).toContain('"status":"True","reason":"Scheduled"');
  });

  it("forgets a refused write, so the next attempt sends it again", async () => {
    const client = recordingClient([500]);
    const writer = new PodGroupStatusWriter(client, log);
    expect(await writer.initiallyScheduled(podGroup, false, "m", 1_000)).toBe(false);
    expect(await writer.initiallyScheduled(podGroup, false, "m", 1_001)).toBe(true);
    expect(client.calls).toHaveLength(2);
  });
});

describe("PodGroupStatusWriter.disruptionTarget", () => {
  it("patches DisruptionTarget (PreemptionByScheduler, naming the preemptor) unless the PodGroup already says so", async () => {
    const client = recordingClient([200, 500]);
    const writer = new PodGroupStatusWriter(client, log, 60_000);
    const message = disruptionTargetMessage("sharded-scheduler", "podgroup:ml/big");
    expect(await writer.disruptionTarget(podGroup, message, 1_000)).toBe(true);
    expect(client.calls[0]?.body).toEqual({
      status: {
        conditions: [
          {
            type: "DisruptionTarget",
            status: "True",
            reason: "PreemptionByScheduler",
            message: "sharded-scheduler: preempting to accommodate a higher priority group podgroup:ml/big",
            lastTransitionTime: new Date(1_000).toISOString(),
          },
        ],
      },
    });
    const marked = {
      ...podGroup,
      status: { conditions: [{ type: "DisruptionTarget", status: "True", message }] },
    };
    expect(await writer.disruptionTarget(marked, message, 2_000)).toBe(true);
    expect(client.calls).toHaveLength(1);
    // Another preemptor's mark is written; a refused write answers false.
    expect(await writer.disruptionTarget(marked, disruptionTargetMessage("s", "other"), 3_000)).toBe(false);
    expect(client.calls).toHaveLength(2);
  });
});
