import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Container, PodSpec, ResourceList } from "../../src/core/api-types.js";
import { InvalidQuantityError } from "../../src/core/resources/quantity.js";
import {
  insufficientResources,
  podNonZeroRequests,
  podRequests,
  Resources,
} from "../../src/core/resources/resources.js";

const Mi = 1024 ** 2;
const Gi = 1024 ** 3;

function container(name: string, requests?: ResourceList, restartPolicy?: string): Container {
  return {
    name,
    ...(requests ? { resources: { requests } } : {}),
    ...(restartPolicy ? { restartPolicy } : {}),
  };
}

function sidecar(name: string, requests?: ResourceList): Container {
  return container(name, requests, "Always");
}

function resources(
  fields: Partial<Record<"milliCpu" | "memory" | "ephemeralStorage" | "pods", number>>,
  scalar = {},
) {
  const result = new Resources();
  Object.assign(result, fields);
  result.scalar = new Map(Object.entries(scalar));
  return result;
}

describe("Resources", () => {
  it("gives a Resources its own scalar resources only once one is set: the shared empty ones stay empty", () => {
    const a = Resources.fromResourceList({ cpu: "1" });
    const b = Resources.fromResourceList({ cpu: "2" });
    const untouched = new Resources();
    a.add(Resources.fromResourceList({ "nvidia.com/gpu": "2" }));
    b.setAmount("example.com/foo", 3);
    expect([...a.scalar]).toEqual([["nvidia.com/gpu", 2]]);
    expect([...b.scalar]).toEqual([["example.com/foo", 3]]);
    expect(untouched.scalar.size).toBe(0);
    expect(new Resources().scalar.size).toBe(0);
    const copy = a.clone();
    copy.subtract(Resources.fromResourceList({ "nvidia.com/gpu": "2" }));
    expect(copy.scalar.size).toBe(0);
    expect(a.scalar.get("nvidia.com/gpu")).toBe(2);
  });

  it("reads a node's allocatable the way kube-scheduler does", () => {
    const allocatable = Resources.fromResourceList({
      cpu: "3800m",
      memory: "15Gi",
      "ephemeral-storage": "94Gi",
      pods: "110",
      "nvidia.com/gpu": "8",
      "hugepages-2Mi": "1Gi",
      "example.com/foo": "0",
    });
    expect(allocatable.milliCpu).toBe(3800);
    expect(allocatable.memory).toBe(15 * Gi);
    expect(allocatable.ephemeralStorage).toBe(94 * Gi);
    expect(allocatable.pods).toBe(110);
    expect(allocatable.scalar).toEqual(
      new Map([
        ["nvidia.com/gpu", 8],
        ["hugepages-2Mi", Gi],
      ]),
    );
    expect(allocatable.get("cpu")).toBe(3800);
    expect(allocatable.get("memory")).toBe(15 * Gi);
    expect(allocatable.get("ephemeral-storage")).toBe(94 * Gi);
    expect(allocatable.get("pods")).toBe(110);
    expect(allocatable.get("nvidia.com/gpu")).toBe(8);
    expect(allocatable.get("example.com/foo")).toBe(0);
    expect(allocatable.get("example.com/absent")).toBe(0);
    expect(allocatable.names()).toEqual([
      "cpu",
      "memory",
      "ephemeral-storage",
      "pods",
      "nvidia.com/gpu",
      "hugepages-2Mi",
    ]);
  });

  it("rounds cpu up to milli-cpu and the rest up to whole units", () => {
    const list = Resources.fromResourceList({ cpu: "0.0001", memory: "1.5", "example.com/foo": "100m" });
    expect(list.milliCpu).toBe(1);
    expect(list.memory).toBe(2);
    expect(list.get("example.com/foo")).toBe(1);
  });

  it("rejects a malformed quantity", () => {
    expect(() => Resources.fromResourceList({ cpu: "1 core" })).toThrow(InvalidQuantityError);
  });

  it("is zero when empty", () => {
    expect(new Resources().isZero()).toBe(true);
    expect(Resources.fromResourceList().isZero()).toBe(true);
    expect(Resources.fromResourceList({}).isZero()).toBe(true);
    expect(Resources.fromResourceList({ cpu: "0", "example.com/foo": "0" }).isZero()).toBe(true);
    expect(new Resources().names()).toEqual([]);
    expect(Resources.fromResourceList({ "example.com/foo": "1" }).isZero()).toBe(false);
    expect(Resources.fromResourceList({ pods: "1" }).isZero()).toBe(false);
  });

  it("adds and subtracts in place and returns itself", () => {
    const a = Resources.fromResourceList({ cpu: "1", memory: "1Gi", "nvidia.com/gpu": "2" });
    const b = Resources.fromResourceList({ cpu: "500m", "ephemeral-storage": "1Gi", "example.com/foo": "3" });
    expect(a.add(b)).toBe(a);
    expect(a).toEqual(
      resources(
        { milliCpu: 1500, memory: Gi, ephemeralStorage: Gi },
        { "nvidia.com/gpu": 2, "example.com/foo": 3 },
      ),
    );
    expect(a.subtract(b)).toBe(a);
    expect(a).toEqual(Resources.fromResourceList({ cpu: "1", memory: "1Gi", "nvidia.com/gpu": "2" }));
    expect(a.clone().subtract(a).isZero()).toBe(true);
  });

  it("subtracting more than there is goes negative", () => {
    const result = new Resources().subtract(Resources.fromResourceList({ cpu: "1", "nvidia.com/gpu": "1" }));
    expect(result.milliCpu).toBe(-1000);
    expect(result.get("nvidia.com/gpu")).toBe(-1);
    expect(result.names()).toEqual(["cpu", "nvidia.com/gpu"]);
  });

  it("clones deeply", () => {
    const original = Resources.fromResourceList({ cpu: "1", "nvidia.com/gpu": "1" });
    const copy = original.clone();
    copy.add(original);
    expect(original.milliCpu).toBe(1000);
    expect(original.get("nvidia.com/gpu")).toBe(1);
    expect(copy.milliCpu).toBe(2000);
    expect(copy.get("nvidia.com/gpu")).toBe(2);
  });
});

describe("podRequests", () => {
  it("sums regular containers", () => {
    const request = podRequests({
      containers: [
        container("a", { cpu: "1", memory: "1G", "nvidia.com/gpu": "1" }),
        container("b", { cpu: "500m", memory: "512Mi", "nvidia.com/gpu": "2", "ephemeral-storage": "1Gi" }),
        container("c"),
      ],
    });
    expect(request).toEqual(
      resources({ milliCpu: 1500, memory: 1e9 + 512 * Mi, ephemeralStorage: Gi }, { "nvidia.com/gpu": 3 }),
    );
  });

  it("is zero for a pod that requests nothing", () => {
    expect(podRequests({ containers: [container("a"), container("b", {})] }).isZero()).toBe(true);
  });

  it("takes the max of the containers' sum and each init container (kube-scheduler's own example)", () => {
    // fit.go: IC1 2cpu/1G, IC2 2cpu/3G, C1 2cpu/1G, C2 1cpu/1G → 3cpu, 3G.
    const request = podRequests({
      initContainers: [
        container("ic1", { cpu: "2", memory: "1G" }),
        container("ic2", { cpu: "2", memory: "3G" }),
      ],
      containers: [container("c1", { cpu: "2", memory: "1G" }), container("c2", { cpu: "1", memory: "1G" })],
    });
    expect(request.milliCpu).toBe(3000);
    expect(request.memory).toBe(3e9);
  });

  it("keeps sidecars running beside the containers and the init containers after them", () => {
    // i1 runs alone: 1. s1 starts: 2. i2 runs beside s1: 3+2 = 5. s2 starts: 2+4 = 6.
    // Steady state: c1 + s1 + s2 = 1+2+4 = 7 ≥ 6 → 7 cpu.
    const spec: PodSpec = {
      initContainers: [
        container("i1", { cpu: "1" }),
        sidecar("s1", { cpu: "2" }),
        container("i2", { cpu: "3" }),
        sidecar("s2", { cpu: "4" }),
      ],
      containers: [container("c1", { cpu: "1" })],
    };
    expect(podRequests(spec).milliCpu).toBe(7000);

    // A big init container after s1 dominates: 10+2 = 12 > 7.
    const bigInit = structuredClone(spec);
    bigInit.initContainers = [
      container("i1", { cpu: "1" }),
      sidecar("s1", { cpu: "2" }),
      container("i2", { cpu: "10" }),
      sidecar("s2", { cpu: "4" }),
    ];
    expect(podRequests(bigInit).milliCpu).toBe(12_000);

    // The same init container before any sidecar runs alone: 10 > 7.
    const initFirst = structuredClone(bigInit);
    initFirst.initContainers = [
      container("i2", { cpu: "10" }),
      container("i1", { cpu: "1" }),
      sidecar("s1", { cpu: "2" }),
      sidecar("s2", { cpu: "4" }),
    ];
    expect(podRequests(initFirst).milliCpu).toBe(10_000);
  });

  it("computes each resource's peak separately", () => {
    // memory peaks during init (i1 3Gi + s1 1Gi = 4Gi); cpu in steady state (c 2 + s1 1 = 3).
    const request = podRequests({
      initContainers: [
        sidecar("s1", { cpu: "1", memory: "1Gi" }),
        container("i1", { cpu: "500m", memory: "3Gi" }),
      ],
      containers: [container("c", { cpu: "2", memory: "1Gi" })],
    });
    expect(request.milliCpu).toBe(3000);
    expect(request.memory).toBe(4 * Gi);
  });

  it("takes an extended resource requested only by an init container", () => {
    const request = podRequests({
      initContainers: [
        container("i", { "example.com/foo": "3" }),
        container("j", { "example.com/foo": "5" }),
      ],
      containers: [container("c", { "example.com/foo": "1", "nvidia.com/gpu": "1" })],
    });
    expect(request.scalar).toEqual(
      new Map([
        ["example.com/foo", 5],
        ["nvidia.com/gpu", 1],
      ]),
    );
  });

  it("adds the overhead", () => {
    const request = podRequests({
      containers: [container("c", { cpu: "1", memory: "1Gi" })],
      initContainers: [container("i", { cpu: "2" })],
      overhead: { cpu: "250m", memory: "120Mi" },
    });
    expect(request.milliCpu).toBe(2250);
    expect(request.memory).toBe(Gi + 120 * Mi);
  });

  it("uses pod-level cpu/memory requests in place of the containers', then adds the overhead", () => {
    const request = podRequests({
      resources: { requests: { cpu: "4" } },
      containers: [container("c", { cpu: "1", memory: "1Gi", "nvidia.com/gpu": "1" })],
      overhead: { cpu: "250m" },
    });
    expect(request.milliCpu).toBe(4250);
    expect(request.memory).toBe(Gi);
    expect(request.get("nvidia.com/gpu")).toBe(1);

    const memoryOnly = podRequests({
      resources: { requests: { memory: "2Gi" } },
      containers: [container("c", { cpu: "1", memory: "1Gi" })],
    });
    expect(memoryOnly.milliCpu).toBe(1000);
    expect(memoryOnly.memory).toBe(2 * Gi);
  });

  it("ignores pod-level requests of resources other than cpu and memory", () => {
    const request = podRequests({
      resources: { requests: { "ephemeral-storage": "10Gi" }, limits: { cpu: "8" } },
      containers: [container("c", { cpu: "1", "ephemeral-storage": "1Gi" })],
    });
    expect(request.milliCpu).toBe(1000);
    expect(request.ephemeralStorage).toBe(Gi);
  });

  it("sums exact quantities before rounding, as Kubernetes does", () => {
    const request = podRequests({
      containers: [
        container("a", { cpu: "0.5m", memory: "0.5", "example.com/foo": "0.5" }),
        container("b", { cpu: "0.5m", memory: "0.5", "example.com/foo": "0.5" }),
      ],
    });
    expect(request.milliCpu).toBe(1);
    expect(request.memory).toBe(1);
    expect(request.get("example.com/foo")).toBe(1);
    // The same amounts rounded one container at a time would have made 2 of each.
    expect(Resources.fromResourceList({ cpu: "0.5m" }).milliCpu).toBe(1);
  });

  it("never counts the pod slot", () => {
    expect(podRequests({ containers: [container("c", { cpu: "1", pods: "3" })] }).pods).toBe(0);
  });
});

describe("podNonZeroRequests", () => {
  const defaultCpu = 100;
  const defaultMemory = 200 * Mi;

  it("counts 100m cpu and 200Mi memory for each container that leaves them unset", () => {
    expect(podNonZeroRequests({ containers: [container("a"), container("b", {})] })).toEqual({
      milliCpu: 2 * defaultCpu,
      memory: 2 * defaultMemory,
    });
  });

  it("keeps explicit values, even zero", () => {
    expect(
      podNonZeroRequests({
        containers: [container("a", { cpu: "0" }), container("b", { cpu: "1", memory: "1Gi" })],
      }),
    ).toEqual({ milliCpu: 1000, memory: defaultMemory + Gi });
  });

  it("defaults init containers and sidecars with the same rules", () => {
    // containers 50m/50Mi; the init container alone counts 100m/200Mi → max.
    expect(
      podNonZeroRequests({
        initContainers: [container("i")],
        containers: [container("c", { cpu: "50m", memory: "50Mi" })],
      }),
    ).toEqual({ milliCpu: defaultCpu, memory: defaultMemory });

    // a defaulted sidecar runs beside a defaulted container: 2 × defaults.
    expect(podNonZeroRequests({ initContainers: [sidecar("s")], containers: [container("c")] })).toEqual({
      milliCpu: 2 * defaultCpu,
      memory: 2 * defaultMemory,
    });

    // after a 1-cpu sidecar, a defaulted init container needs 1000m + 100m.
    expect(
      podNonZeroRequests({
        initContainers: [sidecar("s", { cpu: "1", memory: "1Gi" }), container("i")],
        containers: [container("c", { cpu: "0", memory: "0" })],
      }),
    ).toEqual({ milliCpu: 1000 + defaultCpu, memory: Gi + defaultMemory });
  });

  it("adds the overhead to the defaulted request", () => {
    expect(
      podNonZeroRequests({ containers: [container("c")], overhead: { cpu: "250m", memory: "64Mi" } }),
    ).toEqual({
      milliCpu: defaultCpu + 250,
      memory: defaultMemory + 64 * Mi,
    });
  });

  it("with pod-level requests, defaults only what is set nowhere", () => {
    // cpu is set at pod level; memory is set nowhere, so each container counts 200Mi.
    expect(
      podNonZeroRequests({
        resources: { requests: { cpu: "2" } },
        containers: [container("a"), container("b")],
      }),
    ).toEqual({ milliCpu: 2000, memory: 2 * defaultMemory });

    // memory is set by one container, so nothing is defaulted.
    expect(
      podNonZeroRequests({
        resources: { requests: { cpu: "2" } },
        containers: [container("a", { memory: "1Gi" }), container("b")],
      }),
    ).toEqual({ milliCpu: 2000, memory: Gi });

    // cpu appears only in the overhead, which is enough to suppress the cpu default.
    expect(
      podNonZeroRequests({
        resources: { requests: { memory: "1Gi" } },
        containers: [container("a"), container("b")],
        overhead: { cpu: "100m" },
      }),
    ).toEqual({ milliCpu: 100, memory: Gi });
  });

  it("equals podRequests' cpu/memory when every container sets both", () => {
    const spec: PodSpec = {
      initContainers: [
        sidecar("s", { cpu: "300m", memory: "64Mi" }),
        container("i", { cpu: "2", memory: "1Gi" }),
      ],
      containers: [container("c", { cpu: "1", memory: "512Mi" })],
      overhead: { cpu: "10m", memory: "1Mi" },
    };
    const request = podRequests(spec);
    expect(podNonZeroRequests(spec)).toEqual({ milliCpu: request.milliCpu, memory: request.memory });
    expect(request.milliCpu).toBe(2310);
    expect(request.memory).toBe(Gi + 64 * Mi + Mi);
  });
});

describe("insufficientResources", () => {
  const allocatable = Resources.fromResourceList({
    cpu: "4",
    memory: "8Gi",
    "ephemeral-storage": "100Gi",
    pods: "110",
    "nvidia.com/gpu": "2",
  });

  it("is empty when the pod fits", () => {
    const requested = resources({ milliCpu: 3000, memory: 4 * Gi, pods: 10 });
    const pod = Resources.fromResourceList({ cpu: "1", memory: "4Gi", "nvidia.com/gpu": "2" });
    expect(insufficientResources(allocatable, requested, pod)).toEqual([]);
  });

  it("reports a full node even for a pod that requests nothing", () => {
    const requested = resources({ pods: 110 });
    expect(insufficientResources(allocatable, requested, new Resources())).toEqual(["Too many pods"]);
    expect(insufficientResources(allocatable, resources({ pods: 109 }), new Resources())).toEqual([]);
  });

  it("reports every insufficient resource in kube-scheduler's order", () => {
    const requested = resources(
      { milliCpu: 3500, memory: 7 * Gi, ephemeralStorage: 99 * Gi, pods: 110 },
      { "nvidia.com/gpu": 2 },
    );
    const pod = Resources.fromResourceList({
      "example.com/foo": "1",
      "nvidia.com/gpu": "1",
      "ephemeral-storage": "2Gi",
      memory: "2Gi",
      cpu: "1",
    });
    expect(insufficientResources(allocatable, requested, pod)).toEqual([
      "Too many pods",
      "Insufficient cpu",
      "Insufficient memory",
      "Insufficient ephemeral-storage",
      "Insufficient example.com/foo",
      "Insufficient nvidia.com/gpu",
    ]);
  });

  it("counts a resource the node lacks as zero allocatable", () => {
    const pod = Resources.fromResourceList({ "example.com/foo": "1" });
    expect(insufficientResources(allocatable, new Resources(), pod)).toEqual([
      "Insufficient example.com/foo",
    ]);
  });

  it("ignores resources the pod does not request, even on an overcommitted node", () => {
    const requested = resources(
      { milliCpu: 5000, memory: 9 * Gi, ephemeralStorage: 101 * Gi },
      { "nvidia.com/gpu": 3 },
    );
    expect(insufficientResources(allocatable, requested, new Resources())).toEqual([]);
    expect(
      insufficientResources(allocatable, requested, Resources.fromResourceList({ memory: "1" })),
    ).toEqual(["Insufficient memory"]);
  });
});

// ---- properties ----

const scalarNames = ["nvidia.com/gpu", "example.com/foo", "hugepages-2Mi"] as const;

function arbitraryResources(max = 2 ** 40): fc.Arbitrary<Resources> {
  const amount = fc.integer({ min: 0, max });
  return fc
    .record({
      milliCpu: amount,
      memory: amount,
      ephemeralStorage: amount,
      pods: fc.integer({ min: 0, max: 500 }),
      scalar: fc.dictionary(fc.constantFrom(...scalarNames), fc.integer({ min: 1, max: 64 })),
    })
    .map(({ scalar, ...fields }) => resources(fields, scalar));
}

/** With `fractional`, example.com/foo comes in tenths, which only round up once summed. */
function arbitraryRequests(fractional = true): fc.Arbitrary<ResourceList> {
  return fc.record(
    {
      cpu: fc.integer({ min: 0, max: 64_000 }).map((milli) => `${milli}m`),
      memory: fc.integer({ min: 0, max: 256 * 1024 }).map((mebibytes) => `${mebibytes}Mi`),
      "ephemeral-storage": fc.integer({ min: 0, max: 10 ** 12 }).map(String),
      "nvidia.com/gpu": fc.integer({ min: 0, max: 8 }).map(String),
      "example.com/foo": fc.integer({ min: 0, max: 1000 }).map((n) => `${fractional ? n / 10 : n}`),
    },
    { requiredKeys: [] },
  );
}

function arbitraryContainer(
  restartPolicies: readonly (string | undefined)[],
  fractional: boolean,
): fc.Arbitrary<Container> {
  return fc
    .tuple(fc.option(arbitraryRequests(fractional), { nil: undefined }), fc.constantFrom(...restartPolicies))
    .map(([requests, restartPolicy]) => container("c", requests, restartPolicy));
}

function arbitraryPodSpec(fractional = true): fc.Arbitrary<PodSpec> {
  return fc.record(
    {
      containers: fc.array(arbitraryContainer([undefined], fractional), { minLength: 1, maxLength: 4 }),
      initContainers: fc.array(arbitraryContainer([undefined, "Always", "OnFailure"], fractional), {
        maxLength: 4,
      }),
      overhead: arbitraryRequests(fractional),
    },
    { requiredKeys: ["containers"] },
  );
}

const resourceNames = ["cpu", "memory", "ephemeral-storage", ...scalarNames, "example.com/foo"];

describe("resource arithmetic properties", () => {
  it("adding then subtracting is the identity", () => {
    fc.assert(
      fc.property(arbitraryResources(), arbitraryResources(), (a, b) => {
        expect(a.clone().add(b).subtract(b)).toEqual(a);
      }),
    );
  });

  it("addition commutes and a sum is zero only if both parts are", () => {
    fc.assert(
      fc.property(arbitraryResources(), arbitraryResources(), (a, b) => {
        expect(a.clone().add(b)).toEqual(b.clone().add(a));
        expect(a.clone().add(b).isZero()).toBe(a.isZero() && b.isZero());
      }),
    );
  });

  it("get and names agree with the fields", () => {
    fc.assert(
      fc.property(arbitraryResources(), (r) => {
        for (const name of r.names()) expect(r.get(name)).not.toBe(0);
        expect(r.names().includes("cpu")).toBe(r.milliCpu !== 0);
        expect(r.isZero()).toBe(r.names().length === 0);
      }),
    );
  });

  it("a pod requests at least what any of its containers requests", () => {
    fc.assert(
      fc.property(arbitraryPodSpec(), (spec) => {
        const request = podRequests(spec);
        for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
          const own = Resources.fromResourceList(c.resources?.requests);
          for (const name of resourceNames) expect(request.get(name)).toBeGreaterThanOrEqual(own.get(name));
        }
      }),
    );
  });

  it("without init containers, a pod requests the sum of its containers plus the overhead", () => {
    fc.assert(
      fc.property(arbitraryPodSpec(false), (spec) => {
        const { initContainers: _ignored, ...withoutInit } = spec;
        const sum = Resources.fromResourceList(spec.overhead);
        for (const c of spec.containers) sum.add(Resources.fromResourceList(c.resources?.requests));
        expect(podRequests(withoutInit)).toEqual(sum);
      }),
    );
  });

  it("the scoring request is never below the real one", () => {
    fc.assert(
      fc.property(
        arbitraryPodSpec(),
        fc.option(arbitraryRequests(), { nil: undefined }),
        (spec, podLevel) => {
          const withPodLevel: PodSpec =
            podLevel === undefined ? spec : { ...spec, resources: { requests: podLevel } };
          const request = podRequests(withPodLevel);
          const nonZero = podNonZeroRequests(withPodLevel);
          expect(nonZero.milliCpu).toBeGreaterThanOrEqual(request.milliCpu);
          expect(nonZero.memory).toBeGreaterThanOrEqual(request.memory);
        },
      ),
    );
  });

  it("a pod fits a node with exactly enough left, and not one unit less", () => {
    fc.assert(
      fc.property(arbitraryResources(), arbitraryPodSpec(), (requested, spec) => {
        const pod = podRequests(spec);
        const exact = requested.clone().add(pod);
        exact.pods = requested.pods + 1;
        expect(insufficientResources(exact, requested, pod)).toEqual([]);

        for (const name of pod.names()) {
          const short = exact
            .clone()
            .subtract(Resources.fromResourceList({ [name]: name === "cpu" ? "1m" : "1" }));
          expect(insufficientResources(short, requested, pod)).toEqual([`Insufficient ${name}`]);
        }
        const noRoom = exact.clone();
        noRoom.pods -= 1;
        expect(insufficientResources(noRoom, requested, pod)).toEqual(["Too many pods"]);
      }),
    );
  });
});
