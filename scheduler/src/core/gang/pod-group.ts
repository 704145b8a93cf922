/**
 * The native gang API: a scheduling.k8s.io/v1beta1 PodGroup (KEP-4671, Kubernetes 1.37) read
 * into the terms the gang rules use. Strict: anything malformed is an error the PodGroup's pods
 * are told, never a guess and never a throw (the object comes from a watch, typed `unknown`).
 *
 * What is read, as kube-scheduler 1.37 reads it:
 *   spec.schedulingPolicy   exactly one of `basic` (standard scheduling, each pod on its own) and
 *                           `gang` (all-or-nothing with `minCount`, a positive integer, mutable)
 *   spec.priority           the group's priority, resolved from priorityClassName by the Priority
 *                           admission plugin (which forbids a user setting it); unset: 0, as
 *                           kube-scheduler's PodGroupPriority. Never a member's priority.
 *   spec.preemptionPolicy   Never | PreemptLowerPriority (default)
 *   spec.disruptionMode     exactly one of `single` and `all`; unset: single (the API's default)
 *   spec.schedulingConstraints.topology
 *                           the keys, in order: the first is the group's required topology
 *                           (TopologyAwareWorkloadScheduling; the API allows one entry)
 *   spec.parentCompositePodGroupName, spec.resourceClaims:
 *                           read so the source can refuse them by name (not supported yet)
 */
import { maxGroupNameLength } from "./group-key.js";

/** A PodGroup as a watch delivers it: its name, and the rest for parsePodGroup to judge. */
export interface PodGroupObject {
  readonly metadata: { readonly namespace?: string; readonly name: string; readonly uid?: string };
  readonly [field: string]: unknown;
}

/** How a group's members may be disrupted: "all" evicts the group whole; "single" one by one. */
export type DisruptionMode = "all" | "single";

/** A PodGroup's scheduling terms, as parsed. */
export interface PodGroupTerms {
  /** `gang`: all-or-nothing with minCount; `basic`: every pod scheduled on its own. */
  readonly policy: "gang" | "basic";
  /** spec.schedulingPolicy.gang.minCount; undefined for `basic`. */
  readonly minCount: number | undefined;
  readonly priority: number;
  readonly preemptionPolicy: "PreemptLowerPriority" | "Never";
  readonly disruption: DisruptionMode;
  /** spec.schedulingConstraints.topology[].key, in order; empty when none. */
  readonly topologyKeys: readonly string[];
  /** spec.parentCompositePodGroupName (CompositePodGroup, alpha), or undefined. */
  readonly parent: string | undefined;
  /** How many spec.resourceClaims the group shares (DRA, alpha). */
  readonly resourceClaims: number;
}

export type ParsedPodGroup =
  | { readonly terms: PodGroupTerms; readonly error?: undefined }
  | { readonly terms?: undefined; readonly error: string };

/** The largest int32, the API's integer fields' limit. */
export const int32Max = 2_147_483_647;

/** A JSON object as a watch delivers it, fields unknown until read. */
export type Fields = Readonly<Record<string, unknown>>;

/** A JSON object (not null, not a list). */
export function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An optional object field: the object, undefined when absent or null, or an error. */
function objectField(parent: Fields, key: string, path: string): Fields | undefined | string {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  return isFields(value) ? value : `${path} is not an object`;
}

/**
 * The one member a Kubernetes union object sets ("exactly one of"): its name and value, or why
 * there is not exactly one.
 */
function unionMember<K extends string>(
  union: Fields,
  path: string,
  members: readonly [K, K],
): { name: K; value: Fields } | string {
  let found: { name: K; value: Fields } | undefined;
  for (const name of members) {
    const value = objectField(union, name, `${path}.${name}`);
    if (typeof value === "string") return value;
    if (value === undefined) continue;
    if (found) return `${path} must set exactly one of ${members.join(" and ")}`;
    found = { name, value };
  }
  return found ?? `${path} must set exactly one of ${members.join(" and ")}`;
}

/** Parses a PodGroup object's spec; never throws. */
export function parsePodGroup(object: unknown): ParsedPodGroup {
  const spec = isFields(object) ? object.spec : undefined;
  if (!isFields(spec)) return { error: "spec is missing or not an object" };
  const policy = objectField(spec, "schedulingPolicy", "spec.schedulingPolicy");
  if (typeof policy === "string") return { error: policy };
  if (policy === undefined) return { error: "spec.schedulingPolicy is missing" };
  const chosen = unionMember(policy, "spec.schedulingPolicy", ["basic", "gang"]);
  if (typeof chosen === "string") return { error: chosen };
  let minCount: number | undefined;
  if (chosen.name === "gang") {
    const raw = chosen.value.minCount;
    if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 1 || raw > int32Max)
      return {
        error: `spec.schedulingPolicy.gang.minCount=${JSON.stringify(raw) ?? "unset"} is not a positive integer`,
      };
    minCount = raw;
  }
  const rawPriority = spec.priority;
  if (
    rawPriority !== undefined &&
    rawPriority !== null &&
    (typeof rawPriority !== "number" ||
      !Number.isInteger(rawPriority) ||
      Math.abs(rawPriority) > int32Max + 1)
  )
    return { error: `spec.priority=${JSON.stringify(rawPriority)} is not a 32-bit integer` };
  const priority = typeof rawPriority === "number" ? rawPriority : 0;
  const rawPreemption = spec.preemptionPolicy ?? "PreemptLowerPriority";
  if (rawPreemption !== "PreemptLowerPriority" && rawPreemption !== "Never")
    return {
      error: `spec.preemptionPolicy=${JSON.stringify(rawPreemption)} is neither Never nor PreemptLowerPriority`,
    };
  const disruption = disruptionModeOf(spec);
  if (disruption.error !== undefined) return { error: disruption.error };
  const topology = topologyKeysOf(spec);
  if (typeof topology === "string") return { error: topology };
  const parent = spec.parentCompositePodGroupName;
  if (parent !== undefined && parent !== null && (typeof parent !== "string" || parent === ""))
    return { error: "spec.parentCompositePodGroupName is not a name" };
  const claims = spec.resourceClaims;
  if (claims !== undefined && claims !== null && !Array.isArray(claims))
    return { error: "spec.resourceClaims is not a list" };
  return {
    terms: {
      policy: chosen.name,
      minCount,
      priority,
      preemptionPolicy: rawPreemption,
      disruption: disruption.mode,
      topologyKeys: topology,
      parent: typeof parent === "string" ? parent : undefined,
      resourceClaims: Array.isArray(claims) ? claims.length : 0,
    },
  };
}

function disruptionModeOf(spec: Fields): { mode: DisruptionMode; error?: undefined } | { error: string } {
  const mode = objectField(spec, "disruptionMode", "spec.disruptionMode");
  if (typeof mode === "string") return { error: mode };
  if (mode === undefined) return { mode: "single" };
  const chosen = unionMember(mode, "spec.disruptionMode", ["single", "all"]);
  return typeof chosen === "string" ? { error: chosen } : { mode: chosen.name };
}

function topologyKeysOf(spec: Fields): readonly string[] | string {
  const constraints = objectField(spec, "schedulingConstraints", "spec.schedulingConstraints");
  if (typeof constraints === "string") return constraints;
  const topology = constraints?.topology;
  if (topology === undefined || topology === null) return [];
  if (!Array.isArray(topology)) return "spec.schedulingConstraints.topology is not a list";
  const keys: string[] = [];
  for (const [i, entry] of topology.entries()) {
    const key = isFields(entry) ? entry.key : undefined;
    if (typeof key !== "string" || key === "")
      return `spec.schedulingConstraints.topology[${i}].key is missing or empty`;
    keys.push(key);
  }
  return keys;
}

/** A pod's spec.schedulingGroup.podGroupName: the name, undefined without a group, or an error. */
export function podGroupNameOf(schedulingGroup: unknown): { name?: string; error?: string } {
  if (schedulingGroup === undefined || schedulingGroup === null) return {};
  if (!isFields(schedulingGroup)) return { error: "spec.schedulingGroup is not an object" };
  const name = schedulingGroup.podGroupName;
  if (typeof name !== "string" || name === "")
    return { error: "spec.schedulingGroup.podGroupName is missing or empty" };
  if (name.length > maxGroupNameLength)
    return {
      error: `spec.schedulingGroup.podGroupName is ${name.length} characters long; a pod group name has at most ${maxGroupNameLength}`,
    };
  if (name !== name.trim())
    return { error: `spec.schedulingGroup.podGroupName=${JSON.stringify(name)} has surrounding whitespace` };
  return { name };
}

/**
 * The PodGroup status condition the owning shard keeps, as kube-scheduler 1.37 does: False with
 * reason Unschedulable (and the attempt's message) after an attempt that placed nothing, True
 * with reason Scheduled once minCount members are bound. True is terminal: it never goes back to
 * False, even when members are evicted later (the API's contract).
 */
export const initiallyScheduledCondition = "PodGroupInitiallyScheduled";

export interface PodGroupCondition {
  readonly type: typeof initiallyScheduledCondition;
  readonly status: "True" | "False";
  readonly reason: "Scheduled" | "Unschedulable";
  readonly message: string;
}

/**
 * The condition to write on the PodGroup so it says `scheduled` (or unschedulable, `message`),
 * or undefined when it already says so, or is True already (terminal).
 */
export function initiallyScheduledUpdate(
  podGroup: unknown,
  scheduled: boolean,
  message: string,
): PodGroupCondition | undefined {
  const status = isFields(podGroup) && isFields(podGroup.status) ? podGroup.status : undefined;
  const conditions = Array.isArray(status?.conditions) ? status.conditions : [];
  const current = conditions.find((c) => isFields(c) && c.type === initiallyScheduledCondition) as
    | Fields
    | undefined;
  if (current?.status === "True") return undefined;
  const wanted: PodGroupCondition = scheduled
    ? { type: initiallyScheduledCondition, status: "True", reason: "Scheduled", message: "" }
    : { type: initiallyScheduledCondition, status: "False", reason: "Unschedulable", message };
  if (
    current?.status === wanted.status &&
    current.reason === wanted.reason &&
    current.message === wanted.message
  )
    return undefined;
  return wanted;
}
