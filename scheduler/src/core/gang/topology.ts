/**
 * A gang's topology constraint: where its members must (required) and should (preferred) land
 * together, as node label keys. Read from a native PodGroup's spec.schedulingConstraints.topology
 * (pod-group.ts) or from the pods' annotations sharded-scheduler.io/topology-required and
 * sharded-scheduler.io/topology-preferred (group-source.ts); placed by the TopologyPlacement
 * plugin (plugins/topology-placement/).
 */
import { topologyPreferredAnnotation, topologyRequiredAnnotation } from "../../contracts/keys.js";
import type { PodInfo } from "../model.js";
import type { GroupKey } from "./group-key.js";

export interface TopologyConstraint {
  /** A node label key: all members on nodes sharing one value of it (nodes without it take none). */
  readonly required?: string;
  /**
   * Node label keys, coarsest first: more members in one domain of the first key is better,
   * then of the next. Best effort: never keeps the group from being placed.
   */
  readonly preferred: readonly string[];
}

const labelName = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Whether text is a valid label key: [prefix/]name, a DNS subdomain prefix of at most 253 characters. */
export function isLabelKey(text: string): boolean {
  const slash = text.lastIndexOf("/");
  const name = slash < 0 ? text : text.slice(slash + 1);
  if (!labelName.test(name)) return false;
  if (slash < 0) return true;
  const prefix = text.slice(0, slash);
  return prefix.length > 0 && prefix.length <= 253 && dnsSubdomain.test(prefix);
}

/**
 * The pod's topology annotations: the constraint, undefined without any, or why they are
 * malformed (the message names the annotation).
 */
export function topologyOfAnnotations(annotations: Readonly<Record<string, string>>): {
  topology?: TopologyConstraint;
  error?: string;
} {
  const rawRequired = annotations[topologyRequiredAnnotation];
  const rawPreferred = annotations[topologyPreferredAnnotation];
  if (rawRequired === undefined && rawPreferred === undefined) return {};
  const required = rawRequired?.trim();
  if (required !== undefined && !isLabelKey(required))
    return {
      error: `annotation ${topologyRequiredAnnotation}=${JSON.stringify(rawRequired)} is not a node label key`,
    };
  const preferred = rawPreferred === undefined ? [] : rawPreferred.split(",").map((key) => key.trim());
  const bad = preferred.find((key) => !isLabelKey(key));
  if (bad !== undefined)
    return {
      error: `annotation ${topologyPreferredAnnotation}=${JSON.stringify(rawPreferred)} has ${JSON.stringify(bad)}, not a node label key`,
    };
  if (required !== undefined && preferred.includes(required))
    return {
      error: `annotation ${topologyPreferredAnnotation}=${JSON.stringify(rawPreferred)} repeats the required key ${required}`,
    };
  if (new Set(preferred).size < preferred.length)
    return {
      error: `annotation ${topologyPreferredAnnotation}=${JSON.stringify(rawPreferred)} repeats a key`,
    };
  return { topology: required === undefined ? { preferred } : { required, preferred } };
}

/** The constraint as one comparable text ("none" without one). */
export function topologyText(topology: TopologyConstraint | undefined): string {
  if (topology === undefined) return "none";
  const preferred = topology.preferred.length > 0 ? ` preferred ${topology.preferred.join(",")}` : "";
  return `${topology.required === undefined ? "" : `required ${topology.required}`}${preferred}`.trim();
}

/**
 * Why the members of a group (pending and running) have no one topology constraint, or
 * undefined when they agree: the message names the annotation that differs.
 */
export function topologyDisagreement(key: GroupKey, members: Iterable<PodInfo>): string | undefined {
  if (key.solo) return undefined;
  const required = new Set<string>();
  const preferred = new Set<string>();
  for (const pod of members) {
    required.add(pod.topology?.required ?? "none");
    preferred.add(pod.topology === undefined ? "none" : pod.topology.preferred.join(",") || "none");
  }
  const name = `${key.namespace}/${key.name}`;
  const listed = (values: Set<string>) => [...values].sort().slice(0, 4).join(", ");
  if (required.size > 1)
    return `members of pod group ${name} disagree on ${topologyRequiredAnnotation} (${listed(required)})`;
  if (preferred.size > 1)
    return `members of pod group ${name} disagree on ${topologyPreferredAnnotation} (${listed(preferred)})`;
  return undefined;
}

/** The group's constraint: its members' (they agree, else the group is invalid); the first one's. */
export function groupTopology(members: readonly PodInfo[]): TopologyConstraint | undefined {
  return members[0]?.topology;
}

/**
 * What a domain of the key is called in messages: the key's last path segment without a
 * "topology." prefix ("rack" for topology.kubernetes.io/rack, "hostname" for kubernetes.io/hostname).
 */
export function domainWord(key: string): string {
  const segment = key.slice(key.lastIndexOf("/") + 1);
  return segment.startsWith("topology.") && segment.length > "topology.".length
    ? segment.slice("topology.".length)
    : segment;
}
