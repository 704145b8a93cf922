/**
 * UnsupportedConstraints (plugins/unsupported-constraints/): a pod with a hard constraint no
 * plugin implements yet is refused with a message naming the field, never placed as if the
 * constraint were absent; soft variants are placed normally.
 */
import { describe, expect, it } from "vitest";
import type { Pod, PodSpec } from "../../src/core/api-types.js";
import { toPodInfo } from "../../src/core/build-info.js";
import { SchedulingCore } from "../../src/core/cycle.js";
import {
  unsupportedConstraintOf,
  unsupportedConstraintsName,
} from "../../src/core/plugins/unsupported-constraints/unsupported-constraints.js";
import { buildProfile, preFilter, wakingEvents } from "../../src/core/profile.js";
import { trialPlacement } from "../../src/core/trial-placement.js";
import { decisionFor, gang, node, ownsAll, pendingGroupsOf, pod, snapshotOf } from "./fixtures.js";

const term = { labelSelector: { matchLabels: { app: "web" } }, topologyKey: "kubernetes.io/hostname" };

const withSpec = (p: Pod, spec: Partial<PodSpec>): Pod => ({ ...p, spec: { ...p.spec, ...spec } });

/** Each unsupported hard constraint, with the field its message must name. */
const hard: readonly [string, Partial<PodSpec>, string][] = [
  [
    "Dynamic Resource Allocation claims",
    { resourceClaims: [{ name: "gpu", resourceClaimName: "gpu-claim" }] },
    "spec.resourceClaims (Dynamic Resource Allocation)",
  ],
];

const dra: Partial<PodSpec> = { resourceClaims: [{ name: "gpu", resourceClaimName: "gpu-claim" }] };
const draField = "spec.resourceClaims (Dynamic Resource Allocation)";

/** Soft variants and volumes that constrain nothing: placed normally. */
const soft: readonly [string, Partial<PodSpec>][] = [
  [
    "required pod anti-affinity (InterPodAffinity implements it)",
    {
      affinity: {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: { matchLabels: { app: "db" } }, topologyKey: "kubernetes.io/hostname" },
          ],
        },
      },
    },
  ],
  ["an empty resourceClaims list", { resourceClaims: [] }],
  [
    "preferred pod affinity and anti-affinity, empty required lists",
    {
      affinity: {
        podAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [],
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, podAffinityTerm: term }],
        },
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, podAffinityTerm: term }],
        },
      },
    },
  ],
  [
    "ScheduleAnyway topology spread",
    { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "ScheduleAnyway" }] },
  ],
  [
    "DoNotSchedule topology spread (PodTopologySpread implements it)",
    {
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway" },
        { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule" },
      ],
    },
  ],
  [
    "volumes that place nothing",
    {
      volumes: [
        { name: "a", emptyDir: {} },
        { name: "b", configMap: { name: "c" } },
        { name: "c", hostPath: { path: "/tmp" } },
        { name: "d", csi: { driver: "x" } },
      ] as never,
    },
  ],
];

const reasonFor = (field: string) =>
  `pod uses ${field}, which sharded-scheduler does not support yet; ` +
  "schedule it with kube-scheduler (spec.schedulerName) or remove the constraint";

const nodes = () => [node("n1", { cpu: 4 }), node("n2", { cpu: 4 })];

describe("UnsupportedConstraints", () => {
  it.each(hard)("refuses %s, naming the field", (_what, spec, field) => {
    const state = snapshotOf(nodes(), []);
    const core = new SchedulingCore(state);
    const decision = decisionFor(core.cycle(pendingGroupsOf([withSpec(pod("p"), spec)]), ownsAll), "p");
    expect(decision.kind).toBe("unschedulable");
    if (decision.kind !== "unschedulable") return;
    expect(decision.message).toContain(`0/2 nodes are available: ${reasonFor(field)}.`);
    expect(decision.message).not.toMatch(/available: 2 /);
    expect(decision.unschedulablePlugins).toEqual([unsupportedConstraintsName]);
    // No cluster event helps: the fields are immutable.
    expect(decision.wakeOn).toBe(0);
    const status = preFilter(buildProfile(state), toPodInfo(withSpec(pod("p"), spec))).rejected?.status;
    expect(status).toEqual({ code: "UnschedulableAndUnresolvable", reasons: [reasonFor(field)] });
  });

  it.each(soft)("places pods with %s normally", (_what, spec) => {
    const state = snapshotOf(nodes(), []);
    expect(toPodInfo(withSpec(pod("p"), spec)).unsupportedConstraint).toBeUndefined();
    const decision = decisionFor(
      new SchedulingCore(state).cycle(pendingGroupsOf([withSpec(pod("p"), spec)]), ownsAll),
      "p",
    );
    expect(decision.kind).toBe("bind");
  });

  it("never preempts for a refused pod, even with lower-priority pods to evict", () => {
    const state = snapshotOf([node("n1", { cpu: 1 })], [pod("low", { nodeName: "n1", cpu: 1, priority: 0 })]);
    const core = new SchedulingCore(state);
    const high = withSpec(pod("high", { cpu: 1, priority: 100 }), dra);
    const decision = decisionFor(core.cycle(pendingGroupsOf([high]), ownsAll), "high");
    expect(decision.kind).toBe("unschedulable");
    expect(decision.kind === "unschedulable" && decision.message).toContain(reasonFor(draField));
    // The same pod without the constraint preempts: the refusal, not the cluster, stopped it.
    const plain = decisionFor(
      core.cycle(pendingGroupsOf([pod("plain", { cpu: 1, priority: 100 })]), ownsAll),
      "plain",
    );
    expect(plain.kind).toBe("preempt");
  });

  it("no longer refuses spec.schedulingGroup (the PodGroup source reads it), still refuses resource claims beside it", () => {
    expect(
      unsupportedConstraintOf({ containers: [], schedulingGroup: { podGroupName: "training" } }),
    ).toBeUndefined();
    expect(
      unsupportedConstraintOf({ containers: [], schedulingGroup: { podGroupName: "training" }, ...dra }),
    ).toBe(draField);
  });

  it("names the field even when the shard owns no node", () => {
    const state = snapshotOf(nodes(), []);
    const decision = decisionFor(
      new SchedulingCore(state).cycle(pendingGroupsOf([withSpec(pod("p"), dra)]), () => false),
      "p",
    );
    expect(decision.kind).toBe("unschedulable");
    expect(decision.kind === "unschedulable" && decision.message).toContain(
      `0/2 nodes are available: pod uses ${draField}`,
    );
  });

  it("is refused by the coordinator's trial placement", () => {
    const state = snapshotOf(nodes(), []);
    const group = pendingGroupsOf([withSpec(pod("p"), dra)])[0];
    if (!group) throw new Error("no group");
    expect(trialPlacement(state, state.nodes, group)).toBeUndefined();
    const plain = pendingGroupsOf([pod("q")])[0];
    if (!plain) throw new Error("no group");
    expect(trialPlacement(state, state.nodes, plain)).toHaveLength(1);
  });

  it("refuses a gang with one such member as a whole", () => {
    const state = snapshotOf(nodes(), []);
    const members = gang("g", 3);
    members[2] = withSpec(members[2] as Pod, dra);
    const decision = decisionFor(new SchedulingCore(state).cycle(pendingGroupsOf(members), ownsAll), "g");
    expect(decision.kind).toBe("unschedulable");
    expect(decision.kind === "unschedulable" && decision.message).toContain(reasonFor(draField));
    expect(decision.kind === "unschedulable" && decision.unschedulablePlugins).toEqual([
      unsupportedConstraintsName,
    ]);
    const group = pendingGroupsOf(members)[0];
    if (!group) throw new Error("no group");
    expect(trialPlacement(state, state.nodes, group)).toBeUndefined();
  });

  it("wakes a refused pod on no cluster event (an empty list is not 'any event')", () => {
    const profile = buildProfile(snapshotOf(nodes(), []));
    expect(wakingEvents(profile, [unsupportedConstraintsName])).toBe(0);
  });
});
