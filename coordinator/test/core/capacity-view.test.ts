import { lentForAnnotation } from "@sharded-scheduler/scheduler/contracts";
import { describe, expect, it } from "vitest";
import { capacityView, freeCpu, usableFreeCpu } from "../../src/core/index.js";
import { summary } from "./fixtures.js";

describe("usableFreeCpu", () => {
  it("leaves out nodes two summaries claim and nodes held for another group", () => {
    const a = summary("a", [
      { name: "a1", free: 1000 },
      { name: "both", free: 4000 },
    ]);
    const b = summary("b", [
      { name: "both", free: 4000 },
      { name: "held", free: 8000, lentFor: "group:ns/other" },
      { name: "mine", free: 2000, lentFor: "group:ns/job" },
    ]);
    const view = capacityView([a, b]);
    expect(view.cluster.node("held")?.node.metadata.annotations?.[lentForAnnotation]).toBe("group:ns/other");
    expect(usableFreeCpu(view, "group:ns/job")).toEqual({ a: 1000, b: 2000 });
    // What each summary says: every node it lists.
    expect([freeCpu(a), freeCpu(b)]).toEqual([5000, 14000]);
  });
});
