/**
 * The writes a shard sends per pod go in protobuf (a bind, an Event): the real API server reads
 * them as the JSON forms would read, and its protobuf answers are read for what they say. So is
 * a handover's read of the pods on the nodes a shard gains: a pod list in protobuf, read for each
 * pod's placement.
 */
import type { V1Pod as Pod } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventRecorder, microTime } from "../../scheduler/src/kube/event-recorder.js";
import { KubeClient } from "../../scheduler/src/kube/kube-client.js";
import { PodBinder } from "../../scheduler/src/kube/pod-binder.js";
import { type EventObject, encodeEvent, protobufContentType } from "../../scheduler/src/kube/protobuf.js";
import { createTestNamespace, deleteNamespace, schedulerKubeConfig, testClients } from "../support/kube.js";
import { waitFor } from "../support/wait.js";

const { kc, core } = testClients();
let namespace = "";
let client: KubeClient;

beforeAll(async () => {
  namespace = await createTestNamespace(core, "protobuf-writes");
  client = await KubeClient.create(schedulerKubeConfig(kc));
});
afterAll(async () => {
  client.close();
  await deleteNamespace(core, namespace);
});

type EventRead = Record<string, unknown> & { metadata: { name: string } };

const at = Date.parse("2026-12-06T10:11:12.345Z");

/** An Event about pod "subject" from the test's reporter, at `at`. */
const event = (
  name: string,
  what: Pick<EventObject, "action" | "reason" | "note" | "type">,
): EventObject => ({
  metadata: { name, namespace },
  eventTime: microTime(at),
  reportingController: "sharded-scheduler.io/test",
  reportingInstance: "test-0",
  regarding: { apiVersion: "v1", kind: "Pod", namespace, name: "subject" },
  ...what,
});

const readEvent = async (name: string) =>
  (await client.must<EventRead>(
    "GET",
    `/apis/events.k8s.io/v1/namespaces/${namespace}/events/${name}`,
  )) as EventRead;

describe("protobuf writes", () => {
  it("a bind of a pod that is not there answers 404 with its Status's message", async () => {
    const result = await new PodBinder(client).bind(namespace, "missing", "", "node-a");
    expect(result).toEqual({ outcome: "gone", detail: 'pods "missing" not found' });
  });

  it("a refused Event create answers with its Status's reason and causes", async () => {
    // A name the API refuses: the Status lists the invalid field as a cause.
    const res = await client.call(
      "POST",
      `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
      encodeEvent(
        event("Not_A_Name", { action: "Binding", reason: "Scheduled", note: "refused", type: "Normal" }),
      ),
      protobufContentType,
    );
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      kind: "Status",
      status: "Failure",
      reason: "Invalid",
      code: 422,
      details: {
        kind: "Event",
        name: "Not_A_Name",
        causes: [expect.objectContaining({ field: "metadata.name" })],
      },
    });
  });

  it("an Event created in protobuf reads back field for field, a long note in any script and a series too", async () => {
    const recorder = new EventRecorder(
      client,
      "sharded-scheduler.io/test",
      "test-0",
      pino({ level: "silent" }),
    );
    const note = `${"Ünïcödé ノード 0/5 nodes are available; ".repeat(20)}end`;
    const subject = { metadata: { name: "subject", namespace, uid: "7d3c1f0e-0000-4000-8000-000000000001" } };
    recorder.record(subject as never, "Warning", "FailedScheduling", note, at);
    const written = await waitFor(
      "the Event",
      async () => {
        const list = await client.must<{ items: EventRead[] }>(
          "GET",
          `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
        );
        return list.items.find((event) => event.reason === "FailedScheduling");
      },
      10_000,
    );
    expect(written).toMatchObject({
      eventTime: microTime(at),
      reportingController: "sharded-scheduler.io/test",
      reportingInstance: "test-0",
      action: "Scheduling",
      reason: "FailedScheduling",
      note,
      type: "Warning",
      regarding: { apiVersion: "v1", kind: "Pod", namespace, name: "subject", uid: subject.metadata.uid },
    });
    expect(written.series).toBeUndefined();

    // As an expired series is created again: with its count and last occurrence.
    const name = "subject.series";
    const res = await client.call(
      "POST",
      `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
      encodeEvent({
        ...event(name, { action: "Scheduling", reason: "FailedScheduling", note: "again", type: "Warning" }),
        series: { count: 300, lastObservedTime: microTime(at + 61_001) },
      }),
      protobufContentType,
    );
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ kind: "Event" });
    expect(await readEvent(name)).toMatchObject({
      series: { count: 300, lastObservedTime: microTime(at + 61_001) },
      eventTime: microTime(at),
    });
  });
});

describe("protobuf reads", () => {
  it("a pod list read in protobuf gives each pod's name, uid, version and node as the JSON list does, page by page", async () => {
    const pod = (name: string, nodeName?: string) =>
      core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name, labels: { app: "x".repeat(60) }, annotations: { note: "ノード".repeat(100) } },
          spec: {
            // Pending under a scheduler nobody runs, so that it stays so.
            ...(nodeName ? { nodeName } : { schedulerName: "nobody" }),
            containers: [
              { name: "a", image: "busybox", env: [{ name: "MODE", value: "x" }] },
              { name: "b", image: "busybox", ports: [{ containerPort: 8080 }] },
            ],
          },
        },
      });
    await pod("bound-0", "node-a");
    await pod("bound-1", "node-b");
    await pod("pending-0");
    type Placement = { metadata: Record<string, string>; spec: { nodeName?: string } };
    const read: Placement[] = [];
    let continueToken = "";
    let pages = 0;
    do {
      const query = new URLSearchParams({
        limit: "2",
        ...(continueToken ? { continue: continueToken } : {}),
      });
      const res = await client.read<{ kind: string; items: Placement[]; metadata: { continue?: string } }>(
        `/api/v1/namespaces/${namespace}/pods?${query}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.kind).toBe("PodList");
      read.push(...res.body.items);
      continueToken = res.body.metadata.continue ?? "";
      pages++;
    } while (continueToken);
    expect(pages).toBe(2);

    const json = await client.must<{ items: Pod[] }>("GET", `/api/v1/namespaces/${namespace}/pods`);
    expect(read).toEqual(
      json.items.map((p) => ({
        metadata: {
          name: p.metadata?.name,
          namespace,
          uid: p.metadata?.uid,
          resourceVersion: p.metadata?.resourceVersion,
        },
        spec: p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {},
      })),
    );
    expect(read.map((p) => p.spec.nodeName)).toEqual(["node-a", "node-b", undefined]);
  });

  it("a list of another built-in kind is named, not read: its reader cannot count on items", async () => {
    const res = await client.read<{ kind: string; items?: unknown[] }>(
      `/api/v1/namespaces/${namespace}/configmaps`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ kind: "ConfigMapList" });
  });
});
