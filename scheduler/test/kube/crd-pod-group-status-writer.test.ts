/**
 * The scheduler-plugins PodGroup status writer: a merge patch of the status subresource, sent
 * only when the PodGroup says something else and not already sent; wishes made while a write is
 * on its way collapse into the newest; a refused write is not taken for sent.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { type CoschedulingStatus, coschedulingStatus } from "../../src/core/index.js";
import { CoschedulingStatusWriter } from "../../src/kube/crd-pod-group-status-writer.js";

const log = pino({ level: "silent" });
const podGroup = (status: Record<string, unknown> = {}) => ({
  metadata: { name: "train", namespace: "ns", uid: "u1" },
  spec: { minMember: 2 },
  status,
});
const counts = { pending: 0, bound: 2, running: 2, succeeded: 0, failed: 0 };
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

function recordingClient(answer = 200) {
  const calls: { method: string; path: string; body: unknown; contentType?: string }[] = [];
  let release: (() => void) | undefined;
  let hold = false;
  const client = {
    call: async (method: string, path: string, body?: unknown, contentType?: string) => {
      calls.push({ method, path, body, contentType });
      if (hold) await new Promise<void>((resolve) => (release = resolve));
      return { status: answer, body: {} } as never;
    },
  };
  return {
    client,
    calls,
    holdNext: () => {
      hold = true;
    },
    release: () => {
      hold = false;
      release?.();
    },
  };
}

describe("CoschedulingStatusWriter", () => {
  it("patches the status subresource with a merge patch of phase and counts", async () => {
    const { client, calls } = recordingClient();
    const writer = new CoschedulingStatusWriter(client, log);
    writer.write(podGroup(), coschedulingStatus(2, counts, undefined));
    await settle();
    expect(calls).toEqual([
      {
        method: "PATCH",
        path: "/apis/scheduling.x-k8s.io/v1alpha1/namespaces/ns/podgroups/train/status",
        body: { status: { phase: "Running", scheduled: 2, running: 2, succeeded: 0, failed: 0 } },
        contentType: "application/merge-patch+json",
      },
    ]);
  });

  it("sends nothing the PodGroup already says, nor what it sent already", async () => {
    const { client, calls } = recordingClient();
    const writer = new CoschedulingStatusWriter(client, log);
    const wanted = coschedulingStatus(2, counts, undefined);
    writer.write(podGroup({ ...wanted }), wanted);
    writer.write(podGroup(), wanted);
    await settle();
    writer.write(podGroup(), wanted);
    await settle();
    expect(calls).toHaveLength(1);
  });

  it("collapses wishes made while a write is on its way into the newest", async () => {
    const { client, calls, holdNext, release } = recordingClient();
    const writer = new CoschedulingStatusWriter(client, log);
    holdNext();
    const step = (bound: number): CoschedulingStatus =>
      coschedulingStatus(3, { ...counts, bound, running: 0, pending: 3 - bound }, undefined);
    writer.write(podGroup(), step(0));
    writer.write(podGroup(), step(1));
    writer.write(podGroup(), step(2));
    release();
    await settle();
    expect(calls.map((c) => (c.body as { status: CoschedulingStatus }).status.scheduled)).toEqual([0, 2]);
  });

  it("sends again after a refused write", async () => {
    const { client, calls } = recordingClient(403);
    const writer = new CoschedulingStatusWriter(client, log);
    const wanted = coschedulingStatus(2, counts, undefined);
    writer.write(podGroup(), wanted);
    await settle();
    writer.write(podGroup(), wanted);
    await settle();
    expect(calls).toHaveLength(2);
  });
});
