/**
 * The one parser of group membership: a group name with surrounding whitespace is refused, not
 * read as a second group next to the trimmed one; so is one longer than an object name.
 */
import { describe, expect, it } from "vitest";
import { podGroupAnnotation } from "../../../src/contracts/keys.js";
import type { Pod } from "../../../src/core/api-types.js";
import { toPodInfo } from "../../../src/core/build-info.js";
import {
  annotationGroupSource,
  type GroupSource,
  groupKey,
  maxGroupNameLength,
  noGroupObjects,
  podGroupMembership,
} from "../../../src/core/gang/index.js";
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

describe("GroupSource", () => {
  it("the annotation source gives group, min-member, the pod's priority and whole-group disruption", () => {
    const p = pod("web-0", { group: "web", minMember: 3, priority: 7 });
    expect(annotationGroupSource.membership(p, noGroupObjects)).toEqual({
      group: groupKey("default", "web", false),
      minMember: 3,
      error: undefined,
      priority: 7,
      disruption: "all",
    });
  });

  it("is asked once, when the pod joins: PodInfo carries its group, min-member and priority", () => {
    const info = toPodInfo(pod("web-0", { group: "web", minMember: 3, priority: 7 }));
    expect(info.group.id).toBe("group:default/web");
    expect(info.minMember).toBe(3);
    expect(info.priority).toBe(7);
    expect(toPodInfo(pod("alone")).minMember).toBeUndefined();
  });

  it("may read objects other than the pod (a PodGroup lookup) to answer", () => {
    // A sketch of the next sources: the pod names a PodGroup; min-member and priority come from it.
    const podGroups: Record<string, { minMember: number; priority: number }> = {
      "default/train": { minMember: 8, priority: 1000 },
    };
    const fromPodGroups: GroupSource = {
      name: "PodGroup",
      membership: (p, objects) => {
        const name = p.metadata.labels?.["example.io/pod-group"] ?? "";
        const found = objects.podGroup?.(p.metadata.namespace, name) as
          | { minMember: number; priority: number }
          | undefined;
        return {
          group: groupKey(p.metadata.namespace, name, false),
          minMember: found?.minMember,
          error: found ? undefined : `PodGroup ${name} not found`,
          priority: found?.priority ?? 0,
          disruption: "all",
          preemptionPolicy: undefined,
          waitingFor: undefined,
        };
      },
    };
    const objects = { podGroup: (namespace: string, name: string) => podGroups[`${namespace}/${name}`] };
    const info = toPodInfo(
      pod("train-0", { labels: { "example.io/pod-group": "train" } }),
      fromPodGroups,
      objects,
    );
    expect(info.group.id).toBe("group:default/train");
    expect(info.minMember).toBe(8);
    expect(info.priority).toBe(1000);
  });
});

describe("a pod's key beside its group's", () => {
  it("is '<ns>/<name>' for a solo pod (its group's hash key), a gang member and a solo pod hashed by its controller", () => {
    const solo = toPodInfo(pod("web-0"));
    expect(solo.key).toBe(`${solo.namespace}/web-0`);
    expect(solo.group).toMatchObject({ id: `pod:${solo.key}`, hashKey: solo.key, solo: true });
    const member = toPodInfo(annotated({ [podGroupAnnotation]: "train" }));
    expect(member.key).toBe(`${member.namespace}/web-0`);
    expect(member.group).toMatchObject({
      id: `group:${member.namespace}/train`,
      hashKey: `${member.namespace}/train`,
    });
    const base = pod("web-1");
    const owned = toPodInfo({
      ...base,
      metadata: {
        ...base.metadata,
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web", uid: "u", controller: true },
        ],
      },
      spec: {
        ...base.spec,
        affinity: {
          podAntiAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [
              { labelSelector: { matchLabels: { app: "web" } }, topologyKey: "kubernetes.io/hostname" },
            ],
          },
        },
      },
    } as Pod);
    expect(owned.key).toBe(`${owned.namespace}/web-1`);
    expect(owned.group).toMatchObject({
      id: `pod:${owned.key}`,
      hashKey: `${owned.namespace}/ReplicaSet/web`,
    });
  });
});
