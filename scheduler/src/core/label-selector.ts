import type { LabelSelector } from "./api-types.js";

/** Kubernetes label-selector matching; an empty selector matches everything, a missing one nothing. */
export function matchesLabelSelector(
  selector: LabelSelector | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (!selector) return false;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labelValue(labels, key) !== value) return false;
  }
  for (const expr of selector.matchExpressions ?? []) {
    if (!requirementHolds(expr.operator, labelValue(labels, expr.key), expr.values ?? [])) return false;
  }
  return true;
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
