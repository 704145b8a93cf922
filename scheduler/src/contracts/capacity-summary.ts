/**
 * The capacity summary: what a shard publishes to Redis for the coordinator (under
 * keys.ts's summaryKey) and how the coordinator reads it back. Per owned node the free resources
 * and what preempting each priority level would free, and the groups the shard owns but cannot
 * place (stuck reports). Node labels and taints are stored once per distinct set (a "node
 * class"), so a summary stays small on large uniform pools. A shard builds one with
 * coordination/capacity-summary.ts; nothing here reads a cluster.
 */
import { lentForAnnotation } from "./keys.js";
import { isNodeLabelKey } from "./leases.js";
import { invalid, isDnsSubdomain, type Parsed, parsed, quoted } from "./parsed.js";

/** Resource amounts by Kubernetes name in kube-scheduler's units (cpu in milli-cores, pods a count). */
export type ResourceAmounts = Record<string, number>;

/** A node taint as a summary carries it (core/api-types.ts's Taint has this shape). */
export interface SummaryTaint {
  readonly key: string;
  readonly value?: string;
  readonly effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

export interface NodeClass {
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly SummaryTaint[];
}

export interface NodeCapacity {
  readonly name: string;
  /** Index into CapacitySummary.classes. */
  readonly class: number;
  /**
   * Allocatable minus the requests of every pod on the node and of every pending pod nominated
   * to it (room a preemption won is reserved: the owner will not give it to anyone else).
   */
  readonly free: ResourceAmounts;
  /** What evicting the (not terminating) pods of each priority would free, lowest priority first. */
  readonly freeable: readonly { readonly priority: number; readonly amounts: ResourceAmounts }[];
  /** A node lent for one pod group (GroupKey.id) takes only that group's pods until it arrives. */
  readonly lentFor?: string;
  /**
   * The group it is lent for has no member waiting for a node any more (placed elsewhere, or
   * gone): it will not come, and the hold serves nobody. The coordinator gives it back at once.
   */
  readonly lentForPlaced?: true;
  /**
   * The groups (GroupKey.id) with pending pods nominated to this node: room their preemption
   * won, promised to them. The coordinator never lends such a node to another group, nor
   * returns it from its borrower while the promise stands.
   */
  readonly nominatedFor?: readonly string[];
}

/** A group its owner reported Unschedulable (no placement, not even by preemption). */
export interface StuckGroupReport {
  /** GroupKey.id. */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly solo: boolean;
  readonly hashKey: string;
  /** Names of the pending members, in the group's namespace. */
  readonly members: readonly string[];
  /** How many of them must start together. */
  readonly required: number;
  readonly priority: number;
  readonly mayPreempt: boolean;
  /** When the owner first found it unschedulable (ms since the epoch, the owner's clock). */
  readonly since: number;
  readonly message: string;
  /**
   * The reporter owns the group by feasibility-aware routing (its feasible nodes are the
   * reporter's; core/gang/routing.ts), not by the ring: the coordinator takes the reporter for
   * the owner while the summary's epoch is the ring's. Absent from older shards' summaries.
   */
  readonly routed?: true;
  /**
   * For a group its owner alone can judge (inter-pod constraints: the coordinator's capacity view
   * holds no other pods): nodes of other shards on which its first member passes every filter
   * now, at most maxFeasibleElsewhere; the coordinator lends from these. Absent: none, or an
   * older shard.
   */
  readonly feasibleElsewhere?: readonly string[];
  /**
   * The group's topology constraint as its owner read it (node label keys: every member in one
   * domain of `required`; `preferred` finer levels, coarsest first). The coordinator reads only
   * the pods, and a native PodGroup's constraint lives in the PodGroup object. Absent: none, or
   * an older shard (the coordinator then reads the members' annotations).
   */
  readonly topology?: StuckGroupTopology;
}

/** A stuck group's topology constraint on the wire (core/gang/topology.ts TopologyConstraint). */
export interface StuckGroupTopology {
  readonly required?: string;
  readonly preferred: readonly string[];
}

/** The most nodes a stuck report names in feasibleElsewhere (a summary's size stays bounded). */
export const maxFeasibleElsewhere = 32;

export interface CapacitySummary {
  readonly shard: string;
  /** The ring epoch the shard's node ownership is from. */
  readonly epoch: number;
  readonly publishedAt: number;
  readonly classes: readonly NodeClass[];
  readonly nodes: readonly NodeCapacity[];
  readonly stuck: readonly StuckGroupReport[];
}

/** Each node's own hostname label is not part of its class; a reader adds it back from the name. */
export const hostnameLabel = "kubernetes.io/hostname";

/** What amountsOf reads: core/resources' Resources has this shape. */
export interface NamedAmounts {
  names(): Iterable<string>;
  get(name: string): number;
}

/** Resource amounts as a summary writes them. */
export function amountsOf(resources: NamedAmounts): ResourceAmounts {
  const amounts: ResourceAmounts = {};
  for (const name of resources.names()) amounts[name] = resources.get(name);
  return amounts;
}

/**
 * A Node as the coordinator's what-if placement sees a summarized one: its class's labels and
 * taints, Ready, with `room` (free, plus what preemption could free) as its allocatable, and
 * the group it is lent for (so the same LentNode filter applies).
 */
export function capacityNode(
  name: string,
  nodeClass: NodeClass,
  room: ResourceAmounts,
  lentFor?: string,
): SummarizedNode {
  const allocatable: Record<string, string> = {};
  for (const [resource, amount] of Object.entries(room)) {
    const whole = Math.max(0, Math.floor(amount));
    allocatable[resource] = resource === "cpu" ? `${whole}m` : String(whole);
  }
  return {
    metadata: {
      name,
      labels: { ...nodeClass.labels, [hostnameLabel]: name },
      ...(lentFor ? { annotations: { [lentForAnnotation]: lentFor } } : {}),
    },
    spec: { taints: [...nodeClass.taints] },
    status: { allocatable, conditions: [{ type: "Ready", status: "True" }] },
  };
}

/** A Node object (core/api-types.ts's Node has this shape) rebuilt from a summary. */
export interface SummarizedNode {
  metadata: { name: string; labels: Record<string, string>; annotations?: Record<string, string> };
  spec: { taints: SummaryTaint[] };
  status: { allocatable: Record<string, string>; conditions: { type: string; status: string }[] };
}

/** A summary larger than this is refused unread (one of 10,000 nodes takes a few MB). */
export const maxSummaryBytes = 64 * 1024 * 1024;

/** A resource name a pod can request: a standard one, or a domain-qualified extended one. */
const resourceName =
  /^(cpu|memory|ephemeral-storage|pods|storage|hugepages-[A-Za-z0-9.]+|[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const taintEffects: ReadonlySet<string> = new Set(["NoSchedule", "PreferNoSchedule", "NoExecute"]);

type Json = { readonly [key: string]: unknown };

/** Thrown inside parseCapacitySummary only, caught there: the path to what is wrong. */
class SummaryFault extends Error {}

const fault = (path: string, what: string): never => {
  throw new SummaryFault(`${path} ${what}`);
};
const object = (value: unknown, path: string): Json =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Json)
    : fault(path, "is not an object");
const array = (value: unknown, path: string): readonly unknown[] =>
  Array.isArray(value) ? value : fault(path, "is not an array");
const string = (value: unknown, path: string): string =>
  typeof value === "string" ? value : fault(path, "is not a string");
const boolean = (value: unknown, path: string): boolean =>
  typeof value === "boolean" ? value : fault(path, "is not a boolean");
const finite = (value: unknown, path: string): number =>
  typeof value === "number" && Number.isFinite(value) ? value : fault(path, "is not a finite number");
const integer = (value: unknown, path: string, min: number): number =>
  Number.isSafeInteger(value) && (value as number) >= min
    ? (value as number)
    : fault(path, `is not an integer of at least ${min} held exactly`);
/** Names the coordinator puts into API paths (nodes, namespaces, pods): never "..", "/" or "?". */
const objectName = (value: unknown, path: string): string => {
  const name = string(value, path);
  return isDnsSubdomain(name) ? name : fault(path, "is not a Kubernetes object name");
};
const namespaceName = (value: unknown, path: string): string => {
  const name = objectName(value, path);
  return name.length <= 63 && !name.includes(".") ? name : fault(path, "is not a namespace name");
};
const optional = <T>(value: unknown, read: (v: unknown) => T): T | undefined =>
  value === undefined ? undefined : read(value);

/** A JSON object of strings as a map without a prototype (keys are other people's text). */
function stringRecord(value: unknown, path: string): Record<string, string> {
  const record: Record<string, string> = Object.create(null);
  for (const [key, text] of Object.entries(object(value, path)))
    record[key] = string(text, `${path}[${quoted(key)}]`);
  return record;
}

function amounts(value: unknown, path: string): ResourceAmounts {
  const record: ResourceAmounts = Object.create(null);
  for (const [name, amount] of Object.entries(object(value, path))) {
    if (!resourceName.test(name)) fault(`${path}[${quoted(name)}]`, "is not a resource name");
    record[name] = finite(amount, `${path}.${name}`);
  }
  return record;
}

function nodeClass(value: unknown, path: string): NodeClass {
  const json = object(value, path);
  return {
    labels: stringRecord(json.labels, `${path}.labels`),
    taints: array(json.taints, `${path}.taints`).map((item, i) => {
      const taint = object(item, `${path}.taints[${i}]`);
      const effect = string(taint.effect, `${path}.taints[${i}].effect`);
      if (!taintEffects.has(effect)) fault(`${path}.taints[${i}].effect`, "is not a taint effect");
      const taintValue = optional(taint.value, (v) => string(v, `${path}.taints[${i}].value`));
      return {
        key: string(taint.key, `${path}.taints[${i}].key`),
        effect: effect as SummaryTaint["effect"],
        ...(taintValue !== undefined ? { value: taintValue } : {}),
      };
    }),
  };
}

function nodeCapacity(value: unknown, path: string, classes: number): NodeCapacity {
  const json = object(value, path);
  const index = integer(json.class, `${path}.class`, 0);
  if (index >= classes) fault(`${path}.class`, "names no node class");
  const lentFor = optional(json.lentFor, (v) => string(v, `${path}.lentFor`));
  const lentForPlaced = optional(json.lentForPlaced, (v) => {
    if (v !== true) fault(`${path}.lentForPlaced`, "is not true");
    return true as const;
  });
  const nominatedFor = optional(json.nominatedFor, (v) =>
    array(v, `${path}.nominatedFor`).map((id, i) => string(id, `${path}.nominatedFor[${i}]`)),
  );
  return {
    name: objectName(json.name, `${path}.name`),
    class: index,
    free: amounts(json.free, `${path}.free`),
    freeable: array(json.freeable, `${path}.freeable`).map((item, i) => {
      const level = object(item, `${path}.freeable[${i}]`);
      return {
        priority: integer(level.priority, `${path}.freeable[${i}].priority`, -(2 ** 31)),
        amounts: amounts(level.amounts, `${path}.freeable[${i}].amounts`),
      };
    }),
    ...(lentFor !== undefined ? { lentFor } : {}),
    ...(lentFor !== undefined && lentForPlaced ? { lentForPlaced } : {}),
    ...(nominatedFor !== undefined ? { nominatedFor } : {}),
  };
}

function stuckGroup(value: unknown, path: string): StuckGroupReport {
  const json = object(value, path);
  return {
    id: string(json.id, `${path}.id`),
    namespace: namespaceName(json.namespace, `${path}.namespace`),
    name: string(json.name, `${path}.name`),
    solo: boolean(json.solo, `${path}.solo`),
    hashKey: string(json.hashKey, `${path}.hashKey`),
    members: array(json.members, `${path}.members`).map((name, i) =>
      objectName(name, `${path}.members[${i}]`),
    ),
    required: integer(json.required, `${path}.required`, 1),
    priority: integer(json.priority, `${path}.priority`, -(2 ** 31)),
    mayPreempt: boolean(json.mayPreempt, `${path}.mayPreempt`),
    since: finite(json.since, `${path}.since`),
    message: string(json.message, `${path}.message`),
    ...(optional(json.routed, (v) => boolean(v, `${path}.routed`)) === true ? { routed: true as const } : {}),
    ...feasibleElsewhereOf(json.feasibleElsewhere, `${path}.feasibleElsewhere`),
    ...topologyOf(json.topology, `${path}.topology`),
  };
}

function topologyOf(value: unknown, path: string): { topology?: StuckGroupTopology } {
  if (value === undefined) return {};
  const json = object(value, path);
  const required = optional(json.required, (v) => labelKeyOf(v, `${path}.required`));
  const preferred = array(json.preferred ?? [], `${path}.preferred`).map((key, i) =>
    labelKeyOf(key, `${path}.preferred[${i}]`),
  );
  return { topology: required === undefined ? { preferred } : { required, preferred } };
}

const labelKeyOf = (value: unknown, path: string): string => {
  const key = string(value, path);
  return isNodeLabelKey(key) ? key : fault(path, "is not a node label key");
};

function feasibleElsewhereOf(value: unknown, path: string): { feasibleElsewhere?: readonly string[] } {
  if (value === undefined) return {};
  const names = array(value, path)
    .slice(0, maxFeasibleElsewhere)
    .map((name, i) => objectName(name, `${path}[${i}]`));
  return names.length > 0 ? { feasibleElsewhere: names } : {};
}

/**
 * A summary as read from Redis, or why it cannot be used: not JSON, not of `shard`, or any
 * field of the wrong type. The coordinator skips such a summary and plans with the others.
 */
export function parseCapacitySummary(body: string, shard: string): Parsed<CapacitySummary> {
  if (body.length > maxSummaryBytes) return invalid(`larger than ${maxSummaryBytes} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return invalid("not JSON");
  }
  try {
    const summary = object(json, "the summary");
    const of = string(summary.shard, "shard");
    if (of !== shard) return invalid(`published under ${quoted(shard)} by ${quoted(of)}`);
    const classes = array(summary.classes, "classes").map((item, i) => nodeClass(item, `classes[${i}]`));
    return parsed({
      shard,
      epoch: integer(summary.epoch, "epoch", 0),
      publishedAt: finite(summary.publishedAt, "publishedAt"),
      classes,
      nodes: array(summary.nodes, "nodes").map((item, i) =>
        nodeCapacity(item, `nodes[${i}]`, classes.length),
      ),
      stuck: array(summary.stuck, "stuck").map((item, i) => stuckGroup(item, `stuck[${i}]`)),
    });
  } catch (error) {
    if (error instanceof SummaryFault) return invalid(error.message);
    throw error;
  }
}
