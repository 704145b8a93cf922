/**
 * Who owned a node under a ring epoch, derived by the checker itself from what the ring Lease
 * records (members and lent nodes) and the documented ring scheme: ketama over md5, 1000
 * virtual nodes per member, members in code-unit order; a node lent to a live member belongs
 * to that member. Built on the hashring library directly, not on the scheduler's ring.
 */
import HashRing from "hashring";

export const ringEpochAnnotation = "sharded-scheduler.io/ring-epoch";
export const ringMembersAnnotation = "sharded-scheduler.io/ring-members";
export const ringNodeOwnersAnnotation = "sharded-scheduler.io/ring-node-owners";

const virtualNodesPerMember = 1000;

export class RingOwners {
  readonly members: readonly string[];
  private readonly ring: HashRing;

  constructor(
    members: Iterable<string>,
    /** Lent nodes: node name → the member it is lent to. */
    readonly lends: Readonly<Record<string, string>> = {},
  ) {
    this.members = [...new Set(members)].sort();
    this.ring = new HashRing(
      Object.fromEntries(this.members.map((member) => [member, { vnodes: virtualNodesPerMember }])),
      "md5",
    );
  }

  ownerOf(node: string): string | undefined {
    const lent = Object.hasOwn(this.lends, node) ? this.lends[node] : undefined;
    if (lent !== undefined && this.members.includes(lent)) return lent;
    return this.ring.range(node, 1)[0];
  }

  /** The member a group hashes to ("<namespace>/<group or pod>"), before any owner annotation. */
  groupOwnerOf(hashKey: string): string | undefined {
    return this.ring.range(hashKey, 1)[0];
  }
}

/** The epoch and owners a ring Lease's annotations record; undefined when it records no epoch. */
export function readRingLease(
  annotations: Readonly<Record<string, string>>,
): { epoch: number; owners: RingOwners } | undefined {
  const epoch = Number(annotations[ringEpochAnnotation]);
  if (!Number.isInteger(epoch)) return undefined;
  const members = (annotations[ringMembersAnnotation] ?? "").split(",").filter(Boolean);
  let lends: Record<string, string> = {};
  try {
    lends = JSON.parse(annotations[ringNodeOwnersAnnotation] ?? "{}");
  } catch {
    lends = {};
  }
  return { epoch, owners: new RingOwners(members, lends) };
}
