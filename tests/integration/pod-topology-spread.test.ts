/**
 * PodTopologySpread against a real API server (one shard): Deployment-like pods spread over zones
 * with DoNotSchedule (where packing would put them on one node), a pod refused for the skew with
 * kube-scheduler's message and placed once a matching pod leaves, nodes without the topology key,
 * a gang spread against its own members, ScheduleAnyway over hostnames, and the cluster-default
 * (System) constraints for pods a Service selects.
 */
import type * as k8s from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { schedulerSuite } from "../support/suite.js";

const suite = schedulerSuite("spread");
const zoneKey = "topology.kubernetes.io/zone";

beforeAll(async () => {
  await Promise.all([
    suite.addNodes("zones", 2, { labels: { [zoneKey]: "a" } }, 0),
    suite.addNodes("zones", 2, { labels: { [zoneKey]: "b" } }, 2),
    suite.addNodes("skew", 1, { labels: { [zoneKey]: "a" } }, 0),
    suite.addNodes("skew", 1, { cpu: "1", labels: { [zoneKey]: "b" } }, 1),
    // No zone label: never a place for a pod that spreads by zone.
    suite.addNodes("skew", 1, {}, 2),
    suite.addNodes("gang", 2, { labels: { [zoneKey]: "a" } }, 0),
    suite.addNodes("gang", 2, { labels: { [zoneKey]: "b" } }, 2),
    suite.addNodes("soft", 3),
    suite.addNodes("svc", 3),
  ]);
});

const spread = (
  app: string,
  topologyKey: string,
  whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway" = "DoNotSchedule",
): k8s.V1TopologySpreadConstraint => ({
  maxSkew: 1,
  topologyKey,
  whenUnsatisfiable,
  labelSelector: { matchLabels: { app } },
});

const withSpread = (pod: k8s.V1Pod, ...constraints: k8s.V1TopologySpreadConstraint[]): k8s.V1Pod => ({
  ...pod,
  spec: { ...(pod.spec as k8s.V1PodSpec), topologySpreadConstraints: constraints },
});

const zoneOf = (nodeName: string) => {
  const index = Number(nodeName.slice(nodeName.lastIndexOf("-") + 1));
  return index < 2 ? "a" : "b";
};

const countBy = (values: string[]) => {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
};

describe("DoNotSchedule", () => {
  it("spreads a Deployment's pods evenly over the zones, where packing would fill one node", async () => {
    const names = Array.from({ length: 6 }, (_, i) => `web-${i}`);
    await suite.create(
      names.map((name) =>
        withSpread(
          suite.pod(name, { pool: "zones", cpu: "100m", labels: { app: "web" } }),
          spread("web", zoneKey),
        ),
      ),
    );
    const bound = await suite.waitBound(names);
    expect(countBy(Object.values(bound).map(zoneOf))).toEqual({ a: 3, b: 3 });
  });

  it("refuses a pod the skew forbids with kube-scheduler's message, and places it when a matching pod leaves", async () => {
    const first = withSpread(
      suite.pod("skew-0", { pool: "skew", cpu: "1500m", labels: { app: "skew" } }),
      spread("skew", zoneKey),
    );
    await suite.create(first);
    // Zone b's node is too small, the third node has no zone: only zone a takes it.
    expect(await suite.waitBound(["skew-0"])).toEqual({ "skew-0": suite.nodeName("skew", 0) });
    const second = withSpread(
      suite.pod("skew-1", { pool: "skew", cpu: "1500m", labels: { app: "skew" } }),
      spread("skew", zoneKey),
    );
    await suite.create(second);
    const message = await suite.waitUnschedulable("skew-1", /didn't match pod topology spread constraints/);
    expect(message).toMatch(/1 node\(s\) didn't match pod topology spread constraints[,.]/);
    expect(message).toMatch(
      /1 node\(s\) didn't match pod topology spread constraints \(missing required label\)/,
    );
    expect(message).toMatch(/1 Insufficient cpu/);
    // Zone a's pod goes: the skew allows zone a again, and the waiting pod is woken by the delete.
    await suite.deletePods(["skew-0"]);
    expect(await suite.waitBound(["skew-1"])).toEqual({ "skew-1": suite.nodeName("skew", 0) });
  });

  it("spreads a gang against its own members", async () => {
    const members = suite
      .gang("spread-gang", 4, { pool: "gang", cpu: "100m", labels: { app: "spread-gang" } })
      .map((pod) => withSpread(pod, spread("spread-gang", zoneKey)));
    await suite.create(members);
    const bound = await suite.waitBound(members.map((pod) => pod.metadata?.name as string));
    expect(countBy(Object.values(bound).map(zoneOf))).toEqual({ a: 2, b: 2 });
  });
});

describe("ScheduleAnyway and cluster defaults", () => {
  it("prefers the hostnames with the fewest matching pods", async () => {
    const names = ["soft-0", "soft-1", "soft-2"];
    for (const name of names) {
      await suite.create(
        withSpread(
          suite.pod(name, { pool: "soft", cpu: "100m", labels: { app: "soft" } }),
          spread("soft", "kubernetes.io/hostname", "ScheduleAnyway"),
        ),
      );
      await suite.waitBound([name]);
    }
    const bound = await suite.waitBound(names);
    expect(new Set(Object.values(bound)).size).toBe(3);
  });

  it("spreads pods a Service selects over hostnames by kube-scheduler's System defaults", async () => {
    await suite.core.createNamespacedService({
      namespace: suite.namespace,
      body: {
        metadata: { name: "svc" },
        spec: { selector: { app: "svc" }, ports: [{ port: 80 }] },
      },
    });
    // The shard's Service informer has it well before the first pod arrives.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const names = ["svc-0", "svc-1", "svc-2"];
    for (const name of names) {
      await suite.create(suite.pod(name, { pool: "svc", cpu: "100m", labels: { app: "svc" } }));
      await suite.waitBound([name]);
    }
    const bound = await suite.waitBound(names);
    // Without the default constraints, MostAllocated would have put all three on one node.
    expect(new Set(Object.values(bound)).size).toBe(3);
    // A pod no Service selects still packs.
    const plain = ["plain-0", "plain-1"];
    for (const name of plain) {
      await suite.create(suite.pod(name, { pool: "svc", cpu: "100m", labels: { app: "plain" } }));
      await suite.waitBound([name]);
    }
    const packed = await suite.waitBound(plain);
    expect(packed["plain-0"]).toBe(packed["plain-1"]);
  });
});
