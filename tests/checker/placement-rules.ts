/**
 * The placement rules kube-scheduler 1.37 enforces between pods and on volumes, as the checker
 * reads them from pod specs, node labels and PersistentVolumes: required pod affinity and
 * anti-affinity (both ways), DoNotSchedule topology spread (maxSkew, minDomains,
 * nodeAffinityPolicy, nodeTaintsPolicy, matchLabelKeys), host ports, and a bound volume's node
 * affinity and zone labels. Pure and written from kube-scheduler's documented semantics (its
 * InterPodAffinity, PodTopologySpread, NodePorts, VolumeBinding and VolumeZone plugins), sharing
 * no code with the scheduler.
 *
 * Each rule judges one placement (a pod onto a node) against the pods already placed. Where a
 * scheduler's view may lawfully differ from the API server's at the bind (pods that left a
 * moment ago, binds that completed out of decision order), the caller names those pods and a rule
 * only blames a placement that breaks it whichever way they are counted: the checker never
 * claims a violation kube-scheduler itself could commit.
 */
import type * as k8s from "@kubernetes/client-node";

/** What the rules read of a placed (or incoming) pod. */
export interface RulePod {
  key: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  spec: k8s.V1PodSpec | undefined;
}

/** What the rules read of a node. */
export interface RuleNode {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** NoSchedule and NoExecute taints. */
  taints: readonly { key: string; value?: string; effect: string }[];
}

/** A pod placed on a node, as the rules count it. */
export interface Placed {
  pod: RulePod;
  node: string;
  /** Deleting (deletionTimestamp set): counts for affinity and ports, not for spread (as in kube). */
  terminating: boolean;
}

export interface RuleWorld {
  nodes: ReadonlyMap<string, RuleNode>;
  /** Pods bound and not finished now (the incoming pod not among them), terminating ones flagged. */
  placed: readonly Placed[];
  /**
   * Of placed, those bound a moment before the incoming pod: binds complete out of decision order,
   * so the scheduler may have decided the incoming pod before them. Spread does not hold them
   * against the incoming pod's domain; anti-affinity and ports do (of two conflicting pods one
   * scheduler decides, the later one saw the earlier).
   */
  recentBinds: ReadonlySet<Placed>;
  /**
   * Pods that left (finished, deleted, or began terminating) a moment before: the scheduler may
   * still have counted them, as not terminating. Affinity and spread count them as maybe present.
   */
  recentlyLeft: readonly Placed[];
  /** A namespace's labels (undefined: not seen). */
  namespaceLabels: (namespace: string) => Readonly<Record<string, string>> | undefined;
}

export interface RuleBreach {
  rule: "podAntiAffinity" | "podAffinity" | "spreadSkew" | "hostPortConflicts" | "volumeZone";
  detail: string;
}

// ---------------------------------------------------------------------------------------------
// Selectors

/** A label selector as kube reads it: nil selects nothing, {} selects everything. */
export function selects(selector: k8s.V1LabelSelector | undefined, labels: Readonly<Record<string, string>>) {
  if (selector === undefined || selector === null) return false;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    if (labels[key] !== value) return false;
  for (const requirement of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, requirement.key);
    const value = labels[requirement.key];
    const values = requirement.values ?? [];
    switch (requirement.operator) {
      case "In":
        if (!has || !values.includes(value as string)) return false;
        break;
      case "NotIn":
        if (has && values.includes(value as string)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/**
 * A selector with the incoming pod's matchLabelKeys (key In its value) and mismatchLabelKeys
 * (key NotIn its value) added, keys the pod lacks ignored: what the API server merges into the
 * selector at creation (adding them again changes nothing).
 */
export function withLabelKeys(
  selector: k8s.V1LabelSelector | undefined,
  labels: Readonly<Record<string, string>>,
  matchKeys: readonly string[] = [],
  mismatchKeys: readonly string[] = [],
): k8s.V1LabelSelector | undefined {
  if (selector === undefined || selector === null) return selector;
  const extra: k8s.V1LabelSelectorRequirement[] = [];
  for (const key of matchKeys)
    if (Object.hasOwn(labels, key)) extra.push({ key, operator: "In", values: [labels[key] as string] });
  for (const key of mismatchKeys)
    if (Object.hasOwn(labels, key)) extra.push({ key, operator: "NotIn", values: [labels[key] as string] });
  if (extra.length === 0) return selector;
  return { ...selector, matchExpressions: [...(selector.matchExpressions ?? []), ...extra] };
}

/** A node selector requirement or field requirement against a node (Gt/Lt compare integers). */
function nodeRequirementHolds(
  requirement: k8s.V1NodeSelectorRequirement,
  value: string | undefined,
): boolean {
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    case "Gt":
    case "Lt": {
      const have = Number(value);
      const bound = Number(values[0]);
      if (value === undefined || !Number.isInteger(have) || !Number.isInteger(bound)) return false;
      return requirement.operator === "Gt" ? have > bound : have < bound;
    }
    default:
      return false;
  }
}

/** A node selector term: all of its requirements hold; a term with none matches no node. */
export function termSelectsNode(term: k8s.V1NodeSelectorTerm, node: RuleNode): boolean {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false;
  return (
    expressions.every((r) =>
      nodeRequirementHolds(r, Object.hasOwn(node.labels, r.key) ? node.labels[r.key] : undefined),
    ) && fields.every((r) => nodeRequirementHolds(r, r.key === "metadata.name" ? node.name : undefined))
  );
}

/** The pod's nodeSelector and required node affinity (any of its terms) both hold on the node. */
export function nodeAffinityHolds(spec: k8s.V1PodSpec | undefined, node: RuleNode): boolean {
  for (const [key, value] of Object.entries(spec?.nodeSelector ?? {}))
    if (node.labels[key] !== value) return false;
  const required = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return true;
  return (required.nodeSelectorTerms ?? []).some((term) => termSelectsNode(term, node));
}

/** A NoSchedule or NoExecute taint of the node that the pod does not tolerate, if any. */
export function untoleratedTaint(
  spec: k8s.V1PodSpec | undefined,
  node: RuleNode,
): RuleNode["taints"][number] | undefined {
  const tolerations = spec?.tolerations ?? [];
  return node.taints.find(
    (taint) =>
      !tolerations.some(
        (t) =>
          (!t.effect || t.effect === taint.effect) &&
          (t.operator === "Exists"
            ? !t.key || t.key === taint.key
            : t.key === taint.key && (t.value ?? "") === (taint.value ?? "")),
      ),
  );
}

// ---------------------------------------------------------------------------------------------
// Inter-pod affinity

interface Term {
  inNamespace: (namespace: string) => boolean;
  selector: k8s.V1LabelSelector | undefined;
  topologyKey: string;
}

/**
 * A term as kube reads it for the pod that carries it: its selector with the carrier's
 * matchLabelKeys/mismatchLabelKeys; its namespaces those listed and those namespaceSelector
 * selects; none listed and no selector: the carrier's own; an empty namespaceSelector: all.
 */
function termOf(term: k8s.V1PodAffinityTerm, owner: RulePod, world: RuleWorld): Term {
  const selector = withLabelKeys(
    term.labelSelector,
    owner.labels,
    term.matchLabelKeys,
    term.mismatchLabelKeys,
  );
  const listed = term.namespaces ?? [];
  const namespaceSelector = term.namespaceSelector;
  const topologyKey = term.topologyKey;
  if (namespaceSelector === undefined || namespaceSelector === null) {
    const namespaces = listed.length > 0 ? listed : [owner.namespace];
    return { inNamespace: (namespace) => namespaces.includes(namespace), selector, topologyKey };
  }
  return {
    inNamespace: (namespace) =>
      listed.includes(namespace) || selects(namespaceSelector, world.namespaceLabels(namespace) ?? {}),
    selector,
    topologyKey,
  };
}

const termMatches = (term: Term, pod: RulePod) =>
  term.inNamespace(pod.namespace) && selects(term.selector, pod.labels);

const requiredAntiAffinity = (spec: k8s.V1PodSpec | undefined) =>
  spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
const requiredAffinity = (spec: k8s.V1PodSpec | undefined) =>
  spec?.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];

/** Whether a pod carries required pod anti-affinity (existing pods' terms bind incoming pods). */
export const hasRequiredAntiAffinity = (spec: k8s.V1PodSpec | undefined) =>
  requiredAntiAffinity(spec).length > 0;

/** Same topology domain: both nodes carry the key with one value. */
function sameDomain(world: RuleWorld, a: string, b: string, key: string): boolean {
  const first = world.nodes.get(a)?.labels;
  const second = world.nodes.get(b)?.labels;
  if (!first || !second || !Object.hasOwn(first, key) || !Object.hasOwn(second, key)) return false;
  return first[key] === second[key];
}

/**
 * Required anti-affinity broken by placing pod on node: one of its terms matches a placed pod in
 * the term's domain, or a placed pod's term matches it (symmetry). Only pods the scheduler
 * certainly saw are held against it.
 */
export function antiAffinityBreach(pod: RulePod, node: string, world: RuleWorld): RuleBreach | undefined {
  const own = requiredAntiAffinity(pod.spec).map((term) => termOf(term, pod, world));
  for (const other of world.placed) {
    for (const term of own)
      if (termMatches(term, other.pod) && sameDomain(world, node, other.node, term.topologyKey))
        return {
          rule: "podAntiAffinity",
          detail: `${pod.key} on ${node} beside ${other.pod.key} on ${other.node}: its anti-affinity (${term.topologyKey}) selects it`,
        };
    for (const raw of requiredAntiAffinity(other.pod.spec)) {
      const term = termOf(raw, other.pod, world);
      if (termMatches(term, pod) && sameDomain(world, node, other.node, term.topologyKey))
        return {
          rule: "podAntiAffinity",
          detail: `${pod.key} on ${node} beside ${other.pod.key} on ${other.node}, whose anti-affinity (${term.topologyKey}) selects it`,
        };
    }
  }
  return undefined;
}

/**
 * Required affinity unmet: for some term, no pod matching all the terms runs in that term's
 * domain of the node, unless no pod anywhere matches all the terms and the pod matches them
 * itself (the first pod of a group); a node without a term's key fails whatever the exception. Pods that may have been
 * seen count as present, and pods bound a moment before not as surely seen (lenient).
 */
export function affinityBreach(pod: RulePod, node: string, world: RuleWorld): RuleBreach | undefined {
  const raw = requiredAffinity(pod.spec);
  if (raw.length === 0) return undefined;
  const terms = raw.map((term) => termOf(term, pod, world));
  const candidates = [...world.placed, ...world.recentlyLeft].filter((other) =>
    terms.every((term) => termMatches(term, other.pod)),
  );
  const nodeLabels = world.nodes.get(node)?.labels ?? {};
  const unlabelled = terms.find((term) => !Object.hasOwn(nodeLabels, term.topologyKey));
  if (unlabelled)
    return {
      rule: "podAffinity",
      detail: `${pod.key} on ${node}: the node has no ${unlabelled.topologyKey} label its affinity needs`,
    };
  const unmet = terms.find(
    (term) =>
      !Object.hasOwn(nodeLabels, term.topologyKey) ||
      !candidates.some((other) => sameDomain(world, node, other.node, term.topologyKey)),
  );
  if (unmet === undefined) return undefined;
  // kube counts only matching pods on nodes that carry a term's key; lenient: pods it surely saw.
  const anyMatching = candidates.some(
    (other) =>
      world.placed.includes(other) &&
      !world.recentBinds.has(other) &&
      terms.some((term) => Object.hasOwn(world.nodes.get(other.node)?.labels ?? {}, term.topologyKey)),
  );
  if (!anyMatching && terms.every((term) => termMatches(term, pod))) return undefined;
  return {
    rule: "podAffinity",
    detail: `${pod.key} on ${node}: no pod its affinity selects in its ${unmet.topologyKey} domain (${nodeLabels[unmet.topologyKey] ?? "node has no such label"})`,
  };
}

// ---------------------------------------------------------------------------------------------
// Topology spread

/**
 * DoNotSchedule constraints broken: the node's domain count (matching pods in the pod's
 * namespace, not terminating) plus the pod itself if it matches, less the smallest domain count
 * among the eligible nodes (0 while fewer domains than minDomains exist), above maxSkew; or the
 * node lacks the key. Eligible nodes carry every constraint's key and pass the node inclusion
 * policies (nodeAffinityPolicy Honor by default: nodeSelector and required node affinity;
 * nodeTaintsPolicy Ignore by default). Lenient: the node's domain does not count pods bound a
 * moment before, the smallest domain counts pods that left a moment before.
 */
export function spreadBreach(pod: RulePod, node: string, world: RuleWorld): RuleBreach | undefined {
  const constraints = (pod.spec?.topologySpreadConstraints ?? []).filter(
    (c) => c.whenUnsatisfiable === "DoNotSchedule",
  );
  if (constraints.length === 0) return undefined;
  const target = world.nodes.get(node);
  if (!target) return undefined;
  const keys = constraints.map((c) => c.topologyKey);
  for (const constraint of constraints) {
    const key = constraint.topologyKey;
    if (!Object.hasOwn(target.labels, key))
      return { rule: "spreadSkew", detail: `${pod.key} on ${node}: the node has no ${key} label` };
    const selector = withLabelKeys(constraint.labelSelector, pod.labels, constraint.matchLabelKeys);
    const eligible = new Map<string, string>();
    for (const candidate of world.nodes.values()) {
      if (!keys.every((k) => Object.hasOwn(candidate.labels, k))) continue;
      if ((constraint.nodeAffinityPolicy ?? "Honor") === "Honor" && !nodeAffinityHolds(pod.spec, candidate))
        continue;
      if (constraint.nodeTaintsPolicy === "Honor" && untoleratedTaint(pod.spec, candidate)) continue;
      eligible.set(candidate.name, candidate.labels[key] as string);
    }
    const certain = new Map<string, number>();
    const possible = new Map<string, number>();
    for (const domain of eligible.values()) {
      certain.set(domain, 0);
      possible.set(domain, 0);
    }
    const count = (placed: readonly Placed[], into: Map<string, number>, left: boolean) => {
      for (const other of placed) {
        if ((other.terminating && !left) || other.pod.namespace !== pod.namespace) continue;
        const domain = eligible.get(other.node);
        if (domain === undefined || !selects(selector, other.pod.labels)) continue;
        into.set(domain, (into.get(domain) ?? 0) + 1);
      }
    };
    count(
      world.placed.filter((other) => !world.recentBinds.has(other)),
      certain,
      false,
    );
    count(world.placed, possible, false);
    count(world.recentlyLeft, possible, true);
    const domain = target.labels[key] as string;
    const minDomains = constraint.minDomains ?? 1;
    const smallest = possible.size < minDomains ? 0 : Math.min(...possible.values());
    const self = selects(selector, pod.labels) ? 1 : 0;
    const skew = (certain.get(domain) ?? 0) + self - smallest;
    if (skew > constraint.maxSkew)
      return {
        rule: "spreadSkew",
        detail:
          `${pod.key} on ${node}: ${key}=${domain} would hold ${(certain.get(domain) ?? 0) + self} ` +
          `matching pods, the emptiest of ${possible.size} domain(s) ${smallest}` +
          `${possible.size < minDomains ? ` (fewer than minDomains ${minDomains})` : ""}: skew ${skew} > maxSkew ${constraint.maxSkew}`,
      };
  }
  return undefined;
}

/**
 * Pods in domains over the skew now, for a settled cluster where nothing left (a benchmark's end):
 * for each pod with DoNotSchedule constraints, its domain's count less the smallest eligible
 * domain's (0 below minDomains) above maxSkew. After a sequential placement without deletions of
 * pods that share their constraints this never happens, whatever the order the binds arrived in.
 */
export function settledSpreadBreaches(
  placed: readonly Placed[],
  world: RuleWorld,
): { subject: Placed; breach: RuleBreach }[] {
  const breaches: { subject: Placed; breach: RuleBreach }[] = [];
  for (const subject of placed) {
    if (
      !(subject.pod.spec?.topologySpreadConstraints ?? []).some(
        (c) => c.whenUnsatisfiable === "DoNotSchedule",
      )
    )
      continue;
    // Its domain's count including itself, judged as if it came last.
    const others = placed.filter((other) => other !== subject);
    const breach = spreadBreach(subject.pod, subject.node, {
      ...world,
      placed: others,
      recentBinds: new Set(),
      recentlyLeft: [],
    });
    if (breach) breaches.push({ subject, breach });
  }
  return breaches;
}

/**
 * Pods placed against their required affinity, judged on a settled cluster where nothing left:
 * pods with the same affinity terms form a group; a member is fine where, for every term, a pod
 * outside the group that matches all the terms runs in its domain (an anchor). Members without
 * an anchor that match their own terms can only have followed the group's first pod (which may go
 * anywhere) into its domain: those in the one domain holding most of them are excused, every
 * other member is a violation, whatever the order the binds arrived in.
 */
export function settledAffinityBreaches(
  placed: readonly Placed[],
  world: RuleWorld,
): { subject: Placed; breach: RuleBreach }[] {
  const breaches: { subject: Placed; breach: RuleBreach }[] = [];
  const groups = new Map<string, Placed[]>();
  for (const subject of placed) {
    const raw = requiredAffinity(subject.pod.spec);
    if (raw.length === 0) continue;
    const group = `${subject.pod.namespace}\u0000${JSON.stringify(raw)}`;
    groups.set(group, [...(groups.get(group) ?? []), subject]);
  }
  for (const members of groups.values()) {
    const inGroup = new Set(members);
    /** Unanchored self-matching members by their domains (one value per term). */
    const unanchored = new Map<string, Placed[]>();
    for (const subject of members) {
      const terms = requiredAffinity(subject.pod.spec).map((term) => termOf(term, subject.pod, world));
      const labels = world.nodes.get(subject.node)?.labels ?? {};
      const missing = terms.find((term) => !Object.hasOwn(labels, term.topologyKey));
      if (missing) {
        breaches.push({
          subject,
          breach: {
            rule: "podAffinity",
            detail: `${subject.pod.key} on ${subject.node}: the node has no ${missing.topologyKey} label its affinity needs`,
          },
        });
        continue;
      }
      const anchors = placed.filter(
        (other) => !inGroup.has(other) && terms.every((term) => termMatches(term, other.pod)),
      );
      const anchored = terms.every((term) =>
        anchors.some((other) => sameDomain(world, subject.node, other.node, term.topologyKey)),
      );
      if (anchored) continue;
      if (terms.every((term) => termMatches(term, subject.pod))) {
        const domain = terms.map((term) => `${term.topologyKey}=${labels[term.topologyKey]}`).join(",");
        unanchored.set(domain, [...(unanchored.get(domain) ?? []), subject]);
        continue;
      }
      breaches.push({
        subject,
        breach: {
          rule: "podAffinity",
          detail: `${subject.pod.key} on ${subject.node}: no pod its affinity selects in its domain`,
        },
      });
    }
    const buckets = [...unanchored.entries()].sort(
      (a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]),
    );
    const seed = buckets[0]?.[0];
    for (const [domain, pods] of buckets.slice(1))
      for (const subject of pods)
        breaches.push({
          subject,
          breach: {
            rule: "podAffinity",
            detail: `${subject.pod.key} on ${subject.node}: alone with its group in ${domain}, apart from the group's first pods (${seed})`,
          },
        });
  }
  return breaches;
}

// ---------------------------------------------------------------------------------------------
// Host ports

export interface HostPort {
  port: number;
  protocol: string;
  ip: string;
}

/** A pod's host ports: its containers' and its sidecars' (init containers restartPolicy Always). */
export function hostPortsOf(spec: k8s.V1PodSpec | undefined): HostPort[] {
  const containers = [
    ...(spec?.containers ?? []),
    ...(spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always"),
  ];
  const ports: HostPort[] = [];
  for (const container of containers)
    for (const port of container.ports ?? [])
      if ((port.hostPort ?? 0) > 0)
        ports.push({
          port: port.hostPort as number,
          protocol: port.protocol || "TCP",
          ip: port.hostIP || "0.0.0.0",
        });
  return ports;
}

/** Two host ports clash: same port and protocol, and the same IP or either on 0.0.0.0. */
const clash = (a: HostPort, b: HostPort) =>
  a.port === b.port &&
  a.protocol === b.protocol &&
  (a.ip === b.ip || a.ip === "0.0.0.0" || b.ip === "0.0.0.0");

/** A host port of the pod already taken on the node by a placed pod (terminating ones too). */
export function hostPortBreach(pod: RulePod, node: string, world: RuleWorld): RuleBreach | undefined {
  const wanted = hostPortsOf(pod.spec);
  if (wanted.length === 0) return undefined;
  for (const other of world.placed) {
    if (other.node !== node) continue;
    for (const taken of hostPortsOf(other.pod.spec)) {
      const hit = wanted.find((port) => clash(port, taken));
      if (hit)
        return {
          rule: "hostPortConflicts",
          detail: `${pod.key} on ${node}: ${hit.protocol} ${hit.ip}:${hit.port} is held by ${other.pod.key}`,
        };
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Volumes

/** The claims a pod's volumes name: persistentVolumeClaim ones and generic ephemeral ones (`<pod>-<volume>`). */
export function claimsOf(podName: string, spec: k8s.V1PodSpec | undefined): string[] {
  const claims: string[] = [];
  for (const volume of spec?.volumes ?? []) {
    if (volume.persistentVolumeClaim?.claimName) claims.push(volume.persistentVolumeClaim.claimName);
    else if (volume.ephemeral) claims.push(`${podName}-${volume.name}`);
  }
  return claims;
}

/** The zone and region labels VolumeZone compares (GA and the deprecated beta ones). */
const zoneLabels = [
  "topology.kubernetes.io/zone",
  "topology.kubernetes.io/region",
  "failure-domain.beta.kubernetes.io/zone",
  "failure-domain.beta.kubernetes.io/region",
];

/**
 * Why a bound PersistentVolume cannot serve a pod on this node, if it cannot: its required node
 * affinity selects another node, or (the node carrying zone or region labels) a zone/region
 * label names values (kube splits them on "__") none of which is the node's.
 */
export function volumeNodeMismatch(volume: k8s.V1PersistentVolume, node: RuleNode): string | undefined {
  const terms = volume.spec?.nodeAffinity?.required?.nodeSelectorTerms;
  if (terms && !terms.some((term) => termSelectsNode(term, node)))
    return `volume ${volume.metadata?.name}'s node affinity does not select ${node.name}`;
  // VolumeZone lets a node without any zone or region label take any volume.
  if (!zoneLabels.some((label) => Object.hasOwn(node.labels, label))) return undefined;
  for (const label of zoneLabels) {
    const wanted = volume.metadata?.labels?.[label];
    if (wanted === undefined) continue;
    const have = node.labels[label];
    if (have === undefined || !wanted.split("__").includes(have))
      return `volume ${volume.metadata?.name} is in ${label}=${wanted}, ${node.name} in ${have ?? "none"}`;
  }
  return undefined;
}
