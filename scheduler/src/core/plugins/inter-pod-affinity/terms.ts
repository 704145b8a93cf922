/**
 * A pod's inter-pod (anti-)affinity terms, parsed once per pod version (toPodInfo, into
 * PodInfo.interPodAffinity) the way kube-scheduler's framework.PodInfo parses them: label
 * selectors compiled, the namespaces a term looks in resolved, matchLabelKeys/mismatchLabelKeys
 * merged into the selector. A pod without pod (anti-)affinity gets the one shared, frozen
 * noInterPodAffinity and costs one property read.
 */

import type { LabelSelector, PodAffinityTerm, PodSpec, WeightedPodAffinityTerm } from "../../api-types.js";
import { labelSelectorMatcher, labelValue } from "../../label-selector.js";

/** The one topology whose terms are checked on the node alone (kube-scheduler's host-scoped terms). */
export const hostnameLabel = "kubernetes.io/hostname";

type Labels = Readonly<Record<string, string>>;

/** A compiled label selector (kube's labels.Selector). */
export type Selector = (labels: Labels) => boolean;

/** The empty selector ({}): matches every label set. */
export const everything: Selector = () => true;
/** The absent selector (null): matches nothing. */
export const nothing: Selector = () => false;

export interface AffinityTerm {
  readonly topologyKey: string;
  /** topologyKey is kubernetes.io/hostname: the term speaks of one node only. */
  readonly hostScoped: boolean;
  /** Over the other pod's labels (matchLabelKeys/mismatchLabelKeys merged in). */
  readonly selector: Selector;
  /** The namespaces named (or the term's own pod's, when neither namespaces nor a selector is given). */
  readonly namespaces: ReadonlySet<string>;
  /** Over the other pod's namespace labels; `nothing` when none was given, `everything` for {}. */
  readonly namespaceSelector: Selector;
}

export interface WeightedAffinityTerm extends AffinityTerm {
  readonly weight: number;
}

export interface InterPodAffinityTerms {
  readonly requiredAffinity: readonly AffinityTerm[];
  readonly requiredAntiAffinity: readonly AffinityTerm[];
  readonly preferredAffinity: readonly WeightedAffinityTerm[];
  readonly preferredAntiAffinity: readonly WeightedAffinityTerm[];
  /**
   * A term that cannot be parsed (e.g. In without values), as kube-scheduler's "parsing pod"
   * error; the category it is in is left empty. The pod is refused when it is to be scheduled.
   */
  readonly error: string | undefined;
  /** A required anti-affinity term whose topology is wider than one node (counted cluster-wide). */
  readonly clusterWideRequiredAnti: boolean;
  /**
   * Its terms can change another pod's score (preferred terms of either kind, or required
   * affinity through hardPodAffinityWeight): the pods PreScore must look at when the incoming pod
   * has no preferred terms of its own (kube-scheduler's PodsWithAffinity, narrowed to those that
   * can score: a pod with only required anti-affinity never scores anyone).
   */
  readonly scoresOthers: boolean;
}

const none: readonly never[] = Object.freeze([]);

/** The value of every pod without pod (anti-)affinity: shared, never written. */
export const noInterPodAffinity: InterPodAffinityTerms = Object.freeze({
  requiredAffinity: none,
  requiredAntiAffinity: none,
  preferredAffinity: none,
  preferredAntiAffinity: none,
  error: undefined,
  clusterWideRequiredAnti: false,
  scoresOthers: false,
});

/** The pod's terms, parsed; noInterPodAffinity when it has none. */
export function interPodAffinityOf(spec: PodSpec, namespace: string, labels: Labels): InterPodAffinityTerms {
  const affinity = spec.affinity;
  if (affinity === undefined || (affinity.podAffinity == null && affinity.podAntiAffinity == null))
    return noInterPodAffinity;
  const errors: string[] = [];
  /** One category's terms, or none (and an error) when one of them cannot be parsed. */
  const parseAll = <W, T>(
    name: string,
    terms: W[] | undefined,
    parse: (t: W) => T | string,
  ): readonly T[] => {
    if (!terms || terms.length === 0) return none;
    const parsedTerms: T[] = [];
    for (const term of terms) {
      const result = parse(term);
      if (typeof result === "string") {
        errors.push(`${name}: ${result}`);
        return none;
      }
      parsedTerms.push(result);
    }
    return parsedTerms;
  };
  const required = (term: PodAffinityTerm) => affinityTerm(term, namespace, labels);
  const preferred = ({ weight, podAffinityTerm }: WeightedPodAffinityTerm): WeightedAffinityTerm | string => {
    const result = affinityTerm(podAffinityTerm ?? { topologyKey: "" }, namespace, labels);
    return typeof result === "string"
      ? result
      : { ...result, weight: typeof weight === "number" ? weight : 0 };
  };
  const { podAffinity, podAntiAffinity } = affinity;
  const requiredAffinity = parseAll(
    "requiredAffinityTerms",
    podAffinity?.requiredDuringSchedulingIgnoredDuringExecution,
    required,
  );
  const requiredAntiAffinity = parseAll(
    "requiredAntiAffinityTerms",
    podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution,
    required,
  );
  const preferredAffinity = parseAll(
    "preferredAffinityTerms",
    podAffinity?.preferredDuringSchedulingIgnoredDuringExecution,
    preferred,
  );
  const preferredAntiAffinity = parseAll(
    "preferredAntiAffinityTerms",
    podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution,
    preferred,
  );
  if (
    errors.length === 0 &&
    requiredAffinity.length + requiredAntiAffinity.length + preferredAffinity.length === 0 &&
    preferredAntiAffinity.length === 0
  )
    return noInterPodAffinity;
  return Object.freeze({
    requiredAffinity,
    requiredAntiAffinity,
    preferredAffinity,
    preferredAntiAffinity,
    error: errors.length === 0 ? undefined : errors.join("; "),
    clusterWideRequiredAnti: requiredAntiAffinity.some((t) => !t.hostScoped),
    scoresOthers: requiredAffinity.length + preferredAffinity.length + preferredAntiAffinity.length > 0,
  });
}

/**
 * kube-scheduler's newAffinityTerm: the selector over pods, and the namespaces (the named ones;
 * the pod's own when neither namespaces nor namespaceSelector is given) or namespace selector.
 */
function affinityTerm(term: PodAffinityTerm, namespace: string, labels: Labels): AffinityTerm | string {
  const source = withLabelKeys(term, labels);
  const selector = compileSelector(source);
  if (typeof selector === "string") return selector;
  const namespaceSelector = compileSelector(term.namespaceSelector ?? undefined);
  if (typeof namespaceSelector === "string") return `namespaceSelector: ${namespaceSelector}`;
  const names = term.namespaces ?? [];
  const namespaces =
    names.length === 0 && term.namespaceSelector == null ? new Set([namespace]) : new Set(names);
  return {
    topologyKey: term.topologyKey,
    hostScoped: term.topologyKey === hostnameLabel,
    selector,
    namespaces,
    namespaceSelector,
  };
}

/**
 * matchLabelKeys/mismatchLabelKeys merged into the selector as `key In (value)` / `key NotIn
 * (value)` with the pod's own values (keys it lacks are ignored). The API server (1.31+) already
 * merges them when the pod is created, and validation forbids a key in both the selector and
 * these lists, so a key the selector already names was merged there: it is not added again (the
 * value at creation stays the one that counts, as in kube-scheduler, which merges nothing).
 */
function withLabelKeys(term: PodAffinityTerm, labels: Labels): LabelSelector | undefined {
  const selector = term.labelSelector ?? undefined;
  const match = term.matchLabelKeys ?? [];
  const mismatch = term.mismatchLabelKeys ?? [];
  if (selector === undefined || (match.length === 0 && mismatch.length === 0)) return selector;
  const named = new Set([
    ...Object.keys(selector.matchLabels ?? {}),
    ...(selector.matchExpressions ?? []).map((e) => e.key),
  ]);
  const added: NonNullable<LabelSelector["matchExpressions"]> = [];
  const merge = (keys: string[], operator: "In" | "NotIn") => {
    for (const key of keys) {
      const value = labelValue(labels, key);
      if (value === undefined || named.has(key)) continue;
      added.push({ key, operator, values: [value] });
    }
  };
  merge(match, "In");
  merge(mismatch, "NotIn");
  if (added.length === 0) return selector;
  return { ...selector, matchExpressions: [...(selector.matchExpressions ?? []), ...added] };
}

/**
 * metav1.LabelSelectorAsSelector: absent → nothing, {} → everything, else every requirement
 * must hold. In/NotIn need values, Exists/DoesNotExist take none: anything else is an error.
 */
export function compileSelector(selector: LabelSelector | undefined): Selector | string {
  if (selector === undefined || selector === null) return nothing;
  for (const expr of selector.matchExpressions ?? []) {
    const values = expr.values ?? [];
    switch (expr.operator) {
      case "In":
      case "NotIn":
        if (values.length === 0)
          return `values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty`;
        break;
      case "Exists":
      case "DoesNotExist":
        if (values.length > 0)
          return `values: Invalid value: ${JSON.stringify(values)}: values set must be empty for exists and does not exist`;
        break;
      default:
        return `${JSON.stringify(String(expr.operator))} is not a valid label selector operator`;
    }
  }
  if (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0)
    return everything;
  return labelSelectorMatcher(selector);
}

const noLabels: Labels = Object.freeze({});

/**
 * kube-scheduler's AffinityTerm.Matches: the pod is in one of the term's namespaces (or its
 * namespace's labels match the term's namespace selector) and its labels match the selector.
 */
export function termMatches(
  term: AffinityTerm,
  namespace: string,
  labels: Labels,
  namespaceLabels: Labels | undefined,
): boolean {
  if (!term.namespaces.has(namespace) && !term.namespaceSelector(namespaceLabels ?? noLabels)) return false;
  return term.selector(labels);
}

/** Whether the pod matches every term (and there is at least one): what affinity asks of ONE pod. */
export function matchesAllTerms(terms: readonly AffinityTerm[], namespace: string, labels: Labels): boolean {
  if (terms.length === 0) return false;
  for (let i = 0; i < terms.length; i++)
    if (!termMatches(terms[i] as AffinityTerm, namespace, labels, undefined)) return false;
  return true;
}

/**
 * kube-scheduler's mergeAffinityTermNamespacesIfNotEmpty, for the incoming pod's terms: a
 * namespace selector other than {} is replaced by the namespaces it selects now, so matching
 * other pods never needs their namespace's labels. Terms without one are returned as they are.
 */
export function withSelectedNamespaces<T extends AffinityTerm>(
  terms: readonly T[],
  namespaces: ReadonlyMap<string, Labels>,
): readonly T[] {
  let merged: T[] | undefined;
  for (let i = 0; i < terms.length; i++) {
    const term = terms[i] as T;
    if (term.namespaceSelector === nothing || term.namespaceSelector === everything) continue;
    const names = new Set(term.namespaces);
    for (const [name, labels] of namespaces) if (term.namespaceSelector(labels)) names.add(name);
    merged ??= [...terms];
    merged[i] = { ...term, namespaces: names, namespaceSelector: nothing };
  }
  return merged ?? terms;
}
