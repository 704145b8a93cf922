import type { LabelSelector } from "./api-types.js";

/** Kubernetes label-selector matching; an empty selector matches everything, a missing one nothing. */
export function matchesLabelSelector(
  selector: LabelSelector | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  return labelSelectorMatcher(selector)(labels);
}

/** Whether one selector requirement holds for a label's value (undefined: the pod lacks the label). */
export function requirementHolds(
  operator: string,
  value: string | undefined,
  values: readonly string[],
): boolean {
  switch (operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    default:
      return false;
  }
}

/** An own label value; inherited properties such as "constructor" are not labels. */
export function labelValue(labels: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}

const matchesNothing = (): boolean => false;

interface Requirement {
  readonly key: string;
  readonly operator: string;
  readonly values: readonly string[];
}

/**
 * A Kubernetes label selector compiled into a predicate, for selectors matched against many pods
 * (a spread constraint or an affinity term against every pod of the cluster: compiled once per
 * pod version). A missing selector matches nothing, an empty one everything.
 */
export function labelSelectorMatcher(
  selector: LabelSelector | undefined | null,
): (labels: Readonly<Record<string, string>>) => boolean {
  if (!selector) return matchesNothing;
  const requirements: Requirement[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    requirements.push({ key, operator: "In", values: [value] });
  for (const e of selector.matchExpressions ?? [])
    requirements.push({ key: e.key, operator: e.operator, values: e.values ?? [] });
  return (labels) => {
    for (let i = 0; i < requirements.length; i++) {
      const { key, operator, values } = requirements[i] as Requirement;
      if (!requirementHolds(operator, labelValue(labels, key), values)) return false;
    }
    return true;
  };
}
