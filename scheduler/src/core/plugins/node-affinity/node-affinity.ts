/**
 * NodeAffinity: the pod's spec.nodeSelector and its required node affinity must both match the
 * node. Matching follows k8s.io/component-helpers' node selector: terms are ORed, the
 * requirements of a term ANDed, and a term that is empty or malformed matches no node (the
 * other terms still count, as in kube-scheduler). Terms are checked once per pod and kept in
 * compiled form, so matching a node allocates nothing.
 */
import type { NodeSelectorRequirement, NodeSelectorTerm } from "../../api-types.js";
import { type FilterPlugin, unresolvable } from "../../framework.js";
import type { NodeInfo, PodInfo } from "../../model.js";

export const nodeAffinityReason = "node(s) didn't match Pod's node affinity/selector";

const rejected = unresolvable(nodeAffinityReason);

type Labels = Readonly<Record<string, string>>;

/** Go's strconv.ParseInt(s, 10, 64); number when exact, bigint beyond 15 digits, undefined if not an int64. */
type Int64 = number | bigint;

const minInt64 = -(2n ** 63n);
const maxInt64 = 2n ** 63n - 1n;
const decimalInteger = /^[+-]?[0-9]+$/;

export function parseInt64(text: string): Int64 | undefined {
  if (!decimalInteger.test(text)) return undefined;
  const digits = text.length - (text[0] === "+" || text[0] === "-" ? 1 : 0);
  // Up to 15 digits a double is exact; longer values are rare and checked against int64 bounds.
  if (digits <= 15) return Number(text);
  const value = BigInt(text);
  return value >= minInt64 && value <= maxInt64 ? value : undefined;
}

/** An own label value; inherited properties such as "constructor" are not labels. */
function labelValue(labels: Labels, key: string): string | undefined {
  const value = labels[key];
  return typeof value === "string" ? value : undefined;
}

// --- compiled form -------------------------------------------------------------------------

type LabelRequirement =
  | { readonly operator: "In" | "NotIn"; readonly key: string; readonly values: readonly string[] }
  | { readonly operator: "Exists" | "DoesNotExist"; readonly key: string }
  | { readonly operator: "Gt" | "Lt"; readonly key: string; readonly bound: Int64 };

/** matchFields: only metadata.name, compared with exactly one value. */
interface NodeNameRequirement {
  readonly equal: boolean;
  readonly name: string;
}

interface CompiledTerm {
  readonly labels: readonly LabelRequirement[];
  readonly nodeNames: readonly NodeNameRequirement[];
}

interface CompiledNodeAffinity {
  /** Only the well-formed, non-empty terms: the others match no node. */
  readonly terms: readonly CompiledTerm[];
  /** What a user should be told, one entry per problem. */
  readonly errors: readonly string[];
}

/** Keyed by the pod's terms array: API objects are replaced on update, never mutated in place. */
const compiledByTerms = new WeakMap<readonly NodeSelectorTerm[], CompiledNodeAffinity>();

function compiledAffinity(terms: readonly NodeSelectorTerm[]): CompiledNodeAffinity {
  let compiled = compiledByTerms.get(terms);
  if (compiled === undefined) {
    compiled = compileNodeAffinity(terms);
    compiledByTerms.set(terms, compiled);
  }
  return compiled;
}

function compileNodeAffinity(terms: readonly NodeSelectorTerm[]): CompiledNodeAffinity {
  const compiled: CompiledTerm[] = [];
  const errors: string[] = [];
  let nonEmpty = 0;
  terms.forEach((term, t) => {
    const expressions = term.matchExpressions ?? [];
    const fields = term.matchFields ?? [];
    if (expressions.length === 0 && fields.length === 0) return;
    nonEmpty++;
    const termErrors: string[] = [];
    const labels: LabelRequirement[] = [];
    const nodeNames: NodeNameRequirement[] = [];
    expressions.forEach((expression, e) => {
      const where = `nodeSelectorTerms[${t}].matchExpressions[${e}]`;
      const requirement = compileLabelRequirement(expression, (problem) =>
        termErrors.push(`${where} (key "${expression.key}"): ${problem}`),
      );
      if (requirement) labels.push(requirement);
    });
    fields.forEach((field, f) => {
      const where = `nodeSelectorTerms[${t}].matchFields[${f}]`;
      const requirement = compileNodeNameRequirement(field, (problem) =>
        termErrors.push(`${where} (key "${field.key}"): ${problem}`),
      );
      if (requirement) nodeNames.push(requirement);
    });
    if (termErrors.length > 0) errors.push(...termErrors);
    else compiled.push({ labels, nodeNames });
  });
  if (terms.length === 0) errors.push("nodeSelectorTerms is empty, so no node matches");
  else if (nonEmpty === 0) errors.push("every nodeSelectorTerm is empty, so no node matches");
  return { terms: compiled, errors };
}

function compileLabelRequirement(
  { key, operator, values }: NodeSelectorRequirement,
  report: (problem: string) => void,
): LabelRequirement | undefined {
  const given = values ?? [];
  let wellFormed = true;
  const fail = (problem: string) => {
    wellFormed = false;
    report(problem);
  };
  if (!isLabelKey(key)) fail("the key is not a valid label key");
  for (const value of given) {
    if (!isLabelValue(value)) fail(`value "${value}" is not a valid label value`);
  }
  // Wire data may carry operators outside the typed union.
  switch (operator as string) {
    case "In":
    case "NotIn":
      if (given.length === 0) fail(`operator ${operator} needs at least one value`);
      return wellFormed ? { operator: operator as "In" | "NotIn", key, values: given } : undefined;
    case "Exists":
    case "DoesNotExist":
      if (given.length > 0) fail(`operator ${operator} takes no values`);
      return wellFormed ? { operator: operator as "Exists" | "DoesNotExist", key } : undefined;
    case "Gt":
    case "Lt": {
      const bound = given.length === 1 ? parseInt64(given[0] as string) : undefined;
      if (bound === undefined) fail(`operator ${operator} needs exactly one integer value`);
      return wellFormed && bound !== undefined
        ? { operator: operator as "Gt" | "Lt", key, bound }
        : undefined;
    }
    default:
      fail(`unknown operator "${operator}"`);
      return undefined;
  }
}

function compileNodeNameRequirement(
  { key, operator, values }: NodeSelectorRequirement,
  report: (problem: string) => void,
): NodeNameRequirement | undefined {
  const given = values ?? [];
  if (key !== "metadata.name") {
    report("matchFields supports only the key metadata.name");
    return undefined;
  }
  if (operator !== "In" && operator !== "NotIn") {
    report(`matchFields supports only operators In and NotIn, not "${operator}"`);
    return undefined;
  }
  if (given.length !== 1) {
    report(`operator ${operator} on metadata.name needs exactly one value`);
    return undefined;
  }
  return { equal: operator === "In", name: given[0] as string };
}

// Label syntax as Kubernetes validates it: a requirement that fails it is rejected by the scheduler.
const labelName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function isLabelKey(key: string): boolean {
  const slash = key.indexOf("/");
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix.length === 0 || prefix.length > 253 || !dnsSubdomain.test(prefix)) return false;
  }
  return name.length > 0 && name.length <= 63 && labelName.test(name);
}

function isLabelValue(value: string): boolean {
  return value === "" || (value.length <= 63 && labelName.test(value));
}

// --- matching (hot path: no allocation) ------------------------------------------------------

function labelRequirementMatches(requirement: LabelRequirement, labels: Labels): boolean {
  const value = labelValue(labels, requirement.key);
  switch (requirement.operator) {
    case "In":
      return value !== undefined && requirement.values.includes(value);
    case "NotIn":
      return value === undefined || !requirement.values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    case "Gt":
    case "Lt": {
      const number = value === undefined ? undefined : parseInt64(value);
      if (number === undefined) return false;
      return requirement.operator === "Gt" ? number > requirement.bound : number < requirement.bound;
    }
  }
}

function termMatches(term: CompiledTerm, labels: Labels, nodeName: string): boolean {
  for (let i = 0; i < term.labels.length; i++) {
    if (!labelRequirementMatches(term.labels[i] as LabelRequirement, labels)) return false;
  }
  for (let i = 0; i < term.nodeNames.length; i++) {
    const requirement = term.nodeNames[i] as NodeNameRequirement;
    if ((nodeName === requirement.name) !== requirement.equal) return false;
  }
  return true;
}

/** spec.nodeSelector: every entry must be a label of the node with exactly that value. */
export function matchesNodeSelector(selector: Labels | undefined, labels: Labels): boolean {
  if (selector === undefined) return true;
  for (const key in selector) {
    if (labelValue(labels, key) !== selector[key]) return false;
  }
  return true;
}

/** Required node affinity: undefined (none) matches every node; an empty list none. */
export function matchesRequiredNodeAffinity(
  terms: readonly NodeSelectorTerm[] | undefined,
  node: NodeInfo,
): boolean {
  if (terms === undefined) return true;
  const compiled = compiledAffinity(terms).terms;
  for (let i = 0; i < compiled.length; i++) {
    if (termMatches(compiled[i] as CompiledTerm, node.labels, node.name)) return true;
  }
  return false;
}

/**
 * What is wrong with the pod's required node affinity, for telling the user: operators with the
 * wrong number or kind of values, invalid keys or values, matchFields other than metadata.name,
 * no usable terms. A malformed term matches no node. undefined when there is nothing to report.
 */
export function nodeAffinityError(pod: PodInfo): string | undefined {
  const terms = pod.requiredNodeAffinity;
  if (terms === undefined) return undefined;
  const { errors } = compiledAffinity(terms);
  return errors.length > 0 ? `required node affinity: ${errors.join("; ")}` : undefined;
}

export const nodeAffinity: FilterPlugin = {
  name: "NodeAffinity",
  // As kube-scheduler's Node/Add|UpdateNodeLabel; a change to the pod's own spec is a member change.
  events: ["NodeAdd", "NodeUpdateLabel"],
  filter(pod, node) {
    if (!matchesNodeSelector(pod.nodeSelector, node.labels)) return rejected;
    if (!matchesRequiredNodeAffinity(pod.requiredNodeAffinity, node)) return rejected;
    return undefined;
  },
};
