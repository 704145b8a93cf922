/**
 * The PodGroup CRDs users already run, read into the terms the gang rules use. Strict, as
 * parsePodGroup: anything malformed is an error the pods are told, never a guess, never a throw.
 *
 * scheduler-plugins coscheduling, scheduling.x-k8s.io/v1alpha1 PodGroup (pods join with the label
 * scheduling.x-k8s.io/pod-group):
 *   spec.minMember               the gang's minimum (a positive integer; 0 or unset: 1, no gang)
 *   spec.minResources            room that must be free before the group is placed (coscheduling's
 *                                PreFilter: the sum of allocatable − requested over the nodes, the
 *                                group's own pods not counted, plus minMember free pod slots)
 *   spec.scheduleTimeoutSeconds  how long a partly placed gang waits for the rest (Permit's wait)
 *   priority                     the pods' own, as coscheduling's QueueSort reads it (members that
 *                                disagree make the group invalid, as any gang)
 *
 * Volcano, scheduling.volcano.sh/v1beta1 PodGroup (pods join with the annotation
 * scheduling.k8s.io/group-name):
 *   spec.minMember, spec.minResources   as above (Volcano's enqueue gate)
 *   spec.priorityClassName       the group's priority: the PriorityClass's value (Volcano's JobInfo);
 *                                no class named, or a class that does not exist: the globalDefault
 *                                class's value, else 0. Never a member's priority.
 *   spec.minTaskMember, spec.subGroupPolicy, spec.networkTopology: refused by name (not supported
 *                                yet), never placed as if absent.
 */
import type { NodeInfo, PodInfo } from "../model.js";
import { Resources } from "../resources/resources.js";
import { int32Max, isFields } from "./pod-group.js";

/** The CRD a group's PodGroup is an object of. */
export type CrdApi = "scheduling.x-k8s.io/v1alpha1" | "scheduling.volcano.sh/v1beta1";

export const coschedulingApi: CrdApi = "scheduling.x-k8s.io/v1alpha1";
export const volcanoApi: CrdApi = "scheduling.volcano.sh/v1beta1";

/** The pod label naming a scheduler-plugins PodGroup, and the annotation naming a Volcano one. */
export const coschedulingPodGroupLabel = "scheduling.x-k8s.io/pod-group";
export const volcanoGroupNameAnnotation = "scheduling.k8s.io/group-name";

/** A CRD PodGroup's scheduling terms, as parsed; what travels on each member (PodInfo.crdTerms). */
export interface CrdGroupTerms {
  readonly api: CrdApi;
  readonly minMember: number;
  /** spec.minResources; undefined when unset or empty. */
  readonly minResources: Resources | undefined;
  /** spec.scheduleTimeoutSeconds in ms (scheduler-plugins); undefined: the shard's gang timeout. */
  readonly scheduleTimeoutMs: number | undefined;
  /** spec.priorityClassName (Volcano); undefined when unset. */
  readonly priorityClassName: string | undefined;
}

export type ParsedCrdPodGroup =
  | { readonly terms: CrdGroupTerms; readonly error?: undefined }
  | { readonly terms?: undefined; readonly error: string };

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** Parses a scheduling.x-k8s.io/v1alpha1 or scheduling.volcano.sh/v1beta1 PodGroup's spec; never throws. */
export function parseCrdPodGroup(api: CrdApi, object: unknown): ParsedCrdPodGroup {
  const spec = isFields(object) ? (object.spec ?? {}) : undefined;
  if (!isFields(spec)) return { error: "spec is not an object" };
  const rawMin = spec.minMember ?? 0;
  if (typeof rawMin !== "number" || !Number.isInteger(rawMin) || rawMin < 0 || rawMin > int32Max)
    return { error: `spec.minMember=${JSON.stringify(rawMin)} is not a non-negative integer` };
  const minResources = resourcesOf(spec.minResources);
  if (typeof minResources === "string") return { error: minResources };
  let scheduleTimeoutMs: number | undefined;
  let priorityClassName: string | undefined;
  if (api === coschedulingApi) {
    const timeout = spec.scheduleTimeoutSeconds;
    if (present(timeout)) {
      if (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < 0 || timeout > int32Max)
        return {
          error: `spec.scheduleTimeoutSeconds=${JSON.stringify(timeout)} is not a non-negative integer`,
        };
      // 0 is Go's zero value: coscheduling then uses its configured default, as we use ours.
      if (timeout > 0) scheduleTimeoutMs = timeout * 1000;
    }
  } else {
    const className = spec.priorityClassName;
    if (present(className) && typeof className !== "string")
      return { error: "spec.priorityClassName is not a string" };
    if (typeof className === "string" && className !== "") priorityClassName = className;
    for (const field of ["minTaskMember", "subGroupPolicy", "networkTopology"]) {
      const value = spec[field];
      const empty =
        !present(value) ||
        (Array.isArray(value) && value.length === 0) ||
        (isFields(value) && Object.keys(value).length === 0);
      if (!empty) return { error: `has spec.${field}: not supported yet` };
    }
  }
  return {
    terms: {
      api,
      // minMember 0 or unset: coscheduling and Volcano both treat the group as one pod at a time.
      minMember: Math.max(1, rawMin),
      minResources,
      scheduleTimeoutMs,
      priorityClassName,
    },
  };
}

/** A ResourceList (name → quantity) read into Resources; undefined when unset or empty. */
function resourcesOf(value: unknown): Resources | undefined | string {
  if (!present(value)) return undefined;
  if (!isFields(value)) return "spec.minResources is not an object";
  const list: Record<string, string> = {};
  for (const [name, quantity] of Object.entries(value)) {
    if (typeof quantity !== "string" && typeof quantity !== "number")
      return `spec.minResources.${name} is not a quantity`;
    list[name] = String(quantity);
  }
  try {
    const resources = Resources.fromResourceList(list);
    return resources.isZero() ? undefined : resources;
  } catch {
    return `spec.minResources has a malformed quantity (${JSON.stringify(value)})`;
  }
}

/**
 * The group priority of a Volcano PodGroup: its PriorityClass's value; without one named (or a
 * class that does not exist), the globalDefault class's value, else 0 — as Volcano's JobInfo.
 * `classes` are the PriorityClass objects the shard watches.
 */
export function volcanoGroupPriority(
  priorityClassName: string | undefined,
  classes: { byName(name: string): unknown; globalDefault(): unknown },
): number {
  const named = priorityClassName === undefined ? undefined : classValue(classes.byName(priorityClassName));
  return named ?? classValue(classes.globalDefault()) ?? 0;
}

function classValue(priorityClass: unknown): number | undefined {
  const value = isFields(priorityClass) ? priorityClass.value : undefined;
  return typeof value === "number" && Number.isInteger(value) ? value : undefined;
}

/**
 * coscheduling's PreFilter room check: undefined when the nodes have `minResources` free (and
 * `minMember` free pod slots), else the gap — "resource gap: cpu 2000m, pods 1" (coscheduling:
 * `resource gap: map[...]`). A node's free room is allocatable − requested, with the group's own
 * pods (`ownMember`) not counted as requested: room they hold is the group's.
 */
export function minResourcesGap(
  minResources: Resources | undefined,
  minMember: number,
  nodes: Iterable<NodeInfo>,
  ownMember: (pod: PodInfo) => boolean,
): string | undefined {
  if (minResources === undefined) return undefined;
  const wanted = minResources.clone();
  wanted.pods = minMember;
  const free = new Resources();
  for (const node of nodes) {
    const left = node.allocatable.clone().subtract(node.requested);
    left.pods = node.allocatable.pods - node.pods.size;
    for (const pod of node.pods.values()) {
      if (!ownMember(pod)) continue;
      left.add(pod.requests);
      left.pods += 1;
    }
    free.add(clampedAtZero(left));
  }
  const gap: string[] = [];
  for (const name of wanted.names()) {
    const missing = wanted.get(name) - free.get(name);
    if (missing > 0) gap.push(`${name} ${name === "cpu" ? `${missing}m` : missing}`);
  }
  return gap.length === 0 ? undefined : `resource gap: ${gap.join(", ")}`;
}

function clampedAtZero(resources: Resources): Resources {
  const clamped = new Resources();
  for (const name of resources.names()) {
    const amount = resources.get(name);
    if (amount > 0) clamped.add(single(name, amount));
  }
  return clamped;
}

function single(name: string, amount: number): Resources {
  return Resources.fromResourceList({ [name]: name === "cpu" ? `${amount}m` : String(amount) });
}

/** scheduler-plugins' PodGroup phases. */
export type CoschedulingPhase =
  | "Pending"
  | "PreScheduling"
  | "Scheduling"
  | "Scheduled"
  | "Running"
  | "Finished"
  | "Failed";

/** The status fields the owning shard writes on a scheduler-plugins PodGroup. */
export interface CoschedulingStatus {
  readonly phase: CoschedulingPhase;
  readonly scheduled: number;
  readonly running: number;
  readonly succeeded: number;
  readonly failed: number;
}

/** What the shard counts of a group's members (pods of this scheduler naming the PodGroup). */
export interface MemberCounts {
  /** Members without a node (gated ones included). */
  readonly pending: number;
  /** Members bound to a node and not finished, whatever their phase. */
  readonly bound: number;
  /** Of those, members whose status.phase is Running. */
  readonly running: number;
  readonly succeeded: number;
  readonly failed: number;
}

/**
 * A scheduler-plugins PodGroup's status as the owning shard writes it: the counts, and the phase
 * the scheduler plugin and the PodGroup controller would have given it between them (the plugin's
 * PostBind wrote Scheduling/Scheduled and `scheduled`, the controller the rest):
 *   Finished   succeeded ≥ minMember                               (terminal)
 *   Failed     a member failed and failed+running+succeeded ≥ min  (terminal)
 *   Running    running+succeeded ≥ minMember, once Scheduled
 *   Scheduled  scheduled (bound or finished members) ≥ minMember
 *   Scheduling some member scheduled, fewer than minMember
 *   PreScheduling  minMember members exist, none scheduled yet
 *   Pending    fewer members than minMember
 * Finished and Failed stay (the controller stops reconciling them).
 */
export function coschedulingStatus(
  minMember: number,
  counts: MemberCounts,
  currentPhase: unknown,
): CoschedulingStatus {
  const scheduled = counts.bound + counts.succeeded + counts.failed;
  const tally = {
    scheduled,
    running: counts.running,
    succeeded: counts.succeeded,
    failed: counts.failed,
  };
  if (currentPhase === "Finished" || currentPhase === "Failed") return { phase: currentPhase, ...tally };
  const phase: CoschedulingPhase =
    counts.succeeded >= minMember
      ? "Finished"
      : counts.failed > 0 && counts.failed + counts.running + counts.succeeded >= minMember
        ? "Failed"
        : scheduled >= minMember && counts.running + counts.succeeded >= minMember
          ? "Running"
          : scheduled >= minMember
            ? "Scheduled"
            : scheduled > 0
              ? "Scheduling"
              : counts.pending + scheduled >= minMember
                ? "PreScheduling"
                : "Pending";
  return { phase, ...tally };
}

/**
 * The status to write, or undefined when the PodGroup already says it. scheduler-plugins'
 * current CRD has no status.scheduled (the API server prunes it; older releases' CRDs keep it):
 * a status with a phase and no `scheduled` is not compared on it, or it would be written forever.
 */
export function coschedulingStatusUpdate(
  podGroup: unknown,
  wanted: CoschedulingStatus,
): CoschedulingStatus | undefined {
  const status = isFields(podGroup) && isFields(podGroup.status) ? podGroup.status : {};
  const pruned = status.scheduled === undefined && status.phase !== undefined;
  const same =
    status.phase === wanted.phase &&
    (pruned || status.scheduled === wanted.scheduled) &&
    (status.running ?? 0) === wanted.running &&
    (status.succeeded ?? 0) === wanted.succeeded &&
    (status.failed ?? 0) === wanted.failed;
  return same ? undefined : wanted;
}
