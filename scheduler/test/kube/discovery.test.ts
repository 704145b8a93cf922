/**
 * Discovery decides whether the shard watches an optional API (PodGroups): served only when the
 * group version lists the resource; a 404 is a definite no; anything else is asked again.
 */
import { describe, expect, it } from "vitest";
import { discoverResource } from "../../src/kube/discovery.js";
import type { KubeResponse } from "../../src/kube/kube-client.js";

function client(answers: (KubeResponse<unknown> | Error)[]) {
  const paths: string[] = [];
  return {
    paths,
    call: async <T>(_method: string, path: string): Promise<KubeResponse<T>> => {
      paths.push(path);
      const answer = answers.shift();
      if (answer === undefined || answer instanceof Error) throw answer ?? new Error("no answer");
      return answer as KubeResponse<T>;
    },
  };
}

const never = () => false;

describe("discoverResource", () => {
  it("says served when the group version lists the resource", async () => {
    const stub = client([
      { status: 200, body: { resources: [{ name: "workloads" }, { name: "podgroups" }] } },
    ]);
    expect(await discoverResource(stub, "scheduling.k8s.io/v1beta1", "podgroups", never, 0)).toBe("served");
    expect(stub.paths).toEqual(["/apis/scheduling.k8s.io/v1beta1"]);
  });

  it("says not served for a 404, or a group version without the resource (its status subresource is not it)", async () => {
    expect(await discoverResource(client([{ status: 404, body: {} }]), "x/v1", "podgroups", never, 0)).toBe(
      "not-served",
    );
    const statusOnly = client([{ status: 200, body: { resources: [{ name: "podgroups/status" }] } }]);
    expect(await discoverResource(statusOnly, "x/v1", "podgroups", never, 0)).toBe("not-served");
  });

  it("asks again after no answer or a server error, and gives up when stopped", async () => {
    const stub = client([
      new Error("ECONNREFUSED"),
      { status: 503, body: {} },
      { status: 200, body: { resources: [{ name: "podgroups" }] } },
    ]);
    expect(await discoverResource(stub, "x/v1", "podgroups", never, 0)).toBe("served");
    expect(stub.paths).toHaveLength(3);
    let stopped = false;
    const failing = client([new Error("down"), new Error("down")]);
    const answer = discoverResource(failing, "x/v1", "podgroups", () => stopped, 5);
    stopped = true;
    expect(await answer).toBe("not-served");
  });
});
