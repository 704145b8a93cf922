import type * as k8s from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { InvariantLedger } from "../checker/invariant-ledger.js";
import { constrainedPod } from "./constrained.js";

const zone = "topology.kubernetes.io/zone";

/** A ledger over nodes n0…n5 in zones a, b, c, fed the scenario's pods bound where `place` says. */
function judge(scenario: "affinity" | "spread", pods: number, place: (i: number) => string): InvariantLedger {
  const ledger = new InvariantLedger();
  for (let i = 0; i < 6; i++)
    ledger.node(
      {
        metadata: {
          name: `n${i}`,
          labels: { "kubernetes.io/hostname": `n${i}`, [zone]: `zone-${"abc"[i % 3]}` },
        },
        status: {
          allocatable: { cpu: "32", memory: "256Gi" },
          conditions: [{ type: "Ready", status: "True" }],
        },
      },
      false,
    );
  for (let i = 0; i < pods; i++) {
    const pod = constrainedPod(scenario, i, pods, "ns", "x") as unknown as k8s.V1Pod;
    pod.metadata = { ...pod.metadata, uid: `u${i}` };
    ledger.pod(pod, false, i * 10_000);
    ledger.pod(
      { ...pod, spec: { ...(pod.spec as k8s.V1PodSpec), nodeName: place(i) } },
      false,
      i * 10_000 + 1,
    );
  }
  ledger.judgeSettled(pods * 10_000);
  return ledger;
}

describe("the affinity and spread scenarios' pods, as the checker judges them", () => {
  it("affinity: one green pod per node and the foo pods in one zone break nothing", () => {
    // Pods 0-5 green on n0…n5; pods 6-11 foo on n0 and n3 (zone a).
    const ledger = judge("affinity", 12, (i) => (i < 6 ? `n${i}` : i % 2 === 0 ? "n0" : "n3"));
    expect(ledger.counts().podAntiAffinity).toBe(0);
    expect(ledger.counts().podAffinity).toBe(0);
  });

  it("affinity: two green pods on a node, and a foo pod outside the first one's zone, are counted", () => {
    const ledger = judge("affinity", 12, (i) => (i < 6 ? `n${i % 5}` : i === 11 ? "n1" : "n0"));
    expect(ledger.counts().podAntiAffinity).toBe(1);
    expect(ledger.counts().podAffinity).toBe(1);
  });

  it("spread: round-robin over zones breaks nothing; piling into one zone is counted", () => {
    expect(judge("spread", 9, (i) => `n${i % 6}`).counts().spreadSkew).toBe(0);
    expect(judge("spread", 6, (i) => (i < 3 ? "n0" : `n${i - 2}`)).counts().spreadSkew).toBeGreaterThan(0);
  });
});
