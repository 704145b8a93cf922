/**
 * The one parser of group membership: a group name with surrounding whitespace is refused, not
 * read as a second group next to the trimmed one; so is one longer than an object name.
 */
import { describe, expect, it } from "vitest";
import type { Pod } from "../../../src/core/api-types.js";
import { maxGroupNameLength, podGroupAnnotation, podGroupMembership } from "../../../src/core/gang/index.js";
import { pod } from "../fixtures.js";

function annotated(annotations: Record<string, string>): Pod {
  const base = pod("web-0");
  return { ...base, metadata: { ...base.metadata, annotations } };
}

describe("podGroupMembership", () => {
  it.each([" web", "web ", "\tweb", "web\n"])("refuses the group name %j", (value) => {
    const membership = podGroupMembership(annotated({ "pod-group": value }));
    expect(membership.error).toBe(`annotation pod-group=${JSON.stringify(value)} has surrounding whitespace`);
    expect(membership.group.solo).toBe(true);
  });

  it("names the key the name came from", () => {
    expect(podGroupMembership(annotated({ [podGroupAnnotation]: " web" })).error).toBe(
      `annotation ${podGroupAnnotation}=" web" has surrounding whitespace`,
    );
  });

  it("reads a name with inner spaces and one without any as they are", () => {
    expect(podGroupMembership(annotated({ "pod-group": "web" })).group.id).toBe("group:default/web");
    const inner = podGroupMembership(annotated({ "pod-group": "web front" }));
    expect(inner.error).toBeUndefined();
    expect(inner.group.id).toBe("group:default/web front");
  });

  it("refuses a group name longer than an object name, without repeating it", () => {
    const membership = podGroupMembership(annotated({ "pod-group": "g".repeat(200_000) }));
    expect(membership.error).toBe(
      `annotation pod-group is 200000 characters long; a pod group name has at most ${maxGroupNameLength}`,
    );
    expect(membership.group.solo).toBe(true);
    expect(podGroupMembership(annotated({ "pod-group": "g".repeat(253) })).error).toBeUndefined();
  });
});
