/**
 * The shard's filters and scores against a real API server: resources (cpu, memory, GPUs,
 * init containers), node selectors and affinity, taints, cordoned nodes, pods of other
 * schedulers, and the two scoring strategies.
 */
import type * as k8s from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { completeAfterAnnotation } from "../chaos/workload.js";
import { fakeNodeManifest } from "../cluster/local/fake-nodes.js";
import { scheduledCondition, schedulerSuite } from "../support/suite.js";
import { holdsFor, waitFor } from "../support/wait.js";

const suite = schedulerSuite("filters");

beforeAll(async () => {
  await Promise.all([
    suite.addNodes("cpu", 2),
    suite.addNodes("mem", 1, { memory: "4Gi" }),
    suite.addNodes("gpu", 1, { cpu: "8", gpus: 2 }),
    suite.addNodes("init", 1),
    suite.addNodes("done", 1),
    suite.addNodes("disk", 1, { labels: { disk: "ssd" } }, 0),
    suite.addNodes("disk", 1, { labels: { disk: "hdd" } }, 1),
    suite.addNodes("taint", 1, { taints: [{ key: "dedicated", value: "special", effect: "NoSchedule" }] }),
    suite.addNodes("cordon", 1, { unschedulable: true }),
    suite.addNodes("shared", 1),
    suite.addNodes("pack", 3),
    suite.addNodes("spread", 3),
    suite.addNodes("ignored", 1),
  ]);
});

/** Waits until `bound` of the pods are bound and the rest report Unschedulable; returns both. */
async function splitBoundAndPending(names: string[], bound: number) {
  return waitFor(
    `${bound} of ${names.join(", ")} bound, the others Unschedulable`,
    async () => {
      const pods = await suite.pods();
      const placed = names.filter((name) => pods.get(name)?.spec?.nodeName);
      const refused = names.filter((name) => {
        const condition = scheduledCondition(pods.get(name) ?? {});
        return !pods.get(name)?.spec?.nodeName && condition?.reason === "Unschedulable";
      });
      if (placed.length !== bound || refused.length !== names.length - bound) {
        throw new Error(`bound: [${placed.join(", ")}], unschedulable: [${refused.join(", ")}]`);
      }
      return {
        nodes: placed.map((name) => pods.get(name)?.spec?.nodeName as string),
        messages: refused.map((name) => scheduledCondition(pods.get(name) ?? {})?.message ?? ""),
        pending: refused,
      };
    },
    30_000,
  );
}

describe("resources", () => {
  it("binds cpu requests up to capacity; the rest stay Pending with Insufficient cpu", async () => {
    const names = ["cpu-0", "cpu-1", "cpu-2"];
    await suite.create(names.map((name) => suite.pod(name, { pool: "cpu", cpu: "3" })));
    const { nodes, messages, pending } = await splitBoundAndPending(names, 2);
    expect(new Set(nodes)).toEqual(new Set([suite.nodeName("cpu", 0), suite.nodeName("cpu", 1)]));
    expect(messages[0]).toMatch(/^0\/\d+ nodes are available: (.+, )?2 Insufficient cpu[,.]/);
    await suite.staysPending(pending);
  });

  it("respects memory requests", async () => {
    const names = ["mem-0", "mem-1"];
    await suite.create(names.map((name) => suite.pod(name, { pool: "mem", memory: "3Gi" })));
    const { messages } = await splitBoundAndPending(names, 1);
    expect(messages[0]).toMatch(/^0\/\d+ nodes are available: (.+, )?1 Insufficient memory[,.]/);
  });

  it("respects nvidia.com/gpu requests", async () => {
    const names = ["gpu-0", "gpu-1", "gpu-2"];
    await suite.create(names.map((name) => suite.pod(name, { pool: "gpu", cpu: "100m", gpus: 1 })));
    const { messages } = await splitBoundAndPending(names, 2);
    expect(messages[0]).toMatch(/^0\/\d+ nodes are available: (.+, )?1 Insufficient nvidia\.com\/gpu[,.]/);
  });

  it("gives the room of a pod that completes to a pod that waits for it", async () => {
    await suite.create(
      suite.pod("finishes", {
        pool: "done",
        cpu: "3",
        annotations: { [completeAfterAnnotation]: "2s" },
      }),
    );
    await suite.waitBound(["finishes"]);
    await suite.create(suite.pod("waits", { pool: "done", cpu: "3" }));
    await suite.waitUnschedulable("waits", /1 Insufficient cpu/);
    await waitFor(
      "finishes to succeed",
      async () => ((await suite.pods()).get("finishes")?.status?.phase === "Succeeded" ? true : undefined),
      20_000,
    );
    expect(await suite.waitBound(["waits"])).toEqual({ waits: suite.nodeName("done", 0) });
  });

  it("counts init containers: alone too big, and against what is left on the node", async () => {
    await suite.create(
      suite.pod("init-too-big", { pool: "init", cpu: "100m", initCpu: "5" }),
      suite.pod("init-fits", { pool: "init", cpu: "500m", initCpu: "3500m" }),
    );
    expect(await suite.waitUnschedulable("init-too-big", /1 Insufficient cpu/)).toMatch(/^0\/\d+ nodes/);
    await suite.waitBound(["init-fits"]);
    // The node has 4 cpu; init-fits occupies 3.5 of them (its init container), not 0.5.
    await suite.create(suite.pod("after-init", { pool: "init", cpu: "1" }));
    await suite.waitUnschedulable("after-init", /1 Insufficient cpu/);
  });
});

describe("node selection", () => {
  it("follows nodeSelector and required node affinity", async () => {
    const affinity = (value: string) => ({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: "disk", operator: "In", values: [value] }] }],
        },
      },
    });
    const ssd = suite.nodeName("disk", 0);
    const hdd = suite.nodeName("disk", 1);
    const small = { pool: "disk", cpu: "100m" };
    await suite.create(
      // MostAllocated packs pods onto one node, so a filter that is ignored shows at once.
      suite.pod("selector-ssd-0", { ...small, nodeSelector: { disk: "ssd" } }),
      suite.pod("selector-ssd-1", { ...small, nodeSelector: { disk: "ssd" } }),
      suite.pod("affinity-hdd-0", { ...small, affinity: affinity("hdd") }),
      suite.pod("affinity-hdd-1", { ...small, affinity: affinity("hdd") }),
      suite.pod("affinity-nvme", { ...small, affinity: affinity("nvme") }),
    );
    expect(
      await suite.waitBound(["selector-ssd-0", "selector-ssd-1", "affinity-hdd-0", "affinity-hdd-1"]),
    ).toEqual({ "selector-ssd-0": ssd, "selector-ssd-1": ssd, "affinity-hdd-0": hdd, "affinity-hdd-1": hdd });
    await suite.waitUnschedulable("affinity-nvme", /node\(s\) didn't match Pod's node affinity\/selector/);
  });

  it("keeps pods off NoSchedule taints they do not tolerate", async () => {
    await suite.create(
      suite.pod("intolerant", { pool: "taint", cpu: "100m" }),
      suite.pod("tolerant", {
        pool: "taint",
        cpu: "100m",
        tolerations: [{ key: "dedicated", operator: "Equal", value: "special", effect: "NoSchedule" }],
      }),
    );
    expect(await suite.waitBound(["tolerant"])).toEqual({ tolerant: suite.nodeName("taint", 0) });
    await suite.waitUnschedulable("intolerant", /1 node\(s\) had untolerated taint\(s\)/);
  });

  it("does not use a node that is not Ready", async () => {
    // No kwok annotation: nothing runs this node's lifecycle, so it never reports Ready.
    const name = suite.nodeName("unready", 0);
    const manifest = fakeNodeManifest({
      name,
      cpu: "4",
      memory: "8Gi",
      pods: 110,
      labels: { suite: suite.id, pool: "unready" },
    });
    delete (manifest.metadata as { annotations?: Record<string, string> }).annotations;
    await suite.core.createNode({ body: manifest as k8s.V1Node });
    await suite.create(suite.pod("unready", { pool: "unready", cpu: "100m" }));
    await suite.waitUnschedulable("unready", /1 node\(s\) (were not ready|had untolerated taint)/);
    await suite.staysPending(["unready"], 1_500);
  });

  it("does not use a cordoned node, and uses it once uncordoned", async () => {
    await suite.create(suite.pod("cordoned", { pool: "cordon", cpu: "100m" }));
    await suite.waitUnschedulable("cordoned", /1 node\(s\) were unschedulable/);
    await suite.staysPending(["cordoned"], 1_500);
    await suite.setUnschedulable(suite.nodeName("cordon", 0), false);
    expect(await suite.waitBound(["cordoned"])).toEqual({ cordoned: suite.nodeName("cordon", 0) });
  });
});

describe("other schedulers", () => {
  it("counts pods that kube-scheduler bound against the node's capacity", async () => {
    const node = suite.nodeName("shared", 0);
    await suite.create(
      suite.pod("by-kube-scheduler", { pool: "shared", cpu: "3", schedulerName: "default-scheduler" }),
    );
    expect(await suite.waitBound(["by-kube-scheduler"])).toEqual({ "by-kube-scheduler": node });
    await suite.create(
      suite.pod("ours-2cpu", { pool: "shared", cpu: "2" }),
      suite.pod("ours-1cpu", { pool: "shared", cpu: "1" }),
    );
    expect(await suite.waitBound(["ours-1cpu"])).toEqual({ "ours-1cpu": node });
    await suite.waitUnschedulable("ours-2cpu", /1 Insufficient cpu/);
  });

  it("ignores pods that name another scheduler", async () => {
    await suite.create(
      suite.pod("someone-elses", { pool: "ignored", cpu: "100m", schedulerName: `${suite.id}-nobody` }),
      suite.pod("ours", { pool: "ignored", cpu: "100m" }),
    );
    await suite.waitBound(["ours"]);
    await holdsFor(
      "someone-elses to stay untouched: no node, no PodScheduled condition, no Event",
      async () => {
        const pod = (await suite.pods()).get("someone-elses");
        if (pod?.spec?.nodeName) throw new Error(`bound to ${pod.spec.nodeName}`);
        if (pod && scheduledCondition(pod))
          throw new Error(`condition ${JSON.stringify(scheduledCondition(pod))}`);
        const events = await suite.events("someone-elses");
        if (events.length > 0) throw new Error(`events: ${events.map((e) => e.reason).join(", ")}`);
      },
      3_000,
    );
  });
});

describe("scoring", () => {
  it("packs onto one node with MostAllocated (the default)", async () => {
    const names = ["pack-0", "pack-1", "pack-2"];
    await suite.create(names.map((name) => suite.pod(name, { pool: "pack", cpu: "1", memory: "1Gi" })));
    const placements = await suite.waitBound(names);
    expect(new Set(Object.values(placements)).size).toBe(1);
  });

  it("spreads over the nodes with --scoring-strategy=LeastAllocated", async () => {
    const spread = await suite.startShard("spread", ["--scoring-strategy=LeastAllocated"]);
    const names = ["spread-0", "spread-1", "spread-2"];
    await suite.create(
      names.map((name) =>
        suite.pod(name, { pool: "spread", cpu: "1", memory: "1Gi", schedulerName: spread.schedulerName }),
      ),
    );
    const placements = await suite.waitBound(names);
    expect(new Set(Object.values(placements))).toEqual(
      new Set([0, 1, 2].map((i) => suite.nodeName("spread", i))),
    );
  });
});
