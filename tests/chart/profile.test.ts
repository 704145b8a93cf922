/**
 * The chart's scheduling profile (values `profile`): one ConfigMap, mounted into the shards and
 * the coordinator with --profile-config (PROFILE_CONFIG) pointing at it, whose checksum rolls
 * both; the file it renders is read with the programs' own parser. No cluster: helm template.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadProfileConfig } from "../../scheduler/src/config/profile-config.js";
import { chartDir } from "../cluster/local/layout.js";
import { helmTemplate } from "./template.js";

const dir = mkdtempSync(join(tmpdir(), "chart-profile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Container {
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string } }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface KubeObject {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: {
    template: {
      metadata: { annotations?: Record<string, string> };
      spec: { containers: Container[]; volumes?: { name: string; configMap?: { name: string } }[] };
    };
  };
}

/** `helm template r` of the chart with these --set (or --set-json) flags. */
const render = (...flags: string[]) => helmTemplate<KubeObject>(...flags);

const named = (objects: KubeObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};
const workloads = (objects: KubeObject[]) =>
  objects.filter(
    (o) => (o.kind === "StatefulSet" || o.kind === "Deployment") && !o.metadata.name.endsWith("-redis"),
  );
const podTemplate = (workload: KubeObject) => {
  if (!workload.spec) throw new Error(`${workload.metadata.name} has no pod template`);
  return workload.spec.template;
};

/** The profile file the chart renders, as the shards and the coordinator read it. */
function profileOf(objects: KubeObject[]) {
  const text = named(objects, "ConfigMap", "r-sharded-scheduler-profile").data?.["profile.yaml"] ?? "";
  const file = join(dir, `profile-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return loadProfileConfig(file);
}

describe("chart profile", () => {
  it("mounts one profile ConfigMap into the shards and the coordinator, --profile-config pointing at it", async () => {
    const objects = await render();
    const both = workloads(objects);
    expect(both.map((w) => w.metadata.name).sort()).toEqual([
      "r-sharded-scheduler",
      "r-sharded-scheduler-coordinator",
    ]);
    for (const workload of both) {
      const pod = podTemplate(workload);
      expect(pod.spec.volumes, workload.metadata.name).toEqual([
        { name: "profile", configMap: { name: "r-sharded-scheduler-profile" } },
      ]);
      const [container] = pod.spec.containers as [Container];
      expect(container.volumeMounts).toEqual([
        { name: "profile", mountPath: "/etc/sharded-scheduler/profile", readOnly: true },
      ]);
      expect(container.env).toContainEqual({
        name: "PROFILE_CONFIG",
        value: "/etc/sharded-scheduler/profile/profile.yaml",
      });
      // The strategy is the file's: the environment leaves it unset, so nothing contradicts it.
      const envConfigMap = container.envFrom?.[0]?.configMapRef?.name ?? "";
      expect(named(objects, "ConfigMap", envConfigMap).data?.SCORING_STRATEGY).toBe("");
    }
    // The defaults: the default profile, as the programs run without a file.
    expect(profileOf(objects)).toEqual({ scoringStrategy: "MostAllocated" });
  });

  it("renders the values into a file the programs accept, and rolls both on a change", async () => {
    const defaults = await render();
    const objects = await render("-f", join(chartDir, "ci/profile-values.yaml"));
    expect(profileOf(objects)).toEqual({
      scoringStrategy: "LeastAllocated",
      scoreWeights: { LeastAllocated: 2 },
      plugins: { MaxPerZone: { labelKey: "app", labelValue: "db", maxPerZone: 2 } },
    });
    const checksums = (rendered: KubeObject[]) =>
      workloads(rendered).map((w) => podTemplate(w).metadata.annotations?.["checksum/profile"]);
    const [shards, coordinator] = checksums(objects);
    expect(shards).toMatch(/^[0-9a-f]{64}$/);
    expect(coordinator).toBe(shards);
    for (const before of checksums(defaults)) expect(before).not.toBe(shards);
  });

  it("keeps scheduler.config.scoringStrategy working, and refuses it when it contradicts the profile", async () => {
    const legacy = await render("--set", "scheduler.config.scoringStrategy=LeastAllocated");
    expect(profileOf(legacy).scoringStrategy).toBe("LeastAllocated");
    const same = await render(
      "--set",
      "scheduler.config.scoringStrategy=LeastAllocated",
      "--set",
      "profile.scoringStrategy=LeastAllocated",
    );
    expect(profileOf(same).scoringStrategy).toBe("LeastAllocated");
    await expect(
      render(
        "--set",
        "scheduler.config.scoringStrategy=LeastAllocated",
        "--set",
        "profile.scoringStrategy=MostAllocated",
      ),
    ).rejects.toThrow(
      /profile.scoringStrategy MostAllocated and scheduler.config.scoringStrategy LeastAllocated differ/,
    );
  });

  it("mounts it into the shards without a coordinator, beside a provided /metrics certificate", async () => {
    const objects = await render(
      "--set",
      "coordinator.enabled=false",
      "--set",
      "metrics.tls.existingSecret=tls",
    );
    const [shards] = workloads(objects) as [KubeObject];
    expect(podTemplate(shards).spec.volumes?.map((v) => v.name)).toEqual(["metrics-tls", "profile"]);
    expect(podTemplate(shards).spec.containers[0]?.volumeMounts?.map((m) => m.name)).toEqual([
      "metrics-tls",
      "profile",
    ]);
  });

  it.each([
    ["profile.scoringStrategy=Random"],
    ["profile.scoreWeights.MostAllocated=0"],
    ["profile.scoreWeights.MostAllocated=101"],
    ["profile.pluginConfig[0].args.labelKey=app"],
    ["profile.plugins.MaxPerZone.maxPerZone=2"],
  ])("refuses values its schema forbids: %s", async (value) => {
    await expect(render("--set", value)).rejects.toThrow(/schema/i);
  });
});
