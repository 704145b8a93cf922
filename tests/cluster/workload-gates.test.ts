/** The Workload API's gates: the same on the local control plane and in the kind config. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { kindConfigFor, kindConfigPath } from "./kind/provider.js";
import { enabledWorkloadGates, workloadGateFlags, workloadRuntimeConfig } from "./local/workload-gates.js";

describe("workload gates on the local control plane", () => {
  it("beta switches GenericWorkload on every component and serves scheduling.k8s.io/v1beta1", () => {
    for (const component of ["kube-controller-manager", "kube-scheduler"] as const) {
      expect(workloadGateFlags("beta", component)).toEqual(["--feature-gates=GenericWorkload=true"]);
    }
    expect(workloadGateFlags("beta", "kube-apiserver")).toEqual([
      "--feature-gates=GenericWorkload=true",
      "--runtime-config=scheduling.k8s.io/v1beta1=true",
    ]);
  });

  it("alpha adds the alpha gates and the v1alpha3 version CompositePodGroup lives in", () => {
    expect(workloadGateFlags("alpha", "kube-apiserver")).toEqual([
      "--feature-gates=GenericWorkload=true,WorkloadWithJob=true,TopologyAwareWorkloadScheduling=true,CompositePodGroup=true",
      "--runtime-config=scheduling.k8s.io/v1beta1=true,scheduling.k8s.io/v1alpha3=true",
    ]);
    expect(workloadGateFlags("alpha", "kube-scheduler")).toHaveLength(1);
  });

  it("off passes no flag at all", () => {
    expect(workloadGateFlags("off", "kube-apiserver")).toEqual([]);
    expect(enabledWorkloadGates("off")).toEqual([]);
  });
});

describe("the kind config", () => {
  const file = parse(readFileSync(kindConfigPath, "utf8")) as Record<string, unknown>;

  it("holds the beta gates and runtime config, as the local cluster's default", () => {
    expect(file.featureGates).toEqual({ GenericWorkload: true });
    expect(file.runtimeConfig).toEqual({ "scheduling.k8s.io/v1beta1": "true" });
    expect(kindConfigFor("beta")).toEqual(file);
  });

  it("derives the alpha and off configs from it, nodes unchanged", () => {
    const alpha = kindConfigFor("alpha");
    expect(Object.keys(alpha.featureGates ?? {})).toEqual(enabledWorkloadGates("alpha"));
    expect(Object.keys(alpha.runtimeConfig ?? {})).toEqual(workloadRuntimeConfig("alpha"));
    expect(alpha.nodes).toEqual(file.nodes);
    const off = kindConfigFor("off");
    expect(off.featureGates).toBeUndefined();
    expect(off.runtimeConfig).toBeUndefined();
    expect(off.nodes).toEqual(file.nodes);
  });
});
