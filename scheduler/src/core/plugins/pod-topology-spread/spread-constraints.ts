/**
 * PodTopologySpread's inputs: a pod's spec.topologySpreadConstraints parsed once per pod version
 * (toPodInfo → PodInfo.spreadConstraints), and the plugin's arguments (cluster-default
 * constraints) as a profile configuration gives them.
 */

import { invalid, type Parsed, parsed, quoted } from "../../../contracts/parsed.js";
import type { LabelSelector, PodSpec, TopologySpreadConstraint } from "../../api-types.js";
import { labelSelectorMatcher } from "../../label-selector.js";
import type { SpreadConstraint } from "../../model.js";

/** Shared by every pod without constraints: never written. */
export const noSpreadConstraints: readonly SpreadConstraint[] = Object.freeze([]);

/**
 * The constraint as kube-scheduler's filterTopologySpreadConstraints builds it: minDomains 1,
 * nodeAffinityPolicy Honor and nodeTaintsPolicy Ignore when unset; the pod's own values of the
 * matchLabelKeys ANDed into the selector (keys the pod lacks are left out). An API server with
 * MatchLabelKeysInPodTopologySpreadSelectorMerge has merged them already; merging again changes
 * nothing (the same requirement twice).
 */
export function spreadConstraint(
  constraint: TopologySpreadConstraint,
  podLabels: Readonly<Record<string, string>>,
  selector: LabelSelector | undefined = constraint.labelSelector,
): SpreadConstraint {
  let effective = selector;
  const keys = constraint.matchLabelKeys ?? [];
  if (keys.length > 0) {
    const own: Record<string, string> = {};
    let any = false;
    for (const key of keys) {
      if (Object.hasOwn(podLabels, key)) {
        own[key] = podLabels[key] as string;
        any = true;
      }
    }
    // As labels.SelectorFromSet(own) + the selector's requirements: a missing selector adds none.
    if (any)
      effective = {
        matchLabels: { ...effective?.matchLabels, ...own },
        ...(effective?.matchExpressions ? { matchExpressions: effective.matchExpressions } : {}),
      };
  }
  return {
    maxSkew: constraint.maxSkew,
    topologyKey: constraint.topologyKey,
    whenUnsatisfiable: constraint.whenUnsatisfiable === "ScheduleAnyway" ? "ScheduleAnyway" : "DoNotSchedule",
    matches: labelSelectorMatcher(effective),
    minDomains: constraint.minDomains ?? 1,
    nodeAffinityPolicy: constraint.nodeAffinityPolicy === "Ignore" ? "Ignore" : "Honor",
    nodeTaintsPolicy: constraint.nodeTaintsPolicy === "Honor" ? "Honor" : "Ignore",
  };
}

/** The pod's constraints, parsed once; the shared empty list when it has none. */
export function spreadConstraintsOf(
  spec: PodSpec,
  labels: Readonly<Record<string, string>>,
): readonly SpreadConstraint[] {
  const constraints = spec.topologySpreadConstraints;
  if (constraints === undefined || constraints.length === 0) return noSpreadConstraints;
  return constraints.map((c) => spreadConstraint(c, labels));
}

export type DefaultingType = "System" | "List";

/** kube-scheduler's PodTopologySpreadArgs. */
export interface PodTopologySpreadArgs {
  /**
   * Constraints for pods that set none of their own, each counting the pods selected by the
   * Services, ReplicationController, ReplicaSet or StatefulSet that select the pod.
   */
  readonly defaultConstraints: readonly TopologySpreadConstraint[];
  /** System (default): kube-scheduler's built-in defaults; List: defaultConstraints. */
  readonly defaultingType: DefaultingType;
}

/** kube-scheduler's systemDefaultConstraints: soft spreading over nodes (3) and zones (5). */
export const systemDefaultConstraints: readonly TopologySpreadConstraint[] = Object.freeze([
  { topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", maxSkew: 3 },
  { topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", maxSkew: 5 },
]);

export const defaultPodTopologySpreadArgs: PodTopologySpreadArgs = Object.freeze({
  defaultConstraints: [],
  defaultingType: "System",
});

const argFields = ["defaultConstraints", "defaultingType"];
const constraintFields = [
  "maxSkew",
  "topologyKey",
  "whenUnsatisfiable",
  "minDomains",
  "nodeAffinityPolicy",
  "nodeTaintsPolicy",
  "matchLabelKeys",
  "labelSelector",
];

const isMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * PodTopologySpread's arguments (pluginConfig args), checked as kube-scheduler's
 * ValidatePodTopologySpreadArgs: defaultingType System or List (System when unset) and no
 * defaultConstraints with System; each default constraint with maxSkew > 0, a topologyKey, a
 * whenUnsatisfiable, no labelSelector (it comes from the pod's Services and controller), and no
 * two with the same topologyKey and whenUnsatisfiable.
 */
export function podTopologySpreadArgs(value: unknown): Parsed<PodTopologySpreadArgs> {
  if (!isMap(value)) return invalid("must be a map with defaultConstraints and defaultingType");
  const unknown = Object.keys(value).find((key) => !argFields.includes(key));
  if (unknown !== undefined)
    return invalid(`unknown field ${quoted(unknown)} (known: ${argFields.join(", ")})`);
  const defaultingType = value.defaultingType ?? "System";
  if (defaultingType !== "System" && defaultingType !== "List")
    return invalid(`defaultingType must be System or List, got ${quoted(String(defaultingType))}`);
  const list = value.defaultConstraints ?? [];
  if (!Array.isArray(list)) return invalid("defaultConstraints must be a list");
  if (defaultingType === "System" && list.length > 0)
    return invalid("defaultConstraints must be empty when defaultingType is System");
  const constraints: TopologySpreadConstraint[] = [];
  const seen = new Set<string>();
  for (const [i, entry] of list.entries()) {
    const at = `defaultConstraints[${i}]`;
    if (!isMap(entry)) return invalid(`${at} must be a map`);
    const extra = Object.keys(entry).find((key) => !constraintFields.includes(key));
    if (extra !== undefined) return invalid(`${at}: unknown field ${quoted(extra)}`);
    if (entry.labelSelector !== undefined)
      return invalid(`${at}.labelSelector: must not be set, the selector is deduced for each pod`);
    const { maxSkew, topologyKey, whenUnsatisfiable, minDomains, nodeAffinityPolicy, nodeTaintsPolicy } =
      entry;
    if (typeof maxSkew !== "number" || !Number.isSafeInteger(maxSkew) || maxSkew < 1)
      return invalid(`${at}.maxSkew must be an integer > 0, got ${quoted(String(maxSkew))}`);
    if (typeof topologyKey !== "string" || topologyKey === "")
      return invalid(`${at}.topologyKey must be a non-empty string`);
    if (whenUnsatisfiable !== "DoNotSchedule" && whenUnsatisfiable !== "ScheduleAnyway")
      return invalid(
        `${at}.whenUnsatisfiable must be DoNotSchedule or ScheduleAnyway, got ${quoted(String(whenUnsatisfiable))}`,
      );
    if (
      minDomains !== undefined &&
      (typeof minDomains !== "number" || !Number.isSafeInteger(minDomains) || minDomains < 1)
    )
      return invalid(`${at}.minDomains must be an integer > 0, got ${quoted(String(minDomains))}`);
    for (const [field, policy] of [
      ["nodeAffinityPolicy", nodeAffinityPolicy],
      ["nodeTaintsPolicy", nodeTaintsPolicy],
    ] as const)
      if (policy !== undefined && policy !== "Honor" && policy !== "Ignore")
        return invalid(`${at}.${field} must be Honor or Ignore, got ${quoted(String(policy))}`);
    if (
      entry.matchLabelKeys !== undefined &&
      (!Array.isArray(entry.matchLabelKeys) || entry.matchLabelKeys.some((k) => typeof k !== "string"))
    )
      return invalid(`${at}.matchLabelKeys must be a list of label keys`);
    const pair = `${topologyKey}\u0000${whenUnsatisfiable}`;
    if (seen.has(pair))
      return invalid(
        `${at}: a constraint with topologyKey ${quoted(topologyKey)} and ${whenUnsatisfiable} is given twice`,
      );
    seen.add(pair);
    constraints.push(entry as unknown as TopologySpreadConstraint);
  }
  return parsed({ defaultConstraints: constraints, defaultingType });
}
