/**
 * Topology-required gangs, as the checker reads them: a gang whose members must all run in one
 * domain of a node label (a rack, a block). Two sources declare it: a member's annotation
 * sharded-scheduler.io/topology-required (a label key) and a native PodGroup's
 * spec.schedulingConstraints.topology[].key (every listed key). Pure; written from the documented
 * contract, sharing no code with the scheduler.
 *
 * A gang is split when the members bound at one moment sit on nodes with different values of a
 * required key, or one of them sits on a node without the key (such a node cannot hold a member).
 */

export const topologyRequiredAnnotation = "sharded-scheduler.io/topology-required";

/** A bound member and the labels of its node (undefined: a node the checker does not know). */
export interface TopologyMember {
  pod: string;
  node: string;
  nodeLabels: Readonly<Record<string, string>> | undefined;
}

/** The keys a native PodGroup's spec.schedulingConstraints.topology requires (malformed entries skipped). */
export function podGroupTopologyKeys(spec: unknown): string[] {
  const constraints = (spec as { schedulingConstraints?: { topology?: unknown } } | undefined)
    ?.schedulingConstraints;
  const topology = constraints?.topology;
  if (!Array.isArray(topology)) return [];
  return topology
    .map((entry) => (entry as { key?: unknown } | null)?.key)
    .filter((key): key is string => typeof key === "string" && key !== "");
}

/** The key a member's annotation requires, if any. */
export function annotationTopologyKey(
  annotations: Readonly<Record<string, string>> | undefined,
): string | undefined {
  const key = annotations?.[topologyRequiredAnnotation]?.trim();
  return key ? key : undefined;
}

/**
 * Why the bound members break a required key, or undefined when they all share one value of it.
 * Members on nodes the checker does not know are not judged.
 */
export function topologySplit(key: string, members: readonly TopologyMember[]): string | undefined {
  const known = members.filter((member) => member.nodeLabels !== undefined);
  const unlabelled = known.find((member) => !Object.hasOwn(member.nodeLabels ?? {}, key));
  if (unlabelled) return `${unlabelled.pod} on ${unlabelled.node}, which has no ${key} label`;
  const byDomain = new Map<string, string[]>();
  for (const member of known) {
    const domain = (member.nodeLabels as Record<string, string>)[key] as string;
    byDomain.set(domain, [...(byDomain.get(domain) ?? []), member.pod]);
  }
  if (byDomain.size <= 1) return undefined;
  const domains = [...byDomain.entries()]
    .sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))
    .map(
      ([domain, pods]) =>
        `${key}=${domain} (${pods.length}: ${pods.slice(0, 3).join(", ")}${pods.length > 3 ? ", …" : ""})`,
    );
  return `members in ${byDomain.size} domains: ${domains.join("; ")}`;
}
