/**
 * NodePorts (plugins/node-ports/): a pod's host ports must be free on its node, with
 * kube-scheduler's protocol and address rules; honoured by the shard's cycle (gang members
 * assumed earlier in the cycle hold their ports), its preemption and the coordinator's trial.
 */
import { describe, expect, it } from "vitest";
import type { ContainerPort, Pod } from "../../src/core/api-types.js";
import { toPodInfo } from "../../src/core/build-info.js";
import { SchedulingCore } from "../../src/core/cycle.js";
import { nodePorts, nodePortsReason } from "../../src/core/plugins/node-ports/node-ports.js";
import { buildProfile } from "../../src/core/profile.js";
import { trialPlacement } from "../../src/core/trial-placement.js";
import {
  decisionFor,
  gang,
  node,
  ownsAll,
  type PodOptions,
  pendingGroupsOf,
  pod,
  snapshotOf,
} from "./fixtures.js";

/** The pod with these ports on its one container. */
function withPorts(p: Pod, ...ports: ContainerPort[]): Pod {
  const [main] = p.spec.containers;
  if (!main) throw new Error("no container");
  return { ...p, spec: { ...p.spec, containers: [{ ...main, ports }] } };
}

const portPod = (name: string, ports: ContainerPort[], options: PodOptions = {}) =>
  withPorts(pod(name, options), ...ports);

const http: ContainerPort = { containerPort: 80, hostPort: 8080 };

describe("NodePorts alone", () => {
  const verdict = (running: Pod[], incoming: Pod) => {
    const state = snapshotOf([node("n1")], running);
    const n1 = state.nodes[0];
    if (!n1) throw new Error("no node");
    return nodePorts(state).filter(toPodInfo(incoming), n1);
  };

  it("rejects a pod whose host port and protocol a pod on the node holds, as Unschedulable", () => {
    const status = verdict([portPod("old", [http], { nodeName: "n1" })], portPod("new", [http]));
    expect(status).toEqual({ code: "Unschedulable", reasons: [nodePortsReason] });
    expect(nodePortsReason).toBe("node(s) didn't have free ports for the requested pod ports");
    // TCP is the default protocol on both sides.
    expect(
      verdict(
        [portPod("old", [{ hostPort: 8080, protocol: "TCP" }], { nodeName: "n1" })],
        portPod("new", [{ hostPort: 8080 }]),
      )?.code,
    ).toBe("Unschedulable");
  });

  it("lets the same port through on another protocol or another port", () => {
    const running = [portPod("old", [http], { nodeName: "n1" })];
    expect(verdict(running, portPod("udp", [{ hostPort: 8080, protocol: "UDP" }]))).toBeUndefined();
    expect(verdict(running, portPod("other", [{ hostPort: 8081 }]))).toBeUndefined();
    // A container port without a host port takes nothing on the node.
    expect(verdict(running, portPod("inner", [{ containerPort: 8080 }]))).toBeUndefined();
  });

  it("lets the same port through on another host IP, but a wildcard IP conflicts with any", () => {
    const on = (ip: string) => ({ hostPort: 9000, hostIP: ip });
    const running = [portPod("old", [on("10.0.0.1")], { nodeName: "n1" })];
    expect(verdict(running, portPod("other-ip", [on("10.0.0.2")]))).toBeUndefined();
    expect(verdict(running, portPod("same-ip", [on("10.0.0.1")]))?.code).toBe("Unschedulable");
    expect(verdict(running, portPod("any", [on("0.0.0.0")]))?.code).toBe("Unschedulable");
    expect(verdict(running, portPod("unset", [{ hostPort: 9000 }]))?.code).toBe("Unschedulable");
    expect(verdict(running, portPod("empty", [on("")]))?.code).toBe("Unschedulable");
    const wildcard = [portPod("old", [{ hostPort: 9000 }], { nodeName: "n1" })];
    expect(verdict(wildcard, portPod("specific", [on("10.0.0.1")]))?.code).toBe("Unschedulable");
  });

  it("counts sidecars' host ports (init containers with restartPolicy Always), not other init containers'", () => {
    const withInit = (name: string, restartPolicy: string | undefined): Pod => {
      const p = pod(name, { nodeName: "n1" });
      const init = { name: "init", ports: [http], ...(restartPolicy ? { restartPolicy } : {}) };
      return { ...p, spec: { ...p.spec, initContainers: [init] } };
    };
    expect(toPodInfo(withInit("sidecar", "Always")).hostPorts).toEqual([
      { port: 8080, protocol: "TCP", ip: "0.0.0.0" },
    ]);
    expect(toPodInfo(withInit("init", undefined)).hostPorts).toEqual([]);
    expect(verdict([withInit("sidecar", "Always")], portPod("new", [http]))?.code).toBe("Unschedulable");
    expect(verdict([withInit("init", undefined)], portPod("new", [http]))).toBeUndefined();
  });

  it("leaves pods without host ports untouched, however many ports the node's pods hold", () => {
    const plain = toPodInfo(pod("plain"));
    expect(plain.hostPorts).toEqual([]);
    // Parsed once: pods without host ports share one empty list.
    expect(plain.hostPorts).toBe(toPodInfo(pod("other")).hostPorts);
    expect(
      verdict([portPod("old", [http, { hostPort: 53, protocol: "UDP" }], { nodeName: "n1" })], pod("p")),
    ).toBe(undefined);
  });

  it("keeps the ports of higher-priority pods nominated to the node", () => {
    const state = snapshotOf(
      [node("n1")],
      [portPod("winner", [http], { priority: 10, nominatedNodeName: "n1" })],
    );
    const n1 = state.nodes[0];
    if (!n1) throw new Error("no node");
    const plugin = nodePorts(state);
    expect(plugin.filter(toPodInfo(portPod("low", [http], { priority: 5 })), n1)?.code).toBe("Unschedulable");
    expect(plugin.filter(toPodInfo(portPod("high", [http], { priority: 20 })), n1)).toBeUndefined();
  });

  it("is always on, before NodeResourcesFit, woken by a pod leaving or a node joining", () => {
    const profile = buildProfile(snapshotOf([node("n1")]));
    const names = profile.filters.map((f) => f.name);
    expect(names).toContain("NodePorts");
    expect(names.indexOf("NodePorts")).toBeGreaterThan(names.indexOf("NodeAffinity"));
    expect(names.indexOf("NodePorts")).toBeLessThan(names.indexOf("NodeResourcesFit"));
    // No PreFilter of its own: pods still run without any CycleState.
    expect(profile.preFilters.map((p) => p.name)).not.toContain("NodePorts");
    expect(nodePorts(snapshotOf([])).events).toEqual(["AssignedPodDelete", "NodeAdd"]);
  });
});

describe("NodePorts through the cycle, preemption and trial placement", () => {
  const nodes = () => [node("n1", { cpu: 8 }), node("n2", { cpu: 8 }), node("n3", { cpu: 8 })];
  const portGang = (name: string, size: number) => gang(name, size).map((p) => withPorts(p, http));

  it("puts two members of one gang wanting the same host port on different nodes", () => {
    // Packing would put both on the fullest node: the ports keep them apart.
    const state = snapshotOf(nodes(), [pod("warm", { nodeName: "n1", cpu: 4 })]);
    const decision = decisionFor(
      new SchedulingCore(state).cycle(pendingGroupsOf(portGang("g", 2)), ownsAll),
      "g",
    );
    expect(decision.kind).toBe("bind");
    const placed = decision.kind === "bind" ? decision.placements.map((p) => p.nodeName) : [];
    expect(new Set(placed).size).toBe(2);
    // Without ports the same gang packs onto one node.
    const plain = snapshotOf(nodes(), [pod("warm", { nodeName: "n1", cpu: 4 })]);
    const packed = decisionFor(new SchedulingCore(plain).cycle(pendingGroupsOf(gang("p", 2)), ownsAll), "p");
    expect(packed.kind === "bind" && new Set(packed.placements.map((p) => p.nodeName)).size).toBe(1);
  });

  it("finds a gang unschedulable, and says why, when its members cannot each get the port", () => {
    const state = snapshotOf(nodes(), [portPod("holder", [http], { nodeName: "n1", priority: 100 })]);
    const decision = decisionFor(
      new SchedulingCore(state).cycle(pendingGroupsOf(portGang("g", 3)), ownsAll),
      "g",
    );
    expect(decision.kind).toBe("unschedulable");
    expect(decision.kind === "unschedulable" && decision.unschedulablePlugins).toEqual(["NodePorts"]);
    expect(decision.kind === "unschedulable" && decision.message).toContain(nodePortsReason);
  });

  it("evicts the lower-priority pod holding the port", () => {
    const state = snapshotOf(
      [node("n1", { cpu: 8 })],
      [
        portPod("low", [http], { nodeName: "n1", priority: 0 }),
        pod("bystander", { nodeName: "n1", priority: 0 }),
      ],
    );
    const decision = decisionFor(
      new SchedulingCore(state).cycle(pendingGroupsOf([portPod("high", [http], { priority: 10 })]), ownsAll),
      "high",
    );
    expect(decision.kind).toBe("preempt");
    // Only the pod holding the port goes: room was never short.
    expect(
      decision.kind === "preempt" && decision.plan.victims.map((v) => v.pods.map((p) => p.name)),
    ).toEqual([["low"]]);
  });

  it("is honoured by the coordinator's trial placement", () => {
    const state = snapshotOf(nodes(), [portPod("holder", [http], { nodeName: "n1" })]);
    const group = pendingGroupsOf(portGang("g", 2))[0];
    if (!group) throw new Error("no group");
    const placed = trialPlacement(state, state.nodes, group);
    expect(placed?.map((p) => p.nodeName).sort()).toEqual(["n2", "n3"]);
    expect(trialPlacement(state, state.nodes.slice(0, 2), group)).toBeUndefined();
    // The trial leaves the state as it was.
    expect(state.nodes.map((n) => n.pods.size)).toEqual([1, 0, 0]);
  });
});
