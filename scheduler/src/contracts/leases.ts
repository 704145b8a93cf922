/**
 * The coordination.k8s.io Lease as shards (their member and ring Leases, sharding/shard-leases.ts),
 * the coordinator (its leader election, and the ring it reads) and the status command read and
 * write it: the ring object and a member Lease with their parsers, and the timing rule every
 * lease holder follows.
 */
import {
  ackedEpochAnnotation,
  releasedAnnotation,
  ringDomainsAnnotation,
  ringEpochAnnotation,
  ringMembersAnnotation,
  ringNodeOwnersAnnotation,
} from "./keys.js";
import { exactCount, invalid, isDnsSubdomain, type Parsed, parsed, quoted } from "./parsed.js";

export interface Lease {
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    renewTime?: string;
    acquireTime?: string;
    leaseTransitions?: number;
  };
}

/**
 * A renewal counts only if its answer came back within this margin, and the lease is held
 * until the last counted renewal is older than the lease duration minus this margin.
 */
export const leaseMarginMs = (leaseDurationMs: number): number => Math.min(2_000, leaseDurationMs / 5);

/** A Lease's MicroTime (renewTime, acquireTime): RFC 3339 with microseconds. */
export const leaseTimestamp = (ms: number): string => new Date(ms).toISOString().replace("Z", "000Z");

/** The ring, as the ring Lease holds it; sharding/handover.ts decides its next epoch. */
export interface RingEpoch {
  readonly epoch: number;
  /** Sorted shard identities. */
  readonly members: readonly string[];
  /**
   * Nodes owned by a member other than their ring owner (node name → member): lent by the
   * coordinator, or kept by the member that holds room a preemption won on them.
   */
  readonly nodeOwners: Readonly<Record<string, string>>;
  /**
   * Whole domains of a node label each member owns (--shard-by-label): a node listed here is
   * owned by its member unless lent; absent or unlisted, a node is hashed.
   */
  readonly domains?: RingDomainListing;
}

/** The ring's domain assignment, as sharding/domain-assignment.ts computes it. */
export interface RingDomainListing {
  /** The node label key whose values are the domains. */
  readonly key: string;
  /** member → domain (label value) → the node names listed in it, sorted. */
  readonly owners: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
}

export interface RingObject extends RingEpoch {
  /** The ring Lease's resourceVersion, for compare-and-swap. */
  readonly resourceVersion: string;
}

/** One reading of a peer's member Lease (sharding/peer-liveness.ts judges liveness from them). */
export interface LeaseObservation {
  readonly holder: string;
  /** Changes at every renewal (the Lease's renewTime). "" while the Lease is absent. */
  readonly version: string;
  readonly durationMs: number;
  /** The ring epoch the peer has acknowledged (0: none). */
  readonly ackedEpoch: number;
  readonly released: boolean;
  readonly absent: boolean;
}

/**
 * What a shard identity can be: a StatefulSet pod's name, a DNS-1123 subdomain of at most 253
 * characters. Identities come from Leases anyone with access to them may edit; what is not one
 * ("__proto__", "", text with commas) is refused where it is read.
 */
export const isShardIdentity = isDnsSubdomain;

function countAnnotation(
  annotations: Readonly<Record<string, unknown>>,
  key: string,
): Parsed<number | undefined> {
  const text = annotations[key];
  if (text === undefined) return parsed(undefined);
  if (typeof text !== "string") return invalid(`${key} is not a string`);
  const count = exactCount(text);
  return count.ok ? count : invalid(`${key}: ${count.reason}`);
}

const identityRule = "a DNS-1123 subdomain of at most 253 characters, as a StatefulSet pod is named";

/** What a member Lease says: its holder, renewal, duration, acknowledged epoch, release. */
export function parseMemberLease(lease: Lease): Parsed<LeaseObservation> {
  const name = lease.metadata.name;
  if (!isShardIdentity(name))
    return invalid(`the name ${quoted(name)} is not a shard identity (${identityRule})`);
  const annotations = lease.metadata.annotations ?? {};
  const ackedEpoch = countAnnotation(annotations, ackedEpochAnnotation);
  if (!ackedEpoch.ok) return invalid(ackedEpoch.reason);
  const spec = lease.spec ?? {};
  const seconds = spec.leaseDurationSeconds ?? 10;
  if (!Number.isSafeInteger(seconds) || seconds <= 0)
    return invalid(`spec.leaseDurationSeconds ${quoted(String(seconds))} is not a positive integer`);
  const holder = spec.holderIdentity ?? name;
  const version = spec.renewTime ?? lease.metadata.resourceVersion ?? "";
  if (typeof holder !== "string" || typeof version !== "string")
    return invalid("spec.holderIdentity or spec.renewTime is not a string");
  return parsed({
    holder,
    version,
    durationMs: seconds * 1000,
    ackedEpoch: ackedEpoch.value ?? 0,
    released: annotations[releasedAnnotation] === "true",
    absent: false,
  });
}

/** The ring Lease's members annotation: shard identities joined by commas. */
export function parseRingMembers(text: string): Parsed<string[]> {
  const members = new Set<string>();
  for (const member of text.split(",")) {
    if (member === "") continue;
    if (!isShardIdentity(member))
      return invalid(`member ${quoted(member)} is not a shard identity (${identityRule})`);
    members.add(member);
  }
  return parsed([...members].sort());
}

/** The ring Lease's node owners annotation: a JSON object node name → shard identity. */
export function parseNodeOwners(text: string): Parsed<Record<string, string>> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return invalid("node owners are not JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    return invalid("node owners are not a JSON object");
  // Keyed by node names: no prototype, so a node named like one of its members is a node.
  const owners: Record<string, string> = Object.create(null);
  for (const [node, owner] of Object.entries(json)) {
    if (!isDnsSubdomain(node)) return invalid(`node owners: ${quoted(node)} is not a node name`);
    if (typeof owner !== "string" || !isShardIdentity(owner))
      return invalid(`node owners: the owner of ${node} is not a shard identity (${identityRule})`);
    owners[node] = owner;
  }
  return parsed(owners);
}

/** A node label value: at most 63 characters, alphanumeric at both ends, `-_.` inside. */
const labelValue = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** What parseRingDomains accepts as a domain: a non-empty label value. */
export const isDomainValue = (text: string): boolean => labelValue.test(text);
/** A node label key: [DNS subdomain prefix/]name. */
const labelKey = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** What the contracts accept as a node label key (a ring listing's key, a stuck group's topology). */
export const isNodeLabelKey = (text: string): boolean => labelKey.test(text);

/**
 * The ring Lease's domains annotation: JSON {key, owners: member → value → node names}. Each
 * node is listed once; owners are shard identities (a listed owner that is not a member owns
 * nothing: nodeOwnerOf checks).
 */
export function parseRingDomains(text: string): Parsed<RingDomainListing> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return invalid("domains are not JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    return invalid("domains are not a JSON object");
  const { key, owners } = json as { key?: unknown; owners?: unknown };
  if (typeof key !== "string" || !labelKey.test(key)) return invalid("domains: key is not a node label key");
  if (typeof owners !== "object" || owners === null || Array.isArray(owners))
    return invalid("domains: owners is not a JSON object");
  const listed = new Set<string>();
  const result: Record<string, Record<string, readonly string[]>> = Object.create(null);
  for (const [member, owned] of Object.entries(owners)) {
    if (!isShardIdentity(member)) return invalid(`domains: owner ${quoted(member)} is not a shard identity`);
    if (typeof owned !== "object" || owned === null || Array.isArray(owned))
      return invalid(`domains: the domains of ${member} are not a JSON object`);
    const domains: Record<string, readonly string[]> = Object.create(null);
    for (const [value, nodes] of Object.entries(owned)) {
      if (!labelValue.test(value)) return invalid(`domains: ${quoted(value)} is not a label value`);
      if (!Array.isArray(nodes)) return invalid(`domains: the nodes of ${value} are not a list`);
      for (const node of nodes) {
        if (typeof node !== "string" || !isDnsSubdomain(node))
          return invalid(`domains: ${quoted(String(node))} in ${value} is not a node name`);
        if (listed.has(node)) return invalid(`domains: node ${node} is listed twice`);
        listed.add(node);
      }
      domains[value] = nodes as string[];
    }
    result[member] = domains;
  }
  return parsed({ key, owners: result });
}

/** What the ring Lease says, or why it cannot be read (then shards skip it and replace it). */
export function parseRingLease(lease: Lease): Parsed<RingObject> {
  const annotations = lease.metadata.annotations ?? {};
  const epoch = countAnnotation(annotations, ringEpochAnnotation);
  if (!epoch.ok) return invalid(epoch.reason);
  if (epoch.value === undefined) return invalid(`no ${ringEpochAnnotation} annotation`);
  const membersText = annotations[ringMembersAnnotation] ?? "";
  const ownersText = annotations[ringNodeOwnersAnnotation] ?? "{}";
  if (typeof membersText !== "string" || typeof ownersText !== "string")
    return invalid("an annotation is not a string");
  const members = parseRingMembers(membersText);
  if (!members.ok) return invalid(members.reason);
  const nodeOwners = parseNodeOwners(ownersText);
  if (!nodeOwners.ok) return invalid(nodeOwners.reason);
  const domainsText = annotations[ringDomainsAnnotation];
  if (domainsText !== undefined && typeof domainsText !== "string")
    return invalid("an annotation is not a string");
  const domains = domainsText === undefined ? undefined : parseRingDomains(domainsText);
  if (domains && !domains.ok) return invalid(domains.reason);
  return parsed({
    epoch: epoch.value,
    members: members.value,
    nodeOwners: nodeOwners.value,
    ...(domains ? { domains: domains.value } : {}),
    resourceVersion: lease.metadata.resourceVersion ?? "",
  });
}
