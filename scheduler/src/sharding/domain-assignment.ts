/**
 * Topology-aligned shards (--shard-by-label): whole domains of a node label (every node with
 * topology.kubernetes.io/rack=r7) owned by one shard each, balanced by node count (pure, no I/O).
 *
 * Safety: a node's owner stays a pure function of the ring object and the node's name. Labels
 * are read by each shard's own node watch at its own moment, so an owner computed from "the
 * label of the node as I see it" could differ between two shards during the watch lag (a node
 * relabelled, or joining a domain), and both would bind onto it. Instead the proposer (the
 * lowest live replica) writes its assignment INTO the ring object: member → domain → the node
 * names it saw in that domain. A node's owner is then, in order: its lend (nodeOwners), the
 * member the ring object lists it under, else the ring's per-node hash. Every shard reads the
 * same ring object, so every shard computes the same owner, whatever its watch says; a node
 * that appears later or is relabelled keeps that owner (hashed, or as listed) until a new
 * epoch lists it anew, and that epoch is fenced like any other (handover.ts), so the nodes a
 * domain gains or loses move under it as one set.
 *
 * Balance and movement: a domain stays with its current owner while that owner stays a
 * member; new domains and those of members gone go, largest first, to the least loaded member;
 * then, while two loads differ by more than the largest domain, one domain moves from the most
 * loaded member to the least loaded (the one leaving their loads closest). The result: the loads
 * of any two members differ by at most the largest domain's node count; a member leaving moves
 * only its own domains (when the assignment was balanced before), a member joining only takes.
 *
 * Size: the listing lives in a Lease annotation (every annotation of an object together at most
 * 256 KiB). Domains are listed, largest first, while the listing stays within
 * domainListingBudgetBytes; a domain that does not fit is not listed (its nodes are hashed one
 * by one), and the shard logs it.
 */
import { isDomainValue, type RingDomainListing } from "../contracts/leases.js";
import { isDnsSubdomain } from "../contracts/parsed.js";

/** Domain (label value) → the names of the nodes one replica sees carrying it. */
export type ObservedDomains = ReadonlyMap<string, readonly string[]>;

/**
 * At most this many bytes of listing (node names, domain values, JSON punctuation): with the
 * members and lends the ring Lease stays well under the API server's 256 KiB for annotations.
 * Measured with racks of 20: about 10,500 nodes named like kwok-node-01234 fit, 6,500 like
 * ip-10-0-12-34.ec2.internal, 6,000 like gke-prod-pool-1-00001234-x7k2 (1,000 such nodes take
 * 19–33 KB); see domainListingBytes.
 */
export const domainListingBudgetBytes = 192 * 1024;

/** The bytes one domain takes in the listing: `"value":["node",…],`. */
export function domainListingBytes(value: string, nodes: readonly string[]): number {
  let bytes = JSON.stringify(value).length + 4;
  for (const node of nodes) bytes += JSON.stringify(node).length + 1;
  return bytes;
}

/**
 * Groups node label values by domain: node name → value (nodes without the label absent; "" is
 * none). What the ring Lease's parser would refuse is left out, so a listing never makes the
 * ring object unreadable.
 */
export function observeDomains(values: Iterable<readonly [string, string]>): Map<string, string[]> {
  const domains = new Map<string, string[]>();
  for (const [node, value] of values) {
    if (!isDomainValue(value) || !isDnsSubdomain(node)) continue;
    const nodes = domains.get(value);
    if (nodes) nodes.push(node);
    else domains.set(value, [node]);
  }
  for (const nodes of domains.values()) nodes.sort();
  return domains;
}

/**
 * The domains a ring object lists of what was observed: largest first (then by value), each
 * that still fits the budget; nodes sorted. Deterministic for a given observation.
 */
export function listedDomains(
  observed: ObservedDomains,
  budgetBytes = domainListingBudgetBytes,
): Map<string, readonly string[]> {
  const order = [...observed.entries()]
    .filter(([, nodes]) => nodes.length > 0)
    .map(([value, nodes]) => [value, [...new Set(nodes)].sort()] as const)
    .sort(([a, an], [b, bn]) => bn.length - an.length || compare(a, b));
  const listed = new Map<string, readonly string[]>();
  let bytes = 0;
  for (const [value, nodes] of order) {
    const cost = domainListingBytes(value, nodes);
    if (bytes + cost > budgetBytes) continue;
    bytes += cost;
    listed.set(value, nodes);
  }
  return listed;
}

/** Domain → its nodes, as a ring object lists them (whatever the owners). */
export function domainsOfListing(domains: RingDomainListing | undefined): Map<string, readonly string[]> {
  const listed = new Map<string, readonly string[]>();
  for (const owned of Object.values(domains?.owners ?? {}))
    for (const [value, nodes] of Object.entries(owned)) listed.set(value, nodes);
  return listed;
}

/** Do two listings name the same domains with the same nodes? */
export function sameDomains(
  a: ReadonlyMap<string, readonly string[]>,
  b: ReadonlyMap<string, readonly string[]>,
): boolean {
  if (a.size !== b.size) return false;
  for (const [value, nodes] of a) {
    const other = b.get(value);
    if (!other || other.length !== nodes.length || other.some((node, i) => node !== nodes[i])) return false;
  }
  return true;
}

/** Node name → the member a ring object lists it under (the first listing wins a duplicate). */
export function domainNodeOwners(domains: RingDomainListing | undefined): Map<string, string> {
  const owners = new Map<string, string>();
  if (!domains) return owners;
  for (const member of Object.keys(domains.owners).sort())
    for (const value of Object.keys(domains.owners[member] ?? {}).sort())
      for (const node of domains.owners[member]?.[value] ?? [])
        if (!owners.has(node)) owners.set(node, member);
  return owners;
}

/** Member → node count it owns through domains, for status and balance. */
export function domainLoads(domains: RingDomainListing): Map<string, number> {
  const loads = new Map<string, number>();
  for (const [member, owned] of Object.entries(domains.owners)) {
    let load = 0;
    for (const nodes of Object.values(owned)) load += nodes.length;
    loads.set(member, load);
  }
  return loads;
}

/**
 * The assignment of `listed` domains to `members` (see the header): pure and deterministic, the
 * same for any order of its inputs. `current` is the ring object's assignment now; its owners
 * are kept where they remain members and the key is the same.
 */
export function assignDomains(
  members: readonly string[],
  current: RingDomainListing | undefined,
  key: string,
  listed: ReadonlyMap<string, readonly string[]>,
): RingDomainListing {
  const sortedMembers = [...new Set(members)].sort(compare);
  const owners: Record<string, Record<string, readonly string[]>> = Object.create(null);
  if (sortedMembers.length === 0) return { key, owners };
  const currentOwner = new Map<string, string>();
  if (current && current.key === key)
    for (const member of Object.keys(current.owners).sort(compare))
      for (const value of Object.keys(current.owners[member] ?? {}))
        if (!currentOwner.has(value)) currentOwner.set(value, member);
  const load = new Map(sortedMembers.map((member) => [member, 0]));
  const ownerOf = new Map<string, string>();
  const weight = (value: string): number => listed.get(value)?.length ?? 0;
  const unplaced: string[] = [];
  for (const value of [...listed.keys()].sort(compare)) {
    const owner = currentOwner.get(value);
    if (owner !== undefined && load.has(owner)) {
      ownerOf.set(value, owner);
      load.set(owner, (load.get(owner) ?? 0) + weight(value));
    } else unplaced.push(value);
  }
  unplaced.sort((a, b) => weight(b) - weight(a) || compare(a, b));
  for (const value of unplaced) {
    const member = leastLoaded(sortedMembers, load);
    ownerOf.set(value, member);
    load.set(member, (load.get(member) ?? 0) + weight(value));
  }
  // Balanced enough once no two loads differ by more than the largest domain: moving further
  // would move domains between members that stay. Each move lowers the sum of squared loads,
  // so this ends; the bound on moves only guards against a bug.
  let largest = 0;
  for (const value of listed.keys()) largest = Math.max(largest, weight(value));
  for (let moves = 0; moves <= listed.size * sortedMembers.length; moves++) {
    const from = mostLoaded(sortedMembers, load);
    const to = leastLoaded(sortedMembers, load);
    const spread = (load.get(from) ?? 0) - (load.get(to) ?? 0);
    if (spread <= largest) break;
    let best: string | undefined;
    for (const [value, owner] of ownerOf) {
      if (owner !== from) continue;
      const w = weight(value);
      if (w <= 0 || w >= spread) continue;
      if (best === undefined) best = value;
      else {
        const gap = Math.abs(spread - 2 * w);
        const bestGap = Math.abs(spread - 2 * weight(best));
        if (gap < bestGap || (gap === bestGap && compare(value, best) < 0)) best = value;
      }
    }
    if (best === undefined) break;
    ownerOf.set(best, to);
    load.set(from, (load.get(from) ?? 0) - weight(best));
    load.set(to, (load.get(to) ?? 0) + weight(best));
  }
  for (const member of sortedMembers) {
    const owned: Record<string, readonly string[]> = Object.create(null);
    for (const value of [...ownerOf.keys()].sort(compare))
      if (ownerOf.get(value) === member) owned[value] = listed.get(value) ?? [];
    if (Object.keys(owned).length > 0) owners[member] = owned;
  }
  return { key, owners };
}

/** Code-unit order, the same in every process (localeCompare is not). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function leastLoaded(members: readonly string[], load: ReadonlyMap<string, number>): string {
  let best = members[0] as string;
  for (const member of members) if ((load.get(member) ?? 0) < (load.get(best) ?? 0)) best = member;
  return best;
}

function mostLoaded(members: readonly string[], load: ReadonlyMap<string, number>): string {
  let best = members[0] as string;
  for (const member of members) if ((load.get(member) ?? 0) > (load.get(best) ?? 0)) best = member;
  return best;
}
