/** Label selectors (a PodDisruptionBudget's) over labels whose keys are anyone's text. */
import { describe, expect, it } from "vitest";
import { matchesLabelSelector } from "../../src/core/label-selector.js";

describe("matchesLabelSelector", () => {
  const labels = { app: "web" };

  it("matches by own labels only: a key named like an Object.prototype member is not a label", () => {
    for (const key of ["constructor", "toString", "hasOwnProperty", "__proto__"]) {
      expect(matchesLabelSelector({ matchExpressions: [{ key, operator: "Exists" }] }, labels)).toBe(false);
      expect(matchesLabelSelector({ matchExpressions: [{ key, operator: "DoesNotExist" }] }, labels)).toBe(
        true,
      );
      expect(
        matchesLabelSelector({ matchExpressions: [{ key, operator: "NotIn", values: ["x"] }] }, labels),
      ).toBe(true);
    }
  });

  it("still matches the labels a pod has", () => {
    const own = JSON.parse('{"constructor":"yes","app":"web"}');
    expect(matchesLabelSelector({ matchLabels: { constructor: "yes", app: "web" } }, own)).toBe(true);
    expect(
      matchesLabelSelector({ matchExpressions: [{ key: "constructor", operator: "Exists" }] }, own),
    ).toBe(true);
    expect(
      matchesLabelSelector({ matchExpressions: [{ key: "app", operator: "In", values: ["web"] }] }, labels),
    ).toBe(true);
  });
});
