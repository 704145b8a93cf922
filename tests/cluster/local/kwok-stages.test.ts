/** The KWOK stages without the pod lifecycle: nodes and pod deletion stay, pods no longer turn Running. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { kwokStagesPath, podLifecycleStages, withNodeHeartbeat, withoutStages } from "./kwok-stages.js";

const stageNames = (text: string) =>
  parseAllDocuments(text)
    .map((document) => (document.toJS() as { metadata?: { name?: string } } | null)?.metadata?.name)
    .filter((name) => name !== undefined);

describe("KWOK stages without the pod lifecycle", () => {
  const full = readFileSync(kwokStagesPath, "utf8");

  it("drops exactly the stages that patch a bound pod's status", () => {
    const all = stageNames(full);
    for (const name of podLifecycleStages) expect(all).toContain(name);
    expect(stageNames(withoutStages(full, podLifecycleStages))).toEqual(
      all.filter((name) => !podLifecycleStages.includes(name)),
    );
  });

  it("keeps the node stages and the pod deletion whole", () => {
    const kept = parseAllDocuments(withoutStages(full, podLifecycleStages)).map((d) => d.toJS());
    const original = parseAllDocuments(full).map((d) => d.toJS());
    for (const name of ["node-initialize", "node-heartbeat", "pod-remove-finalizers", "pod-delete"])
      expect(kept.find((s) => s?.metadata?.name === name)).toEqual(
        original.find((s) => s?.metadata?.name === name),
      );
  });
});

describe("KWOK stages with the node heartbeat spaced out", () => {
  const full = readFileSync(kwokStagesPath, "utf8");
  const stages = (text: string) =>
    parseAllDocuments(text).map(
      (d) => d.toJS() as { metadata?: { name?: string }; spec?: { delay?: Record<string, number> } },
    );

  it("changes only the heartbeat's delay: every 6 hours, give or take a fifth", () => {
    const changed = stages(withNodeHeartbeat(full, 6 * 3600));
    const original = stages(full);
    expect(changed.find((s) => s.metadata?.name === "node-heartbeat")?.spec?.delay).toEqual({
      durationMilliseconds: 21_600_000,
      jitterDurationMilliseconds: 25_920_000,
    });
    expect(changed.filter((s) => s.metadata?.name !== "node-heartbeat")).toEqual(
      original.filter((s) => s.metadata?.name !== "node-heartbeat"),
    );
  });
});
