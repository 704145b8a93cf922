/**
 * The scheduling core's resource arithmetic, matching kube-scheduler's: a pod's effective
 * request (k8s.io/component-helpers/resource PodRequests), its scoring request with defaults
 * for unset cpu/memory, and the NodeResourcesFit filter.
 */
import type { Container, PodSpec, ResourceList } from "../api-types.js";
import {
  integerValue,
  integerValueOfNanos,
  milliValue,
  milliValueOfNanos,
  parseQuantityNanos,
} from "./quantity.js";

const CPU = "cpu";
const MEMORY = "memory";
const EPHEMERAL_STORAGE = "ephemeral-storage";
const PODS = "pods";

/** Resources only cpu and memory may be requested at pod level (spec.resources). */
const POD_LEVEL_RESOURCES: readonly string[] = [CPU, MEMORY];

/** The scalar resources of every Resources that has none (most pods and nodes): never written to. */
const noScalars: ReadonlyMap<string, number> = new Map();

/**
 * Amounts of resources in kube-scheduler's units: cpu in milli-cores, everything else in whole
 * base units (bytes, devices, pods). Scalar resources that are zero are not stored.
 */
export class Resources {
  milliCpu = 0;
  memory = 0;
  ephemeralStorage = 0;
  pods = 0;
  /**
   * Every other resource by its Kubernetes name: extended resources, hugepages-*, … Shared and
   * empty until one is set (a cluster cache holds one Resources per pod: a Map each would cost
   * more than the rest of it). Written through setAmount only.
   */
  scalar: ReadonlyMap<string, number> = noScalars;

  /** Node allocatable/capacity or a single request list, converted as kube-scheduler does. */
  static fromResourceList(list?: ResourceList): Resources {
    const resources = new Resources();
    if (list === undefined) return resources;
    for (const [name, quantity] of Object.entries(list)) {
      resources.setAmount(name, name === CPU ? milliValue(quantity) : integerValue(quantity));
    }
    return resources;
  }

  clone(): Resources {
    const copy = new Resources();
    copy.milliCpu = this.milliCpu;
    copy.memory = this.memory;
    copy.ephemeralStorage = this.ephemeralStorage;
    copy.pods = this.pods;
    if (this.scalar.size > 0) copy.scalar = new Map(this.scalar);
    return copy;
  }

  /** Adds other into this, in place. */
  add(other: Resources): this {
    this.milliCpu += other.milliCpu;
    this.memory += other.memory;
    this.ephemeralStorage += other.ephemeralStorage;
    this.pods += other.pods;
    for (const [name, amount] of other.scalar) this.setScalar(name, (this.scalar.get(name) ?? 0) + amount);
    return this;
  }

  /** Subtracts other from this, in place. */
  subtract(other: Resources): this {
    this.milliCpu -= other.milliCpu;
    this.memory -= other.memory;
    this.ephemeralStorage -= other.ephemeralStorage;
    this.pods -= other.pods;
    for (const [name, amount] of other.scalar) this.setScalar(name, (this.scalar.get(name) ?? 0) - amount);
    return this;
  }

  /** The amount of a resource by its Kubernetes name; cpu in milli-cores. */
  get(name: string): number {
    switch (name) {
      case CPU:
        return this.milliCpu;
      case MEMORY:
        return this.memory;
      case EPHEMERAL_STORAGE:
        return this.ephemeralStorage;
      case PODS:
        return this.pods;
      default:
        return this.scalar.get(name) ?? 0;
    }
  }

  /** The Kubernetes names of the resources with a non-zero amount. */
  names(): string[] {
    const names: string[] = [];
    if (this.milliCpu !== 0) names.push(CPU);
    if (this.memory !== 0) names.push(MEMORY);
    if (this.ephemeralStorage !== 0) names.push(EPHEMERAL_STORAGE);
    if (this.pods !== 0) names.push(PODS);
    for (const [name, amount] of this.scalar) if (amount !== 0) names.push(name);
    return names;
  }

  isZero(): boolean {
    return (
      this.milliCpu === 0 &&
      this.memory === 0 &&
      this.ephemeralStorage === 0 &&
      this.pods === 0 &&
      this.scalar.size === 0
    );
  }

  /** Sets a resource by its Kubernetes name (cpu in milli-cores); a scalar resource at 0 is dropped. */
  setAmount(name: string, amount: number): void {
    switch (name) {
      case CPU:
        this.milliCpu = amount;
        return;
      case MEMORY:
        this.memory = amount;
        return;
      case EPHEMERAL_STORAGE:
        this.ephemeralStorage = amount;
        return;
      case PODS:
        this.pods = amount;
        return;
      default:
        this.setScalar(name, amount);
    }
  }

  private setScalar(name: string, amount: number): void {
    if (amount === 0) {
      if (this.scalar.has(name)) (this.scalar as Map<string, number>).delete(name);
      return;
    }
    if (this.scalar === noScalars) this.scalar = new Map();
    (this.scalar as Map<string, number>).set(name, amount);
  }
}

/**
 * Exact amounts in nano-units by resource name, the way Kubernetes sums Quantities before
 * converting them: two containers asking "0.5m" cpu each need 1 milli-cpu, not 2.
 * A name is present when any list named it, even as zero; the scoring defaults depend on that.
 */
type ExactResourceList = Map<string, bigint>;

/** kube-scheduler's scoring defaults for a container that leaves cpu or memory unset. */
const SCORING_DEFAULTS: ExactResourceList = new Map([
  [CPU, parseQuantityNanos("100m")],
  [MEMORY, parseQuantityNanos("200Mi")],
]);

function exactResourceList(list: ResourceList | undefined): ExactResourceList {
  const exact: ExactResourceList = new Map();
  if (list === undefined) return exact;
  for (const [name, quantity] of Object.entries(list)) exact.set(name, parseQuantityNanos(quantity));
  return exact;
}

function addInto(target: ExactResourceList, addend: ExactResourceList): void {
  for (const [name, nanos] of addend) target.set(name, (target.get(name) ?? 0n) + nanos);
}

function maxInto(target: ExactResourceList, candidate: ExactResourceList): void {
  for (const [name, nanos] of candidate) {
    const current = target.get(name);
    if (current === undefined || nanos > current) target.set(name, nanos);
  }
}

function toResources(exact: ExactResourceList): Resources {
  const resources = new Resources();
  for (const [name, nanos] of exact) {
    switch (name) {
      case CPU:
        resources.milliCpu = milliValueOfNanos(nanos);
        break;
      case MEMORY:
        resources.memory = integerValueOfNanos(nanos);
        break;
      case EPHEMERAL_STORAGE:
        resources.ephemeralStorage = integerValueOfNanos(nanos);
        break;
      case PODS:
        // A pod's own slot is counted by the caller, never by its requests.
        break;
      default: {
        const amount = integerValueOfNanos(nanos);
        resources.setAmount(name, amount);
      }
    }
  }
  return resources;
}

/** A container's requests, with `defaults` standing in for the names it leaves unset (not for explicit zeros). */
function containerRequests(container: Container, defaults: ExactResourceList | undefined): ExactResourceList {
  const requests = container.resources?.requests;
  const exact = exactResourceList(requests);
  if (defaults !== undefined) {
    for (const [name, nanos] of defaults) if (requests?.[name] === undefined) exact.set(name, nanos);
  }
  return exact;
}

/**
 * Regular containers run together, so their requests add up. Init containers run one at a time,
 * except sidecars (restartPolicy "Always") which keep running beside everything started after them.
 */
function aggregateContainerRequests(
  spec: PodSpec,
  defaults: ExactResourceList | undefined,
): ExactResourceList {
  const total: ExactResourceList = new Map();
  for (const container of spec.containers) addInto(total, containerRequests(container, defaults));

  const runningSidecars: ExactResourceList = new Map();
  const initPeak: ExactResourceList = new Map();
  for (const container of spec.initContainers ?? []) {
    const requests = containerRequests(container, defaults);
    if (container.restartPolicy === "Always") {
      addInto(total, requests);
      addInto(runningSidecars, requests);
      maxInto(initPeak, runningSidecars);
    } else {
      addInto(requests, runningSidecars);
      maxInto(initPeak, requests);
    }
  }
  maxInto(total, initPeak);
  return total;
}

function podLevelRequestsSet(spec: PodSpec): boolean {
  const requests = spec.resources?.requests;
  return requests !== undefined && POD_LEVEL_RESOURCES.some((name) => requests[name] !== undefined);
}

/** component-helpers PodRequests: containers, then pod-level cpu/memory in their place, then overhead. */
function exactPodRequests(spec: PodSpec, defaults: ExactResourceList | undefined): ExactResourceList {
  const requests = aggregateContainerRequests(spec, defaults);
  const podLevel = spec.resources?.requests;
  if (podLevel !== undefined) {
    for (const name of POD_LEVEL_RESOURCES) {
      const quantity = podLevel[name];
      if (quantity !== undefined) requests.set(name, parseQuantityNanos(quantity));
    }
  }
  if (spec.overhead !== undefined) addInto(requests, exactResourceList(spec.overhead));
  return requests;
}

/** The pod's effective request as the NodeResourcesFit filter sees it; `pods` is left at 0. */
export function podRequests(spec: PodSpec): Resources {
  return toResources(exactPodRequests(spec, undefined));
}

/**
 * The pod's cpu/memory request for scoring: each container that leaves cpu or memory unset
 * counts as 100 milli-cpu / 200 MiB, so best-effort pods do not look free. With pod-level
 * requests set, a default applies only to a resource set nowhere (not by any container, the
 * pod level or the overhead), as kube-scheduler's NodeInfo does.
 */
export function podNonZeroRequests(spec: PodSpec): { milliCpu: number; memory: number } {
  let requests: ExactResourceList | undefined;
  let defaults: ExactResourceList = SCORING_DEFAULTS;
  if (podLevelRequestsSet(spec)) {
    requests = exactPodRequests(spec, undefined);
    defaults = new Map();
    for (const [name, nanos] of SCORING_DEFAULTS) if (!requests.has(name)) defaults.set(name, nanos);
  }
  const nonZero = requests !== undefined && defaults.size === 0 ? requests : exactPodRequests(spec, defaults);
  return {
    milliCpu: milliValueOfNanos(nonZero.get(CPU) ?? 0n),
    memory: integerValueOfNanos(nonZero.get(MEMORY) ?? 0n),
  };
}

/**
 * The NodeResourcesFit filter: [] when the pod fits, else kube-scheduler's reasons in its order.
 * `requested` is what the node's pods already request, with `requested.pods` their count.
 * Scalar resources are reported in the order the pod's request lists them.
 */
export function insufficientResources(
  allocatable: Resources,
  requested: Resources,
  podRequest: Resources,
): string[] {
  const reasons: string[] = [];
  if (requested.pods + 1 > allocatable.pods) reasons.push("Too many pods");
  if (podRequest.milliCpu > 0 && requested.milliCpu + podRequest.milliCpu > allocatable.milliCpu) {
    reasons.push("Insufficient cpu");
  }
  if (podRequest.memory > 0 && requested.memory + podRequest.memory > allocatable.memory) {
    reasons.push("Insufficient memory");
  }
  if (
    podRequest.ephemeralStorage > 0 &&
    requested.ephemeralStorage + podRequest.ephemeralStorage > allocatable.ephemeralStorage
  ) {
    reasons.push("Insufficient ephemeral-storage");
  }
  for (const [name, amount] of podRequest.scalar) {
    if ((requested.scalar.get(name) ?? 0) + amount > (allocatable.scalar.get(name) ?? 0)) {
      reasons.push(`Insufficient ${name}`);
    }
  }
  return reasons;
}
