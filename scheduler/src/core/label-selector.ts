import type { LabelSelector } from "./api-types.js";

/** Kubernetes label-selector matching; an empty selector matches everything, a missing one nothing. */
export function matchesLabelSelector(
  selector: LabelSelector | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  return labelSelectorMatcher(selector)(labels);
}

/** An own label value; inherited properties such as "constructor" are not labels. */
function labelValue(labels: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}

const matchesNothing = (): boolean => false;

/**
 * A Kubernetes label selector compiled into a predicate, for selectors matched against many pods
 * (a spread constraint against every pod of the cluster: compiled once per pod version). A
 * missing selector matches nothing, an empty one everything.
 */
export function labelSelectorMatcher(
  selector: LabelSelector | undefined,
): (labels: Readonly<Record<string, string>>) => boolean {
  if (!selector) return matchesNothing;
  const equal = Object.entries(selector.matchLabels ?? {});
  const expressions = (selector.matchExpressions ?? []).map((e) => ({
    key: e.key,
    operator: e.operator,
    values: new Set(e.values ?? []),
  }));
  return (labels) => {
    for (let i = 0; i < equal.length; i++) {
      const [key, value] = equal[i] as [string, string];
      if (labelValue(labels, key) !== value) return false;
    }
    for (let i = 0; i < expressions.length; i++) {
      const { key, operator, values } = expressions[i] as (typeof expressions)[number];
      const value = labelValue(labels, key);
      switch (operator) {
        case "In":
          if (value === undefined || !values.has(value)) return false;
          break;
        case "NotIn":
          if (value !== undefined && values.has(value)) return false;
          break;
        case "Exists":
          if (value === undefined) return false;
          break;
        case "DoesNotExist":
          if (value !== undefined) return false;
          break;
        default:
          return false;
      }
    }
    return true;
  };
}
