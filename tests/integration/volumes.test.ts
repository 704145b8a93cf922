/**
 * The volume plugins against a real API server and its PV controller: static PersistentVolumes
 * with zone node affinity (or zone labels) and the claims bound to them send a pod to that zone;
 * a missing claim, an unbound Immediate claim and an unbound WaitForFirstConsumer claim are
 * refused with their messages (and a claim that appears and binds wakes the pod); a
 * ReadWriteOncePod claim serves one pod at a time.
 */
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

const suite = schedulerSuite("volumes");
const storage = suite.clients.kc.makeApiClient(k8s.StorageV1Api);

const zoneKey = "topology.kubernetes.io/zone";
const zone = (z: "a" | "b" | "c") => `${suite.id}-${z}`;
const pool = "vol";

const volumesCreated: string[] = [];
const classesCreated: string[] = [];

beforeAll(async () => {
  await Promise.all([
    suite.addNodes(pool, 2, { labels: { [zoneKey]: zone("a") } }, 0),
    suite.addNodes(pool, 2, { labels: { [zoneKey]: zone("b") } }, 2),
  ]);
});

afterAll(async () => {
  await Promise.all([
    ...volumesCreated.map((name) => suite.core.deletePersistentVolume({ name }).catch(() => undefined)),
    ...classesCreated.map((name) => storage.deleteStorageClass({ name }).catch(() => undefined)),
  ]);
});

const nodesIn = (z: "a" | "b") =>
  z === "a"
    ? [suite.nodeName(pool, 0), suite.nodeName(pool, 1)]
    : [suite.nodeName(pool, 2), suite.nodeName(pool, 3)];

/** A pod of the pool that mounts the claims. */
function podWith(name: string, claims: string[]): k8s.V1Pod {
  const pod = suite.pod(name, { pool, cpu: "100m" });
  return {
    ...pod,
    spec: {
      ...(pod.spec as k8s.V1PodSpec),
      volumes: claims.map((claimName) => ({ name: claimName, persistentVolumeClaim: { claimName } })),
    },
  };
}

/**
 * A static hostPath volume pre-bound to the claim (the PV controller then binds both), with
 * required node affinity to the zone, or only the zone label (VolumeZone) when byLabel.
 */
async function staticVolume(
  claim: string,
  options: { zone: string; byLabel?: boolean; accessMode?: string },
): Promise<string> {
  const name = `${suite.id}-${claim}`;
  const accessModes = [options.accessMode ?? "ReadWriteOnce"];
  await suite.core.createPersistentVolume({
    body: {
      metadata: { name, labels: options.byLabel ? { [zoneKey]: options.zone } : {} },
      spec: {
        capacity: { storage: "1Gi" },
        accessModes,
        persistentVolumeReclaimPolicy: "Retain",
        storageClassName: "",
        hostPath: { path: `/tmp/${name}` },
        claimRef: { namespace: suite.namespace, name: claim },
        ...(options.byLabel
          ? {}
          : {
              nodeAffinity: {
                required: {
                  nodeSelectorTerms: [
                    { matchExpressions: [{ key: zoneKey, operator: "In", values: [options.zone] }] },
                  ],
                },
              },
            }),
      },
    },
  });
  volumesCreated.push(name);
  await createClaim(claim, { volumeName: name, accessModes });
  return name;
}

async function createClaim(
  name: string,
  options: { volumeName?: string; storageClassName?: string; accessModes?: string[] } = {},
): Promise<void> {
  await suite.core.createNamespacedPersistentVolumeClaim({
    namespace: suite.namespace,
    body: {
      metadata: { name },
      spec: {
        accessModes: options.accessModes ?? ["ReadWriteOnce"],
        resources: { requests: { storage: "1Gi" } },
        storageClassName: options.storageClassName ?? "",
        ...(options.volumeName ? { volumeName: options.volumeName } : {}),
      },
    },
  });
}

async function waitClaimBound(name: string): Promise<void> {
  await waitFor(
    `claim ${name} to be bound`,
    async () => {
      const claim = await suite.core.readNamespacedPersistentVolumeClaim({
        name,
        namespace: suite.namespace,
      });
      if (claim.status?.phase !== "Bound") throw new Error(`phase ${claim.status?.phase}`);
      return true;
    },
    30_000,
  );
}

describe("bound claims", () => {
  it("send a pod to the zone of its volume's node affinity", async () => {
    await staticVolume("data-a", { zone: zone("a") });
    await staticVolume("data-b", { zone: zone("b") });
    await Promise.all([waitClaimBound("data-a"), waitClaimBound("data-b")]);
    await suite.create(
      ["a-0", "a-1", "a-2"].map((name) => podWith(name, ["data-a"])),
      ["b-0", "b-1", "b-2"].map((name) => podWith(name, ["data-b"])),
    );
    const placements = await suite.waitBound(["a-0", "a-1", "a-2", "b-0", "b-1", "b-2"]);
    for (const [name, node] of Object.entries(placements))
      expect(nodesIn(name.startsWith("a") ? "a" : "b")).toContain(node);
  });

  it("send a pod to the zone its volume is labelled with (VolumeZone)", async () => {
    await staticVolume("labelled-b", { zone: zone("b"), byLabel: true });
    await waitClaimBound("labelled-b");
    await suite.create(["l-0", "l-1"].map((name) => podWith(name, ["labelled-b"])));
    const placements = await suite.waitBound(["l-0", "l-1"]);
    for (const node of Object.values(placements)) expect(nodesIn("b")).toContain(node);
  });

  it("refuse a pod whose volume is in a zone without nodes", async () => {
    await staticVolume("data-c", { zone: zone("c") });
    await waitClaimBound("data-c");
    await suite.create(podWith("c-0", ["data-c"]));
    const message = await suite.waitUnschedulable("c-0", /node\(s\) had volume node affinity conflict/);
    // The pool's four nodes, at least, conflict with the volume.
    expect(message).toMatch(
      /^0\/\d+ nodes are available: .*\b([4-9]|\d\d+) node\(s\) had volume node affinity conflict/,
    );
    await suite.staysPending(["c-0"]);
  });
});

describe("gangs", () => {
  it("place a gang whose members' claims are bound in one zone there, all at once", async () => {
    await Promise.all(
      ["g-0", "g-1", "g-2"].map((claim) => staticVolume(`gang-${claim}`, { zone: zone("a") })),
    );
    await Promise.all(["g-0", "g-1", "g-2"].map((claim) => waitClaimBound(`gang-${claim}`)));
    const members = suite.gang("g", 3, { pool, cpu: "100m" }).map((member) => ({
      ...member,
      spec: {
        ...(member.spec as k8s.V1PodSpec),
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: `gang-${member.metadata?.name}` } }],
      },
    }));
    await suite.create(members);
    const placements = await suite.waitBound(["g-0", "g-1", "g-2"]);
    for (const node of Object.values(placements)) expect(nodesIn("a")).toContain(node);
  });
});

describe("claims that cannot be used yet", () => {
  it("refuses a pod whose claim does not exist, and places it once the claim is created and bound", async () => {
    await suite.create(podWith("late", ["late-claim"]));
    await suite.waitUnschedulable("late", /persistentvolumeclaim "late-claim" not found/);
    await staticVolume("late-claim", { zone: zone("a") });
    const placements = await suite.waitBound(["late"], 45_000);
    expect(nodesIn("a")).toContain(placements.late);
  });

  it("refuses a pod whose Immediate claim is not bound", async () => {
    await createClaim("unbound");
    await suite.create(podWith("waits", ["unbound"]));
    await suite.waitUnschedulable("waits", /pod has unbound immediate PersistentVolumeClaims/);
    await suite.staysPending(["waits"]);
  });

  it("refuses a pod whose WaitForFirstConsumer claim is not bound, naming the claim and kube-scheduler", async () => {
    const className = `${suite.id}-wffc`;
    await storage.createStorageClass({
      body: {
        metadata: { name: className },
        provisioner: "kubernetes.io/no-provisioner",
        volumeBindingMode: "WaitForFirstConsumer",
      },
    });
    classesCreated.push(className);
    await createClaim("first-consumer", { storageClassName: className });
    await suite.create(podWith("consumer", ["first-consumer"]));
    const message = await suite.waitUnschedulable("consumer", /WaitForFirstConsumer/);
    expect(message).toContain(
      `persistentvolumeclaim "first-consumer" is not bound and its StorageClass "${className}" binds it`,
    );
    expect(message).toContain("schedule the pod with kube-scheduler (spec.schedulerName)");
    await suite.staysPending(["consumer"]);
  });
});

describe("ReadWriteOncePod", () => {
  it("lets one pod use the claim; the next waits until it is gone", async () => {
    await staticVolume("solo", { zone: zone("b"), accessMode: "ReadWriteOncePod" });
    await waitClaimBound("solo");
    await suite.create(podWith("solo-0", ["solo"]));
    await suite.waitBound(["solo-0"]);
    await suite.create(podWith("solo-1", ["solo"]));
    await suite.waitUnschedulable(
      "solo-1",
      /node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode/,
    );
    await suite.deletePods(["solo-0"]);
    const placements = await suite.waitBound(["solo-1"], 45_000);
    expect(nodesIn("b")).toContain(placements["solo-1"]);
  });
});
