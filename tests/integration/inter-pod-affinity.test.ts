/**
 * InterPodAffinity on the real API server, one shard: Deployment-like pods with hostname and
 * zone anti-affinity spread out and then wait with kube-scheduler's reason, a pod with affinity
 * to a running pod lands in its zone, the symmetry of a running pod's anti-affinity, a namespace
 * selected by its labels, and a gang whose members are mutually anti-affine.
 */
import * as k8s from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { schedulerSuite } from "../support/suite.js";

const suite = schedulerSuite("affinity");
const zoneKey = "topology.kubernetes.io/zone";
const hostname = "kubernetes.io/hostname";

beforeAll(async () => {
  // Pools of two zones with two nodes each.
  await Promise.all([
    suite.addNodes("hosts", 3),
    suite.addNodes("zones", 2, { zone: "a" }),
    suite.addNodes("zones", 2, { zone: "b" }, 2),
    suite.addNodes("near", 2, { zone: "a" }),
    suite.addNodes("near", 2, { zone: "b" }, 2),
    suite.addNodes("gang", 4),
  ]);
});

const term = (
  labels: Record<string, string>,
  topologyKey: string,
  extra: Partial<k8s.V1PodAffinityTerm> = {},
) => ({
  labelSelector: { matchLabels: labels },
  topologyKey,
  ...extra,
});

const antiAffinity = (...terms: k8s.V1PodAffinityTerm[]): k8s.V1Affinity => ({
  podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: terms },
});

const zoneOf = (nodeName: string): string => {
  const index = Number(nodeName.slice(nodeName.lastIndexOf("-") + 1));
  return index < 2 ? "a" : "b";
};

describe("required pod anti-affinity", () => {
  it("spreads Deployment-like pods one per node by hostname, and the one too many waits with kube-scheduler's reason", async () => {
    const labels = { app: "web" };
    const pods = Array.from({ length: 4 }, (_, i) =>
      suite.pod(`web-${i}`, {
        pool: "hosts",
        cpu: "100m",
        labels,
        affinity: antiAffinity(term(labels, hostname)),
      }),
    );
    await suite.create(pods.slice(0, 3));
    const placed = await suite.waitBound(["web-0", "web-1", "web-2"]);
    expect(new Set(Object.values(placed)).size).toBe(3);
    await suite.create(pods[3] as k8s.V1Pod);
    const message = await suite.waitUnschedulable("web-3", /anti-affinity/);
    expect(message).toContain("3 node(s) didn't match pod anti-affinity rules");
    // One of them goes: the waiting pod takes its node.
    await suite.deletePods(["web-0"]);
    const after = await suite.waitBound(["web-3"]);
    expect(after["web-3"]).toBe(placed["web-0"]);
  });

  it("keeps pods with zone anti-affinity in distinct zones, and honours a running pod's anti-affinity (symmetry)", async () => {
    const labels = { app: "zonal" };
    const zonal = (name: string) =>
      suite.pod(name, { pool: "zones", cpu: "100m", labels, affinity: antiAffinity(term(labels, zoneKey)) });
    await suite.create(zonal("zonal-0"), zonal("zonal-1"));
    const placed = await suite.waitBound(["zonal-0", "zonal-1"]);
    expect(new Set(Object.values(placed).map(zoneOf))).toEqual(new Set(["a", "b"]));
    // A pod without terms but with the label: the running pods' anti-affinity keeps it out of both zones.
    await suite.create(suite.pod("plain", { pool: "zones", cpu: "100m", labels }));
    const message = await suite.waitUnschedulable("plain", /anti-affinity/);
    expect(message).toContain("4 node(s) didn't satisfy existing pods anti-affinity rules");
  });
});

describe("required pod affinity", () => {
  it("places a pod in the zone of the running pod it must be near; without one it waits, unresolvable", async () => {
    await suite.create(suite.pod("cache", { pool: "near", cpu: "100m", labels: { app: "cache" } }));
    const cacheNode = (await suite.waitBound(["cache"])).cache as string;
    const near = (name: string, app: string) =>
      suite.pod(name, {
        pool: "near",
        cpu: "100m",
        affinity: {
          podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app }, zoneKey)] },
        },
      });
    await suite.create(near("client-0", "cache"), near("client-1", "cache"), near("lonely", "absent"));
    const placed = await suite.waitBound(["client-0", "client-1"]);
    for (const nodeName of Object.values(placed)) expect(zoneOf(nodeName)).toBe(zoneOf(cacheNode));
    const message = await suite.waitUnschedulable("lonely", /affinity/);
    expect(message).toContain("4 node(s) didn't match pod affinity rules");
  });

  it("selects namespaces by their labels (namespaceSelector)", async () => {
    await suite.core.patchNamespace(
      { name: suite.namespace, body: { metadata: { labels: { "affinity-test": suite.id } } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    // The shard reads namespace labels from its watch: give it a moment to see them.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const selecting = suite.pod("by-namespace", {
      pool: "near",
      cpu: "100m",
      affinity: {
        podAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            term({ app: "cache" }, zoneKey, {
              namespaceSelector: { matchLabels: { "affinity-test": suite.id } },
            }),
          ],
        },
      },
    });
    await suite.create(selecting);
    const cacheNode = (await suite.waitBound(["cache"])).cache as string;
    const placed = await suite.waitBound(["by-namespace"]);
    expect(zoneOf(placed["by-namespace"] as string)).toBe(zoneOf(cacheNode));
  });
});

describe("a gang whose members are mutually anti-affine", () => {
  it("binds all members on distinct nodes, or none when there are fewer nodes than members", async () => {
    const members = (name: string, size: number) =>
      suite.gang(name, size, {
        pool: "gang",
        cpu: "100m",
        labels: { gang: name },
        affinity: antiAffinity(term({ gang: name }, hostname)),
      });
    await suite.create(members("quad", 4));
    const placed = await suite.waitBound(["quad-0", "quad-1", "quad-2", "quad-3"]);
    expect(new Set(Object.values(placed)).size).toBe(4);
    await suite.create(members("five", 5));
    await suite.waitUnschedulable("five-0", /anti-affinity/);
    await suite.staysPending(["five-0", "five-1", "five-2", "five-3", "five-4"], 2_000);
  });
});
